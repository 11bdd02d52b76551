"""Tables of the milestone list (also the columns of its export) and the template list.

An overdue milestone's row gets the class ``overdue`` and its due date a red "Overdue" badge,
as everywhere deals show overdue work.
"""

from __future__ import annotations

import django_tables2 as tables
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ibcloud.core.tables import ActionsColumn, BaseTable, SelectColumn
from ibcloud.deals.models import Milestone, MilestoneTemplate

STATUS_BADGES = {
    Milestone.Status.PENDING: "bg-secondary-lt",
    Milestone.Status.IN_PROGRESS: "bg-blue-lt",
    Milestone.Status.DONE: "bg-green-lt",
    Milestone.Status.SKIPPED: "bg-secondary-lt",
}


def deal_url(deal_id: int) -> str:
    try:
        return reverse("deals:deal_detail", args=[deal_id])
    except NoReverseMatch:
        return ""


def _hidden(verbose_name, accessor=None) -> tables.Column:
    """A column only the export carries."""
    return tables.Column(
        verbose_name=verbose_name, accessor=accessor, visible=False, orderable=False
    )


def _row_class(record: Milestone) -> str:
    return "overdue" if record.is_overdue else ""


class MilestoneTable(BaseTable):
    select = SelectColumn()
    deal = tables.Column(verbose_name=_("Deal"), accessor="deal__name", order_by=("deal__name",))
    name = tables.Column(verbose_name=_("Milestone"), linkify=True)
    owner = tables.Column(verbose_name=_("Owner"), default="—")
    start_date = tables.DateColumn(verbose_name=_("Start"), format="Y-m-d")
    due_date = tables.Column(verbose_name=_("Due"))
    status = tables.Column(verbose_name=_("Status"))
    completed_on = tables.DateColumn(verbose_name=_("Completed on"), format="Y-m-d")
    actions = ActionsColumn(template_name="deals/milestone_row_actions.html")
    # Export only
    deal_code = _hidden(_("Deal code"), "deal__code")
    deal_type = _hidden(_("Deal type"), "deal__deal_type")
    department = _hidden(_("Department"), "deal__department")
    overdue = _hidden(_("Overdue"), "pk")
    note = _hidden(_("Note"), "note")
    milestone_id = _hidden(_("Milestone ID"), "pk")

    class Meta(BaseTable.Meta):
        model = Milestone
        fields = ()
        attrs = {**BaseTable.Meta.attrs, "id": "milestone-table"}
        row_attrs = {"class": _row_class, "data-milestone": lambda record: record.pk}

    def render_deal(self, record):
        url = deal_url(record.deal_id)
        if url:
            return format_html(
                '<a href="{}">{}</a> <span class="text-secondary small">{}</span>',
                url,
                record.deal.name,
                record.deal.code,
            )
        return record.deal.name

    def value_deal(self, record):
        return record.deal.name

    def render_due_date(self, record):
        if record.is_overdue:
            return format_html(
                '<span class="text-danger">{}</span> '
                '<span class="badge bg-danger text-danger-fg">{}</span>',
                record.due_date.isoformat(),
                _("Overdue"),
            )
        return record.due_date.isoformat()

    def value_due_date(self, record):
        return record.due_date

    def render_status(self, record):
        css = STATUS_BADGES.get(record.status, "bg-secondary-lt")
        return format_html('<span class="badge {}">{}</span>', css, record.get_status_display())

    def value_status(self, record):
        return record.get_status_display()

    def value_deal_type(self, record):
        from ibcloud.deals.services import type_label

        return type_label(record.deal.deal_type)

    def value_department(self, record):
        department = record.deal.department
        return department.name if department else ""

    def value_overdue(self, record):
        return _("Yes") if record.is_overdue else ""


class MilestoneTemplateTable(BaseTable):
    name = tables.Column(verbose_name=_("Name"), linkify=True, attrs={"td": {"class": "fw-bold"}})
    deal_type = tables.Column(verbose_name=_("Deal type"), default="—")
    items = tables.Column(verbose_name=_("Milestones"), accessor="pk", orderable=False)
    is_active = tables.BooleanColumn(verbose_name=_("Active"))
    description = tables.Column(verbose_name=_("Description"), orderable=False)
    actions = ActionsColumn()

    class Meta(BaseTable.Meta):
        model = MilestoneTemplate
        fields = ()
        attrs = {**BaseTable.Meta.attrs, "id": "milestonetemplate-table"}

    def render_deal_type(self, value):
        from ibcloud.deals.services import type_label

        return type_label(value)

    def value_deal_type(self, value):
        return self.render_deal_type(value)

    def render_items(self, record):
        return getattr(record, "item_count", None) or record.items.count()

    def value_items(self, record):
        return self.render_items(record)
