"""The crawler API: a new user configures a source, tries it, runs it and reads what it collected,
within their permissions and data scope; secrets stay write-only."""

from __future__ import annotations

import pytest

from ibcloud.crawler.models import CrawlJob, CrawlSource, Proxy, RawItem
from tests.conftest import make_org
from tests.factories import (
    CrawlJobFactory,
    CrawlSourceFactory,
    RawItemFactory,
    RoleFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

BASE = "/api/v1/crawler"
PERMS = [
    "crawler.view_crawlsource",
    "crawler.add_crawlsource",
    "crawler.change_crawlsource",
    "crawler.delete_crawlsource",
    "crawler.run_crawlsource",
    "crawler.view_crawljob",
    "crawler.view_rawitem",
    "crawler.view_proxy",
    "crawler.add_proxy",
    "crawler.change_proxy",
    "crawler.delete_proxy",
]


def source_body(**overrides) -> dict:
    body = {
        "name": "Investor directory",
        "item_type": "investor",
        "start_urls": ["https://data.example.com/api/investors"],
        "page_format": "json",
        "list_mode": "inline",
        "list_selector_type": "jsonpath",
        "item_selector": "$.data[*]",
        "pagination": "json_cursor",
        "cursor_path": "$.next_cursor",
        "page_param": "cursor",
        "headers": {"Accept": "application/json"},
        "fields": [
            {"name": "name", "by": "jsonpath", "expr": "$.name", "required": True},
            {"name": "stages", "by": "jsonpath", "expr": "$.stages[*]", "all": True},
        ],
        "schedule": "*/30 * * * *",
    }
    body.update(overrides)
    return body


def runner_in(org, department, username="runner", scope="dept", perms=PERMS):
    role = RoleFactory(code=f"role-{username}", data_scope=scope, perms=perms)
    return UserFactory(username=username, department=department, roles=[role])


# --- Sources --------------------------------------------------------------------------------------


def test_create_a_source_and_read_it_back(api):
    org = make_org(PERMS)
    client = api.as_user(org.dept_user)
    response = client.post(
        f"{BASE}/sources/",
        source_body(login_form={"user": "a", "password": "Pw-123"}, cookies="sid=Ck-1; x=2"),
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "login_form" not in body and "cookies" not in body
    assert body["has_login_form"] is True and body["cookie_count"] == 2
    assert (body["owner"], body["department"]) == (org.dept_user.pk, org.dept_a.pk)
    assert body["fields"][1] == {
        "name": "stages",
        "label": "",
        "by": "jsonpath",
        "expr": "$.stages[*]",
        "attribute": "",
        "all": True,
        "join": "",
        "strip": True,
        "regex": "",
        "group": 1,
        "absolute_url": False,
        "type": "text",
        "required": False,
        "pattern": "",
    }
    assert body["next_run_at"] and body["last_run"] is None and body["open_alerts"] == 0
    source = CrawlSource.objects.get(pk=body["id"])
    assert source.login_form == {"user": "a", "password": "Pw-123"}
    assert [c["value"] for c in source.cookies] == ["Ck-1", "2"]
    detail = client.get(f"{BASE}/sources/{source.pk}/").content.decode()
    assert "Pw-123" not in detail and "Ck-1" not in detail


@pytest.mark.usefixtures("english")
@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"schedule": "61 * * * *"}, "schedule", "cron"),
        ({"start_urls": ["file:///etc/passwd"]}, "start_urls", "http"),
        ({"item_selector": "$.items[[["}, "item_selector", "JSONPath"),
        ({"fields": [{"name": "name", "by": "css", "expr": "h1"}]}, "fields", "JSONPath"),
        ({"fields": [{"name": "Name", "by": "jsonpath", "expr": "$.n"}]}, "fields", "lower-case"),
        ({"fields": [{"name": "a", "by": "regex", "expr": "(x", "group": 1}]}, "fields", "regular"),
        ({"cookies": 42}, "cookies", "cookie"),
        ({"concurrency": 0}, "concurrency", "1"),
        ({"fields": "not a list"}, "fields", "list"),
    ],
)
def test_a_bad_configuration_is_refused_naming_the_field(api, overrides, field, words):
    org = make_org(PERMS)
    response = api.as_user(org.dept_user).post(
        f"{BASE}/sources/", source_body(**overrides), format="json"
    )
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "invalid" and set(body) == {"code", "message", "details"}
    assert field in body["details"], body
    assert words.lower() in str(body["details"][field]).lower(), body
    assert not CrawlSource.objects.exists()


