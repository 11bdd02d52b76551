"""Hardware metrics of the nodes: heartbeat, sampling with psutil, rollups and retention.

Who reports: every long-running process of the platform runs a small reporter thread
(:func:`start_reporter`): each job worker (started from its Huey start-up hook, ``tasks.py``)
and each web process (started on its first request, ``apps.py``). Every reporter heartbeats its
role on its node each interval, and tries to write the node's sample of the current minute.

One sample per node per minute, however many processes run on the machine: a sample row is
unique per node, resolution and minute, so the first process to write the minute wins and the
others see the row and skip (a race ends in an ``IntegrityError`` they ignore). Each process keeps
its own previous network counters, so its rates are right whenever it is the one that writes.

Node identity: ``IBCLOUD_NODE_NAME``, else the host name. Alerts on a new sample are checked by
the process that wrote it (``alerts.check_sample``); offline nodes are found by a periodic job of
the default queue (``tasks.check_nodes``), since a stopped node cannot report itself.
"""

from __future__ import annotations

import datetime
import logging
import os
import platform
import socket
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import psutil
from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import Avg
from django.utils import timezone

from ibcloud.monitor.models import MetricSample, Node
from ibcloud.monitor.parameters import (
    METRICS_DAILY_DAYS,
    METRICS_HOURLY_DAYS,
    METRICS_RAW_DAYS,
    MONITOR_EXTRA_MOUNTS,
)

logger = logging.getLogger(__name__)

#: seconds between two reports of a process (samples are per minute)
INTERVAL_SECONDS = 60
#: file systems that are not disks worth watching (when listed among the partitions)
IGNORED_FSTYPES = {"squashfs", "iso9660", "overlay", "tmpfs", "devtmpfs"}
AVERAGED_FIELDS = (
    "cpu_percent",
    "memory_percent",
    "memory_used",
    "load1",
    "load5",
    "load15",
    "net_in",
    "net_out",
)


def node_name() -> str:
    """This machine's name in the monitoring: ``IBCLOUD_NODE_NAME`` or the host name."""
    return (os.environ.get("IBCLOUD_NODE_NAME") or socket.gethostname() or "localhost")[:200]


def platform_version() -> str:
    try:
        return metadata.version("ibcloud")
    except metadata.PackageNotFoundError:
        return ""


def heartbeat(role: str, name: str | None = None, now: datetime.datetime | None = None) -> Node:
    """Record that a process of ``role`` runs on this node now; creates the node when new."""
    now = now or timezone.now()
    name = name or node_name()
    facts = {
        "version": platform_version(),
        "platform": (
            f"{platform.system()} {platform.release()} / Python {platform.python_version()}"
        )[:200],
        "cpu_count": psutil.cpu_count() or 1,
        "memory_total": psutil.virtual_memory().total,
    }
    with transaction.atomic():
        node, created = Node.objects.select_for_update().get_or_create(
            name=name, defaults={**facts, "roles": {role: now.isoformat()}, "last_heartbeat": now}
        )
        if not created:
            roles = dict(node.roles or {})
            roles[role] = now.isoformat()
            for key, value in facts.items():
                setattr(node, key, value)
            node.roles = roles
            node.last_heartbeat = max(node.last_heartbeat, now)
            # update(), not save(): a heartbeat a minute per process is no change a person made
            # and must not fill the audit log (a node's creation and deletion are audited).
            Node.objects.filter(pk=node.pk).update(
                roles=roles, last_heartbeat=node.last_heartbeat, **facts
            )
    return node


def monitored_mounts() -> list[str]:
    """The disk partitions of this machine plus the configured extra mount points present here."""
    mounts: list[str] = []
    for part in psutil.disk_partitions(all=False):
        if part.fstype in IGNORED_FSTYPES or part.mountpoint.startswith(("/snap/", "/boot/efi")):
            continue
        mounts.append(part.mountpoint)
    for extra in str(MONITOR_EXTRA_MOUNTS.get() or "").split(","):
        extra = extra.strip()
        if extra and os.path.isdir(extra) and extra not in mounts:
            mounts.append(extra)
    return mounts


def read_disks(mounts: list[str]) -> dict[str, dict[str, float]]:
    disks: dict[str, dict[str, float]] = {}
    for mount in mounts:
        try:
            usage = psutil.disk_usage(mount)
        except OSError:  # unmounted or unreadable since it was listed
            continue
        disks[mount] = {"total": usage.total, "used": usage.used, "percent": usage.percent}
    return disks


