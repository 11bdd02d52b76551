"""Tables of the system pages kept by ``core`` (list page and export share them)."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ibcloud.core.models import DictItem, DictType, Job
from ibcloud.core.tables import BaseTable, SelectColumn

JOB_STATUS = """{% include "core/job_status_badge.html" with job=record %}"""

JOB_PROGRESS = """<div class="progress progress-sm" style="min-width:5rem" title="{{ value }}%">
<div class="progress-bar" style="width: {{ value }}%" role="progressbar" aria-valuenow="{{ value }}"
 aria-valuemin="0" aria-valuemax="100"></div></div>"""


class DictTypeTable(BaseTable):
    select = SelectColumn()
    code = tables.Column(linkify=("core:dicttype_detail", {"pk": tables.A("pk")}))
    name = tables.Column(linkify=("core:dicttype_detail", {"pk": tables.A("pk")}))
    item_count = tables.Column(verbose_name=pgettext_lazy("dictionary", "Items"), orderable=True)
    is_system = tables.BooleanColumn()
    updated_at = tables.DateTimeColumn(format="Y-m-d H:i")
    actions = tables.TemplateColumn(
        template_name="core/dicttype_actions.html",
        verbose_name=_("Actions"),
        orderable=False,
        exclude_from_export=True,
    )

    class Meta(BaseTable.Meta):
        model = DictType
        fields = ("select", "code", "name", "description", "item_count", "is_system", "updated_at")


class JobTable(BaseTable):
    id = tables.Column(verbose_name="#", linkify=("core:job_detail", {"pk": tables.A("pk")}))
    name = tables.Column(linkify=("core:job_detail", {"pk": tables.A("pk")}))
    queue = tables.Column()
    status = tables.TemplateColumn(JOB_STATUS)
    progress = tables.TemplateColumn(JOB_PROGRESS)
    message = tables.Column()
    attempts = tables.Column()
    owner = tables.Column()
    created_at = tables.DateTimeColumn(format="Y-m-d H:i:s")
    finished_at = tables.DateTimeColumn(format="Y-m-d H:i:s")

    class Meta(BaseTable.Meta):
        model = Job
        fields = (
            "id",
            "name",
            "queue",
            "status",
            "progress",
            "message",
            "attempts",
            "owner",
            "created_at",
            "finished_at",
        )

    def value_status(self, record) -> str:
        return str(record.get_status_display())

    def value_progress(self, record) -> int:
        return record.progress


class DictItemTable(BaseTable):
    """Items of the dictionaries (API export)."""

    dict_type = tables.Column(accessor="dict_type__code", verbose_name=_("Dictionary code"))
    value = tables.Column()
    label = tables.Column()
    parent = tables.Column(accessor="parent__value", verbose_name=_("Parent value"))
    sort_order = tables.Column()
    is_active = tables.BooleanColumn()

    class Meta(BaseTable.Meta):
        model = DictItem
        fields = ("dict_type", "value", "label", "parent", "sort_order", "is_active")
