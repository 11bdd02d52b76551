"""The nodes page and API: every node with its roles, version, heartbeat and online/offline
status, a node's charts, disks, forecast and open alerts; only holders of monitor.view_node."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from ibcloud.core.menu import visible_menu
from ibcloud.core.parameters import set_parameter
from ibcloud.monitor import alerts, metrics
from ibcloud.monitor.models import MetricSample, Node, NodeAlert
from tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(db):
    role = RoleFactory(perms=["monitor.view_node"], data_scope="all")
    return UserFactory(username="ops", roles=[role])


@pytest.fixture
def nodes(db):
    """A running app server with a real sample and a crawler server silent for an hour.
    Thresholds at their maximum: this machine's own figures must not raise alerts here."""
    set_parameter("monitor.node_offline_minutes", 5)
    for key in ("monitor.memory_percent", "monitor.disk_percent", "monitor.load_per_core"):
        set_parameter(key, 100)
    now = timezone.now()
    app = metrics.heartbeat("web", name="app-1")
    metrics.heartbeat("worker:default", name="app-1")
    metrics.record_sample(app, metrics.Sampler(), now=now - datetime.timedelta(minutes=1))
    crawler = Node.objects.create(
        name="crawler-1",
        roles={"worker:crawl": (now - datetime.timedelta(hours=1)).isoformat()},
        version="0.0.9",
        last_heartbeat=now - datetime.timedelta(hours=1),
    )
    return {"app": Node.objects.get(pk=app.pk), "crawler": crawler}


def status_of(page: str, name: str) -> str:
    row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*>{name}</a>(?:(?!</tr>).)*</tr>", page, re.S)
    assert row, name
    return re.search(r'data-node-status="(\w+)"', row.group(0)).group(1)


def test_the_nodes_page_lists_roles_version_heartbeat_and_status(client, viewer, nodes, english):
    client.force_login(viewer)
    page = client.get(reverse("monitor:node_list")).content.decode()
    assert "web, worker:default" in page and "worker:crawl" in page
    assert metrics.platform_version() in page and "0.0.9" in page
    assert status_of(page, "app-1") == "online"
    assert status_of(page, "crawler-1") == "offline"
    assert 'id="monitor-thresholds"' in page

    offline = client.get(reverse("monitor:node_list"), {"status": "offline"}).content.decode()
    assert "crawler-1" in offline and "app-1" not in offline


def test_the_list_shows_open_alerts_and_exports(client, viewer, nodes):
    alerts.check_offline()
    client.force_login(viewer)
    page = client.get(reverse("monitor:node_list")).content.decode()
    assert 'data-alert-kind="offline"' in page
    export = client.get(reverse("monitor:node_list"), {"export": "csv"})
    assert export.status_code == 200
    body = b"".join(export.streaming_content if export.streaming else [export.content]).decode(
        "utf-8-sig"
    )
    assert "crawler-1" in body and "app-1" in body


