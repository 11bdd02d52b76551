"""Pages of the hardware monitoring: the nodes list and a node's charts, forecast and alerts.

Nodes are system records (GLOBAL scope): ``monitor.view_node`` opens the pages; deleting a
retired node (``monitor.delete_node``) removes its samples and alerts and stops its offline alert.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from ibcloud.core.scoping import restrict
from ibcloud.core.views import BULK_DELETE, ObjectDeleteView, ObjectDetailView, ObjectListView
from ibcloud.monitor import forecast, metrics
from ibcloud.monitor.models import Node, NodeAlert
from ibcloud.monitor.node_tables import NodeFilterSet, NodeTable
from ibcloud.monitor.parameters import (
    MONITOR_CPU_PERCENT,
    MONITOR_DISK_PERCENT,
    MONITOR_FORECAST_WARN_DAYS,
    MONITOR_LOAD_PER_CORE,
    MONITOR_MEMORY_PERCENT,
    NODE_OFFLINE_MINUTES,
)


def chart_labels() -> dict[str, str]:
    return {
        "cpu": _("CPU (%)"),
        "memory": _("Memory (%)"),
        "load1": _("Load (1 min)"),
        "load5": _("Load (5 min)"),
        "net_in": _("In (bytes/s)"),
        "net_out": _("Out (bytes/s)"),
        "disk": _("Disk (%)"),
        "save": _("Save as image"),
        "no_data": _("No samples in this range yet."),
    }


def thresholds() -> dict[str, float]:
    return {
        "cpu": MONITOR_CPU_PERCENT.get(),
        "memory": MONITOR_MEMORY_PERCENT.get(),
        "disk": MONITOR_DISK_PERCENT.get(),
        "load_per_core": MONITOR_LOAD_PER_CORE.get(),
        "offline_minutes": NODE_OFFLINE_MINUTES.get(),
    }


def visible_alerts(user):
    """An alert is part of its node: whoever may view the node sees its alerts."""
    return NodeAlert.objects.filter(node__in=restrict(Node.objects.all(), user, "view"))


class NodeListView(ObjectListView):
    model = Node
    table_class = NodeTable
    filterset_class = NodeFilterSet
    template_name = "monitor/node_list.html"
    bulk_actions = (BULK_DELETE,)

    def extra_context(self) -> dict:
        return {
            "thresholds": thresholds(),
            "open_alerts": visible_alerts(self.request.user)
            .filter(status="open")
            .select_related("node")[:50],
        }


class NodeDetailView(ObjectDetailView):
    model = Node
    template_name = "monitor/node_detail.html"

    def extra_context(self, obj) -> dict:
        range_key = self.request.GET.get("range", metrics.DEFAULT_RANGE)
        if range_key not in metrics.RANGES:
            range_key = metrics.DEFAULT_RANGE
        alerts = visible_alerts(self.request.user).filter(node=obj)
        return {
            "title": str(obj),
            "range": range_key,
            "ranges": list(metrics.RANGES),
            "chart_data": {**metrics.series(obj, range_key), "labels": chart_labels()},
            "disks": sorted(((obj.latest or {}).get("disks") or {}).items()),
            "forecasts": forecast.disk_forecasts(obj),
            "open_alerts": alerts.filter(status="open"),
            "recent_alerts": alerts.filter(status="resolved")[:20],
            "thresholds": thresholds(),
            "forecast_warn_days": MONITOR_FORECAST_WARN_DAYS.get(),
        }


class NodeDeleteView(ObjectDeleteView):
    model = Node
