"""Tables of the catalog lists (also the columns of their Excel/CSV exports).

Screens show amounts in 万/亿, regions as "广东·深圳" and dictionary labels; exports add the
exact figures (CNY) and codes in columns hidden on screen, so a spreadsheet can compute with them.
"""

from __future__ import annotations

import django_tables2 as tables
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from ibcloud.catalog.models import Investor, Project, SavedQuery
from ibcloud.catalog.templatetags.catalog_format import (
    capital_type_label,
    format_range,
    format_region,
    industry_label,
    investor_type_label,
    round_label,
)
from ibcloud.core.tables import ActionsColumn, BaseTable, SelectColumn, clipped


class ListPaginator(Paginator):
    """Counts at most ``search.COUNT_LIMIT`` rows (the pager then says "more than"), or
    estimates a keyword search's matches (``count_estimate``; see ``search.count_matches``):
    counting every match of a common word among a million records would cost more than the
    page."""

    @cached_property
    def count(self) -> int:
        from ibcloud.catalog.search import COUNT_LIMIT, count_matches

        # the table's rows (BoundRows) wrap its TableQuerysetData, which wraps the queryset
        data = self.object_list
        while not isinstance(data, QuerySet) and hasattr(data, "data"):
            data = data.data
        if isinstance(data, QuerySet):
            counted = count_matches(data, COUNT_LIMIT)
            self.count_is_exact, self.count_estimate = counted.exact, counted.estimate
            return counted.count
        self.count_is_exact, self.count_estimate = True, None
        return len(self.object_list)


class CatalogTable(BaseTable):
    """A catalog list table: paged with :class:`ListPaginator`."""

    class Meta(BaseTable.Meta):
        pass

    def paginate(self, paginator_class=ListPaginator, *args, **kwargs):
        return super().paginate(paginator_class, *args, **kwargs)


def _hidden(verbose_name, accessor=None, **kwargs) -> tables.Column:
    """A column only the export carries (exact figures and codes)."""
    return tables.Column(
        verbose_name=verbose_name, accessor=accessor, visible=False, orderable=False, **kwargs
    )


class TagsColumn(tables.Column):
    """Tag names as badges; the export gets them comma-separated."""

    def __init__(self, **kwargs):
        kwargs.setdefault("verbose_name", _("Tags"))
        kwargs.setdefault("accessor", "pk")
        kwargs.setdefault("orderable", False)
        kwargs.setdefault("empty_values", ())
        super().__init__(**kwargs)

    def render(self, record):
        names = [tag.name for tag in record.tags.all()]
        if not names:
            return "—"
        return format_html_join(
            " ", '<span class="badge bg-azure-lt">{}</span>', ((name,) for name in names)
        )

    def value(self, record):
        return ", ".join(tag.name for tag in record.tags.all())


class ProjectTable(CatalogTable):
    select = SelectColumn()
    name = tables.Column(
        linkify=True, verbose_name=_("Project"), attrs={"td": {"class": "fw-bold"}}
    )
    full_name = tables.Column(verbose_name=_("Registered name"), attrs={"td": {"class": "small"}})
    region = tables.Column(
        accessor="province_code",
        verbose_name=_("Region"),
        order_by=("province_code", "city_code"),
    )
    industry = tables.Column(verbose_name=_("Industry"), order_by=("industry_section", "industry"))
    round = tables.Column(verbose_name=_("Round"))
    amount = tables.Column(
        accessor="amount_low",
        verbose_name=_("Amount sought"),
        order_by=("amount_low", "amount_high"),
        attrs={"td": {"class": "text-nowrap"}},
    )
    valuation = tables.Column(verbose_name=_("Valuation"), attrs={"td": {"class": "text-nowrap"}})
    tags = TagsColumn()
    published_at = tables.DateTimeColumn(verbose_name=_("Published"), format="Y-m-d")
    first_seen_at = tables.DateTimeColumn(verbose_name=_("First seen"), format="Y-m-d")
    # Export only
    credit_code = _hidden(_("Unified social credit code"))
    province_name = _hidden(_("Province"), "province")
    city_name = _hidden(_("City"), "city")
    industry_code = _hidden(_("Industry code"), "industry")
    amount_low_cny = _hidden(_("Amount from (CNY)"), "amount_low")
    amount_high_cny = _hidden(_("Amount up to (CNY)"), "amount_high")
    amount_text = _hidden(_("Amount as published"))
    share_offered = _hidden(_("Share offered (%)"))
    summary = _hidden(_("Business summary"))
    actions = ActionsColumn(template_name="catalog/includes/row_actions.html")

    class Meta(BaseTable.Meta):
        model = Project
        fields = (
            "select",
            "name",
            "full_name",
            "region",
            "industry",
            "round",
            "amount",
            "valuation",
            "tags",
            "published_at",
            "first_seen_at",
            "credit_code",
            "province_name",
            "city_name",
            "industry_code",
            "amount_low_cny",
            "amount_high_cny",
            "amount_text",
            "share_offered",
            "summary",
            "actions",
        )
        empty_text = _("No projects match. Widen the filters or clear the keywords.")

    def render_region(self, record):
        return format_region(record.province, record.city) or "—"

    def value_region(self, record):
        return format_region(record.province, record.city)

    def render_industry(self, value):
        return industry_label(value)

    def value_industry(self, value):
        return industry_label(value)

    def render_round(self, value):
        return round_label(value)

    def value_round(self, value):
        return round_label(value)

    def render_amount(self, record):
        return format_range(record.amount_low, record.amount_high, record.amount_text)

    def value_amount(self, record):
        return format_range(record.amount_low, record.amount_high, record.amount_text)

    def render_valuation(self, value):
        return format_range(value, value)


