"""FilterSets of the catalog lists (projects, investors, saved queries): one per model, shared by
the list page, the API and the exports.

Amounts: the list page takes 万元 (``amount_from`` / ``amount_to``), the API takes whole yuan
(``amount_min`` / ``amount_max``); both pairs work everywhere. A record matches an amount range
when its own range overlaps it (an open-ended "1亿以上" overlaps any upper bound above 1亿); an
undisclosed amount matches no amount filter. For investors the range applies to the ticket.

``q`` is the keyword search (AND / OR / NOT, "phrases", parentheses; see
docs/catalog-search.md): a query that does not parse is a field error (the API answers 400).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from ibcloud.accounts.models import User
from ibcloud.accounts.services import users_in_reach
from ibcloud.catalog.models import Ingestion, Investor, Project, SavedQuery, Tag
from ibcloud.catalog.normalization.places import division_index
from ibcloud.core import dictionaries
from ibcloud.core.filters import LocalDateFilter
from ibcloud.core.forms import date_input
from ibcloud.core.scoping import restrict
from ibcloud.crawler.models import CrawlSource

WAN = 10_000
#: the largest amount a filter takes (CNY): beyond BigIntegerField's range SQL would overflow
MAX_AMOUNT = 10**17
MAX_TAGS = 10


# --- Choices --------------------------------------------------------------------------------------


def industry_choices() -> list[tuple[str, str]]:
    """Sections then their divisions: ("I", "I 信息传输…"), ("65", "　I65 软件…")."""
    choices = []
    parents: dict[int, str] = {}
    for item in dictionaries.items("industry"):
        if item.parent_id is None:
            parents[item.pk] = item.value
            choices.append((item.value, f"{item.value} {item.label}"))
        else:
            section = parents.get(item.parent_id, "")
            choices.append((item.value, f"\u3000{section}{item.value} {item.label}"))
    return choices


def round_choices() -> list[tuple[str, str]]:
    return dictionaries.choices("financing_round")


def investor_type_choices() -> list[tuple[str, str]]:
    return dictionaries.choices("investor_type")


def capital_type_choices() -> list[tuple[str, str]]:
    return dictionaries.choices("capital_type")


@lru_cache(maxsize=1)
def _divisions() -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str, str], ...]]:
    """(provinces as (code, name), cities as (code, name, province code)), 6-digit codes, from
    the normalization's division list, so filters offer exactly the codes records carry."""
    divisions = sorted(division_index().by_code.values(), key=lambda d: d.code)
    provinces = tuple((d.code, d.name) for d in divisions if d.level == "province")
    cities = tuple((d.code, d.name, d.province_code) for d in divisions if d.level == "city")
    return provinces, cities


def province_choices() -> list[tuple[str, str]]:
    return list(_divisions()[0])