def test_secrets_are_kept_when_omitted_and_removed_when_emptied(api):
    org = make_org(PERMS)
    source = CrawlSourceFactory(
        owner=org.dept_user,
        start_urls=["https://projects.example.com/"],
        login_form={"password": "pw"},
        cookies=[{"name": "sid", "value": "v", "domain": "", "path": ""}],
    )
    client = api.as_user(org.dept_user)
    url = f"{BASE}/sources/{source.pk}/"
    response = client.patch(url, {"description": "now"}, format="json")
    assert response.status_code == 200, response.json()
    source.refresh_from_db()
    assert source.login_form == {"password": "pw"} and len(source.cookies) == 1
    response = client.patch(url, {"login_form": {}, "cookies": ""}, format="json")
    assert response.status_code == 200, response.json()
    source.refresh_from_db()
    assert source.login_form == {} and source.cookies == []


def test_sources_are_scoped(api):
    org = make_org(PERMS)
    mine = CrawlSourceFactory(owner=org.dept_user)
    theirs = CrawlSourceFactory(owner=org.b_user)
    client = api.as_user(org.dept_user)
    ids = {row["id"] for row in client.get(f"{BASE}/sources/").json()["results"]}
    assert ids == {mine.pk}
    assert client.get(f"{BASE}/sources/{theirs.pk}/").status_code == 404
    assert client.patch(f"{BASE}/sources/{theirs.pk}/", {"enabled": False}).status_code == 404
    assert client.delete(f"{BASE}/sources/{theirs.pk}/").status_code == 404
    outside = client.post(f"{BASE}/sources/", source_body(department=org.dept_b.pk), format="json")
    assert outside.status_code == 400 and "department" in outside.json()["details"]


def test_list_filters_and_export(api):
    org = make_org(PERMS)
    CrawlSourceFactory(name="alpha-src", owner=org.dept_user, fetch_level=2)
    CrawlSourceFactory(name="beta-src", owner=org.dept_user, item_type="investor")
    client = api.as_user(org.dept_user)
    rows = client.get(f"{BASE}/sources/", {"fetch_level": 2}).json()["results"]
    assert [row["name"] for row in rows] == ["alpha-src"]
    rows = client.get(f"{BASE}/sources/", {"item_type": "investor"}).json()["results"]
    assert [row["name"] for row in rows] == ["beta-src"]
    export = client.get(f"{BASE}/sources/export/", {"file_format": "csv"})
    assert export.status_code == 200
    text = export.content.decode("utf-8-sig")
    assert "alpha-src" in text and "beta-src" in text


def test_delete_is_refused_while_raw_items_exist(api):
    org = make_org(PERMS)
    source = CrawlSourceFactory(owner=org.dept_user)
    RawItemFactory(source=source)
    response = api.as_user(org.dept_user).delete(f"{BASE}/sources/{source.pk}/")
    assert response.status_code == 409
    assert "raw item" in response.json()["message"] or "原始数据" in response.json()["message"]
    assert CrawlSource.objects.filter(pk=source.pk).exists()


# --- Run and cancel -------------------------------------------------------------------------------


def test_run_answers_202_with_the_crawl_job(api):
    org = make_org(PERMS)
    source = CrawlSourceFactory(owner=org.dept_user)
    client = api.as_user(org.dept_user)
    response = client.post(f"{BASE}/sources/{source.pk}/run/")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["source"] == source.pk and body["status"] == "pending"
    assert body["trigger"] == "manual" and "log" in body
    again = client.post(f"{BASE}/sources/{source.pk}/run/")
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert CrawlJob.objects.filter(source=source).count() == 1


