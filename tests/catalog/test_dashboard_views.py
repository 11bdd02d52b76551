"""The catalog dashboard page and its API: charts, PNG export, filters, scope, clustering."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from ibcloud.audit.models import AuditEntry
from ibcloud.catalog import charts, clustering
from ibcloud.catalog.charts import ChartFilters
from ibcloud.catalog.dashboard_tasks import run_clustering_now
from ibcloud.catalog.models import ClusterRun
from ibcloud.core.models import Job
from tests.catalog.factories import InvestorFactory, ProjectFactory
from tests.catalog.test_clustering import ENERGY, MEDICAL
from tests.conftest import make_org
from tests.factories import CrawlSourceFactory, RawItemFactory, RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

VIEWER = ["catalog.view_project", "catalog.view_investor", "crawler.view_rawitem"]
CHART_IDS = [
    "chart-items-per-source",
    "chart-industry-over-time",
    "chart-industry-counts",
    "chart-region-industry",
    "chart-cluster-sizes",
    "chart-investor-types",
    "chart-investor-regions",
]
URL = "/catalog/dashboard/"


@pytest.fixture
def org():
    return make_org(VIEWER)


def recently(days: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)


@pytest.fixture
def catalog(org):
    """Medical projects in department A, energy projects in B, raw items of a source in each."""
    made = {"a": [], "b": []}
    for label, owner, texts, section in (
        ("a", org.dept_user, MEDICAL, "C"),
        ("b", org.b_user, ENERGY, "D"),
    ):
        for i, text in enumerate(texts):
            made[label].append(
                ProjectFactory(
                    owner=owner,
                    department=owner.department,
                    summary=text.replace(" ", ""),
                    industry_section=section,
                    industry="35" if section == "C" else "44",
                    first_seen_at=recently(i * 3),
                )
            )
        source = CrawlSourceFactory(name=f"marker-source-{label}", owner=owner)
        for i in range(3 if label == "a" else 2):
            RawItemFactory(source=source, fetched_at=recently(i))
    InvestorFactory(owner=org.b_user, department=org.dept_b, first_seen_at=recently(1))
    return made


def chart_data(html: str) -> dict:
    found = re.search(
        r'<script id="catalog-dashboard-data" type="application/json">(.*?)</script>', html
    )
    assert found, "no json_script with the chart data"
    return json.loads(found.group(1))


def test_the_page_has_every_chart_with_png_export_and_its_data(client, org, catalog):
    clustering.run_clustering(k=2)
    client.force_login(org.admin)
    response = client.get(reverse("catalog:dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    stamp = timezone.localdate().strftime("%Y%m%d")
    for chart_id in CHART_IDS:
        found = re.search(rf'<div id="{chart_id}"[^>]*data-image-name="([^"]+)"', html)
        assert found, f"no container {chart_id}"
        assert found.group(1).endswith(stamp)
    assert "saveAsImage" in html
    assert "vendor/echarts/echarts.min.js" in html
    data = chart_data(html)
    expected = charts.dashboard_statistics(org.admin, ChartFilters())
    for key in expected:
        assert data[key] == json.loads(json.dumps(expected[key])), key
    assert len(data["clusters"]) == 2
    assert 'id="cluster-run-form"' in html  # a superuser may run it


def test_the_page_counts_only_what_the_viewer_may_see(client, org, catalog):
    client.force_login(org.dept_user)
    html = client.get(URL).content.decode()
    assert 'data-card="projects">6<' in html
    assert 'data-card="raw_items">3<' in html
    assert 'data-card="investors">0<' in html
    data = chart_data(html)
    assert [s["code"] for s in data["industry_counts"]["sections"]] == ["C"]
    assert [s["name"] for s in data["items_per_source"]["series"]] == ["marker-source-a"]
    assert "marker-source-b" not in html
    client.force_login(org.b_user)
    data = chart_data(client.get(URL).content.decode())
    assert [s["code"] for s in data["industry_counts"]["sections"]] == ["D"]
    assert data["totals"] == {"projects": 6, "investors": 1, "raw_items": 2}


def test_sample_projects_are_filtered_by_scope_and_escaped(client, org, catalog):
    hostile = catalog["a"][0]
    hostile.name = "<script>alert(1)</script>"
    hostile.save()
    clustering.run_clustering(k=2)
    client.force_login(org.dept_user)
    html = client.get(URL).content.decode()
    table = html[html.index('id="topic-clusters"') :]
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in table
    assert not any(p.name in table for p in catalog["b"])
    data = chart_data(html)
    shown = {s["id"] for c in data["clusters"] for s in c["samples"]}
    assert shown and shown <= {p.pk for p in catalog["a"]}


def test_filters_narrow_the_charts_and_bad_ones_show_errors(client, org, catalog):
    client.force_login(org.admin)
    html = client.get(URL, {"item_type": "investor"}).content.decode()
    assert 'id="chart-investor-types"' in html
    assert 'id="chart-industry-counts"' not in html and 'id="chart-region-industry"' not in html
    assert chart_data(html)["industry_counts"] is None

    since = timezone.localdate() - datetime.timedelta(days=4)
    data = chart_data(client.get(URL, {"date_from": since.isoformat()}).content.decode())
    assert data["industry_counts"]["total"] == 4  # first seen 0 and 3 days ago, in A and B

    response = client.get(URL, {"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert response.status_code == 200
    assert "invalid-feedback" in response.content.decode()
    assert chart_data(response.content.decode())["filters"]["date_from"] is None


def test_the_page_needs_the_project_permission(client, org):
    assert client.get(URL).status_code == 302  # to the login page
    nobody = UserFactory(roles=[RoleFactory(data_scope="all", perms=["crawler.view_rawitem"])])
    client.force_login(nobody)
    assert client.get(URL).status_code == 403


def test_running_clustering_now_is_permission_checked_and_audited(
    client, org, catalog, django_capture_on_commit_callbacks
):
    client.force_login(org.dept_user)  # may view, may not change projects
    html = client.get(URL).content.decode()
    assert 'id="cluster-run-form"' not in html
    assert client.post(reverse("catalog:cluster_run")).status_code == 403
    assert not Job.objects.filter(name=run_clustering_now.job_name).exists()

    editor = UserFactory(
        department=org.dept_a,
        roles=[RoleFactory(data_scope="dept", perms=[*VIEWER, "catalog.change_project"])],
    )
    client.force_login(editor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("catalog:cluster_run"))
    assert response.status_code == 302
    job = Job.objects.get(name=run_clustering_now.job_name)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert ClusterRun.objects.count() == 1
    entry = AuditEntry.objects.get(event="cluster_run")
    assert entry.actor == editor
    html = client.get(URL).content.decode()
    assert "cluster-last-run" in html and str(ClusterRun.objects.get().project_count) in html


def test_a_queued_run_is_not_queued_twice(client, org):
    client.force_login(org.admin)
    Job.objects.create(name=run_clustering_now.job_name, status=Job.Status.RUNNING)
    client.post(reverse("catalog:cluster_run"))
    assert Job.objects.filter(name=run_clustering_now.job_name).count() == 1
    assert "disabled" in client.get(URL).content.decode().split('id="cluster-run-form"')[1][:400]


# --- API ------------------------------------------------------------------------------------------

STATISTICS = "/api/v1/catalog/statistics/"
CLUSTERS = "/api/v1/catalog/clusters/"


def test_api_statistics_equal_the_chart_functions(api, org, catalog):
    for user in (org.admin, org.dept_user, org.b_user):
        response = api.as_user(user).get(STATISTICS)
        assert response.status_code == 200
        expected = charts.dashboard_statistics(user, ChartFilters())
        assert response.json() == json.loads(json.dumps(expected))
    since = timezone.localdate() - datetime.timedelta(days=4)
    response = api.as_user(org.admin).get(
        STATISTICS, {"date_from": since.isoformat(), "item_type": "project"}
    )
    body = response.json()
    assert body["industry_counts"]["total"] == 4 and body["investors"] is None


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "2026-02-01", "date_to": "2026-01-01"},
        {"date_from": "0001-01-01"},
        {"date_from": "not a date"},
        {"item_type": "deal"},
        {"date_from": "2000-01-01", "date_to": "2026-01-01"},
    ],
)
def test_api_statistics_refuse_bad_filters_with_a_json_error(api, org, query):
    response = api.as_user(org.admin).get(STATISTICS, query)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "details"}


def test_api_clusters_list_and_detail_with_scoped_samples(api, org, catalog):
    assert api.as_user(org.dept_user).get(CLUSTERS).json() == {"run": None, "clusters": []}
    run = clustering.run_clustering(k=2)
    body = api.as_user(org.dept_user).get(CLUSTERS).json()
    assert body["run"]["id"] == run.pk and body["run"]["cluster_count"] == 2
    assert body == json.loads(json.dumps(clustering.latest_clusters(org.dept_user)))
    samples = {s["id"] for c in body["clusters"] for s in c["samples"]}
    assert samples and samples <= {p.pk for p in catalog["a"]}

    cluster = run.clusters.first()
    detail = api.as_user(org.b_user).get(f"{CLUSTERS}{cluster.pk}/").json()
    assert detail["theme_words"] == cluster.theme_words and detail["size"] == cluster.size
    assert {s["id"] for s in detail["samples"]} <= {p.pk for p in catalog["b"]}
    assert api.as_user(org.admin).get(CLUSTERS, {"run": run.pk}).json()["run"]["id"] == run.pk
    assert api.as_user(org.admin).get(CLUSTERS, {"run": run.pk + 99}).status_code == 404
    assert api.as_user(org.admin).get(f"{CLUSTERS}999999999999999999999/").status_code == 404


def test_api_needs_the_project_permission(api, org):
    nobody = UserFactory(roles=[RoleFactory(data_scope="all", perms=["crawler.view_rawitem"])])
    for url in (STATISTICS, CLUSTERS):
        response = api.as_user(nobody).get(url)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
