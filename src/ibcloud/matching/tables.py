"""Tables of the rule-set list and the match list (also the columns of the match export).

The match table shows the explanation summary under the score; the export gets it as a column,
plus the codes and exact figures a spreadsheet can compute with.
"""

from __future__ import annotations

from typing import Any

import django_tables2 as tables
from django.urls import NoReverseMatch
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ibcloud.catalog.templatetags.catalog_format import industry_label, round_label
from ibcloud.core.tables import ActionsColumn, BaseTable
from ibcloud.matching.models import Match, MatchRuleSet


def explanation_summary(items: Any) -> str:
    """One line of plain sentences for a match's explanation (``explanations.summary``), or ''
    while the engine's explanations are not there."""
    if not items:
        return ""
    try:
        from ibcloud.matching.explanations import summary
    except ImportError:
        return ""
    try:
        return summary(items)
    except (KeyError, TypeError, ValueError):
        # an explanation written by an older engine version must not break the list
        return ""


def object_url(obj: Any) -> str:
    """``obj.get_absolute_url()``, or '' while the page it names does not exist yet."""
    try:
        return obj.get_absolute_url()
    except NoReverseMatch:
        return ""


def _hidden(verbose_name, accessor=None, **kwargs) -> tables.Column:
    """A column only the export carries."""
    return tables.Column(
        verbose_name=verbose_name, accessor=accessor, visible=False, orderable=False, **kwargs
    )


STATUS_BADGES = {
    Match.Status.PENDING: "bg-yellow-lt",
    Match.Status.APPROVED: "bg-green-lt",
    Match.Status.REJECTED: "bg-red-lt",
    Match.Status.WITHDRAWN: "bg-secondary-lt",
    Match.Status.UNMATCHED: "bg-orange-lt",
}


class MatchRuleSetTable(BaseTable):
    name = tables.Column(linkify=True, verbose_name=_("Name"), attrs={"td": {"class": "fw-bold"}})
    is_active = tables.BooleanColumn(verbose_name=_("Active"))
    department = tables.Column(
        verbose_name=_("Serves"), accessor="department", default=_("Whole bank")
    )
    criteria_count = tables.Column(verbose_name=_("Criteria"), accessor="criteria", orderable=False)
    threshold = tables.Column(verbose_name=_("Threshold"))
    max_per_project = tables.Column(verbose_name=_("Matches per project"))
    version = tables.Column(verbose_name=_("Version"))
    last_run_at = tables.DateTimeColumn(verbose_name=_("Last full match"), format="Y-m-d H:i")
    actions = ActionsColumn()

    class Meta(BaseTable.Meta):
        model = MatchRuleSet
        fields = ()

    def render_department(self, value):
        return value.full_name

    def render_criteria_count(self, value):
        return len(value) if isinstance(value, list) else 0

    def value_criteria_count(self, value):
        return self.render_criteria_count(value)


class MatchTable(BaseTable):
    project = tables.Column(
        verbose_name=_("Project"), accessor="project__name", order_by=("project__name",)
    )
    investor = tables.Column(
        verbose_name=_("Investor"), accessor="investor__name", order_by=("investor__name",)
    )
    score = tables.Column(verbose_name=_("Score"), attrs={"td": {"class": "text-nowrap"}})
    status = tables.Column(verbose_name=_("Status"))
    rule_set = tables.Column(verbose_name=_("Rule set"), default="—")
    assignee = tables.Column(verbose_name=_("Assignee"), default="—")
    work_status = tables.Column(verbose_name=_("Progress"))
    proposed_at = tables.DateTimeColumn(verbose_name=_("Proposed at"), format="Y-m-d H:i")
    # Export only
    explanation = _hidden(_("Explanation"), "explanation")
    industry = _hidden(_("Industry"), "project__industry")
    round = _hidden(_("Round"), "project__round")
    region = _hidden(_("Province code"), "project__province_code")
    source = _hidden(_("Source"), "source")
    reviewed_by = _hidden(_("Reviewed by"), "reviewed_by")
    reviewed_at = _hidden(_("Reviewed at"), "reviewed_at")
    reject_reason = _hidden(_("Rejection reason"), "reject_reason")
    converted_at = _hidden(_("Converted to a deal at"), "converted_at")
    match_id = _hidden(_("Match ID"), "pk")
    project_id = _hidden(_("Project ID"), "project_id")
    investor_id = _hidden(_("Investor ID"), "investor_id")

    class Meta(BaseTable.Meta):
        model = Match
        fields = ()
        attrs = {**BaseTable.Meta.attrs, "id": "match-table"}

    def render_project(self, record):
        url = object_url(record)
        name = record.project.name
        if url:
            return format_html('<a href="{}" class="fw-bold">{}</a>', url, name)
        return format_html('<span class="fw-bold">{}</span>', name)

    def value_project(self, record):
        return record.project.name

    def render_investor(self, record):
        return record.investor.name

    def value_investor(self, record):
        return record.investor.name

    def render_score(self, record):
        summary = explanation_summary(record.explanation)
        if not summary:
            return record.score
        # the summary is built from catalog values (crawled text): format_html escapes it
        return format_html(
            '<span title="{}" data-bs-toggle="tooltip">{}</span>'
            '<div class="small text-secondary text-truncate" style="max-width: 28rem">{}</div>',
            summary,
            record.score,
            summary,
        )

    def value_score(self, record):
        return float(record.score)

    def render_status(self, record):
        css = STATUS_BADGES.get(record.status, "bg-secondary-lt")
        return format_html('<span class="badge {}">{}</span>', css, record.get_status_display())

    def value_status(self, record):
        return record.get_status_display()

    def render_work_status(self, record):
        if record.assignee_id is None:
            return "—"
        return record.get_work_status_display()

    def value_work_status(self, record):
        return record.get_work_status_display() if record.assignee_id else ""

    def value_explanation(self, record):
        return explanation_summary(record.explanation)

    def value_industry(self, record):
        return industry_label(record.project.industry or record.project.industry_section)

    def value_round(self, record):
        return round_label(record.project.round)

    def value_source(self, record):
        return record.get_source_display()

    def value_reject_reason(self, record):
        return record.reject_reason
