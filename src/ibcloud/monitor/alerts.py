"""Threshold alerts of the nodes, as episodes: one notification when a figure crosses its
threshold, one when it has come back, however many samples lie between.

An episode is a :class:`NodeAlert` row; the database allows one open row per node, kind and
mount, so two processes checking the same node at once cannot open two. An alert resolves only
when its figure falls ``monitor.hysteresis_percent`` below the threshold, so a figure hovering
at the threshold does not flap. The thresholds are system parameters (``parameters.py``).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.monitor.models import MetricSample, Node, NodeAlert
from ibcloud.monitor.parameters import (
    MONITOR_ALERT_WINDOW_MINUTES,
    MONITOR_CPU_PERCENT,
    MONITOR_DISK_PERCENT,
    MONITOR_HYSTERESIS_PERCENT,
    MONITOR_LOAD_PER_CORE,
    MONITOR_MEMORY_PERCENT,
    NODE_OFFLINE_MINUTES,
)
from ibcloud.notify import events
from ibcloud.notify.services import absolute_link, notify

ALERT_EVENT = "monitor.node_alert"
RESOLVED_EVENT = "monitor.node_alert_resolved"
events.register(ALERT_EVENT, gettext_lazy("A node crossed a monitoring threshold or went offline"))
events.register(RESOLVED_EVENT, gettext_lazy("A node's monitoring alert resolved"))

#: who hears the alerts besides the superusers
ALERT_PERMISSION = ("monitor", "view_node")


def alert_recipients() -> list[Any]:
    """Active superusers and holders of ``monitor.view_node`` (directly or through an active
    role)."""
    holders = Q(is_superuser=True)
    permission = Permission.objects.filter(
        content_type__app_label=ALERT_PERMISSION[0], codename=ALERT_PERMISSION[1]
    ).first()
    if permission is not None:
        holders |= Q(user_permissions=permission) | Q(
            roles__is_active=True, roles__permissions=permission
        )
    return list(get_user_model().objects.filter(holders, is_active=True).distinct())


def _notify(alert: NodeAlert, resolved: bool) -> None:
    url = alert.node.get_absolute_url()
    if resolved:
        title = _("Resolved on %(node)s: %(alert)s") % {
            "node": alert.node,
            "alert": alert.get_kind_display(),
        }
    else:
        title = _("Alert on %(node)s: %(alert)s") % {
            "node": alert.node,
            "alert": alert.get_kind_display(),
        }
    notify(
        alert_recipients(),
        title,
        body=f"{alert.message}\n{absolute_link(url)}",
        url=url,
        level="info" if resolved else "error",
        event=RESOLVED_EVENT if resolved else ALERT_EVENT,
    )


def open_alert(
    node: Node, kind: str, value: float, threshold: float, message: str, subject: str = ""
) -> NodeAlert | None:
    """Open an episode and notify, unless one is open already (then None, and no notice)."""
    if NodeAlert.objects.filter(node=node, kind=kind, subject=subject, status="open").exists():
        return None
    try:
        with transaction.atomic():
            alert = NodeAlert.objects.create(
                node=node,
                kind=kind,
                subject=subject,
                value=value,
                threshold=threshold,
                message=message,
            )
    except IntegrityError:  # another process opened it a moment ago
        return None
    transaction.on_commit(lambda: _notify(alert, resolved=False))
    return alert


def resolve_alert(node: Node, kind: str, subject: str = "", value: float = 0) -> NodeAlert | None:
    """Close the open episode, if any, and notify once (a conditional update: of two processes
    resolving together only one succeeds)."""
    alert = NodeAlert.objects.filter(node=node, kind=kind, subject=subject, status="open").first()
    if alert is None:
        return None
    now = timezone.now()
    closed = NodeAlert.objects.filter(pk=alert.pk, status="open").update(
        status=NodeAlert.Status.RESOLVED, resolved_at=now
    )
    if not closed:
        return None
    alert.status, alert.resolved_at = NodeAlert.Status.RESOLVED, now
    transaction.on_commit(lambda: _notify(alert, resolved=True))
    return alert


def resolve_below(threshold: float) -> float:
    return threshold * (1 - MONITOR_HYSTERESIS_PERCENT.get() / 100)


def evaluate(
    node: Node, kind: str, value: float, threshold: float, message: str, subject: str = ""
) -> None:
    """Open the episode at or above the threshold; resolve it under the hysteresis margin."""
    if value >= threshold:
        open_alert(node, kind, value, threshold, message, subject)
    elif value < resolve_below(threshold):
        resolve_alert(node, kind, subject, value)


def check_sample(node: Node, sample: MetricSample) -> None:
    """Check a new raw sample of the node against every threshold."""
    # CPU use jumps about: only a full window of samples (a new node, a gap in reporting has
    # none) decides, on its average.
    window = MONITOR_ALERT_WINDOW_MINUTES.get()
    window_start = sample.time - datetime.timedelta(minutes=window - 1)
    cpu = MetricSample.objects.filter(
        node=node, resolution="raw", time__gte=window_start, time__lte=sample.time
    ).aggregate(value=Avg("cpu_percent"), count=Count("id"))
    if cpu["count"] >= window:
        threshold = MONITOR_CPU_PERCENT.get()
        evaluate(
            node,
            NodeAlert.Kind.CPU,
            cpu["value"],
            threshold,
            _("CPU use %(value).0f%% (threshold %(threshold).0f%%)")
            % {"value": cpu["value"], "threshold": threshold},
        )
    threshold = MONITOR_MEMORY_PERCENT.get()
    evaluate(
        node,
        NodeAlert.Kind.MEMORY,
        sample.memory_percent,
        threshold,
        _("Memory use %(value).0f%% (threshold %(threshold).0f%%)")
        % {"value": sample.memory_percent, "threshold": threshold},
    )
    threshold = MONITOR_LOAD_PER_CORE.get()
    per_core = sample.load5 / max(node.cpu_count, 1)
    evaluate(
        node,
        NodeAlert.Kind.LOAD,
        per_core,
        threshold,
        _("Load %(value).2f per CPU core (threshold %(threshold).2f)")
        % {"value": per_core, "threshold": threshold},
    )
    threshold = MONITOR_DISK_PERCENT.get()
    # A mount no longer sampled (unmounted, dropped from monitor.extra_mounts) cannot come back
    # under its threshold: its open episode ends here.
    gone = (
        NodeAlert.objects.filter(node=node, kind=NodeAlert.Kind.DISK, status="open")
        .exclude(subject__in=list(sample.disks or {}))
        .values_list("subject", flat=True)
    )
    for mount in list(gone):
        resolve_alert(node, NodeAlert.Kind.DISK, mount)
    for mount, disk in (sample.disks or {}).items():
        percent = float(disk.get("percent", 0))
        evaluate(
            node,
            NodeAlert.Kind.DISK,
            percent,
            threshold,
            _("Disk %(mount)s is %(value).0f%% full (threshold %(threshold).0f%%)")
            % {"mount": mount, "value": percent, "threshold": threshold},
            subject=mount,
        )


def check_offline(now: datetime.datetime | None = None) -> list[Node]:
    """Open an offline episode for every node silent past the limit; resolve the episodes of the
    nodes that report again. Returns the offline nodes."""
    now = now or timezone.now()
    minutes = NODE_OFFLINE_MINUTES.get()
    limit = now - datetime.timedelta(minutes=minutes)
    offline = []
    for node in Node.objects.all():
        if node.last_heartbeat < limit:
            offline.append(node)
            silent = (now - node.last_heartbeat).total_seconds() / 60
            open_alert(
                node,
                NodeAlert.Kind.OFFLINE,
                silent,
                minutes,
                _("No report for %(minutes)d minutes (last heartbeat %(time)s)")
                % {
                    "minutes": silent,
                    "time": timezone.localtime(node.last_heartbeat).strftime("%Y-%m-%d %H:%M"),
                },
            )
        else:
            resolve_alert(node, NodeAlert.Kind.OFFLINE)
    return offline
