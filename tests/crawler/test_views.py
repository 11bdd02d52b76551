"""The crawler pages: sources (list, detail, the no-code form, try-it), runs with live progress,
raw items and proxies, each within the viewer's permissions and data scope."""

from __future__ import annotations

import datetime
import re

import pytest
from auditlog import get_logentry_model
from django.urls import reverse
from django.utils import timezone

from ibcloud.crawler.models import CrawlJob, CrawlSource, Proxy
from tests.conftest import make_org
from tests.factories import (
    CrawlJobFactory,
    CrawlSourceFactory,
    ProxyFactory,
    RawItemFactory,
    SourceAlertFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SOURCE_PERMS = [
    "crawler.view_crawlsource",
    "crawler.add_crawlsource",
    "crawler.change_crawlsource",
    "crawler.delete_crawlsource",
    "crawler.run_crawlsource",
    "crawler.view_crawljob",
    "crawler.view_rawitem",
]
PROXY_PERMS = [
    "crawler.view_proxy",
    "crawler.add_proxy",
    "crawler.change_proxy",
    "crawler.delete_proxy",
]

RULES = [
    {"name": "title", "label": "项目名称", "by": "css", "expr": "h1.project-name::text"},
    {
        "name": "amount",
        "by": "css",
        "expr": ".amount::text",
        "regex": r"([\d.]+)",
        "group": 1,
        "required": True,
    },
]


def source_form(rules=RULES, **overrides) -> dict:
    """POST data of the source form: a valid links-mode HTML source, then ``overrides``."""
    data = {
        "name": "项目汇",
        "description": "",
        "item_type": "project",
        "enabled": "on",
        "start_urls": "https://projects.example.com/projects/\n\n",
        "url_template": "",
        "page_format": "html",
        "list_mode": "links",
        "list_selector_type": "css",
        "link_selector": "a.project-link::attr(href)",
        "item_selector": "",
        "detail_format": "html",
        "pagination": "next_link",
        "next_selector": "a.next::attr(href)",
        "method": "GET",
        "headers": "Accept-Language: zh-CN\nX-Api-Key: k1",
        "body": "",
        "fetch_level": "1",
        "login_url": "",
        "login_form": "",
        "cookies": "",
        "wait_for_selector": "",
        "obey_robots": "on",
        "concurrency": "4",
        "delay": "0.5",
        "max_pages": "100",
        "time_limit": "600",
        "schedule": "0 6 * * *",
        "missed_run_policy": "run_once",
        "rules-TOTAL_FORMS": str(len(rules)),
        "rules-INITIAL_FORMS": "0",
    }
    for index, rule in enumerate(rules):
        row = {"by": "css", "type": "text", "group": "1", "strip": True, **rule}
        for key, value in row.items():
            if value is True:
                data[f"rules-{index}-{key}"] = "on"
            elif value is not False:
                data[f"rules-{index}-{key}"] = str(value)
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def errors_of(response) -> list[str]:
    """Every error a form page shows (for assertion messages)."""
    html = response.content.decode()
    return re.findall(
        r'data-field-error="[^"]*">[^<]*<|id="form-errors">.*?</div>|id="rules-errors".*?</div>',
        html,
        re.S,
    )


def field_error(html: str, name: str) -> str:
    """The text of the error shown next to the field ``name`` ('' if none)."""
    found = re.findall(rf'data-field-error="{re.escape(name)}">([^<]*)<', html)
    return " ".join(found)


# --- Source list ----------------------------------------------------------------------------------


def test_list_shows_last_run_next_run_and_open_alerts_in_constant_queries(
    client, django_assert_max_num_queries
):
    org = make_org(SOURCE_PERMS)
    client.force_login(org.all_user)
    url = reverse("crawler:crawlsource_list")

    def make(n):
        for _ in range(n):
            source = CrawlSourceFactory(owner=org.dept_user, schedule="30 7 * * *")
            CrawlJobFactory(source=source, status="succeeded")
            CrawlJobFactory(source=source, status="failed", message="boom")
            SourceAlertFactory(source=source, rule="job_failed")
            SourceAlertFactory(source=source, rule="zero_items", status="resolved")

    make(2)
    client.get(url)  # warm caches (permissions, menu)
    with django_assert_max_num_queries(30) as few:
        client.get(url)
    make(8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get(url).content.decode()
    assert html.count('data-crawl-status="failed"') == 10
    assert html.count('data-open-alerts="1"') == 10
    assert "07:30" in html  # the next run of "30 7 * * *"


def test_list_filters(client):
    org = make_org(SOURCE_PERMS)
    client.force_login(org.all_user)
    CrawlSourceFactory(name="Alpha projects", owner=org.dept_user, fetch_level=1)
    CrawlSourceFactory(name="Beta investors", item_type="investor", owner=org.b_user, fetch_level=2)
    CrawlSourceFactory(name="Gamma off", owner=org.dept_user, enabled=False)
    url = reverse("crawler:crawlsource_list")

    def names(**params):
        html = client.get(url, params).content.decode()
        return {n for n in ("Alpha", "Beta", "Gamma") if f"{n} " in html}

    assert names() == {"Alpha", "Beta", "Gamma"}
    assert names(item_type="investor") == {"Beta"}
    assert names(enabled="false") == {"Gamma"}
    assert names(fetch_level="2") == {"Beta"}
    assert names(owner=org.b_user.pk) == {"Beta"}
    assert names(department=org.dept_a.pk) == {"Alpha", "Gamma"}
    assert names(q="alpha") == {"Alpha"}


def test_bulk_disable_and_delete_refused_with_raw_items(client):
    org = make_org(SOURCE_PERMS)
    client.force_login(org.dept_user)
    kept = CrawlSourceFactory(owner=org.dept_user)
    RawItemFactory(source=kept)
    gone = CrawlSourceFactory(owner=org.dept_user)
    url = reverse("crawler:crawlsource_list")
    client.post(url, {"bulk_action": "disable", "pk": [kept.pk, gone.pk]})
    assert set(CrawlSource.objects.values_list("enabled", flat=True)) == {False}
    client.post(url, {"bulk_action": "delete", "pk": [kept.pk, gone.pk]})
    assert list(CrawlSource.objects.values_list("pk", flat=True)) == [kept.pk]


# --- Source detail --------------------------------------------------------------------------------


def test_detail_summarises_the_configuration_and_recent_runs(client):
    org = make_org(SOURCE_PERMS)
    client.force_login(org.dept_user)
    source = CrawlSourceFactory(
        owner=org.dept_user,
        fields=RULES,
        login_form={"username": "alice", "password": "S3cret-pw"},
        cookies=[{"name": "sid", "value": "cookie-value-1", "domain": "", "path": ""}],
        fetch_level=3,
    )
    job = CrawlJobFactory(source=source, status="partial", items=7, message="3 pages failed")
    RawItemFactory(source=source)
    html = client.get(reverse("crawler:crawlsource_detail", args=[source.pk])).content.decode()
    assert 'data-rule="amount"' in html and "h1.project-name::text" in html
    assert f'href="/crawler/jobs/{job.pk}/"' in html and "3 pages failed" in html
    assert 'id="raw-item-count"' in html and ">1</a>" in html
    assert 'id="run-button"' in html and 'id="try-button"' in html and 'id="edit-button"' in html
    assert f'href="/crawler/health/sources/{source.pk}/" id="health-button"' in html
    assert "S3cret-pw" not in html and "cookie-value-1" not in html
    assert (
        "1 cookie stored" in html or "已保存 1 个 Cookie" in html or 'id="cookies-summary"' in html
    )


def test_detail_hides_run_buttons_without_the_run_permission(client):
    org = make_org(["crawler.view_crawlsource"])
    client.force_login(org.dept_user)
    source = CrawlSourceFactory(owner=org.dept_user)
    html = client.get(reverse("crawler:crawlsource_detail", args=[source.pk])).content.decode()
    assert 'id="run-button"' not in html and 'id="edit-button"' not in html


# --- The source form ------------------------------------------------------------------------------


def test_admin_adds_a_source_with_two_field_rows(client):
    org = make_org(SOURCE_PERMS)
    client.force_login(org.dept_user)
    page = client.get(reverse("crawler:crawlsource_add")).content.decode()
    for section in ("basics", "start", "list", "request", "fields", "fetch", "limits", "schedule"):
        assert f'id="section-{section}"' in page
    assert 'id="add-rule"' in page and 'id="rule-template"' in page

    response = client.post(
        reverse("crawler:crawlsource_add"),
        source_form(cookies="sid=abc123; theme=dark", login_form="username=alice\npassword=pw1"),
    )
    assert response.status_code == 302, errors_of(response)
    source = CrawlSource.objects.get(name="项目汇")
    assert source.start_urls == ["https://projects.example.com/projects/"]
    assert source.headers == {"Accept-Language": "zh-CN", "X-Api-Key": "k1"}
    assert [rule["name"] for rule in source.fields] == ["title", "amount"]
    assert source.fields[0]["label"] == "项目名称"
    assert source.fields[1]["regex"] == r"([\d.]+)" and source.fields[1]["required"] is True
    assert source.fields[0]["strip"] is True and source.fields[0]["all"] is False
    assert source.login_form == {"username": "alice", "password": "pw1"}
    assert [(c["name"], c["value"]) for c in source.cookies] == [
        ("sid", "abc123"),
        ("theme", "dark"),
    ]
    assert (source.owner, source.department) == (org.dept_user, org.dept_a)
    assert response["Location"] == source.get_absolute_url()


def test_removed_and_blank_rule_rows_are_skipped(client):
    org = make_org(SOURCE_PERMS)
    client.force_login(org.dept_user)
    data = source_form(rules=[*RULES, {"name": "city", "expr": ".city::text"}])
    # The browser removed the second row and added an empty one.
    for key in [k for k in data if k.startswith("rules-1-")]:
        del data[key]
    data["rules-TOTAL_FORMS"] = "4"
    data.update({"rules-3-strip": "on", "rules-3-group": "1", "rules-3-by": "css"})
    response = client.post(reverse("crawler:crawlsource_add"), data)
    assert response.status_code == 302, errors_of(response)
    assert [r["name"] for r in CrawlSource.objects.get().fields] == ["title", "city"]


def test_cookies_import_as_json_list(client):
    org = make_org(SOURCE_PERMS)
    client.force_login(org.dept_user)
    exported = (
        '[{"name": "sid", "value": "v1", "domain": ".example.com", "path": "/", '
        '"httpOnly": true, "expirationDate": 1900000000}]'
    )
    response = client.post(reverse("crawler:crawlsource_add"), source_form(cookies=exported))
    assert response.status_code == 302, errors_of(response)
    assert CrawlSource.objects.get().cookies == [
        {"name": "sid", "value": "v1", "domain": ".example.com", "path": "/"}
    ]


@pytest.mark.usefixtures("english")
@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"schedule": "every day"}, "schedule", "cron"),
        ({"start_urls": "ftp://example.com/x"}, "start_urls", "http"),
        ({"link_selector": "a[[["}, "link_selector", "CSS"),
        ({"headers": "no colon here"}, "headers", "Name: value"),
        ({"cookies": "[not json"}, "cookies", "JSON"),
        ({"login_form": "just-a-word"}, "login_form", "field=value"),
        ({"concurrency": "500"}, "concurrency", "32"),
    ],
)
def test_validation_errors_appear_next_to_the_field_they_name(client, overrides, field, words):
    org = make_org(SOURCE_PERMS)
    client.force_login(org.dept_user)
    response = client.post(reverse("crawler:crawlsource_add"), source_form(**overrides))
    assert response.status_code == 200
    html = response.content.decode()
    assert words in field_error(html, field), html[:200]
    assert not CrawlSource.objects.exists()