@dataclass
class Sampler:
    """Reads this machine's figures; keeps the previous network counters for the rates."""

    last_net: tuple[float, int, int] | None = None
    primed: bool = field(default=False)

    def read(self) -> dict[str, Any]:
        # cpu_percent(None) measures since the previous call; the very first call has no base.
        cpu = psutil.cpu_percent(interval=None if self.primed else 0.2)
        self.primed = True
        memory = psutil.virtual_memory()
        try:
            load1, load5, load15 = psutil.getloadavg()
        except (AttributeError, OSError):
            load1 = load5 = load15 = 0.0
        counters = psutil.net_io_counters()
        now = time.monotonic()
        net_in = net_out = 0.0
        if counters is not None:
            if self.last_net is not None:
                elapsed = max(now - self.last_net[0], 0.001)
                net_in = max(counters.bytes_recv - self.last_net[1], 0) / elapsed
                net_out = max(counters.bytes_sent - self.last_net[2], 0) / elapsed
            self.last_net = (now, counters.bytes_recv, counters.bytes_sent)
        return {
            "cpu_percent": float(cpu),
            "memory_percent": float(memory.percent),
            "memory_used": int(memory.total - memory.available),
            "load1": float(load1),
            "load5": float(load5),
            "load15": float(load15),
            "net_in": net_in,
            "net_out": net_out,
            "disks": read_disks(monitored_mounts()),
        }


