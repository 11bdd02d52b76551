"""Tables of the operations lists (list page and export share them)."""

import django_tables2 as tables
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from ibcloud.core.tables import BaseTable, SelectColumn
from ibcloud.monitor.models import Backup

BACKUP_STATUS = """{% include "monitor/backup_status_badge.html" with backup=record %}"""


class BackupTable(BaseTable):
    select = SelectColumn()
    started_at = tables.DateTimeColumn(
        format="Y-m-d H:i:s", linkify=("monitor:backup_detail", {"pk": tables.A("pk")})
    )
    file_name = tables.Column()
    kind = tables.Column()
    status = tables.TemplateColumn(BACKUP_STATUS)
    size = tables.Column(verbose_name=_("Size"))
    vendor = tables.Column()
    file_count = tables.Column(verbose_name=_("Files"), orderable=False, empty_values=())
    row_total = tables.Column(verbose_name=_("Rows"), orderable=False)
    created_by = tables.Column()
    actions = tables.TemplateColumn(
        template_name="monitor/backup_actions.html",
        verbose_name=_("Actions"),
        orderable=False,
        exclude_from_export=True,
    )

    class Meta(BaseTable.Meta):
        model = Backup
        fields = (
            "select",
            "started_at",
            "file_name",
            "kind",
            "status",
            "size",
            "vendor",
            "file_count",
            "row_total",
            "created_by",
        )

    def render_size(self, value) -> str:
        return filesizeformat(value) if value else "—"

    def value_size(self, value) -> int:
        return value

    def render_file_count(self, record) -> str | int:
        # "—": the backup holds the database only (0 would read as "no files uploaded").
        return record.file_count if record.includes_media else "—"

    def value_file_count(self, record) -> int | None:
        return record.file_count if record.includes_media else None

    def value_status(self, record) -> str:
        return str(record.get_status_display())
