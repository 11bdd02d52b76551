"""The audit log table: list page and export (xlsx/csv) alike."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from ibcloud.audit.models import AuditEntry
from ibcloud.core.tables import BaseTable


class AuditEntryTable(BaseTable):
    timestamp = tables.DateTimeColumn(
        verbose_name=_("Time"),
        format="Y-m-d H:i:s",
        linkify=True,
        attrs={"td": {"class": "text-nowrap"}},
    )
    actor = tables.Column(
        verbose_name=_("Actor"), accessor="actor_display", order_by=("actor_username",)
    )
    actor_department = tables.Column(verbose_name=_("Department"))
    event = tables.Column(verbose_name=_("Event"), accessor="event_label", order_by=("event",))
    model = tables.Column(
        verbose_name=_("Model"), accessor="model_label", order_by=("content_type",)
    )
    object_pk = tables.Column(verbose_name=_("Object ID"))
    object_repr = tables.Column(verbose_name=_("Object"))
    summary = tables.Column(verbose_name=_("Changes"), accessor="summary", orderable=False)
    remote_addr = tables.Column(verbose_name=_("IP"))

    class Meta(BaseTable.Meta):
        model = AuditEntry
        fields = (
            "timestamp",
            "actor",
            "actor_department",
            "event",
            "model",
            "object_pk",
            "object_repr",
            "summary",
            "remote_addr",
        )
