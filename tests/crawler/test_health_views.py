"""The monitoring pages and API: dashboard, a source's health, alerts; permissions and scope."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from ibcloud.crawler import alerts
from ibcloud.crawler.models import SourceAlert
from tests.conftest import make_org
from tests.crawler.test_alerts import FIELDS, run
from tests.factories import CrawlSourceFactory, RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

VIEWER = ["crawler.view_crawlsource", "crawler.view_sourcealert"]
RESPONDER = [*VIEWER, "crawler.acknowledge_sourcealert"]
HOSTILE_PAGE = (
    '<html><body><h1>{name}</h1><script>alert("x")</script>'
    '<span class="money">5</span></body></html>'
)


@pytest.fixture
def org():
    return make_org(RESPONDER)


@pytest.fixture
def sources(org):
    """A source in department A (owned by dept_user) and one in B, each with a broken field."""
    made = {}
    for label, owner in (("a", org.dept_user), ("b", org.b_user)):
        source = CrawlSourceFactory(name=f"marker-source-{label}", owner=owner, fields=FIELDS)
        alerts.check_after_job(run(source))
        broken = run(
            source,
            amount=0,
            page=HOSTILE_PAGE,
            sample_urls={"amount": ["javascript:alert(1)", "http://site.test/p/<b>.html"]},
        )
        alerts.check_after_job(broken)
        made[label] = source
    return made


def alert_of(source) -> SourceAlert:
    return SourceAlert.objects.get(source=source, rule="structure_change")


def chart_data(html: str, element_id: str) -> dict:
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    assert found, f"no json_script {element_id}"
    return json.loads(found.group(1))


def person(perms, department, scope="dept"):
    role = RoleFactory(data_scope=scope, perms=perms)
    return UserFactory(department=department, roles=[role])


# --- Dashboard ------------------------------------------------------------------------------------


def test_dashboard_shows_cards_charts_and_the_sources_in_scope(client, org, sources):
    client.force_login(org.dept_user)
    response = client.get(reverse("crawler:dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-card="sources">1<' in html
    assert 'data-card="runs_today">2<' in html
    assert "marker-source-a" in html and "marker-source-b" not in html
    assert reverse("crawler:source_health", args=[sources["a"].pk]) in html
    data = chart_data(html, "dashboard-chart-data")
    assert data["labels"]["items"] == "条数"  # items crawled, not the dictionaries' item count
    assert [s["name"] for s in data["items_per_day"]["series"]] == ["marker-source-a"]
    assert data["items_per_day"]["series"][0]["data"][-1] == 20
    assert [row["status"] for row in data["jobs_by_status"]] == ["succeeded"]
    # ECharts comes from the static vendor files, never a CDN.
    assert "/static/vendor/echarts/echarts.min.js" in html
    assert not re.search(r'<script[^>]+src="https?://', html)


def test_dashboard_needs_the_permission(client, org):
    client.force_login(UserFactory(department=org.dept_a))
    assert client.get(reverse("crawler:dashboard")).status_code == 403
    client.logout()
    assert client.get(reverse("crawler:dashboard")).status_code == 302


# --- A source's health ----------------------------------------------------------------------------


def test_source_health_has_statistics_charts_and_recent_alerts(client, org, sources):
    client.force_login(org.dept_user)
    url = reverse("crawler:source_health", args=[sources["a"].pk])
    html = client.get(url).content.decode()
    assert 'data-stat="runs">2<' in html and 'data-stat="items">20<' in html
    data = chart_data(html, "source-chart-data")
    assert [run["items"] for run in data["series"]] == [10, 10]
    assert [run["fill_rates"]["amount"] for run in data["series"]] == [1.0, 0.0]
    assert [field["name"] for field in data["fields"]] == ["name", "amount"]
    assert alert_of(sources["a"]).get_absolute_url() in html

    assert client.get(url, {"days": "7"}).status_code == 200
    assert client.get(url, {"days": "-3"}).status_code == 200  # bad input falls back
    other = reverse("crawler:source_health", args=[sources["b"].pk])
    assert client.get(other).status_code == 404


def test_source_health_hides_alerts_from_people_who_may_not_see_them(client, org, sources):
    client.force_login(person(["crawler.view_crawlsource"], org.dept_a))
    html = client.get(reverse("crawler:source_health", args=[sources["a"].pk])).content.decode()
    assert alert_of(sources["a"]).get_absolute_url() not in html


# --- Alert list -----------------------------------------------------------------------------------


def test_alert_list_is_scoped_and_filtered(client, org, sources):
    client.force_login(org.dept_user)
    url = reverse("crawler:sourcealert_list")

    def listed(**query) -> str:
        html = client.get(url, query).content.decode()
        return html[html.index('id="object-table"') :]  # not the notification bell

    assert "marker-source-a" in listed() and "marker-source-b" not in listed()
    assert "marker-source-a" not in listed(rule="job_failed")
    assert "marker-source-a" in listed(status="open")
    assert "marker-source-a" not in listed(status="resolved")
    assert "marker-source-a" in listed(source=sources["a"].pk)
    # A source out of reach is not a valid choice: the filter refuses it, nothing leaks.
    assert "marker-source-b" not in listed(source=sources["b"].pk)


def test_bulk_acknowledge_acts_only_on_alerts_in_reach(client, org, sources):
    mine, theirs = alert_of(sources["a"]), alert_of(sources["b"])
    client.force_login(org.dept_user)
    response = client.post(
        reverse("crawler:sourcealert_list"),
        {"bulk_action": "acknowledge", "pk": [mine.pk, theirs.pk]},
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == "acknowledged" and mine.acknowledged_by == org.dept_user
    assert theirs.status == "open"


def test_bulk_acknowledge_needs_the_permission(client, org, sources):
    client.force_login(person(VIEWER, org.dept_a))
    url = reverse("crawler:sourcealert_list")
    assert 'value="acknowledge"' not in client.get(url).content.decode()  # no button
    response = client.post(url, {"bulk_action": "acknowledge", "pk": [alert_of(sources["a"]).pk]})
    assert response.status_code == 403
    assert alert_of(sources["a"]).status == "open"


# --- Alert detail ---------------------------------------------------------------------------------


def test_alert_detail_shows_the_evidence_escaped(client, org, sources):
    alert = alert_of(sources["a"])
    client.force_login(org.dept_user)
    html = client.get(alert.get_absolute_url()).content.decode()
    assert 'id="alert-summary"' in html and 'id="alert-diff"' in html
    # The diff is crawled text: shown, coloured, and inert.
    assert '<script>alert("x")</script>' not in html
    assert "+&lt;script&gt;" in html
    assert re.search(r'class="diff-removed[^"]*"[^>]*>-&lt;span class=&quot;amount&quot;&gt;', html)
    assert re.search(r'class="diff-added[^"]*"[^>]*>\+&lt;span class=&quot;money&quot;&gt;', html)
    # Sample URLs: http(s) become links that pass no referrer; anything else stays text.
    assert 'href="javascript:' not in html and "javascript:alert(1)" in html
    assert 'href="http://site.test/p/&lt;b&gt;.html" rel="noreferrer' in html
    assert 'id="acknowledge-form"' in html


def test_acknowledge_button_posts_and_needs_the_permission(client, org, sources):
    alert = alert_of(sources["a"])
    viewer = person(VIEWER, org.dept_a)
    client.force_login(viewer)
    assert 'id="acknowledge-form"' not in client.get(alert.get_absolute_url()).content.decode()
    acknowledge = reverse("crawler:sourcealert_acknowledge", args=[alert.pk])
    assert client.post(acknowledge).status_code == 403

    client.force_login(org.dept_user)
    response = client.post(acknowledge)
    assert response.status_code == 302 and response["Location"] == alert.get_absolute_url()
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    assert 'id="acknowledge-form"' not in client.get(alert.get_absolute_url()).content.decode()


def test_alerts_out_of_scope_answer_404(client, org, sources):
    theirs = alert_of(sources["b"])
    client.force_login(org.dept_user)
    assert client.get(theirs.get_absolute_url()).status_code == 404
    acknowledge = reverse("crawler:sourcealert_acknowledge", args=[theirs.pk])
    assert client.post(acknowledge).status_code == 404
    assert alert_of(sources["b"]).status == "open"


# --- API ------------------------------------------------------------------------------------------


def test_api_lists_alerts_in_scope_with_filters(api, org, sources):
    client = api.as_user(org.dept_user)
    body = client.get("/api/v1/crawler/alerts/").json()
    names = {row["source_name"] for row in body["results"]}
    assert names == {"marker-source-a"}
    row = body["results"][0]
    assert row["rule"] == "structure_change" and row["field"] == "amount"
    assert "diff" in row["evidence"] and row["evidence"]["after_rate"] == 0.0
    assert client.get("/api/v1/crawler/alerts/", {"rule": "overdue"}).json()["count"] == 0
    assert client.get(f"/api/v1/crawler/alerts/{alert_of(sources['b']).pk}/").status_code == 404
    export = client.get("/api/v1/crawler/alerts/export/", {"file_format": "csv"})
    assert export.status_code == 200
    text = export.content.decode("utf-8-sig")
    assert "marker-source-a" in text and "marker-source-b" not in text


def test_api_acknowledge(api, org, sources):
    alert = alert_of(sources["a"])
    url = f"/api/v1/crawler/alerts/{alert.pk}/acknowledge/"
    viewer = api.as_user(person(VIEWER, org.dept_a))
    refused = viewer.post(url)
    assert refused.status_code == 403 and set(refused.json()) == {"code", "message", "details"}

    client = api.as_user(org.dept_user)
    response = client.post(url)
    assert response.status_code == 200
    assert response.json()["status"] == "acknowledged"
    assert response.json()["acknowledged_by"] == org.dept_user.pk
    assert (
        client.post(f"/api/v1/crawler/alerts/{alert_of(sources['b']).pk}/acknowledge/").status_code
        == 404
    )

    SourceAlert.objects.filter(pk=alert.pk).update(status="resolved")
    conflict = client.post(url)
    assert conflict.status_code == 409 and conflict.json()["code"] == "conflict"


def test_api_statistics_are_scoped_and_validated(api, org, sources):
    client = api.as_user(org.dept_user)
    dashboard = client.get("/api/v1/crawler/statistics/").json()
    assert dashboard["sources"] == 1 and [r["name"] for r in dashboard["table"]] == [
        "marker-source-a"
    ]
    one = client.get(f"/api/v1/crawler/statistics/{sources['a'].pk}/", {"days": 7}).json()
    assert one["runs"] == 2 and one["items"] == 20 and one["days"] == 7
    assert [run["fill_rates"]["amount"] for run in one["series"]] == [1.0, 0.0]
    assert client.get(f"/api/v1/crawler/statistics/{sources['b'].pk}/").status_code == 404

    bad = client.get("/api/v1/crawler/statistics/", {"days": "0"})
    assert bad.status_code == 400 and "days" in bad.json()["details"]
    huge = client.get("/api/v1/crawler/statistics/99999999999999999999999/")
    assert huge.status_code == 404

    nobody = api.as_user(UserFactory())
    assert nobody.get("/api/v1/crawler/statistics/").status_code == 403