def test_a_node_page_shows_charts_disks_forecast_and_alerts(client, viewer, nodes):
    app = nodes["app"]
    NodeAlert.objects.create(node=app, kind="disk", subject="/", message="Disk / is 95% full")
    client.force_login(viewer)
    response = client.get(reverse("monitor:node_detail", args=[app.pk]), {"range": "1h"})
    page = response.content.decode()
    data = json.loads(re.search(r'id="node-chart-data"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert data["range"] == "1h" and data["resolution"] == "raw"
    assert len(data["times"]) == 1 and data["disks"]
    assert 'id="chart-cpu-memory"' in page and 'id="chart-disks"' in page
    assert 'id="disk-forecast"' in page
    assert "Disk / is 95% full" in page
    for mount in app.latest["disks"]:
        assert f'data-mount="{mount}"' in page

    # An unknown range shows the default one rather than an error.
    fallback = client.get(reverse("monitor:node_detail", args=[app.pk]), {"range": "1y"})
    assert fallback.status_code == 200 and '"range": "24h"' in fallback.content.decode()


def test_alert_text_from_machines_is_escaped(client, viewer, nodes):
    NodeAlert.objects.create(node=nodes["app"], kind="disk", message="<script>x()</script>")
    client.force_login(viewer)
    page = client.get(reverse("monitor:node_detail", args=[nodes["app"].pk])).content.decode()
    assert "<script>x()</script>" not in page and "&lt;script&gt;" in page


def test_people_without_the_permission_see_neither_the_menu_nor_the_pages(
    client, admin_user, viewer, nodes
):
    outsider = UserFactory(username="outsider")

    def urls(user):
        return [item["url"] for group in visible_menu(user) for item in group["items"]]

    assert reverse("monitor:node_list") in urls(admin_user)
    assert reverse("monitor:node_list") in urls(viewer)
    assert reverse("monitor:node_list") not in urls(outsider)
    client.force_login(outsider)
    assert client.get(reverse("monitor:node_list")).status_code == 403
    assert client.get(reverse("monitor:node_detail", args=[nodes["app"].pk])).status_code == 403
    client.force_login(viewer)
    assert client.post(reverse("monitor:node_delete", args=[nodes["app"].pk])).status_code == 403


def test_an_admin_deletes_a_retired_node_with_its_samples_and_alerts(client, admin_user, nodes):
    crawler = nodes["crawler"]
    alerts.check_offline()
    client.force_login(admin_user)
    client.post(reverse("monitor:node_delete", args=[crawler.pk]))
    assert not Node.objects.filter(pk=crawler.pk).exists()
    assert not NodeAlert.objects.filter(node_id=crawler.pk).exists()


def test_the_api_lists_nodes_with_status_and_serves_their_series(api, viewer, nodes):
    api.as_user(viewer)
    listing = api.get("/api/v1/monitor/nodes/").json()
    by_name = {row["name"]: row for row in listing["results"]}
    assert by_name["app-1"]["status"] == "online"
    assert by_name["crawler-1"]["status"] == "offline"
    assert by_name["app-1"]["role_names"] == ["web", "worker:default"]
    offline = api.get("/api/v1/monitor/nodes/", {"status": "offline"}).json()
    assert [row["name"] for row in offline["results"]] == ["crawler-1"]

    app = nodes["app"]
    detail = api.get(f"/api/v1/monitor/nodes/{app.pk}/").json()
    assert detail["latest"]["disks"] and detail["forecasts"] == []
    series = api.get(f"/api/v1/monitor/nodes/{app.pk}/metrics/", {"range": "1h"}).json()
    assert len(series["cpu_percent"]) == 1 and series["resolution"] == "raw"


def test_the_api_refuses_a_bad_range_with_the_error_format(api, viewer, nodes):
    api.as_user(viewer)
    response = api.get(f"/api/v1/monitor/nodes/{nodes['app'].pk}/metrics/", {"range": "1y"})
    assert response.status_code == 400
    body = response.json()
    assert set(body) >= {"code", "message", "details"} and "range" in body["details"]


def test_the_api_lists_alert_episodes_by_status_and_kind(api, viewer, nodes):
    alerts.check_offline()
    NodeAlert.objects.create(node=nodes["app"], kind="disk", subject="/", status="resolved")
    api.as_user(viewer)
    open_ones = api.get("/api/v1/monitor/node-alerts/", {"status": "open"}).json()["results"]
    assert [(a["node_name"], a["kind"]) for a in open_ones] == [("crawler-1", "offline")]
    disk = api.get("/api/v1/monitor/node-alerts/", {"kind": "disk"}).json()["results"]
    assert [a["status"] for a in disk] == ["resolved"]


def test_the_api_answers_403_without_the_permission(api, nodes):
    api.as_user(UserFactory(username="outsider"))
    assert api.get("/api/v1/monitor/nodes/").status_code == 403
    assert api.get(f"/api/v1/monitor/nodes/{nodes['app'].pk}/metrics/").status_code == 403
    assert api.get("/api/v1/monitor/node-alerts/").status_code == 403


def test_rollups_keep_the_node_page_charts_for_a_week(client, viewer, nodes):
    app = nodes["app"]
    MetricSample.objects.create(
        node=app, resolution="hour", time=timezone.now() - datetime.timedelta(days=2)
    )
    client.force_login(viewer)
    page = client.get(reverse("monitor:node_detail", args=[app.pk]), {"range": "7d"})
    assert '"resolution": "hour"' in page.content.decode()
