"""Tables and filters of the nodes list and the node alerts (list page, API and export)."""

from __future__ import annotations

import datetime

import django_filters
import django_tables2 as tables
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ibcloud.core.filters import SearchFilterSet
from ibcloud.core.tables import BaseTable, SelectColumn
from ibcloud.monitor.models import Node, NodeAlert
from ibcloud.monitor.parameters import NODE_OFFLINE_MINUTES

NODE_STATUS = """{% include "monitor/node_status_badge.html" with node=record %}"""


def offline_limit() -> datetime.datetime:
    """Heartbeats older than this are offline."""
    return timezone.now() - datetime.timedelta(minutes=NODE_OFFLINE_MINUTES.get())


def fullest_disk(node: Node) -> float | None:
    disks = (node.latest or {}).get("disks") or {}
    percents = [float(disk.get("percent", 0)) for disk in disks.values()]
    return max(percents) if percents else None


class NodeFilterSet(SearchFilterSet):
    search_fields = ("name", "version", "platform")

    status = django_filters.ChoiceFilter(
        choices=(("online", _("Online")), ("offline", _("Offline"))),
        label=_("Status"),
        method="filter_status",
    )

    class Meta:
        model = Node
        fields = ["q", "status"]

    def filter_status(self, queryset, name, value):
        if value == "online":
            return queryset.filter(last_heartbeat__gte=offline_limit())
        if value == "offline":
            return queryset.filter(last_heartbeat__lt=offline_limit())
        return queryset


class NodeTable(BaseTable):
    select = SelectColumn()
    name = tables.Column(linkify=("monitor:node_detail", {"pk": tables.A("pk")}))
    roles = tables.Column(verbose_name=pgettext_lazy("node", "Roles"), orderable=False)
    version = tables.Column()
    last_heartbeat = tables.DateTimeColumn(format="Y-m-d H:i:s")
    status = tables.TemplateColumn(
        NODE_STATUS, verbose_name=_("Status"), orderable=False, empty_values=()
    )
    cpu = tables.Column(verbose_name=_("CPU (%)"), orderable=False, empty_values=())
    memory = tables.Column(verbose_name=_("Memory (%)"), orderable=False, empty_values=())
    disk = tables.Column(verbose_name=_("Fullest disk (%)"), orderable=False, empty_values=())

    class Meta(BaseTable.Meta):
        model = Node
        fields = (
            "select",
            "name",
            "roles",
            "version",
            "last_heartbeat",
            "status",
            "cpu",
            "memory",
            "disk",
        )

    def render_roles(self, record) -> str:
        return ", ".join(record.role_names) or "—"

    def value_roles(self, record) -> str:
        return ", ".join(record.role_names)

    def value_status(self, record) -> str:
        return str(_("Online") if record.is_online() else _("Offline"))

    @staticmethod
    def _figure(record, key: str) -> float | None:
        value = (record.latest or {}).get(key)
        return round(float(value), 1) if value is not None else None

    def render_cpu(self, record):
        value = self._figure(record, "cpu_percent")
        return "—" if value is None else value

    def value_cpu(self, record):
        return self._figure(record, "cpu_percent")

    def render_memory(self, record):
        value = self._figure(record, "memory_percent")
        return "—" if value is None else value

    def value_memory(self, record):
        return self._figure(record, "memory_percent")

    def render_disk(self, record):
        value = fullest_disk(record)
        return "—" if value is None else round(value, 1)

    def value_disk(self, record):
        value = fullest_disk(record)
        return None if value is None else round(value, 1)


class NodeAlertFilterSet(SearchFilterSet):
    search_fields = ("message", "subject", "node__name")

    status = django_filters.ChoiceFilter(choices=NodeAlert.Status.choices, label=_("Status"))
    kind = django_filters.ChoiceFilter(choices=NodeAlert.Kind.choices, label=_("Kind"))
    node = django_filters.ModelChoiceFilter(queryset=Node.objects.all(), label=_("Node"))

    class Meta:
        model = NodeAlert
        fields = ["q", "status", "kind", "node"]


class NodeAlertTable(BaseTable):
    opened_at = tables.DateTimeColumn(format="Y-m-d H:i:s")
    node = tables.Column(linkify=("monitor:node_detail", {"pk": tables.A("node_id")}))
    kind = tables.Column()
    subject = tables.Column()
    status = tables.Column()
    message = tables.Column()
    resolved_at = tables.DateTimeColumn(format="Y-m-d H:i:s")

    class Meta(BaseTable.Meta):
        model = NodeAlert
        fields = ("opened_at", "node", "kind", "subject", "status", "message", "resolved_at")
