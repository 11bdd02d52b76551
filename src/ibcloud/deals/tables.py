"""Table of the deal list (also the columns of the deal export).

Overdue deals (open, with an overdue milestone: ``services.overdue_deals``) get a red badge and
their row the class ``overdue``; the queryset must come through ``services.with_overdue``.
"""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ibcloud.catalog.templatetags.catalog_format import format_amount, industry_label
from ibcloud.core.tables import BaseTable
from ibcloud.deals import services
from ibcloud.deals.models import Deal

STATUS_BADGES = {
    Deal.Status.ACTIVE: "bg-green-lt",
    Deal.Status.ON_HOLD: "bg-yellow-lt",
    Deal.Status.COMPLETED: "bg-blue-lt",
    Deal.Status.TERMINATED: "bg-secondary-lt",
}


def is_red(deal: Deal) -> bool:
    """Whether ``deal`` shows red: it is open and ``with_overdue`` found an overdue milestone
    (the same rule as ``services.overdue_deals``, which the dashboard counts)."""
    return bool(getattr(deal, "is_overdue", False)) and not deal.is_closed


def money(value: Any) -> str:
    """CNY as bankers read it, like the catalog's amounts ("1.5亿", "3,000万"); '—' when
    unknown."""
    if value is None:
        return "—"
    return format_amount(int(value))


def _hidden(verbose_name, accessor=None, **kwargs) -> tables.Column:
    """A column only the export carries."""
    return tables.Column(
        verbose_name=verbose_name, accessor=accessor, visible=False, orderable=False, **kwargs
    )


class DealTable(BaseTable):
    code = tables.Column(verbose_name=_("Code"), attrs={"td": {"class": "text-nowrap"}})
    name = tables.Column(verbose_name=_("Name"), linkify=True, attrs={"td": {"class": "fw-bold"}})
    deal_type = tables.Column(verbose_name=_("Type"))
    stage = tables.Column(verbose_name=_("Stage"), order_by=("deal_type", "stage"))
    status = tables.Column(verbose_name=_("Status"))
    overdue = tables.Column(
        verbose_name=_("Overdue"), accessor="is_overdue", orderable=False, default=""
    )
    client = tables.Column(verbose_name=_("Client"))
    lead = tables.Column(verbose_name=_("Lead"), default="—", order_by=("lead__name",))
    department = tables.Column(
        verbose_name=_("Department"), default="—", order_by=("department__name",)
    )
    deal_size = tables.Column(
        verbose_name=_("Deal size (CNY)"), attrs={"td": {"class": "text-end text-nowrap"}}
    )
    expected_fee = tables.Column(
        verbose_name=_("Expected fee (CNY)"), attrs={"td": {"class": "text-end text-nowrap"}}
    )
    opened_on = tables.DateColumn(verbose_name=_("Opened on"), format="Y-m-d")
    # Export only
    industry = _hidden(_("Industry"), "industry")
    expected_close_on = _hidden(_("Expected close"), "expected_close_on")
    closed_on = _hidden(_("Closed on"), "closed_on")
    project = _hidden(_("Linked project"), "project")
    deal_id = _hidden(_("Deal ID"), "pk")

    class Meta(BaseTable.Meta):
        model = Deal
        fields = ()
        attrs = {**BaseTable.Meta.attrs, "id": "deal-table"}
        row_attrs = {
            "class": lambda record: "overdue" if is_red(record) else "",
            "data-deal": lambda record: record.pk,
        }

    def render_name(self, record, value):
        if is_red(record):
            return format_html(
                '<a href="{}" class="text-danger">{}</a>', record.get_absolute_url(), value
            )
        return format_html('<a href="{}">{}</a>', record.get_absolute_url(), value)

    def value_name(self, value):
        return value

    def render_deal_type(self, record):
        return services.type_label(record.deal_type)

    def value_deal_type(self, record):
        return services.type_label(record.deal_type)

    def render_stage(self, record):
        return services.stage_label(record.deal_type, record.stage)

    def value_stage(self, record):
        return services.stage_label(record.deal_type, record.stage)

    def render_status(self, record):
        css = STATUS_BADGES.get(record.status, "bg-secondary-lt")
        return format_html('<span class="badge {}">{}</span>', css, record.get_status_display())

    def value_status(self, record):
        return record.get_status_display()

    def render_overdue(self, record):
        if not is_red(record):
            return ""
        return format_html(
            '<span class="badge bg-danger text-danger-fg" data-overdue="1">{}</span>',
            _("Overdue"),
        )

    def value_overdue(self, record):
        return str(_("Yes")) if is_red(record) else ""

    def render_deal_size(self, value):
        return money(value)

    def value_deal_size(self, value):
        return float(value) if value is not None else ""

    def render_expected_fee(self, value):
        return money(value)

    def value_expected_fee(self, value):
        return float(value) if value is not None else ""

    def value_industry(self, value):
        return industry_label(value) if value else ""
