"""FilterSets of milestones (the milestone list, the calendar, the API and the export share
``MilestoneFilterSet``; the deals dashboard's heatmap links to the list with its parameters)
and of milestone templates."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from ibcloud.accounts.models import Department, User
from ibcloud.accounts.services import departments_in_reach, users_in_reach
from ibcloud.core import dictionaries
from ibcloud.core.filters import YesNoFilter
from ibcloud.core.forms import date_input
from ibcloud.deals.models import Milestone, MilestoneTemplate
from ibcloud.deals.services import overdue_q

#: ids beyond this are refused as invalid rather than sent to the database (bigint range)
MAX_ID = 2**62


def deal_type_choices() -> list[tuple[str, str]]:
    return dictionaries.choices("deal_type")


def _user_of(request):
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def visible_departments(request) -> QuerySet:
    """Departments offered as a filter: those within the user's reach (names are data too)."""
    user = _user_of(request)
    return departments_in_reach(user) if user is not None else Department.objects.none()


def visible_people(request) -> QuerySet:
    """People offered as a filter: those within the user's reach."""
    user = _user_of(request)
    return users_in_reach(user) if user is not None else User.objects.none()


def id_filter(label, field_name: str) -> django_filters.NumberFilter:
    """One record's rows, reached by links (a deal's milestones): kept across the form's other
    filters as a hidden field, not a box to type an id in."""
    return django_filters.NumberFilter(
        label=label,
        field_name=field_name,
        min_value=1,
        max_value=MAX_ID,
        decimal_places=0,
        widget=forms.HiddenInput,
    )


def date_filter(label, lookup_expr: str) -> django_filters.DateFilter:
    return django_filters.DateFilter(
        label=label,
        field_name="due_date",
        lookup_expr=lookup_expr,
        widget=date_input(),
    )


class MilestoneFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_q",
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    deal = id_filter(_("deal"), "deal_id")
    owner = django_filters.ModelChoiceFilter(label=_("owner"), queryset=visible_people)
    status = django_filters.MultipleChoiceFilter(
        label=_("status"), choices=Milestone.Status.choices
    )
    overdue = YesNoFilter(label=_("overdue"), method="filter_overdue")
    department = django_filters.ModelChoiceFilter(
        label=_("department"), field_name="deal__department", queryset=visible_departments
    )
    deal_type = django_filters.ChoiceFilter(
        label=_("deal type"), field_name="deal__deal_type", choices=deal_type_choices
    )
    due_after = date_filter(_("due from"), "gte")
    due_before = date_filter(_("due up to"), "lte")

    class Meta:
        model = Milestone
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(deal__name__icontains=value)
            | Q(deal__code__icontains=value)
            | Q(deal__client__icontains=value)
        )

    def filter_overdue(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        return queryset.filter(overdue_q()) if value else queryset.exclude(overdue_q())


class MilestoneTemplateFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Name"), field_name="name", lookup_expr="icontains")
    deal_type = django_filters.ChoiceFilter(label=_("deal type"), choices=deal_type_choices)
    is_active = YesNoFilter(label=_("active"))

    class Meta:
        model = MilestoneTemplate
        fields: list[str] = []
