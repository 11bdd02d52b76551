"""Monitoring alerts are episodes: a disk filled past its threshold raises ONE alert to the
admins (in-app and by email), however many samples see it full, and one notice when it is back
under the threshold; a node that stops reporting is offline and raises one alert."""

from __future__ import annotations

import datetime
import subprocess
import uuid

import pytest
from django.utils import timezone

from ibcloud.core.parameters import set_parameter
from ibcloud.monitor import alerts, metrics
from ibcloud.monitor.models import MetricSample, Node, NodeAlert
from ibcloud.notify.models import Notification
from tests.factories import RoleFactory, UserFactory
from tests.notify.conftest import (  # noqa: F401 - fixtures
    email_channel,
    run_jobs,
    smtp_server,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def test_disk(tmp_path):
    """An 8 MB tmpfs of its own, so filling it touches no real disk."""
    disk = tmp_path / "disk"
    disk.mkdir()
    result = subprocess.run(  # noqa: S603 - fixed arguments
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)],  # noqa: S607
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {result.stderr.strip()}")
    yield disk
    subprocess.run(["umount", str(disk)], check=False)  # noqa: S603, S607


@pytest.fixture
def only_test_disk(monkeypatch, test_disk):
    """Monitor the test disk alone (the machine's own partitions could be past any threshold),
    and keep CPU, memory and load out of the way (samples taken back to back measure the CPU
    over milliseconds: anything from 0 to 100 %)."""
    monkeypatch.setattr(metrics.psutil, "disk_partitions", lambda all=False: [])
    monkeypatch.setattr(metrics.psutil, "cpu_percent", lambda interval=None: 5.0)
    set_parameter("monitor.extra_mounts", str(test_disk))
    set_parameter("monitor.disk_percent", 50)
    set_parameter("monitor.memory_percent", 100)
    set_parameter("monitor.load_per_core", 100)
    return test_disk


@pytest.fixture
def admins(db):
    """A superuser and a holder of monitor.view_node hear the alerts; others do not."""
    role = RoleFactory(perms=["monitor.view_node"], data_scope="all")
    return {
        "root": UserFactory(username="root", email="root@bank.test", is_superuser=True),
        "ops": UserFactory(username="ops", email="ops@bank.test", roles=[role]),
        "staff": UserFactory(username="staff", email="staff@bank.test"),
    }


def fill(disk, megabytes: int) -> None:
    (disk / "filler.bin").write_bytes(b"\0" * megabytes * 1024 * 1024)


def sample_minutes(node, sampler, start, count: int) -> list:
    return [
        metrics.record_sample(node, sampler, now=start + datetime.timedelta(minutes=i))
        for i in range(count)
    ]


def test_filling_a_disk_past_the_threshold_raises_one_alert_to_the_admins(
    only_test_disk,
    admins,
    email_channel,  # noqa: F811 - fixture
    smtp_server,  # noqa: F811 - fixture
    run_jobs,  # noqa: F811 - fixture
):
    mount = str(only_test_disk)
    node = metrics.heartbeat("worker:default", name="crawler-1")
    sampler = metrics.Sampler()
    start = timezone.now().replace(second=0, microsecond=0)

    with run_jobs():
        sample_minutes(node, sampler, start, 2)  # empty disk: nothing to say
        fill(only_test_disk, 6)  # 75 % of 8 MB, past the 50 % threshold
        samples = sample_minutes(node, sampler, start + datetime.timedelta(minutes=2), 4)

    assert all(s.disks[mount]["percent"] >= 70 for s in samples)
    alert = NodeAlert.objects.get(node=node, kind="disk", subject=mount)
    assert alert.status == "open" and alert.value >= 70
    notices = Notification.objects.filter(event=alerts.ALERT_EVENT)
    assert sorted(n.recipient.username for n in notices) == ["ops", "root"]
    assert sorted(r for m in smtp_server.messages for r in m.recipients) == [
        "ops@bank.test",
        "root@bank.test",
    ]
    assert "crawler-1" in smtp_server.messages[0].subject
    assert mount in smtp_server.messages[0].body


def test_the_alert_resolves_once_when_the_disk_is_emptied(
    only_test_disk, admins, django_capture_on_commit_callbacks
):
    mount = str(only_test_disk)
    node = metrics.heartbeat("worker:default", name="crawler-1")
    sampler = metrics.Sampler()
    start = timezone.now().replace(second=0, microsecond=0)
    fill(only_test_disk, 6)
    with django_capture_on_commit_callbacks(execute=True):
        sample_minutes(node, sampler, start, 2)
        (only_test_disk / "filler.bin").unlink()
        sample_minutes(node, sampler, start + datetime.timedelta(minutes=2), 3)

    alert = NodeAlert.objects.get(node=node, kind="disk", subject=mount)
    assert alert.status == "resolved" and alert.resolved_at is not None
    assert Notification.objects.filter(event=alerts.ALERT_EVENT).count() == 2  # root and ops
    assert Notification.objects.filter(event=alerts.RESOLVED_EVENT).count() == 2


