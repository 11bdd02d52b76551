"""Tables of the review queue, the inbox, the "approved, unassigned" list and assignment rules
(also the columns of their exports)."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ibcloud.catalog.templatetags.catalog_format import format_region, industry_label
from ibcloud.core.tables import ActionsColumn, BaseTable, SelectColumn, clipped
from ibcloud.matching.models import AssignmentRule, Match


def explanation_sentences(items: Any) -> list[str]:
    """The explanation as plain sentences in the active language ([] until the engine's
    ``explanations`` module exists or when there is nothing to explain)."""
    if not isinstance(items, list) or not items:
        return []
    from ibcloud.matching.explanations import render

    return [str(sentence) for sentence in render(items)]


def explanation_summary(items: Any) -> str:
    """The explanation in one line ("；"-joined)."""
    if not isinstance(items, list) or not items:
        return ""
    from ibcloud.matching.explanations import summary

    return str(summary(items))


class MatchColumnsMixin(tables.Table):
    """Project, investor, rule set and score: what every match table starts with."""

    project = tables.Column(
        linkify=lambda record: record.get_absolute_url(),
        verbose_name=_("Project"),
        attrs={"td": {"class": "fw-bold"}},
        order_by=("project__name",),
    )
    investor = tables.Column(verbose_name=_("Investor"), order_by=("investor__name",))
    industry = tables.Column(
        accessor="project__industry",
        verbose_name=_("Industry"),
        order_by=("project__industry_section", "project__industry"),
    )
    region = tables.Column(
        accessor="project__province_code",
        verbose_name=_("Region"),
        order_by=("project__province_code", "project__city_code"),
    )
    score = tables.Column(verbose_name=_("Score"), attrs={"td": {"class": "text-nowrap"}})

    def render_project(self, record):
        return record.project.name

    def render_investor(self, record):
        return record.investor.name

    def render_industry(self, record):
        project = record.project
        return industry_label(project.industry or project.industry_section) or "—"

    def render_region(self, record):
        return format_region(record.project.province, record.project.city) or "—"

    def value_industry(self, record):
        project = record.project
        return industry_label(project.industry or project.industry_section)

    def value_region(self, record):
        return format_region(record.project.province, record.project.city)


class ReviewTable(MatchColumnsMixin, BaseTable):
    """The review queue: pending matches, best first, with approve / reject per row."""

    select = SelectColumn()
    rule_set = tables.Column(verbose_name=_("Rule set"), order_by=("rule_set__name",))
    explanation = tables.Column(
        verbose_name=_("Why"), orderable=False, empty_values=(), attrs={"td": {"class": "small"}}
    )
    proposed_at = tables.DateTimeColumn(verbose_name=_("Proposed"), format="Y-m-d H:i")
    actions = ActionsColumn(template_name="matching/review_row_actions.html")

    class Meta(BaseTable.Meta):
        model = Match
        fields = ()
        sequence = (
            "select",
            "project",
            "investor",
            "industry",
            "region",
            "rule_set",
            "score",
            "explanation",
            "proposed_at",
            "actions",
        )

    # The row's approve / reject buttons must stay on a 1440 px screen: long cells are cut to
    # one line (the whole text on hover; the match page has all the reasons).

    def render_rule_set(self, record):
        return clipped(str(record.rule_set.name if record.rule_set else _("Manual")), rem=8)

    def render_industry(self, record):
        return clipped(super().render_industry(record), rem=11)

    def render_explanation(self, record):
        return clipped(explanation_summary(record.explanation), rem=12)

    def value_explanation(self, record):
        return explanation_summary(record.explanation)


class InboxTable(MatchColumnsMixin, BaseTable):
    """My assigned matches with their progress and a quick progress update."""

    work_status = tables.Column(verbose_name=_("Progress"))
    assigned_at = tables.DateTimeColumn(verbose_name=_("Assigned"), format="Y-m-d H:i")
    updated_at = tables.DateTimeColumn(verbose_name=_("Updated"), format="Y-m-d H:i")
    actions = ActionsColumn(template_name="matching/inbox_row_actions.html")

    class Meta(BaseTable.Meta):
        model = Match
        fields = ()
        sequence = (
            "project",
            "investor",
            "industry",
            "region",
            "score",
            "work_status",
            "assigned_at",
            "updated_at",
            "actions",
        )

    def render_work_status(self, record):
        css = {
            "new": "bg-blue-lt",
            "contacted": "bg-azure-lt",
            "in_progress": "bg-yellow-lt",
            "won": "bg-green-lt",
            "lost": "bg-secondary-lt",
        }.get(record.work_status, "")
        return format_html(
            '<span class="badge {}">{}</span>', css, record.get_work_status_display()
        )

    def value_work_status(self, record):
        return record.get_work_status_display()


class UnassignedTable(MatchColumnsMixin, BaseTable):
    """Approved matches nobody received yet: sent to people from here."""

    select = SelectColumn()
    rule_set = tables.Column(verbose_name=_("Rule set"), order_by=("rule_set__name",))
    reviewed_at = tables.DateTimeColumn(verbose_name=_("Approved"), format="Y-m-d H:i")
    reviewed_by = tables.Column(verbose_name=_("Approved by"))

    class Meta(BaseTable.Meta):
        model = Match
        fields = ()
        sequence = (
            "select",
            "project",
            "investor",
            "industry",
            "region",
            "rule_set",
            "score",
            "reviewed_at",
            "reviewed_by",
        )

    def render_rule_set(self, record):
        return record.rule_set.name if record.rule_set else _("Manual")


class AssignmentRuleTable(BaseTable):
    select = SelectColumn()
    priority = tables.Column(verbose_name=_("Priority"))
    name = tables.Column(linkify=True, verbose_name=_("Name"), attrs={"td": {"class": "fw-bold"}})
    conditions = tables.Column(
        verbose_name=_("Conditions"),
        accessor="pk",
        orderable=False,
        attrs={"td": {"class": "small"}},
    )
    target = tables.Column(verbose_name=_("Assign to"), accessor="pk", orderable=False)
    strategy = tables.Column(verbose_name=_("Strategy"))
    cap_per_person = tables.Column(verbose_name=_("Cap per person"))
    auto_assign = tables.BooleanColumn(verbose_name=_("Automatic"))
    is_active = tables.BooleanColumn(verbose_name=_("Active"))
    actions = ActionsColumn()

    class Meta(BaseTable.Meta):
        model = AssignmentRule
        fields = ()
        sequence = (
            "select",
            "priority",
            "name",
            "conditions",
            "target",
            "strategy",
            "cap_per_person",
            "auto_assign",
            "is_active",
            "actions",
        )

    def render_conditions(self, record):
        return rule_conditions(record) or _("Any match")

    def value_conditions(self, record):
        return rule_conditions(record)

    def render_target(self, record):
        return rule_target(record)

    def value_target(self, record):
        return rule_target(record)


def rule_conditions(rule: AssignmentRule) -> str:
    """The conditions of a rule in one line."""
    from ibcloud.catalog.filters import city_choices, province_choices

    places = dict(province_choices())
    places.update({code: name for _g, cities in city_choices() for code, name in cities})
    parts = []
    if rule.industries:
        parts.append("、".join(industry_label(code) for code in rule.industries))
    if rule.regions:
        parts.append("、".join(places.get(code, code) for code in rule.regions))
    if rule.min_score is not None:
        parts.append(f"≥ {rule.min_score}")
    names = [rs.name for rs in rule.rule_sets.all()]
    if names:
        parts.append("、".join(names))
    if rule.match_department_id:
        parts.append(str(rule.match_department))
    return "；".join(parts)


def rule_target(rule: AssignmentRule) -> str:
    if rule.target_user_id:
        return str(rule.target_user)
    if rule.target_department_id:
        return str(rule.target_department)
    return str(_("The match's department"))