def minute_of(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(second=0, microsecond=0)


def record_sample(
    node: Node, sampler: Sampler, now: datetime.datetime | None = None
) -> MetricSample | None:
    """Write the node's sample of this minute, unless another process already has; then check
    the thresholds on it. Returns the new sample, or None when this minute was taken."""
    from ibcloud.monitor import alerts

    minute = minute_of(now or timezone.now())
    taken = MetricSample.objects.filter(node=node, resolution="raw", time=minute).exists()
    figures = sampler.read()  # read anyway: keeps this process's rate base current
    if taken:
        return None
    try:
        with transaction.atomic():
            sample = MetricSample.objects.create(
                node=node, resolution="raw", time=minute, **figures
            )
    except IntegrityError:
        return None
    latest = {key: figures[key] for key in AVERAGED_FIELDS}
    latest["disks"] = figures["disks"]
    latest["time"] = minute.isoformat()
    Node.objects.filter(pk=node.pk).update(latest=latest)
    node.latest = latest
    alerts.check_sample(node, sample)
    return sample


def report(role: str, sampler: Sampler, now: datetime.datetime | None = None) -> None:
    """One report of a process: heartbeat, then this minute's sample if nobody wrote it yet."""
    node = heartbeat(role, now=now)
    record_sample(node, sampler, now=now)


class Reporter(threading.Thread):
    """The reporting thread of one process (daemon: it never holds the process up)."""

    def __init__(self, role: str, interval: float = INTERVAL_SECONDS) -> None:
        super().__init__(name=f"node-reporter-{role}", daemon=True)
        self.role = role
        self.interval = interval
        self.sampler = Sampler()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                close_old_connections()
                report(self.role, self.sampler)
            except Exception:  # a database hiccup must not end the reporting for good
                logger.exception("node report failed")
            finally:
                close_old_connections()
            self.stopping.wait(self.interval)


_reporters: dict[str, Reporter] = {}
_reporters_lock = threading.Lock()


def reporting_enabled() -> bool:
    return os.environ.get("IBCLOUD_NODE_REPORTING", "1").strip().lower() not in {"0", "false", "no"}


def start_reporter(role: str) -> Reporter | None:
    """Start this process's reporter for ``role`` once (later calls return the running one)."""
    if not reporting_enabled():
        return None
    with _reporters_lock:
        reporter = _reporters.get(role)
        if reporter is None or not reporter.is_alive():
            reporter = Reporter(role)
            _reporters[role] = reporter
            reporter.start()
        return reporter


# --- Downsampling and retention -------------------------------------------------------------------


def _periods(resolution: str, start: datetime.datetime, end: datetime.datetime):
    """Start times of the complete periods (hours or local days) between start and end."""
    step = datetime.timedelta(hours=1) if resolution == "hour" else datetime.timedelta(days=1)
    current = start
    while current + step <= end:
        yield current, current + step
        current += step


def _floor(resolution: str, moment: datetime.datetime) -> datetime.datetime:
    if resolution == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    local = timezone.localtime(moment)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def roll_up(resolution: str, now: datetime.datetime | None = None) -> int:
    """Average the finer samples of every complete hour (from the minutes) or day (from the
    hours) that has none yet; disk figures are the period's last. Returns rows written."""
    source = "raw" if resolution == "hour" else "hour"
    now = now or timezone.now()
    written = 0
    for node in Node.objects.all():
        finer = MetricSample.objects.filter(node=node, resolution=source)
        first = finer.order_by("time").values_list("time", flat=True).first()
        if first is None:
            continue
        last_rollup = (
            MetricSample.objects.filter(node=node, resolution=resolution)
            .order_by("-time")
            .values_list("time", flat=True)
            .first()
        )
        start = _floor(resolution, first)
        if last_rollup is not None:
            start = max(start, last_rollup + (_periods_step(resolution)))
        for begin, end in _periods(resolution, start, _floor(resolution, now)):
            rows = finer.filter(time__gte=begin, time__lt=end)
            averages = rows.aggregate(**{name: Avg(name) for name in AVERAGED_FIELDS})
            if averages["cpu_percent"] is None:
                continue
            last = rows.order_by("-time").first()
            averages["memory_used"] = int(averages["memory_used"] or 0)
            try:
                with transaction.atomic():
                    MetricSample.objects.create(
                        node=node, resolution=resolution, time=begin, disks=last.disks, **averages
                    )
                written += 1
            except IntegrityError:  # another scheduler rolled it up meanwhile
                pass
    return written


def _periods_step(resolution: str) -> datetime.timedelta:
    return datetime.timedelta(hours=1) if resolution == "hour" else datetime.timedelta(days=1)


def apply_retention(now: datetime.datetime | None = None) -> int:
    """Delete samples past their retention (minutes, hours and days each have their own)."""
    now = now or timezone.now()
    deleted = 0
    for resolution, parameter in (
        ("raw", METRICS_RAW_DAYS),
        ("hour", METRICS_HOURLY_DAYS),
        ("day", METRICS_DAILY_DAYS),
    ):
        cutoff = now - datetime.timedelta(days=parameter.get())
        count, _ = MetricSample.objects.filter(resolution=resolution, time__lt=cutoff).delete()
        deleted += count
    return deleted


# --- Series for the charts ------------------------------------------------------------------------

#: chart range -> (length, resolution read): minutes for a day, hourly averages beyond
RANGES: dict[str, tuple[datetime.timedelta, str]] = {
    "1h": (datetime.timedelta(hours=1), "raw"),
    "24h": (datetime.timedelta(hours=24), "raw"),
    "7d": (datetime.timedelta(days=7), "hour"),
    "30d": (datetime.timedelta(days=30), "hour"),
}
DEFAULT_RANGE = "24h"


def series(node: Node, range_key: str, now: datetime.datetime | None = None) -> dict[str, Any]:
    """The node's figures over a chart range (a key of :data:`RANGES`), oldest first: times
    (ISO), CPU %, memory %, load, network in/out (bytes/s) and disk % per mount point."""
    length, resolution = RANGES[range_key]
    now = now or timezone.now()
    rows = MetricSample.objects.filter(
        node=node, resolution=resolution, time__gte=now - length, time__lte=now
    ).order_by("time")
    data: dict[str, Any] = {
        "range": range_key,
        "resolution": resolution,
        "times": [],
        "cpu_percent": [],
        "memory_percent": [],
        "load1": [],
        "load5": [],
        "net_in": [],
        "net_out": [],
        "disks": {},
    }
    for index, row in enumerate(rows):
        data["times"].append(timezone.localtime(row.time).isoformat())
        for key in ("cpu_percent", "memory_percent", "load1", "load5", "net_in", "net_out"):
            data[key].append(round(getattr(row, key), 2))
        for mount, disk in (row.disks or {}).items():
            # a mount that appeared later gets gaps (null) before it
            values = data["disks"].setdefault(mount, [None] * index)
            values.append(round(float(disk.get("percent", 0)), 2))
        for values in data["disks"].values():
            if len(values) < index + 1:
                values.append(None)
    return data
