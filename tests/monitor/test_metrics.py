"""Sampling, heartbeats, downsampling, retention and the disk forecast.

Every process reports its node; the node gets one sample per minute however many processes run
on it; minutes roll up into hours and hours into days, each kept for its own number of days."""

from __future__ import annotations

import contextlib
import datetime
from unittest import mock

import pytest
from django.utils import timezone, translation

from ibcloud.core.jobs import get_queue
from ibcloud.core.parameters import set_parameter
from ibcloud.monitor import forecast, metrics
from ibcloud.monitor.models import MetricSample, Node, NodeAlert

pytestmark = pytest.mark.django_db

GB = 1024**3


@contextlib.contextmanager
def freeze_now(moment):
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def test_a_sample_reads_cpu_memory_disks_network_and_load_of_this_machine():
    sampler = metrics.Sampler()
    first = sampler.read()
    second = sampler.read()
    assert 0 <= second["cpu_percent"] <= 100
    assert 0 < second["memory_percent"] <= 100 and second["memory_used"] > 0
    assert second["load1"] >= 0 and second["load5"] >= 0 and second["load15"] >= 0
    assert second["net_in"] >= 0 and second["net_out"] >= 0
    assert first["disks"], "at least one disk partition is monitored"
    for disk in second["disks"].values():
        assert disk["total"] > 0 and 0 <= disk["percent"] <= 100


def test_the_node_is_named_by_the_setting_or_the_host(monkeypatch):
    monkeypatch.setenv("IBCLOUD_NODE_NAME", "app-2")
    assert metrics.node_name() == "app-2"
    monkeypatch.delenv("IBCLOUD_NODE_NAME")
    assert metrics.node_name()


def test_every_role_heartbeats_on_one_node_with_its_version(monkeypatch):
    monkeypatch.setenv("IBCLOUD_NODE_NAME", "app-1")
    metrics.heartbeat("web")
    metrics.heartbeat("worker:default")
    node = metrics.heartbeat("worker:crawl")
    assert Node.objects.count() == 1
    assert node.role_names == ["web", "worker:crawl", "worker:default"]
    # The web server moved to another machine: its role drops out after the offline limit.
    later = timezone.now() + datetime.timedelta(minutes=30)
    metrics.heartbeat("worker:default", now=later)
    node = metrics.heartbeat("worker:crawl", now=later)
    with freeze_now(later):
        assert node.role_names == ["worker:crawl", "worker:default"]
    assert node.version == metrics.platform_version() != ""
    assert node.cpu_count >= 1 and node.memory_total > 0


def test_several_processes_on_one_machine_write_one_sample_per_minute():
    node = metrics.heartbeat("web", name="app-1")
    web, worker, crawler = metrics.Sampler(), metrics.Sampler(), metrics.Sampler()
    minute = timezone.now().replace(second=5, microsecond=0)
    written = [
        metrics.record_sample(node, sampler, now=minute) for sampler in (web, worker, crawler)
    ]
    assert sum(1 for sample in written if sample is not None) == 1
    later = minute + datetime.timedelta(minutes=1)
    assert metrics.record_sample(node, worker, now=later) is not None
    assert MetricSample.objects.filter(node=node, resolution="raw").count() == 2
    node.refresh_from_db()
    assert node.latest["disks"] and "cpu_percent" in node.latest


def test_worker_processes_start_their_reporter_from_the_queue_start_up_hook(monkeypatch):
    started = []
    monkeypatch.setattr(metrics, "start_reporter", started.append)
    for queue in ("default", "crawl"):
        for hook in get_queue(queue)._startup.values():
            hook()
    assert "worker:default" in started and "worker:crawl" in started


def test_reporting_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("IBCLOUD_NODE_REPORTING", "0")
    assert metrics.start_reporter("web") is None


def raw(node, when, cpu, used_gb=10.0, total_gb=100.0) -> MetricSample:
    return MetricSample.objects.create(
        node=node,
        time=when,
        cpu_percent=cpu,
        memory_percent=50,
        disks={"/data": {"total": total_gb * GB, "used": used_gb * GB, "percent": used_gb}},
    )


def test_minutes_roll_up_into_hourly_and_daily_averages():
    node = Node.objects.create(name="app-1")
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=2)
    for minute, cpu in enumerate((10, 20, 30, 40)):
        raw(node, hour + datetime.timedelta(minutes=minute * 15), cpu, used_gb=10 + minute)
    raw(node, now, 99)  # the current hour is not complete: not rolled up

    assert metrics.roll_up("hour", now=now) == 1
    rollup = MetricSample.objects.get(node=node, resolution="hour")
    assert rollup.time == hour and rollup.cpu_percent == 25
    assert rollup.disks["/data"]["used"] == 13 * GB  # the hour's last disk figure
    assert metrics.roll_up("hour", now=now) == 0  # done once

    tomorrow = now + datetime.timedelta(days=2)
    assert metrics.roll_up("day", now=tomorrow) == 1
    assert MetricSample.objects.get(node=node, resolution="day").cpu_percent == 25


