"""FilterSets of the data-quality pages (ingestion log and quarantine, normalization rules), shared
by the list pages, the API and the exports."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from ibcloud.catalog.models import ExchangeRate, IndustryKeyword, Ingestion, RoundAlias
from ibcloud.core.filters import SearchFilterSet, YesNoFilter
from ibcloud.core.forms import date_input
from ibcloud.core.scoping import restrict
from ibcloud.crawler.models import CrawlSource, ItemType


def _sources(request):
    """Sources the viewer may see (choices of the source filter)."""
    if request is None:
        return CrawlSource.objects.none()
    return restrict(CrawlSource.objects.all(), request.user, "view")


class IngestionFilterSet(django_filters.FilterSet):
    """What became of each raw item; the quarantine is ``outcome=quarantined``."""

    outcome = django_filters.ChoiceFilter(label=_("Outcome"), choices=Ingestion.Outcome.choices)
    reason_code = django_filters.CharFilter(
        label=_("Reason code"), field_name="reason_code", max_length=30
    )
    source = django_filters.ModelChoiceFilter(
        label=_("Source"), field_name="raw_item__source", queryset=_sources
    )
    item_type = django_filters.ChoiceFilter(
        label=_("Item type"), field_name="raw_item__item_type", choices=ItemType.choices
    )
    processed_after = django_filters.DateFilter(
        label=_("Processed from"),
        field_name="processed_at",
        lookup_expr="date__gte",
        widget=date_input(_("Processed from")),
    )
    processed_before = django_filters.DateFilter(
        label=_("Processed until"),
        field_name="processed_at",
        lookup_expr="date__lte",
        widget=date_input(_("Processed until")),
    )
    project = django_filters.NumberFilter(
        label=_("Project no."), field_name="project_id", min_value=1, max_value=2**62
    )
    investor = django_filters.NumberFilter(
        label=_("Investor no."), field_name="investor_id", min_value=1, max_value=2**62
    )

    class Meta:
        model = Ingestion
        fields = [
            "outcome",
            "reason_code",
            "source",
            "item_type",
            "processed_after",
            "processed_before",
            "project",
            "investor",
        ]


class ExchangeRateFilterSet(SearchFilterSet):
    search_fields = ("currency",)

    class Meta:
        model = ExchangeRate
        fields = ["q"]


class IndustryKeywordFilterSet(SearchFilterSet):
    search_fields = ("keyword",)

    industry = django_filters.CharFilter(label=_("Industry code"), max_length=2)
    is_active = YesNoFilter(label=_("Active"))

    class Meta:
        model = IndustryKeyword
        fields = ["q", "industry", "is_active"]


class RoundAliasFilterSet(SearchFilterSet):
    search_fields = ("alias",)

    round = django_filters.CharFilter(label=_("Round code"), max_length=20)

    class Meta:
        model = RoundAlias
        fields = ["q", "round"]
