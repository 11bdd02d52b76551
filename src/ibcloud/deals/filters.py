"""FilterSet of the deal list: the list page, the kanban, the API, the export and the dashboard's
drill-down links all use it, so a query string means the same everywhere.

Parameters (docs/deals.md): ``q`` (name, code or client contains), ``deal_type``, ``stage``,
``status``, ``department``, ``lead``, ``industry`` (a section letter takes its divisions),
``overdue`` (true/false), ``opened_after`` / ``opened_before``, ``closed_after`` /
``closed_before`` (local dates), ``tag``.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from ibcloud.accounts.models import Department, User
from ibcloud.accounts.services import departments_in_reach, users_in_reach
from ibcloud.catalog.filters import industry_choices
from ibcloud.catalog.models import Tag
from ibcloud.core import dictionaries
from ibcloud.core.filters import YesNoFilter
from ibcloud.core.forms import date_input
from ibcloud.deals import services
from ibcloud.deals.models import Deal


def deal_type_choices() -> list[tuple[str, str]]:
    return dictionaries.choices("deal_type")


def all_stage_choices() -> list[tuple[str, str]]:
    """Every stage of every type (a stage filter without a type still means something)."""
    seen: dict[str, str] = {}
    for value, _label in deal_type_choices():
        for stage, label in services.stage_choices(value):
            seen.setdefault(stage, label)
    for stage, label in dictionaries.choices(services.GENERIC_STAGE_DICT):
        seen.setdefault(stage, label)
    return list(seen.items())


def _user_of(request):
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def visible_departments(request) -> QuerySet:
    """Departments the user may filter by: those within their reach (names are data too)."""
    user = _user_of(request)
    if user is None:
        return Department.objects.none()
    return departments_in_reach(user)


def visible_leads(request) -> QuerySet:
    """People the user may filter by: those within their reach."""
    user = _user_of(request)
    if user is None:
        return User.objects.none()
    return users_in_reach(user)


class DealFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_q",
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    deal_type = django_filters.ChoiceFilter(label=_("type"), choices=deal_type_choices)
    stage = django_filters.ChoiceFilter(label=_("stage"), choices=all_stage_choices)
    status = django_filters.MultipleChoiceFilter(label=_("status"), choices=Deal.Status.choices)
    department = django_filters.ModelChoiceFilter(
        label=_("department"), queryset=visible_departments
    )
    lead = django_filters.ModelChoiceFilter(label=_("lead"), queryset=visible_leads)
    industry = django_filters.ChoiceFilter(
        label=_("industry"), choices=industry_choices, method="filter_industry"
    )
    overdue = YesNoFilter(label=_("overdue"), method="filter_overdue")
    opened_after = django_filters.DateFilter(
        label=_("opened from"), field_name="opened_on", lookup_expr="gte", widget=date_input()
    )
    opened_before = django_filters.DateFilter(
        label=_("opened up to"), field_name="opened_on", lookup_expr="lte", widget=date_input()
    )
    closed_after = django_filters.DateFilter(
        label=_("closed from"), field_name="closed_on", lookup_expr="gte", widget=date_input()
    )
    closed_before = django_filters.DateFilter(
        label=_("closed up to"), field_name="closed_on", lookup_expr="lte", widget=date_input()
    )
    tag = django_filters.ModelChoiceFilter(
        label=_("tag"), field_name="tags", queryset=Tag.objects.all()
    )
    # One project's or investor's deals, reached by links (its page's deals panel): kept across
    # the form's other filters without a box of their own.
    project = django_filters.NumberFilter(
        label=_("project"), field_name="project_id", widget=forms.HiddenInput
    )
    investor = django_filters.NumberFilter(
        label=_("investor"), method="filter_investor", widget=forms.HiddenInput
    )

    class Meta:
        model = Deal
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value) | Q(code__icontains=value) | Q(client__icontains=value)
        )

    def filter_investor(self, queryset: QuerySet, name: str, value: int) -> QuerySet:
        if value is None:
            return queryset
        return queryset.filter(investors=value).distinct()

    def filter_industry(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """A section (letter) takes itself and its divisions; a division (two digits) itself."""
        if not value:
            return queryset
        if value.isalpha():
            return queryset.filter(industry__in=section_codes(value))
        return queryset.filter(industry=value)

    def filter_overdue(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        """Open deals with an overdue milestone (``services.overdue_deals``), or the others."""
        if value is None:
            return queryset
        if value:
            return services.overdue_deals(queryset)
        # the complement of ``overdue_deals``: closed, or no overdue milestone
        return queryset.filter(Q(status__in=Deal.CLOSED) | ~Q(pk__in=services.overdue_deal_ids()))


def section_codes(section: str) -> list[str]:
    """A GB/T 4754 section and its divisions: a deal records either (``deals.industry``)."""
    items = dictionaries.items("industry")
    parent_ids = {i.pk for i in items if i.parent_id is None and i.value == section}
    return [section, *(i.value for i in items if i.parent_id in parent_ids)]