def city_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Cities grouped by province (an optgroup each)."""
    provinces = dict(_divisions()[0])
    groups: dict[str, list[tuple[str, str]]] = {}
    for code, name, province in _divisions()[1]:
        groups.setdefault(province, []).append((code, name))
    return [(provinces.get(p, p), cities) for p, cities in groups.items()]


def _sources(request):
    """Crawl sources the viewer may see (choices of the source filter)."""
    if request is None:
        return CrawlSource.objects.none()
    return restrict(CrawlSource.objects.all(), request.user, "view")


def _bankers(request):
    if request is None:
        return User.objects.none()
    return users_in_reach(request.user)


# --- Filters --------------------------------------------------------------------------------------


class KeywordField(forms.CharField):
    """The keyword box: the query must parse (AND / OR / NOT, quotes, parentheses)."""

    def clean(self, value):
        value = super().clean(value)
        if value and value.strip():
            from ibcloud.catalog.search import QuerySyntaxError, parse_query

            try:
                parse_query(value)
            except QuerySyntaxError as exc:
                raise ValidationError(str(exc), code="invalid_query") from exc
        return value


class KeywordFilter(django_filters.CharFilter):
    field_class = KeywordField

    def filter(self, qs, value):
        if not value or not value.strip():
            return qs
        from ibcloud.catalog.search import apply_keyword_search

        return apply_keyword_search(qs, value.strip())


def _wan_to_yuan(value: Decimal | None) -> int | None:
    return None if value is None else int(value * WAN)


def amount_overlap(
    queryset: QuerySet, low_field: str, high_field: str, minimum: int | None, maximum: int | None
) -> QuerySet:
    """Rows whose ``low_field``–``high_field`` range overlaps ``minimum``–``maximum`` (CNY).

    A missing high is open-ended (at least the low); a missing low with a high means "up to";
    both missing (undisclosed) never match.
    """
    if minimum is None and maximum is None:
        return queryset
    disclosed = Q(**{f"{low_field}__isnull": False}) | Q(**{f"{high_field}__isnull": False})
    queryset = queryset.filter(disclosed)
    if minimum is not None:
        # the range reaches up to at least ``minimum``
        queryset = queryset.filter(
            Q(**{f"{high_field}__gte": minimum}) | Q(**{f"{high_field}__isnull": True})
        )
    if maximum is not None:
        queryset = queryset.filter(
            Q(**{f"{low_field}__lte": maximum}) | Q(**{f"{low_field}__isnull": True})
        )
    return queryset


class CatalogFilterSet(django_filters.FilterSet):
    """What project and investor lists share: keyword, place, dates, source, tags, amounts."""

    #: the model's amount columns the amount filters apply to
    amount_fields = ("amount_low", "amount_high")

    q = KeywordFilter(
        label=_("Keywords"),
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "form": "filter-form",
                "autofocus": True,
                "placeholder": _('e.g. 医疗器械 AND (深圳 OR "人工智能") NOT 培训'),
            }
        ),
        help_text=_('AND, OR, NOT, "exact phrase", parentheses; words side by side mean AND.'),
    )
    province = django_filters.MultipleChoiceFilter(
        label=_("Province"), field_name="province_code", choices=province_choices
    )
    city = django_filters.MultipleChoiceFilter(
        label=_("City"), field_name="city_code", choices=city_choices
    )
    amount_from = django_filters.NumberFilter(
        label=_("Amount from (万元)"), method="filter_amount", min_value=0, max_value=10**12
    )
    amount_to = django_filters.NumberFilter(
        label=_("Amount up to (万元)"), method="filter_amount", min_value=0, max_value=10**12
    )
    amount_min = django_filters.NumberFilter(
        label=_("Amount from (CNY)"), method="filter_amount", min_value=0, max_value=MAX_AMOUNT
    )
    amount_max = django_filters.NumberFilter(
        label=_("Amount up to (CNY)"), method="filter_amount", min_value=0, max_value=MAX_AMOUNT
    )
    published_after = LocalDateFilter(
        label=_("Published from"),
        field_name="published_at",
        lookup_expr="gte",
        widget=date_input(_("Published from")),
    )
    published_before = LocalDateFilter(
        label=_("Published until"),
        field_name="published_at",
        lookup_expr="lte",
        widget=date_input(_("Published until")),
    )
    first_seen_after = LocalDateFilter(
        label=_("First seen from"),
        field_name="first_seen_at",
        lookup_expr="gte",
        widget=date_input(_("First seen from")),
    )
    first_seen_before = LocalDateFilter(
        label=_("First seen until"),
        field_name="first_seen_at",
        lookup_expr="lte",
        widget=date_input(_("First seen until")),
    )
    source = django_filters.ModelMultipleChoiceFilter(
        label=_("Source"), queryset=_sources, method="filter_source"
    )
    tag = django_filters.CharFilter(
        label=_("Tags"),
        method="filter_tags",
        help_text=_("Comma-separated; records carrying every tag listed."),
    )

    #: the Ingestion column linking a raw item to this model
    ingestion_link = "project"

    def filter_amount(self, queryset, name, value):
        # The four fields are read together, once (on whichever comes first).
        if getattr(self, "_amount_done", False):
            return queryset
        self._amount_done = True
        data = self.form.cleaned_data
        minimum = data.get("amount_min")
        maximum = data.get("amount_max")
        if minimum is None:
            minimum = _wan_to_yuan(data.get("amount_from"))
        if maximum is None:
            maximum = _wan_to_yuan(data.get("amount_to"))
        low, high = self.amount_fields
        return amount_overlap(
            queryset,
            low,
            high,
            None if minimum is None else int(minimum),
            None if maximum is None else int(maximum),
        )

    # The hint documents the query parameter (source ids); the method receives the sources.
    def filter_source(self, queryset, name, value: list[int]):
        if not value:
            return queryset
        ingested = Ingestion.objects.filter(raw_item__source__in=value).values(
            f"{self.ingestion_link}_id"
        )
        return queryset.filter(pk__in=ingested)

    def filter_tags(self, queryset, name, value):
        names = [part.strip() for part in value.replace("，", ",").split(",") if part.strip()]
        for tag_name in names[:MAX_TAGS]:
            tagged = Tag.objects.filter(name=tag_name)
            queryset = queryset.filter(tags__in=tagged)
        return queryset


def _industry_condition(code: str) -> Q:
    """Projects in ``code``: a section letter covers its divisions."""
    if code.isdigit():
        return Q(industry=code)
    return Q(industry_section=code)


class ProjectFilterSet(CatalogFilterSet):
    industry = django_filters.MultipleChoiceFilter(
        label=_("Industry"), choices=industry_choices, method="filter_industry"
    )
    round = django_filters.MultipleChoiceFilter(label=_("Round"), choices=round_choices)

    class Meta:
        model = Project
        fields = [
            "q",
            "industry",
            "province",
            "city",
            "round",
            "amount_from",
            "amount_to",
            "amount_min",
            "amount_max",
            "published_after",
            "published_before",
            "first_seen_after",
            "first_seen_before",
            "source",
            "tag",
        ]

    def filter_industry(self, queryset, name, value: list[str]):
        if not value:
            return queryset
        condition = Q()
        for code in value:
            condition |= _industry_condition(code)
        return queryset.filter(condition)


def _json_list_has(field: str, value: str) -> Q:
    """``value`` is an element of the JSON list ``field`` (text match on the quoted element,
    which works on SQLite and PostgreSQL alike)."""
    return Q(**{f"{field}__icontains": f'"{value}"'})


class InvestorFilterSet(CatalogFilterSet):
    amount_fields = ("ticket_min", "ticket_max")
    ingestion_link = "investor"

    amount_from = django_filters.NumberFilter(
        label=_("Ticket from (万元)"), method="filter_amount", min_value=0, max_value=10**12
    )
    amount_to = django_filters.NumberFilter(
        label=_("Ticket up to (万元)"), method="filter_amount", min_value=0, max_value=10**12
    )
    amount_min = django_filters.NumberFilter(
        label=_("Ticket from (CNY)"), method="filter_amount", min_value=0, max_value=MAX_AMOUNT
    )
    amount_max = django_filters.NumberFilter(
        label=_("Ticket up to (CNY)"), method="filter_amount", min_value=0, max_value=MAX_AMOUNT
    )
    investor_type = django_filters.MultipleChoiceFilter(
        label=_("Type"), choices=investor_type_choices
    )
    capital_type = django_filters.MultipleChoiceFilter(
        label=_("Capital type"), choices=capital_type_choices
    )
    industry = django_filters.MultipleChoiceFilter(
        label=_("Preferred industry"), choices=industry_choices, method="filter_industry"
    )
    round = django_filters.MultipleChoiceFilter(
        label=_("Preferred round"), choices=round_choices, method="filter_round"
    )
    preferred_region = django_filters.MultipleChoiceFilter(
        label=_("Invests in province"), choices=province_choices, method="filter_region"
    )
    coverage_banker = django_filters.ModelChoiceFilter(
        label=_("Coverage banker"), queryset=_bankers
    )

    class Meta:
        model = Investor
        fields = [
            "q",
            "investor_type",
            "capital_type",
            "industry",
            "round",
            "preferred_region",
            "province",
            "city",
            "amount_from",
            "amount_to",
            "amount_min",
            "amount_max",
            "coverage_banker",
            "published_after",
            "published_before",
            "first_seen_after",
            "first_seen_before",
            "source",
            "tag",
        ]

    def filter_industry(self, queryset, name, value: list[str]):
        """Investors stating a preference for the industry: the division itself or its whole
        section; for a section, the section or any of its divisions."""
        if not value:
            return queryset
        from ibcloud.catalog.templatetags.catalog_format import industry_sections

        sections = industry_sections()
        condition = Q()
        for code in value:
            condition |= _json_list_has("preferred_industries", code)
            if code.isdigit() and sections.get(code):
                condition |= _json_list_has("preferred_industries", sections[code])
            elif not code.isdigit():
                for division, section in sections.items():
                    if section == code:
                        condition |= _json_list_has("preferred_industries", division)
        return queryset.filter(condition)

    def filter_round(self, queryset, name, value: list[str]):
        if not value:
            return queryset
        condition = Q()
        for code in value:
            condition |= _json_list_has("preferred_rounds", code)
        return queryset.filter(condition)

    def filter_region(self, queryset, name, value: list[str]):
        """Investors investing there: the province among their preferred regions, or
        nationwide."""
        if not value:
            return queryset
        condition = Q(nationwide=True)
        for code in value:
            condition |= _json_list_has("preferred_regions", code)
        return queryset.filter(condition)


class SavedQueryFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", label=_("Name contains")
    )
    kind = django_filters.ChoiceFilter(label=_("List"), choices=SavedQuery.Kind.choices)
    shared = django_filters.BooleanFilter(label=_("Shared"))

    class Meta:
        model = SavedQuery
        fields = ["q", "kind", "shared"]


# --- Saved queries --------------------------------------------------------------------------------

#: the permission that opens the list a saved query belongs to
LIST_PERMISSIONS = {
    SavedQuery.Kind.PROJECT: "catalog.view_project",
    SavedQuery.Kind.INVESTOR: "catalog.view_investor",
}


def visible_saved_queries(user, kind: str | None = None, action: str = "view") -> QuerySet:
    """The saved queries ``user`` may use (``action="view"``): their own plus the shared ones,
    of the lists they may open; or change/delete (any other action): their own only
    (a superuser: every one).

    A saved query holds no catalog data, only a list's query string; the rows it shows are
    scoped when it is applied, so sharing one never widens what anybody sees. That is why the
    visibility follows ownership and sharing rather than the department scope.
    """
    queryset = SavedQuery.objects.select_related("owner")
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    kinds = [k for k, permission in LIST_PERMISSIONS.items() if user.has_perm(permission)]
    if kind is not None:
        kinds = [k for k in kinds if k == kind]
    queryset = queryset.filter(kind__in=kinds)
    if user.is_superuser:
        return queryset
    if action == "view":
        return queryset.filter(Q(owner=user) | Q(shared=True))
    return queryset.filter(owner=user)