@pytest.mark.usefixtures("english")
def test_a_bad_rule_is_shown_in_its_row(client):
    org = make_org(SOURCE_PERMS)
    client.force_login(org.dept_user)
    rules = [RULES[0], {**RULES[1], "expr": "div[[[", "name": "amount"}]
    response = client.post(reverse("crawler:crawlsource_add"), source_form(rules=rules))
    html = response.content.decode()
    rows = html.split("data-rule-row>")
    assert "invalid CSS selector" in rows[2] and "invalid CSS selector" not in rows[1]
    bad_name = client.post(
        reverse("crawler:crawlsource_add"),
        source_form(rules=[{**RULES[0], "name": "Bad Name"}]),
    ).content.decode()
    assert "lower-case" in field_error(bad_name, "rules-name")
    no_rules = client.post(reverse("crawler:crawlsource_add"), source_form(rules=[]))
    assert 'id="rules-errors"' in no_rules.content.decode()
    assert not CrawlSource.objects.exists()


def test_secrets_are_never_echoed_and_an_empty_box_keeps_them(client):
    org = make_org(SOURCE_PERMS)
    client.force_login(org.dept_user)
    client.post(
        reverse("crawler:crawlsource_add"),
        source_form(login_form="username=alice\npassword=Pw-9f8e7d", cookies="sid=Ck-5a4b3c"),
    )
    source = CrawlSource.objects.get()
    keep = {"owner": str(org.dept_user.pk), "department": str(org.dept_a.pk)}
    edit_url = reverse("crawler:crawlsource_edit", args=[source.pk])
    page = client.get(edit_url).content.decode()
    assert "Pw-9f8e7d" not in page and "Ck-5a4b3c" not in page
    assert 'id="login-form-stored"' in page and 'id="cookies-stored"' in page
    # The stored rules come back as editable rows.
    assert 'name="rules-1-expr" value=".amount::text"' in page
    assert 'name="rules-TOTAL_FORMS" value="2"' in page
    # A failed save does not echo them either.
    failed = client.post(
        edit_url,
        source_form(schedule="nope", login_form="password=New-1", cookies="a=New-2", **keep),
    ).content.decode()
    assert "New-1" not in failed and "New-2" not in failed
    # Saving with the boxes empty keeps what is stored.
    response = client.post(edit_url, source_form(name="项目汇 2", **keep))
    assert response.status_code == 302, errors_of(response)
    source.refresh_from_db()
    assert source.name == "项目汇 2"
    assert source.login_form == {"username": "alice", "password": "Pw-9f8e7d"}
    assert source.cookies[0]["value"] == "Ck-5a4b3c"
    # The audit log of these changes never holds the secrets.
    for entry in get_logentry_model().objects.get_for_object(source):
        assert "Pw-9f8e7d" not in str(entry.changes) and "Ck-5a4b3c" not in str(entry.changes)
    # The checkboxes remove them.
    client.post(edit_url, source_form(clear_login_form="on", clear_cookies="on", **keep))
    source.refresh_from_db()
    assert source.login_form == {} and source.cookies == []


