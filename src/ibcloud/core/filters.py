"""FilterSets of the system pages kept by ``core`` (list pages, API and export share them)."""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_filters.constants import EMPTY_VALUES
from django_filters.widgets import BooleanWidget

from ibcloud.core.charts import start_of
from ibcloud.core.forms import date_input
from ibcloud.core.jobs import QUEUE_NAMES
from ibcloud.core.models import DictItem, DictType, Job


class AnyYesNoWidget(BooleanWidget):
    """Yes / No, with "All" rather than django-filter's "Unknown" as the empty choice."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("", _("All")), ("true", _("Yes")), ("false", _("No"))]


class YesNoFilter(django_filters.BooleanFilter):
    """The boolean filter every list page uses."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", AnyYesNoWidget)
        super().__init__(*args, **kwargs)


class SearchFilterSet(django_filters.FilterSet):
    """A FilterSet with a free-text ``q`` over ``search_fields``."""

    search_fields: tuple[str, ...] = ()

    q = django_filters.CharFilter(
        method="search",
        label=_("Search"),
        widget=forms.TextInput(attrs={"type": "search"}),
    )

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        condition = Q()
        for field in self.search_fields:
            condition |= Q(**{f"{field}__icontains": value})
        return queryset.filter(condition)


class DictTypeFilterSet(SearchFilterSet):
    search_fields = ("code", "name", "description")

    class Meta:
        model = DictType
        fields = ["q", "is_system"]


class DictItemFilterSet(SearchFilterSet):
    search_fields = ("value", "label")

    dict_type = django_filters.CharFilter(field_name="dict_type__code", label=_("Dictionary code"))
    parent = django_filters.CharFilter(field_name="parent__value", label=_("Parent value"))
    top_level = YesNoFilter(field_name="parent", lookup_expr="isnull", label=_("Top level only"))

    class Meta:
        model = DictItem
        fields = ["q", "dict_type", "parent", "top_level", "is_active"]


class LocalDateFilter(django_filters.DateFilter):
    """A day bound on a datetime column (``lookup_expr`` "gte" or "lte"), in local time.

    It compares the column with local midnights rather than using ``__date``: ``__date`` wraps
    the column in a function on SQLite, so the column's index could not serve the filter.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", date_input())
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in EMPTY_VALUES:
            return qs
        try:
            day = value if self.lookup_expr == "gte" else value + datetime.timedelta(days=1)
            bound = start_of(day)
            bound.astimezone(datetime.UTC)
        except (OverflowError, ValueError):
            return qs  # a bound beyond the calendar's ends excludes nothing
        lookup = "gte" if self.lookup_expr == "gte" else "lt"
        return qs.filter(**{f"{self.field_name}__{lookup}": bound})


class JobFilterSet(SearchFilterSet):
    search_fields = ("name", "message")

    status = django_filters.MultipleChoiceFilter(choices=Job.Status.choices, label=_("Status"))
    queue = django_filters.ChoiceFilter(
        choices=[(name, name) for name in QUEUE_NAMES], label=_("Queue")
    )
    name = django_filters.CharFilter(lookup_expr="icontains", label=_("Task"))
    created_after = LocalDateFilter(
        field_name="created_at",
        lookup_expr="gte",
        label=_("Created from"),
    )
    created_before = LocalDateFilter(
        field_name="created_at",
        lookup_expr="lte",
        label=_("Created until"),
    )

    class Meta:
        model = Job
        fields = ["q", "status", "queue", "name", "created_after", "created_before"]
