"""FilterSets of the matching lists: one for matches (the match list, the review queue, the inbox,
the API and the exports all use it), one for rule sets, one for assignment rules."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from ibcloud.accounts.models import User
from ibcloud.accounts.services import users_in_reach
from ibcloud.catalog.filters import industry_choices, province_choices
from ibcloud.core.filters import LocalDateFilter, YesNoFilter
from ibcloud.matching.models import AssignmentRule, Match, MatchRuleSet


def visible_rule_sets(request) -> QuerySet:
    """Rule sets offered as a filter: those the user may see (their names are data too); any
    other id is refused as an invalid choice."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return MatchRuleSet.objects.none()
    if user.has_perm("matching.view_matchruleset"):
        return MatchRuleSet.objects.restrict(user, "view")
    # without the rule-set permission, the rule sets of the matches the user may see
    return MatchRuleSet.objects.filter(
        pk__in=Match.objects.restrict(user, "view").values("rule_set_id")
    )


def visible_assignees(request) -> QuerySet:
    """People offered as an assignee filter: those within the user's reach."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return User.objects.none()
    return users_in_reach(user)


class MatchFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Project or investor"), method="filter_q")
    status = django_filters.MultipleChoiceFilter(label=_("status"), choices=Match.Status.choices)
    work_status = django_filters.MultipleChoiceFilter(
        label=_("progress"), choices=Match.WorkStatus.choices
    )
    source = django_filters.ChoiceFilter(label=_("source"), choices=Match.Source.choices)
    rule_set = django_filters.ModelChoiceFilter(label=_("rule set"), queryset=visible_rule_sets)
    industry = django_filters.ChoiceFilter(
        label=_("industry"), choices=industry_choices, method="filter_industry"
    )
    province_code = django_filters.ChoiceFilter(
        label=_("Province"), field_name="project__province_code", choices=province_choices
    )
    score_min = django_filters.NumberFilter(
        label=_("score from"), field_name="score", lookup_expr="gte"
    )
    score_max = django_filters.NumberFilter(
        label=_("score up to"), field_name="score", lookup_expr="lte"
    )
    assignee = django_filters.ModelChoiceFilter(label=_("assignee"), queryset=visible_assignees)
    unassigned = YesNoFilter(label=_("unassigned"), field_name="assignee", lookup_expr="isnull")
    # One record's matches, reached by links (its page's matches panel): kept across the form's
    # other filters without a box of their own.
    project = django_filters.NumberFilter(
        label=_("project"), field_name="project_id", widget=forms.HiddenInput
    )
    investor = django_filters.NumberFilter(
        label=_("investor"), field_name="investor_id", widget=forms.HiddenInput
    )
    proposed_after = LocalDateFilter(
        label=_("proposed from"), field_name="proposed_at", lookup_expr="gte"
    )
    proposed_before = LocalDateFilter(
        label=_("proposed up to"), field_name="proposed_at", lookup_expr="lte"
    )

    #: filters a list leaves out because all its rows share the value (see the subclasses)
    left_out: tuple[str, ...] = ()

    class Meta:
        model = Match
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.left_out:
            self.filters.pop(name)

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(project__name__icontains=value)
            | Q(project__full_name__icontains=value)
            | Q(investor__name__icontains=value)
            | Q(investor__full_name__icontains=value)
        )

    def filter_industry(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """A section (letter) takes its divisions; a division (two digits) itself."""
        if not value:
            return queryset
        if value.isalpha():
            return queryset.filter(project__industry_section=value)
        return queryset.filter(project__industry=value)


class QueueFilterSet(MatchFilterSet):
    """The review queue's and the unassigned list's filters: every match there shares its
    status and has no assignee, so those filters are left out."""

    left_out = ("status", "work_status", "assignee", "unassigned")


class InboxFilterSet(MatchFilterSet):
    """The inbox's filters: the person's own approved matches (progress stays: the tabs use it)."""

    left_out = ("status", "assignee", "unassigned")


class MatchRuleSetFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Name"), field_name="name", lookup_expr="icontains")
    is_active = django_filters.BooleanFilter(label=_("active"))

    class Meta:
        model = MatchRuleSet
        fields: list[str] = []


class AssignmentRuleFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Name"), field_name="name", lookup_expr="icontains")
    is_active = django_filters.BooleanFilter(label=_("active"))

    class Meta:
        model = AssignmentRule
        fields: list[str] = []
