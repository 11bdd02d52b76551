"""Filters of account management, shared by the list pages, the API and the exports."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ibcloud.accounts.models import Department, Role, User
from ibcloud.accounts.services import departments_in_reach
from ibcloud.core.filters import YesNoFilter
from ibcloud.core.scoping import DataScope


def department_choices(request):
    """Only the departments the viewer's reach covers are offered."""
    if request is None:
        return Department.objects.none()
    return departments_in_reach(request.user)


def keyword_widget():
    return django_filters.widgets.forms.TextInput(
        attrs={"type": "search", "placeholder": _("Search")}
    )


class UserFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Keyword"), method="filter_keyword", widget=keyword_widget()
    )
    department = django_filters.ModelChoiceFilter(
        label=_("Department"),
        queryset=department_choices,
        method="filter_department",
        help_text=_("Includes sub-departments."),
    )
    role = django_filters.ModelChoiceFilter(
        label=_("Role"), field_name="roles", queryset=Role.objects.all()
    )
    is_active = YesNoFilter(label=_("Active"))

    class Meta:
        model = User
        fields = ["q", "department", "role", "is_active"]

    def filter_keyword(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(username__icontains=value)
            | Q(name__icontains=value)
            | Q(phone__icontains=value)
            | Q(email__icontains=value)
        )

    def filter_department(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(department__path__startswith=value.path)

    @property
    def qs(self):
        # A role filter joins the roles table; distinct keeps one row per user.
        return super().qs.distinct()


class DepartmentFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Keyword"), method="filter_keyword", widget=keyword_widget()
    )
    is_active = YesNoFilter(label=_("Active"))

    class Meta:
        model = Department
        fields = ["q", "is_active"]

    def filter_keyword(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(code__icontains=value))


class RoleFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Keyword"), method="filter_keyword", widget=keyword_widget()
    )
    data_scope = django_filters.ChoiceFilter(label=_("Data scope"), choices=DataScope.choices)
    is_active = YesNoFilter(label=_("Active"))

    class Meta:
        model = Role
        fields = ["q", "data_scope", "is_active"]

    def filter_keyword(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value) | Q(code__icontains=value) | Q(description__icontains=value)
        )