class InvestorTable(CatalogTable):
    select = SelectColumn()
    name = tables.Column(
        linkify=True, verbose_name=_("Investor"), attrs={"td": {"class": "fw-bold"}}
    )
    investor_type = tables.Column(verbose_name=_("Type"))
    capital_type = tables.Column(verbose_name=_("Capital type"))
    region = tables.Column(
        accessor="province_code", verbose_name=_("Region"), order_by=("province_code", "city_code")
    )
    preferred_industries = tables.Column(verbose_name=_("Preferred industries"), orderable=False)
    preferred_rounds = tables.Column(verbose_name=_("Preferred rounds"), orderable=False)
    ticket = tables.Column(
        accessor="ticket_min",
        verbose_name=_("Ticket"),
        order_by=("ticket_min", "ticket_max"),
        attrs={"td": {"class": "text-nowrap"}},
    )
    fund_size = tables.Column(
        accessor="fund_size_low",
        verbose_name=_("Fund size"),
        order_by=("fund_size_low",),
        attrs={"td": {"class": "text-nowrap"}},
    )
    deal_count = tables.Column(
        accessor="revealed_preferences", verbose_name=_("Deals"), orderable=False
    )
    coverage_banker = tables.Column(verbose_name=_("Coverage banker"))
    last_active_on = tables.DateColumn(verbose_name=_("Last active"), format="Y-m-d")
    tags = TagsColumn()
    # Export only
    full_name = _hidden(_("Registered name"))
    credit_code = _hidden(_("Unified social credit code"))
    ticket_min_cny = _hidden(_("Ticket from (CNY)"), "ticket_min")
    ticket_max_cny = _hidden(_("Ticket up to (CNY)"), "ticket_max")
    description = _hidden(_("Description"))
    actions = ActionsColumn(template_name="catalog/includes/row_actions.html")

    class Meta(BaseTable.Meta):
        model = Investor
        fields = (
            "select",
            "name",
            "investor_type",
            "capital_type",
            "region",
            "preferred_industries",
            "preferred_rounds",
            "ticket",
            "fund_size",
            "deal_count",
            "coverage_banker",
            "last_active_on",
            "tags",
            "full_name",
            "credit_code",
            "ticket_min_cny",
            "ticket_max_cny",
            "description",
            "actions",
        )
        empty_text = _("No investors match. Widen the filters or clear the keywords.")

    def render_investor_type(self, value):
        return investor_type_label(value)

    def value_investor_type(self, value):
        return investor_type_label(value)

    def render_capital_type(self, value):
        return capital_type_label(value)

    def value_capital_type(self, value):
        return capital_type_label(value)

    def render_region(self, record):
        return format_region(record.province, record.city) or "—"

    def value_region(self, record):
        return format_region(record.province, record.city)

    def render_preferred_industries(self, value):
        return clipped("、".join(industry_label(code) for code in value or []))

    def value_preferred_industries(self, value):
        return "、".join(industry_label(code) for code in value or [])

    def render_preferred_rounds(self, value):
        return clipped("、".join(round_label(code) for code in value or []))

    def value_preferred_rounds(self, value):
        return "、".join(round_label(code) for code in value or [])

    def render_ticket(self, record):
        return format_range(record.ticket_min, record.ticket_max, record.ticket_text)

    def value_ticket(self, record):
        return format_range(record.ticket_min, record.ticket_max, record.ticket_text)

    def render_fund_size(self, record):
        return format_range(record.fund_size_low, record.fund_size_high, record.fund_size_text)

    def value_fund_size(self, record):
        return format_range(record.fund_size_low, record.fund_size_high, record.fund_size_text)

    def render_deal_count(self, value):
        count = (value or {}).get("deal_count") if isinstance(value, dict) else None
        return count if count else "—"

    def value_deal_count(self, value):
        return (value or {}).get("deal_count") or 0 if isinstance(value, dict) else 0


class SavedQueryTable(BaseTable):
    name = tables.TemplateColumn(
        '<a href="{{ record.apply_url }}">{{ record.name }}</a>', verbose_name=_("Name")
    )
    kind = tables.Column(verbose_name=_("List"))
    query_string = tables.Column(
        verbose_name=_("Query"), orderable=False, attrs={"td": {"class": "text-wrap small"}}
    )
    shared = tables.BooleanColumn(verbose_name=_("Shared"))
    owner = tables.Column(verbose_name=_("Owner"))
    updated_at = tables.DateTimeColumn(verbose_name=_("Updated"), format="Y-m-d H:i")
    actions = ActionsColumn(template_name="catalog/includes/savedquery_actions.html")

    class Meta(BaseTable.Meta):
        model = SavedQuery
        fields = ("name", "kind", "query_string", "shared", "owner", "updated_at", "actions")
        empty_text = _(
            "No saved queries yet: filter a project or investor list, then save the query."
        )

    def render_query_string(self, record):
        return format_html("<code>{}</code>", record.query_string or "—")
