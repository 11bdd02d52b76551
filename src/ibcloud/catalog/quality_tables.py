"""Tables of the data-quality list pages (also the columns of their exports)."""

from __future__ import annotations

import json

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ibcloud.catalog.models import ExchangeRate, IndustryKeyword, Ingestion, RoundAlias
from ibcloud.catalog.quality_forms import industry_label
from ibcloud.core import dictionaries
from ibcloud.core.tables import ActionsColumn, BaseTable, SelectColumn
from ibcloud.crawler.tables import summarize

OUTCOME_BADGES = {
    Ingestion.Outcome.CREATED: "bg-green-lt",
    Ingestion.Outcome.MERGED: "bg-blue-lt",
    Ingestion.Outcome.DUPLICATE: "bg-secondary-lt",
    Ingestion.Outcome.QUARANTINED: "bg-red-lt",
}


class IngestionTable(BaseTable):
    """One row per processed raw item: outcome, reason and where it went."""

    select = SelectColumn()
    id = tables.Column(linkify=True, verbose_name=_("No."))
    outcome = tables.Column(verbose_name=_("Outcome"))
    reason = tables.Column(verbose_name=_("Reason"), attrs={"td": {"class": "text-wrap"}})
    reason_code = tables.Column(verbose_name=_("Reason code"))
    content = tables.Column(
        accessor="raw_item__data",
        verbose_name=_("Content"),
        orderable=False,
        attrs={"td": {"class": "text-wrap"}},
    )
    item_type = tables.Column(accessor="raw_item__item_type", verbose_name=_("Item type"))
    source = tables.Column(accessor="raw_item__source", verbose_name=_("Source"))
    entity = tables.Column(
        accessor="pk", verbose_name=_("Record"), orderable=False, empty_values=()
    )
    processed_at = tables.DateTimeColumn(verbose_name=_("Processed at"), format="Y-m-d H:i:s")

    class Meta(BaseTable.Meta):
        model = Ingestion
        fields = (
            "select",
            "id",
            "outcome",
            "reason",
            "reason_code",
            "content",
            "item_type",
            "source",
            "entity",
            "processed_at",
        )

    def render_outcome(self, record, value):
        return format_html(
            '<span class="badge {}" data-outcome="{}">{}</span>',
            OUTCOME_BADGES.get(record.outcome, "bg-secondary-lt"),
            record.outcome,
            value,
        )

    def value_outcome(self, record):
        return record.get_outcome_display()

    def render_content(self, value):
        return summarize(value)  # crawled text: autoescaped by the table template

    def value_content(self, value):
        return json.dumps(value, ensure_ascii=False)

    def render_item_type(self, record):
        return record.raw_item.get_item_type_display()

    def value_item_type(self, record):
        return str(record.raw_item.get_item_type_display())

    def render_entity(self, record):
        entity = record.project or record.investor
        return str(entity) if entity is not None else "—"

    def value_entity(self, record):
        entity = record.project or record.investor
        return str(entity) if entity is not None else ""


class ExchangeRateTable(BaseTable):
    select = SelectColumn()
    currency = tables.Column(linkify=True, verbose_name=_("Currency"))
    rate_to_cny = tables.Column(verbose_name=_("CNY per unit"))
    updated_at = tables.DateTimeColumn(verbose_name=_("Updated"), format="Y-m-d H:i")
    actions = ActionsColumn()

    class Meta(BaseTable.Meta):
        model = ExchangeRate
        fields = ("select", "currency", "rate_to_cny", "updated_at", "actions")


class IndustryKeywordTable(BaseTable):
    select = SelectColumn()
    keyword = tables.Column(linkify=True, verbose_name=_("Keyword"))
    industry = tables.Column(verbose_name=_("Industry"))
    priority = tables.Column(verbose_name=_("Priority"))
    is_active = tables.BooleanColumn(verbose_name=_("Active"))
    updated_at = tables.DateTimeColumn(verbose_name=_("Updated"), format="Y-m-d H:i")
    actions = ActionsColumn()

    class Meta(BaseTable.Meta):
        model = IndustryKeyword
        fields = ("select", "keyword", "industry", "priority", "is_active", "updated_at", "actions")

    def render_industry(self, value):
        return industry_label(value)

    def value_industry(self, value):
        return self.render_industry(value)


class RoundAliasTable(BaseTable):
    select = SelectColumn()
    alias = tables.Column(linkify=True, verbose_name=_("Alias"))
    round = tables.Column(verbose_name=_("Round"))
    updated_at = tables.DateTimeColumn(verbose_name=_("Updated"), format="Y-m-d H:i")
    actions = ActionsColumn()

    class Meta(BaseTable.Meta):
        model = RoundAlias
        fields = ("select", "alias", "round", "updated_at", "actions")

    def render_round(self, value):
        return dictionaries.label("financing_round", value)

    def value_round(self, value):
        return self.render_round(value)