def test_owner_and_department_choices_stay_within_reach(client):
    org = make_org(SOURCE_PERMS)
    client.force_login(org.dept_user)
    page = client.get(reverse("crawler:crawlsource_add")).content.decode()
    departments = page.split('name="department"')[1].split("</select>")[0]
    assert org.dept_b.name not in departments and org.dept_a.name in departments
    response = client.post(
        reverse("crawler:crawlsource_add"), source_form(department=str(org.dept_b.pk))
    )
    assert response.status_code == 200
    assert field_error(response.content.decode(), "department")
    assert not CrawlSource.objects.exists()


def test_edit_and_delete_are_scoped(client):
    org = make_org(SOURCE_PERMS)
    theirs = CrawlSourceFactory(owner=org.b_user)
    client.force_login(org.dept_user)
    assert client.get(reverse("crawler:crawlsource_detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("crawler:crawlsource_edit", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("crawler:crawlsource_delete", args=[theirs.pk])).status_code == 404
    assert CrawlSource.objects.filter(pk=theirs.pk).exists()


def test_delete_is_refused_while_raw_items_exist(client):
    org = make_org(SOURCE_PERMS)
    client.force_login(org.dept_user)
    source = CrawlSourceFactory(owner=org.dept_user)
    RawItemFactory(source=source)
    url = reverse("crawler:crawlsource_delete", args=[source.pk])
    page = client.get(url).content.decode()
    assert 'class="alert alert-warning"' in page and "btn btn-danger" not in page
    client.post(url)
    assert CrawlSource.objects.filter(pk=source.pk).exists()
    source.raw_items.all().delete()
    client.post(url)
    assert not CrawlSource.objects.filter(pk=source.pk).exists()


# --- Run now and cancel ---------------------------------------------------------------------------


def test_run_now_needs_the_run_permission_and_the_source_within_reach(client):
    org = make_org([p for p in SOURCE_PERMS if p != "crawler.run_crawlsource"])
    mine = CrawlSourceFactory(owner=org.dept_user)
    client.force_login(org.dept_user)
    assert client.post(reverse("crawler:crawlsource_run", args=[mine.pk])).status_code == 403
    assert not CrawlJob.objects.exists()

    runner = make_org_user_with_run(org)
    theirs = CrawlSourceFactory(owner=org.b_user)
    client.force_login(runner)
    assert client.post(reverse("crawler:crawlsource_run", args=[theirs.pk])).status_code == 404
    response = client.post(reverse("crawler:crawlsource_run", args=[mine.pk]))
    job = CrawlJob.objects.get(source=mine)
    assert response["Location"] == reverse("crawler:crawljob_detail", args=[job.pk])
    assert (job.trigger, job.requested_by, job.department) == ("manual", runner, org.dept_a)
    # A second start while it is pending is refused with the reason.
    again = client.post(reverse("crawler:crawlsource_run", args=[mine.pk]), follow=True)
    assert CrawlJob.objects.filter(source=mine).count() == 1
    assert "alert-danger" in again.content.decode()


def make_org_user_with_run(org):
    from tests.factories import RoleFactory

    role = RoleFactory(code="runner", data_scope="dept", perms=SOURCE_PERMS)
    return UserFactory(username="runner", department=org.dept_a, roles=[role])


def test_cancel_a_pending_run(client):
    org = make_org(SOURCE_PERMS)
    job = CrawlJobFactory(source=CrawlSourceFactory(owner=org.dept_user), status="pending")
    client.force_login(org.dept_user)
    page = client.get(reverse("crawler:crawljob_detail", args=[job.pk])).content.decode()
    assert 'id="crawljob-cancel-form"' in page
    client.post(reverse("crawler:crawljob_cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == "cancelled"


def test_cancel_needs_the_run_permission_and_reach(client):
    org = make_org(["crawler.view_crawljob", "crawler.view_crawlsource"])
    job = CrawlJobFactory(source=CrawlSourceFactory(owner=org.dept_user), status="running")
    client.force_login(org.dept_user)
    page = client.get(reverse("crawler:crawljob_detail", args=[job.pk])).content.decode()
    assert 'id="crawljob-cancel-form"' not in page
    assert client.post(reverse("crawler:crawljob_cancel", args=[job.pk])).status_code == 403
    runner = make_org_user_with_run(org)
    theirs = CrawlJobFactory(source=CrawlSourceFactory(owner=org.b_user), status="running")
    client.force_login(runner)
    assert client.post(reverse("crawler:crawljob_cancel", args=[theirs.pk])).status_code == 404
    job.refresh_from_db()
    assert job.status == "running"


# --- Crawl jobs -----------------------------------------------------------------------------------


def test_job_detail_polls_its_progress_panel_while_running(client):
    org = make_org(SOURCE_PERMS)
    source = CrawlSourceFactory(owner=org.dept_user, max_pages=40)
    job = CrawlJobFactory(
        source=source,
        status="running",
        pages=10,
        items=8,
        new_items=5,
        errors=1,
        current_url="https://example.com/p/<script>alert(1)</script>",
        log="[12:00:00] fetched <b>page</b>\n",
        field_stats={
            "title": {"filled": 8, "total": 8, "invalid": 0},
            "amount": {"filled": 2, "total": 8, "invalid": 1},
        },
        sample_urls={"amount": ["https://example.com/p/3.html"]},
        stats={"requests": 11, "responses_429": 1},
    )
    client.force_login(org.dept_user)
    url = reverse("crawler:crawljob_detail", args=[job.pk])
    page = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in page and "<html" in page
    panel = client.get(
        url, headers={"HX-Request": "true", "HX-Target": "crawljob-progress"}
    ).content.decode()
    assert "<html" not in panel and 'hx-trigger="every 2s"' in panel
    assert 'id="crawljob-pages">10<' in panel and 'id="crawljob-new-items">5<' in panel
    assert "width: 25%" in panel  # 10 of 40 pages
    assert "&lt;script&gt;" in panel and "<script>alert" not in panel
    assert "&lt;b&gt;page&lt;/b&gt;" in panel
    assert 'data-field-rate="amount"' in panel and "25%" in panel
    assert "https://example.com/p/3.html" in panel

    CrawlJob.objects.filter(pk=job.pk).update(
        status="succeeded", message="Collected 8 items.", finished_at=timezone.now()
    )
    done = client.get(
        url, headers={"HX-Request": "true", "HX-Target": "crawljob-progress"}
    ).content.decode()
    assert "hx-trigger" not in done and "Collected 8 items." in done
    assert 'id="crawljob-cancel-form"' not in done


def test_job_list_filters(client):
    org = make_org(SOURCE_PERMS)
    client.force_login(org.all_user)
    first = CrawlSourceFactory(name="first-src", owner=org.dept_user)
    second = CrawlSourceFactory(name="second-src", owner=org.dept_user)
    failed = CrawlJobFactory(source=first, status="failed", message="marker-failed")
    CrawlJobFactory(source=second, status="succeeded", trigger="schedule", message="marker-ok")
    old = CrawlJobFactory(source=second, status="succeeded", message="marker-old")
    CrawlJob.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=10)
    )
    url = reverse("crawler:crawljob_list")

    def markers(**params):
        html = client.get(url, params).content.decode()
        return {m for m in ("failed", "ok", "old") if f"marker-{m}" in html}

    assert markers() == {"failed", "ok", "old"}
    assert markers(source=first.pk) == {"failed"}
    assert markers(status="succeeded") == {"ok", "old"}
    assert markers(trigger="schedule") == {"ok"}
    since = (timezone.localdate() - datetime.timedelta(days=2)).isoformat()
    assert markers(created_after=since) == {"failed", "ok"}
    assert failed.get_absolute_url() in client.get(url).content.decode()


# --- Raw items ------------------------------------------------------------------------------------


def test_raw_item_list_filters_and_detail_escapes_crawled_text(client):
    org = make_org(SOURCE_PERMS)
    client.force_login(org.dept_user)
    source = CrawlSourceFactory(owner=org.dept_user, fields=RULES)
    job = CrawlJobFactory(source=source, status="succeeded")
    bad = RawItemFactory(
        source=source,
        job=job,
        url="https://example.com/p/evil.html",
        data={"title": "<img src=x onerror=alert(1)>", "tags": ["a", "<b>"]},
        problems={"amount": "missing"},
    )
    RawItemFactory(source=source, url="https://example.com/p/good.html", data={"title": "好"})
    url = reverse("crawler:rawitem_list")

    def urls(**params):
        html = client.get(url, params).content.decode()
        return {n for n in ("evil", "good") if f"/p/{n}.html" in html}

    assert urls() == {"evil", "good"}
    assert urls(has_problems="true") == {"evil"}
    assert urls(has_problems="false") == {"good"}
    assert urls(job=job.pk) == {"evil"}
    assert urls(q="good") == {"good"}
    assert urls(source=source.pk, item_type="project") == {"evil", "good"}
    assert "<img src=x" not in client.get(url).content.decode()

    html = client.get(reverse("crawler:rawitem_detail", args=[bad.pk])).content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert "<li>&lt;b&gt;</li>" in html
    assert 'data-problem="amount"' in html
    assert 'id="source-link"' in html and 'id="job-link"' in html


def test_raw_items_are_scoped_through_their_source(client):
    org = make_org(SOURCE_PERMS)
    theirs = RawItemFactory(source=CrawlSourceFactory(owner=org.b_user))
    client.force_login(org.dept_user)
    assert client.get(reverse("crawler:rawitem_detail", args=[theirs.pk])).status_code == 404


# --- Proxies --------------------------------------------------------------------------------------


def test_proxy_crud_keeps_the_password_write_only(client):
    org = make_org(PROXY_PERMS)
    client.force_login(org.dept_user)
    response = client.post(
        reverse("crawler:proxy_add"),
        {"name": "pool-1", "url": "http://bob:Px-secret@10.0.0.5:3128", "enabled": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    proxy = Proxy.objects.get()
    assert (proxy.url, proxy.username, proxy.password) == (
        "http://10.0.0.5:3128",
        "bob",
        "Px-secret",
    )
    listing = client.get(reverse("crawler:proxy_list")).content.decode()
    edit = client.get(reverse("crawler:proxy_edit", args=[proxy.pk])).content.decode()
    assert "Px-secret" not in listing and "Px-secret" not in edit
    assert 'id="password-stored"' in edit and 'id="proxy-health"' in edit
    client.post(
        reverse("crawler:proxy_edit", args=[proxy.pk]),
        {"name": "pool-1", "url": "http://10.0.0.6:3128", "username": "bob"},
    )
    proxy.refresh_from_db()
    assert (proxy.url, proxy.password, proxy.enabled) == (
        "http://10.0.0.6:3128",
        "Px-secret",
        False,
    )
    bad = client.post(reverse("crawler:proxy_add"), {"name": "p2", "url": "socks://x"})
    assert field_error(bad.content.decode(), "url")
    client.post(reverse("crawler:proxy_delete", args=[proxy.pk]))
    assert not Proxy.objects.exists()


def test_proxy_list_shows_health_counters(client):
    org = make_org(PROXY_PERMS)
    ProxyFactory(name="tired", successes=12, failures=30, banned_until=timezone.now())
    client.force_login(org.b_user)
    html = client.get(reverse("crawler:proxy_list")).content.decode()
    assert "tired" in html and ">30<" in html
    client.force_login(UserFactory())
    assert client.get(reverse("crawler:proxy_list")).status_code == 403


def test_menu_targets_resolve(client):
    org = make_org([*SOURCE_PERMS, *PROXY_PERMS])
    client.force_login(org.admin)
    for name in (
        "crawlsource_list",
        "crawljob_list",
        "rawitem_list",
        "proxy_list",
        "crawlsource_add",
    ):
        assert client.get(reverse(f"crawler:{name}")).status_code == 200, name


# --- Try it (real previews against the demo sites) ------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    from ibcloud.demo.sites import start_demo_sites

    sites = start_demo_sites(projects=30, investors=20, proxies=0)
    yield sites
    sites.stop()


@pytest.fixture
def loopback(settings, monkeypatch):
    """The demo sites live on loopback: allow it here and in the preview's child process."""
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1", "localhost"]
    monkeypatch.setenv("IBCLOUD_SSRF_ALLOWLIST", "127.0.0.1,localhost")


HTMX = {"HX-Request": "true", "HX-Target": "preview-result"}
DEMO_RULES = [
    {"name": "title", "by": "css", "expr": "h1.project-name::text", "required": True},
    {"name": "amount", "by": "css", "expr": ".amount::text"},
    {"name": "ceo", "label": "CEO", "by": "css", "expr": ".ceo::text"},
]


def test_try_an_unsaved_configuration_from_the_form(client, demo, loopback):
    org = make_org(SOURCE_PERMS)
    client.force_login(org.dept_user)
    data = source_form(
        rules=DEMO_RULES,
        start_urls=f"{demo.base_url}/projects/",
        headers="",
        preview_from="form",
        preview_url=f"{demo.base_url}/projects/3.html",
        preview_kind="detail",
    )
    html = client.post(reverse("crawler:crawlsource_preview"), data, headers=HTMX).content.decode()
    assert "<html" not in html
    assert html.count("data-preview-item") == 1, html
    assert 'data-preview-field="title"' in html and 'data-preview-field="amount"' in html
    ceo = html.split('data-preview-field="ceo"')[1].split("</tr>")[0]
    assert 'data-empty="1"' in ceo  # matched nothing: highlighted
    assert 'id="preview-status">HTTP 200' in html
    assert not CrawlSource.objects.exists()  # nothing saved

    listing = client.post(
        reverse("crawler:crawlsource_preview"),
        {**data, "preview_url": f"{demo.base_url}/projects/", "preview_kind": "list"},
        headers=HTMX,
    ).content.decode()
    assert listing.count('<li><code class="text-break">') == 10  # the detail links
    assert "page=2" in listing.split('id="preview-next-page"')[1].split("</div>")[0]
    assert listing.count("data-preview-item") == 3  # the first detail pages, extracted


@pytest.mark.usefixtures("english")
def test_try_it_reports_configuration_errors_instead_of_fetching(client):
    org = make_org(SOURCE_PERMS)
    client.force_login(org.dept_user)
    data = source_form(
        schedule="bad cron",
        preview_from="form",
        preview_url="http://127.0.0.1:9/x",
        preview_kind="detail",
    )
    html = client.post(reverse("crawler:crawlsource_preview"), data, headers=HTMX).content.decode()
    assert 'id="preview-config-errors"' in html and "cron" in html
    assert "data-preview-item" not in html


def test_try_a_saved_source_from_its_detail_page(client, demo, loopback):
    org = make_org(SOURCE_PERMS)
    source = CrawlSourceFactory(
        owner=org.dept_user,
        start_urls=[f"{demo.base_url}/projects/"],
        list_mode="inline",
        item_selector="li.project-item",
        link_selector="",
        fields=[
            {"name": "name", "by": "css", "expr": "a.project-link::text"},
            {"name": "industry", "by": "css", "expr": ".industry::text"},
        ],
    )
    client.force_login(org.dept_user)
    url = reverse("crawler:crawlsource_preview", args=[source.pk])
    page = client.get(url).content.decode()
    assert f'value="{demo.base_url}/projects/"' in page
    html = client.post(
        url, {"preview_url": f"{demo.base_url}/projects/", "preview_kind": "list"}
    ).content.decode()
    assert "<html" in html  # without htmx: the whole page
    assert html.count("data-preview-item") == 10
    assert 'data-empty="1"' not in html


def test_try_it_needs_the_run_permission_and_reach(client):
    org = make_org([p for p in SOURCE_PERMS if p != "crawler.run_crawlsource"])
    source = CrawlSourceFactory(owner=org.dept_user)
    client.force_login(org.dept_user)
    data = {"preview_url": "http://127.0.0.1:9/", "preview_kind": "list"}
    assert client.post(reverse("crawler:crawlsource_preview"), data).status_code == 403
    url = reverse("crawler:crawlsource_preview", args=[source.pk])
    assert client.post(url, data).status_code == 403
    runner = make_org_user_with_run(org)
    theirs = CrawlSourceFactory(owner=org.b_user)
    client.force_login(runner)
    url = reverse("crawler:crawlsource_preview", args=[theirs.pk])
    assert client.post(url, data).status_code == 404
