"""The alert table (list page columns and export columns)."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from ibcloud.core.tables import BaseTable, SelectColumn
from ibcloud.crawler.models import SourceAlert


class SourceAlertTable(BaseTable):
    select = SelectColumn()
    title = tables.Column(linkify=True, verbose_name=_("Title"))
    source = tables.Column(
        linkify=("crawler:source_health", {"pk": tables.A("source_id")}), verbose_name=_("Source")
    )
    rule = tables.Column(verbose_name=_("Rule"))
    field = tables.Column(verbose_name=_("Field"))
    status = tables.TemplateColumn(
        template_name="crawler/health/alert_status_cell.html", verbose_name=_("Status")
    )
    occurrences = tables.Column(verbose_name=_("Occurrences"))
    first_seen_at = tables.DateTimeColumn(verbose_name=_("First seen"), format="Y-m-d H:i")
    last_seen_at = tables.DateTimeColumn(verbose_name=_("Last seen"), format="Y-m-d H:i")
    acknowledged_by = tables.Column(verbose_name=_("Acknowledged by"))

    class Meta(BaseTable.Meta):
        model = SourceAlert
        fields = (
            "select",
            "title",
            "source",
            "rule",
            "field",
            "status",
            "occurrences",
            "first_seen_at",
            "last_seen_at",
            "acknowledged_by",
        )

    def value_status(self, record):
        return record.get_status_display()