def test_retention_keeps_minutes_hours_and_days_for_their_own_number_of_days():
    set_parameter("monitor.raw_retention_days", 2)
    set_parameter("monitor.hourly_retention_days", 30)
    node = Node.objects.create(name="app-1")
    now = timezone.now()
    old = now - datetime.timedelta(days=3)
    raw(node, old, 1)
    raw(node, now, 2)
    MetricSample.objects.create(node=node, resolution="hour", time=old)
    MetricSample.objects.create(
        node=node, resolution="hour", time=now - datetime.timedelta(days=40)
    )

    assert metrics.apply_retention(now=now) == 2
    assert list(
        MetricSample.objects.order_by("resolution", "time").values_list("resolution", "time")
    ) == [("hour", old), ("raw", now)]


def test_the_chart_series_of_a_range_read_minutes_or_hourly_averages():
    node = Node.objects.create(name="app-1")
    now = timezone.now()
    raw(node, now - datetime.timedelta(minutes=30), 10)
    raw(node, now - datetime.timedelta(hours=3), 20)
    MetricSample.objects.create(
        node=node, resolution="hour", time=now - datetime.timedelta(days=3), cpu_percent=30
    )
    assert metrics.series(node, "1h", now)["cpu_percent"] == [10]
    assert metrics.series(node, "24h", now)["cpu_percent"] == [20, 10]
    week = metrics.series(node, "7d", now)
    assert week["resolution"] == "hour" and week["cpu_percent"] == [30]
    assert metrics.series(node, "24h", now)["disks"]["/data"] == [10, 10]


def test_a_growing_disk_is_forecast_full_and_warns_ahead():
    """100 GB disk, 60 GB used, growing 2 GB a day: full in about 20 days."""
    set_parameter("monitor.forecast_days", 7)
    set_parameter("monitor.forecast_warn_days", 30)
    node = Node.objects.create(name="crawler-1")
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for hours_ago in range(6 * 24, -1, -6):
        used = 60 - 2 * hours_ago / 24
        MetricSample.objects.create(
            node=node,
            resolution="hour",
            time=now - datetime.timedelta(hours=hours_ago),
            disks={"/data": {"total": 100 * GB, "used": used * GB, "percent": used}},
        )
    (item,) = forecast.disk_forecasts(node, now)
    assert item.mount == "/data" and round(item.days_left) == 20
    with translation.override("en"):
        assert item.text() == "Disk /data full in about 20 days at the current rate"
    assert forecast.check_forecasts(now) == 1
    assert forecast.check_forecasts(now) == 1  # still warned, still one episode
    alert = NodeAlert.objects.get(kind="disk_forecast")
    assert alert.subject == "/data" and alert.status == "open"

    set_parameter("monitor.forecast_warn_days", 10)  # 20 days is beyond: resolved
    assert forecast.check_forecasts(now) == 0
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_a_flat_or_shrinking_disk_has_no_forecast():
    node = Node.objects.create(name="crawler-1")
    now = timezone.now()
    for hours_ago, used in ((30, 50), (20, 50), (10, 49), (0, 48)):
        raw(node, now - datetime.timedelta(hours=hours_ago), 1, used_gb=used)
    assert forecast.disk_forecasts(node, now) == []


def test_heartbeats_and_samples_stay_out_of_the_audit_log():
    """A minute's heartbeat and sample of every process is no change a person made."""
    from ibcloud.audit.models import AuditEntry

    node = metrics.heartbeat("web", name="app-1")
    before = AuditEntry.objects.count()
    sampler = metrics.Sampler()
    start = timezone.now()
    for minute in range(3):
        now = start + datetime.timedelta(minutes=minute)
        metrics.heartbeat("web", name="app-1", now=now)
        metrics.heartbeat("worker:default", name="app-1", now=now)
        assert metrics.record_sample(node, sampler, now=now) is not None
    assert AuditEntry.objects.count() == before


def test_a_web_process_starts_its_reporter_on_its_first_request_unless_jobs_run_inline(
    monkeypatch,
):
    from ibcloud.monitor.apps import _report_from_web

    started = []
    monkeypatch.setattr(metrics, "start_reporter", started.append)
    _report_from_web(None)  # tests run jobs in-process: no long-running server, no reporter
    assert started == []
    monkeypatch.setattr(get_queue("default"), "immediate", False)
    _report_from_web(None)
    assert started == ["web"]


def test_minutes_of_history_or_a_disk_years_from_full_make_no_forecast():
    node = Node.objects.create(name="crawler-1")
    now = timezone.now()
    for minutes_ago in (30, 20, 10, 0):  # growing fast, but over half an hour only
        raw(node, now - datetime.timedelta(minutes=minutes_ago), 1, used_gb=50 - minutes_ago)
    assert forecast.disk_forecasts(node, now) == []

    other = Node.objects.create(name="crawler-2")
    for days_ago in (3, 2, 1, 0):  # 1 GB a year on a 100 GB disk
        raw(other, now - datetime.timedelta(days=days_ago), 1, used_gb=10 - days_ago / 365)
    assert forecast.disk_forecasts(other, now) == []