def test_a_figure_hovering_at_the_threshold_does_not_flap():
    set_parameter("monitor.memory_percent", 80)
    set_parameter("monitor.hysteresis_percent", 5)  # resolves under 76 %
    node = Node.objects.create(name="web-1", cpu_count=2)
    for value in (81, 78, 80.5, 77, 82):
        alerts.evaluate(node, NodeAlert.Kind.MEMORY, value, 80, "memory")
    assert NodeAlert.objects.filter(node=node).count() == 1
    alerts.evaluate(node, NodeAlert.Kind.MEMORY, 70, 80, "memory")
    alerts.evaluate(node, NodeAlert.Kind.MEMORY, 85, 80, "memory")
    assert list(NodeAlert.objects.filter(node=node).values_list("status", flat=True)) == [
        "open",
        "resolved",
    ]


def test_the_cpu_alert_needs_the_average_of_the_window_not_one_spike():
    set_parameter("monitor.cpu_percent", 90)
    set_parameter("monitor.alert_window_minutes", 3)
    node = Node.objects.create(name="worker-1", cpu_count=4)
    start = timezone.now().replace(second=0, microsecond=0)

    def sample(minute: int, cpu: float) -> None:
        row = MetricSample.objects.create(
            node=node, time=start + datetime.timedelta(minutes=minute), cpu_percent=cpu
        )
        alerts.check_sample(node, row)

    sample(0, 10)
    sample(1, 10)
    sample(2, 100)  # a spike: average 40 %
    assert not NodeAlert.objects.filter(kind="cpu").exists()
    sample(3, 95)
    sample(4, 96)  # 100, 95, 96: sustained
    assert NodeAlert.objects.filter(kind="cpu", status="open").count() == 1


def test_a_stopped_node_is_reported_offline_with_one_alert(
    admins, django_capture_on_commit_callbacks
):
    set_parameter("monitor.node_offline_minutes", 5)
    now = timezone.now()
    stopped = Node.objects.create(
        name="crawler-2", last_heartbeat=now - datetime.timedelta(minutes=9)
    )
    running = Node.objects.create(name="web-1", last_heartbeat=now - datetime.timedelta(minutes=1))

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            offline = alerts.check_offline(now=now)

    assert offline == [stopped]
    assert not stopped.is_online(now) and running.is_online(now)
    alert = NodeAlert.objects.get(kind="offline")
    assert alert.node == stopped and alert.status == "open"
    assert Notification.objects.filter(event=alerts.ALERT_EVENT).count() == 2  # root and ops

    # It reports again: the episode closes.
    stopped.last_heartbeat = now
    stopped.save()
    with django_capture_on_commit_callbacks(execute=True):
        alerts.check_offline(now=now)
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert Notification.objects.filter(event=alerts.RESOLVED_EVENT).count() == 2


def test_only_one_episode_can_be_open_per_node_kind_and_mount():
    node = Node.objects.create(name=f"n-{uuid.uuid4().hex[:6]}")
    assert alerts.open_alert(node, "disk", 95, 90, "full", subject="/data") is not None
    assert alerts.open_alert(node, "disk", 96, 90, "full", subject="/data") is None
    assert alerts.open_alert(node, "disk", 96, 90, "full", subject="/var") is not None
    assert NodeAlert.objects.filter(node=node, status="open").count() == 2


def test_a_disk_alert_ends_when_its_mount_is_no_longer_monitored():
    set_parameter("monitor.disk_percent", 90)
    node = Node.objects.create(name="crawler-1", cpu_count=2)
    start = timezone.now().replace(second=0, microsecond=0)
    full = {"/mnt/usb": {"total": 100, "used": 95, "percent": 95.0}}
    alerts.check_sample(node, MetricSample.objects.create(node=node, time=start, disks=full))
    assert NodeAlert.objects.get(subject="/mnt/usb").status == "open"
    later = start + datetime.timedelta(minutes=1)
    alerts.check_sample(node, MetricSample.objects.create(node=node, time=later, disks={}))
    assert NodeAlert.objects.get(subject="/mnt/usb").status == "resolved"
