"""When will a disk be full? A straight line fitted to its use over the last days.

The line is a least-squares fit of used bytes over time through the hourly rollups of the last
``monitor.forecast_days`` days (the minute samples when there are fewer than a few hours of
rollups, as on a new node), spanning a day at least. A disk whose use is flat or shrinking, or
that would take more than a year to fill, has no forecast. A forecast
within ``monitor.forecast_warn_days`` opens a "disk filling up" alert episode.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from ibcloud.monitor import alerts
from ibcloud.monitor.models import MetricSample, Node, NodeAlert
from ibcloud.monitor.parameters import MONITOR_FORECAST_DAYS, MONITOR_FORECAST_WARN_DAYS

#: fewer points than this make no trend
MIN_POINTS = 3
#: minutes of noise are no trend: the points must span at least this many days
MIN_SPAN_DAYS = 1.0
#: a disk full in more than a year is not filling up in any sense worth showing
MAX_DAYS_SHOWN = 365


@dataclass(frozen=True)
class DiskForecast:
    mount: str
    days_left: float  # days until full at the current rate
    bytes_per_day: float

    def text(self) -> str:
        return _("Disk %(mount)s full in about %(days)d days at the current rate") % {
            "mount": self.mount,
            "days": max(round(self.days_left), 0),
        }


def fit_line(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Slope and intercept of the least-squares line through ``(x, y)``; None without a trend."""
    if len(points) < MIN_POINTS:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    return slope, mean_y - slope * mean_x


def disk_forecasts(node: Node, now: datetime.datetime | None = None) -> list[DiskForecast]:
    """A forecast for each of the node's disks whose use grows."""
    now = now or timezone.now()
    since = now - datetime.timedelta(days=MONITOR_FORECAST_DAYS.get())
    rows = list(
        MetricSample.objects.filter(node=node, resolution="hour", time__gte=since)
        .order_by("time")
        .values_list("time", "disks")
    )
    if len(rows) < MIN_POINTS:
        rows = list(
            MetricSample.objects.filter(node=node, resolution="raw", time__gte=since)
            .order_by("time")
            .values_list("time", "disks")
        )
    series: dict[str, list[tuple[float, float]]] = {}
    totals: dict[str, float] = {}
    for moment, disks in rows:
        x = (moment - since).total_seconds() / 86400
        for mount, disk in (disks or {}).items():
            series.setdefault(mount, []).append((x, float(disk.get("used", 0))))
            totals[mount] = float(disk.get("total", 0))
    forecasts = []
    for mount, points in sorted(series.items()):
        if points[-1][0] - points[0][0] < MIN_SPAN_DAYS:
            continue
        line = fit_line(points)
        if line is None or line[0] <= 0 or not totals.get(mount):
            continue
        slope, _intercept = line
        days_left = max(totals[mount] - points[-1][1], 0) / slope
        if days_left <= MAX_DAYS_SHOWN:
            forecasts.append(DiskForecast(mount, days_left, slope))
    return forecasts


def check_forecasts(now: datetime.datetime | None = None) -> int:
    """Open a "disk filling up" episode for each disk forecast full within the warning days;
    resolve it once the forecast is beyond. Returns the number of disks in warning."""
    warn_days = MONITOR_FORECAST_WARN_DAYS.get()
    warned = 0
    for node in Node.objects.all():
        forecasts = {item.mount: item for item in disk_forecasts(node, now)} if warn_days else {}
        open_mounts = set(
            NodeAlert.objects.filter(
                node=node, kind=NodeAlert.Kind.DISK_FORECAST, status="open"
            ).values_list("subject", flat=True)
        )
        for mount, item in forecasts.items():
            if item.days_left <= warn_days:
                warned += 1
                alerts.open_alert(
                    node,
                    NodeAlert.Kind.DISK_FORECAST,
                    item.days_left,
                    warn_days,
                    item.text(),
                    subject=mount,
                )
                open_mounts.discard(mount)
        for mount in open_mounts:
            alerts.resolve_alert(node, NodeAlert.Kind.DISK_FORECAST, mount)
    return warned