def test_run_needs_the_run_permission_and_reach(api):
    org = make_org([p for p in PERMS if p != "crawler.run_crawlsource"])
    source = CrawlSourceFactory(owner=org.dept_user)
    assert api.as_user(org.dept_user).post(f"{BASE}/sources/{source.pk}/run/").status_code == 403
    runner = runner_in(org, org.dept_a)
    theirs = CrawlSourceFactory(owner=org.b_user)
    assert api.as_user(runner).post(f"{BASE}/sources/{theirs.pk}/run/").status_code == 404
    assert not CrawlJob.objects.exists()


def test_jobs_list_detail_log_and_cancel(api):
    org = make_org(PERMS)
    source = CrawlSourceFactory(owner=org.dept_user)
    job = CrawlJobFactory(source=source, status="running", pages=3, log="line one\n")
    done = CrawlJobFactory(source=source, status="succeeded", message="ok")
    CrawlJobFactory(source=CrawlSourceFactory(owner=org.b_user), status="running")
    client = api.as_user(org.dept_user)
    rows = client.get(f"{BASE}/jobs/").json()["results"]
    assert {row["id"] for row in rows} == {job.pk, done.pk}
    assert "log" not in rows[0]
    assert client.get(f"{BASE}/jobs/", {"status": "succeeded"}).json()["count"] == 1
    detail = client.get(f"{BASE}/jobs/{job.pk}/").json()
    assert detail["log"] == "line one\n" and detail["pages"] == 3
    assert client.post(f"{BASE}/jobs/{done.pk}/cancel/").status_code == 409
    pending = CrawlJobFactory(source=CrawlSourceFactory(owner=org.dept_user), status="pending")
    response = client.post(f"{BASE}/jobs/{pending.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


def test_cancel_needs_the_run_permission_and_reach(api):
    org = make_org(["crawler.view_crawljob"])
    job = CrawlJobFactory(source=CrawlSourceFactory(owner=org.dept_user), status="pending")
    assert api.as_user(org.dept_user).post(f"{BASE}/jobs/{job.pk}/cancel/").status_code == 403
    runner = runner_in(org, org.dept_b)
    assert api.as_user(runner).post(f"{BASE}/jobs/{job.pk}/cancel/").status_code == 404
    job.refresh_from_db()
    assert job.status == "pending"


# --- Raw items ------------------------------------------------------------------------------------


def test_raw_items_read_only_filtered_and_scoped(api):
    org = make_org(PERMS)
    source = CrawlSourceFactory(owner=org.dept_user)
    flagged = RawItemFactory(source=source, data={"name": "红杉"}, problems={"stage": "missing"})
    RawItemFactory(source=source, data={"name": "高瓴"})
    theirs = RawItemFactory(source=CrawlSourceFactory(owner=org.b_user))
    client = api.as_user(org.dept_user)
    assert client.get(f"{BASE}/raw-items/").json()["count"] == 2
    rows = client.get(f"{BASE}/raw-items/", {"has_problems": "true"}).json()["results"]
    assert [row["id"] for row in rows] == [flagged.pk]
    assert rows[0]["data"] == {"name": "红杉"} and rows[0]["source_name"] == source.name
    assert client.get(f"{BASE}/raw-items/{theirs.pk}/").status_code == 404
    assert client.delete(f"{BASE}/raw-items/{flagged.pk}/").status_code in (403, 405)
    assert RawItem.objects.filter(pk=flagged.pk).exists()


# --- Proxies --------------------------------------------------------------------------------------


def test_proxies_password_is_write_only(api):
    org = make_org(PERMS)
    client = api.as_user(org.dept_user)
    response = client.post(
        f"{BASE}/proxies/", {"name": "p1", "url": "http://u1:Px-9@10.1.2.3:8080"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "password" not in body and body["has_password"] is True
    assert (body["url"], body["username"]) == ("http://10.1.2.3:8080", "u1")
    proxy = Proxy.objects.get()
    assert proxy.password == "Px-9"
    client.patch(f"{BASE}/proxies/{proxy.pk}/", {"enabled": False}, format="json")
    proxy.refresh_from_db()
    assert proxy.password == "Px-9" and proxy.enabled is False
    client.patch(f"{BASE}/proxies/{proxy.pk}/", {"password": None}, format="json")
    proxy.refresh_from_db()
    assert proxy.password == ""
    bad = client.post(f"{BASE}/proxies/", {"name": "p2", "url": "10.0.0.1"}, format="json")
    assert bad.status_code == 400 and "url" in bad.json()["details"]
    no_perm = UserFactory()
    assert api.as_user(no_perm).get(f"{BASE}/proxies/").status_code == 403


# --- Preview (real, against the demo sites) -------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    from ibcloud.demo.sites import start_demo_sites

    sites = start_demo_sites(projects=30, investors=25, proxies=0)
    yield sites
    sites.stop()


@pytest.fixture
def loopback(settings, monkeypatch):
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1", "localhost"]
    monkeypatch.setenv("IBCLOUD_SSRF_ALLOWLIST", "127.0.0.1,localhost")


def test_preview_an_unsaved_json_api_configuration(api, demo, loopback):
    org = make_org(PERMS)
    url = f"{demo.base_url}/investors/api/investors"
    body = {
        "url": url,
        "kind": "list",
        "config": source_body(
            start_urls=[url],
            fields=[
                {"name": "name", "by": "jsonpath", "expr": "$.name", "required": True},
                {"name": "nickname", "by": "jsonpath", "expr": "$.no_such_key"},
            ],
        ),
    }
    response = api.as_user(org.dept_user).post(f"{BASE}/preview/", body, format="json")
    assert response.status_code == 200, response.json()
    result = response.json()
    assert result["error"] in (None, ""), result
    assert result["items"], result
    assert all(item["data"].get("name") for item in result["items"])
    assert all("nickname" in item["empty"] for item in result["items"])
    assert not CrawlSource.objects.exists()


def test_preview_a_saved_source(api, demo, loopback):
    org = make_org(PERMS)
    source = CrawlSourceFactory(
        owner=org.dept_user,
        start_urls=[f"{demo.base_url}/projects/"],
        fields=[{"name": "title", "by": "css", "expr": "h1.project-name::text"}],
    )
    response = api.as_user(org.dept_user).post(
        f"{BASE}/sources/{source.pk}/preview/",
        {"url": f"{demo.base_url}/projects/2.html", "kind": "detail"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    items = response.json()["items"]
    assert len(items) == 1 and items[0]["data"]["title"]


@pytest.mark.usefixtures("english")
def test_preview_refuses_bad_input_with_named_fields(api, settings):
    settings.IBCLOUD_SSRF_ALLOWLIST = []
    org = make_org(PERMS)
    client = api.as_user(org.dept_user)
    blocked = client.post(
        f"{BASE}/preview/",
        {"url": "http://169.254.169.254/latest/", "config": source_body()},
        format="json",
    )
    assert blocked.status_code == 400 and "url" in blocked.json()["details"]
    invalid = client.post(
        f"{BASE}/preview/",
        {"url": "https://example.com/", "config": source_body(schedule="never")},
        format="json",
    )
    assert invalid.status_code == 400
    assert "schedule" in invalid.json()["details"]["config"]
    no_run = runner_in(org, org.dept_a, "viewer", perms=["crawler.view_crawlsource"])
    denied = api.as_user(no_run).post(
        f"{BASE}/preview/", {"url": "https://example.com/", "config": source_body()}, format="json"
    )
    assert denied.status_code == 403


def test_the_api_documents_run_and_preview(api, admin_user):
    schema = api.as_user(admin_user).get("/api/v1/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    run = paths["/api/v1/crawler/sources/{id}/run/"]["post"]
    assert "202" in run["responses"]
    preview = paths["/api/v1/crawler/preview/"]["post"]
    request_ref = preview["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert request_ref.endswith("UnsavedPreviewRequest")
    components = schema["components"]["schemas"]
    assert "PreviewResult" in components
    assert "login_form" in components["CrawlSourceRequest"]["properties"]
    assert "login_form" not in components["CrawlSource"]["properties"]
    assert "cookies" not in components["CrawlSource"]["properties"]
