"""FilterSets of the crawler pages, shared by the list pages, the API and the exports."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from ibcloud.accounts.models import Department, User
from ibcloud.accounts.services import departments_in_reach, users_in_reach
from ibcloud.core.filters import SearchFilterSet, YesNoFilter
from ibcloud.core.forms import date_input
from ibcloud.core.scoping import restrict
from ibcloud.crawler.models import CrawlJob, CrawlSource, FetchLevel, ItemType, Proxy, RawItem


def _departments(request):
    """Only the departments the viewer's reach covers are offered."""
    if request is None:
        return Department.objects.none()
    return departments_in_reach(request.user)


def _users(request):
    if request is None:
        return User.objects.none()
    return users_in_reach(request.user)


def _sources(request):
    """Sources the viewer may see (choices of the source filters)."""
    if request is None:
        return CrawlSource.objects.none()
    return restrict(CrawlSource.objects.all(), request.user, "view")


class CrawlSourceFilterSet(SearchFilterSet):
    search_fields = ("name", "description", "url_template", "start_urls")

    item_type = django_filters.ChoiceFilter(label=_("Item type"), choices=ItemType.choices)
    enabled = YesNoFilter(label=_("Enabled"))
    fetch_level = django_filters.ChoiceFilter(label=_("Fetch level"), choices=FetchLevel.choices)
    owner = django_filters.ModelChoiceFilter(label=_("Owner"), queryset=_users)
    department = django_filters.ModelChoiceFilter(label=_("Department"), queryset=_departments)

    class Meta:
        model = CrawlSource
        fields = ["q", "item_type", "enabled", "fetch_level", "owner", "department"]


class CrawlJobFilterSet(django_filters.FilterSet):
    source = django_filters.ModelChoiceFilter(label=_("Source"), queryset=_sources)
    status = django_filters.ChoiceFilter(label=_("Status"), choices=CrawlJob.Status.choices)
    trigger = django_filters.ChoiceFilter(label=_("Trigger"), choices=CrawlJob.Trigger.choices)
    created_after = django_filters.DateFilter(
        label=_("From"),
        field_name="created_at",
        lookup_expr="date__gte",
        widget=date_input(_("From")),
    )
    created_before = django_filters.DateFilter(
        label=_("To"),
        field_name="created_at",
        lookup_expr="date__lte",
        widget=date_input(_("To")),
    )

    class Meta:
        model = CrawlJob
        fields = ["source", "status", "trigger", "created_after", "created_before"]


class RawItemFilterSet(SearchFilterSet):
    search_fields = ("url",)

    q = django_filters.CharFilter(
        method="search",
        label=_("URL contains"),
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    source = django_filters.ModelChoiceFilter(label=_("Source"), queryset=_sources)
    item_type = django_filters.ChoiceFilter(label=_("Item type"), choices=ItemType.choices)
    job = django_filters.NumberFilter(
        label=_("Crawl job no."), field_name="job_id", min_value=1, max_value=2**62
    )
    fetched_after = django_filters.DateFilter(
        label=_("Fetched from"),
        field_name="fetched_at",
        lookup_expr="date__gte",
        widget=date_input(_("Fetched from")),
    )
    fetched_before = django_filters.DateFilter(
        label=_("Fetched until"),
        field_name="fetched_at",
        lookup_expr="date__lte",
        widget=date_input(_("Fetched until")),
    )
    has_problems = YesNoFilter(label=_("Has problems"), method="filter_problems")

    class Meta:
        model = RawItem
        fields = [
            "q",
            "source",
            "item_type",
            "job",
            "fetched_after",
            "fetched_before",
            "has_problems",
        ]

    def filter_problems(self, queryset, name, value):
        if value is None:
            return queryset
        if value:
            return queryset.exclude(problems={})
        return queryset.filter(problems={})


class ProxyFilterSet(SearchFilterSet):
    search_fields = ("name", "url")

    enabled = YesNoFilter(label=_("Enabled"))

    class Meta:
        model = Proxy
        fields = ["q", "enabled"]
