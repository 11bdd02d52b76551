"""Matching: rule sets that pair projects with investors, the matches they propose, the review
and assignment of those matches, and the notes staff keep while working them.

The flow (docs/matching.md): a :class:`MatchRuleSet` (criteria + threshold + the department it
serves) produces :class:`Match` rows through the engine (``engine.py``: full and incremental runs,
dry runs); reviewers approve or reject them; :class:`AssignmentRule` rows decide who receives an
approved match; the assignee works it from the inbox and keeps :class:`MatchNote` rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ibcloud.core.models import ObjectUrls, ScopedModel, TimeStampedModel
from ibcloud.core.scoping import DataScopeFields, RestrictedQuerySet


class MatchRuleSet(ObjectUrls, ScopedModel):
    """User-set matching rules: hard filters and weighted scores over criteria, a threshold, and
    the department it serves (``department``; empty: the whole bank). Several can be active.

    ``criteria`` is a list of ``{"kind", "mode": "filter"|"score", "weight", "params"}``; the
    kinds and their parameters are defined in ``criteria.py`` and validated on save.
    """

    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True, db_index=True)
    criteria = models.JSONField(_("criteria"), default=list)
    #: minimum total score (0–100) of a proposed match
    threshold = models.DecimalField(_("threshold"), max_digits=5, decimal_places=2, default=60)
    #: best investors proposed per project (the next best takes a rejected one's place)
    max_per_project = models.PositiveSmallIntegerField(_("matches per project"), default=5)
    #: bumped on every change of criteria or threshold, so runs and dry runs can tell stale
    version = models.PositiveIntegerField(_("version"), default=1)
    last_run_at = models.DateTimeField(_("last full match"), null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("match rule set")
        verbose_name_plural = _("match rule sets")

    def __str__(self) -> str:
        return self.name


class Match(ObjectUrls, ScopedModel):
    """A project–investor pair with its score, per-criterion explanation and review status.

    Scoped by ``department`` (the rule set's department, or the assignee's department once
    assigned) and by ``owner``, which is kept equal to the assignee so "own records" reaches
    the matches assigned to a person.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        #: a pending match the rules no longer propose (data or rules changed)
        WITHDRAWN = "withdrawn", _("Withdrawn")
        #: an approved match taken back by a reviewer ("unmatch")
        UNMATCHED = "unmatched", _("Unmatched")

    class Source(models.TextChoices):
        AUTO = "auto", _("Automatic")
        MANUAL = "manual", _("Manual")

    class WorkStatus(models.TextChoices):
        NEW = "new", _("New")
        CONTACTED = "contacted", _("Contacted")
        IN_PROGRESS = "in_progress", _("In progress")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    project = models.ForeignKey(
        "catalog.Project",
        verbose_name=_("project"),
        on_delete=models.CASCADE,
        related_name="matches",
    )
    # investor, assignee: the composite indexes below lead with them; reviewed_by and
    # assignment_rule are never looked up (each index costs every insert of a full run)
    investor = models.ForeignKey(
        "catalog.Investor",
        verbose_name=_("investor"),
        on_delete=models.CASCADE,
        related_name="matches",
        db_index=False,
    )
    rule_set = models.ForeignKey(
        MatchRuleSet,
        verbose_name=_("rule set"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="matches",
        db_index=False,  # led by the (rule_set, status) index
    )
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.AUTO
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    score = models.DecimalField(_("score"), max_digits=5, decimal_places=2, default=0)
    #: per criterion: {"kind", "mode", "weight", "score", "points", "code", "args"}; the text is
    #: rendered in the reader's language by ``explanations.py``
    explanation = models.JSONField(_("explanation"), default=list, blank=True)
    #: hash of the project's and investor's match-relevant values when proposed or decided;
    #: a rejected pair is proposed again only when it changes (``scoring.fingerprint_of``)
    fingerprint = models.CharField(_("data fingerprint"), max_length=32, blank=True)
    note = models.TextField(_("note"), blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reject_reason = models.CharField(_("rejection reason"), max_length=30, blank=True)
    reject_note = models.TextField(_("rejection note"), blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_matches",
        db_index=False,
    )
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    assignment_rule = models.ForeignKey(
        "AssignmentRule",
        verbose_name=_("assignment rule"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    work_status = models.CharField(
        _("progress"), max_length=20, choices=WorkStatus.choices, default=WorkStatus.NEW
    )
    #: set by the deals module when a deal is opened from this match (the conversion figure)
    converted_at = models.DateTimeField(_("converted to a deal at"), null=True, blank=True)
    proposed_at = models.DateTimeField(_("proposed at"), null=True, blank=True, db_index=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = DataScopeFields(department="department", owner="owner")

    class Meta:
        ordering = ["-score", "-id"]
        verbose_name = _("match")
        verbose_name_plural = _("matches")
        permissions = [
            ("review_match", _("Can review matches (approve, reject, unmatch)")),
            ("assign_match", _("Can send matches to staff")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["rule_set", "project", "investor"],
                condition=Q(rule_set__isnull=False),
                name="matching_match_one_per_rule_set_pair",
            ),
            models.UniqueConstraint(
                fields=["project", "investor"],
                condition=Q(rule_set__isnull=True),
                name="matching_match_one_manual_pair",
            ),
        ]
        indexes = [
            models.Index(fields=["rule_set", "status"], name="matching_match_rs_status"),
            models.Index(fields=["investor", "status"], name="matching_match_inv_status"),
            models.Index(fields=["assignee", "work_status"], name="matching_match_inbox"),
        ]

    def __str__(self) -> str:
        return f"{self.project} ↔ {self.investor}"


class MatchNote(TimeStampedModel):
    """A note an assignee or reviewer keeps on a match (calls, meetings, next steps)."""

    match = models.ForeignKey(
        Match, verbose_name=_("match"), on_delete=models.CASCADE, related_name="notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    text = models.TextField(_("note"))
    #: the work status the note moved the match to, when it did
    work_status = models.CharField(_("progress"), max_length=20, blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = DataScopeFields(department="match__department", owner="match__owner")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("match note")
        verbose_name_plural = _("match notes")

    def __str__(self) -> str:
        return self.text[:50]


class AssignmentRule(ObjectUrls, ScopedModel):
    """Who receives approved matches: conditions (industry, region, score, department) and a
    target (a person, or a department's members chosen by a strategy), with a per-person cap.
    Rules are tried by ``priority``; the first that applies and finds someone assigns."""

    #: no detail page: a rule's link opens its form
    detail_view = "edit"

    class Strategy(models.TextChoices):
        COVERAGE_FIRST = "coverage_first", _("Investor's coverage banker first")
        ROUND_ROBIN = "round_robin", _("Round-robin")
        LEAST_OPEN = "least_open", _("Fewest open matches")

    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True, db_index=True)
    #: automatic assignment on for this rule (the global switch is ``matching.auto_assign``)
    auto_assign = models.BooleanField(_("assign automatically"), default=True)
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    #: conditions; empty means any. Industry codes are GB/T 4754 sections or divisions,
    #: regions are 6-digit province or city codes
    industries = models.JSONField(_("industries"), default=list, blank=True)
    regions = models.JSONField(_("regions"), default=list, blank=True)
    min_score = models.DecimalField(
        _("minimum score"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    rule_sets = models.ManyToManyField(
        MatchRuleSet, verbose_name=_("rule sets"), blank=True, related_name="+"
    )
    match_department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("matches of department"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    #: target: a person, or else the members of a department chosen by the strategy
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assign to person"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    target_department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("assign within department"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    strategy = models.CharField(
        _("strategy"), max_length=20, choices=Strategy.choices, default=Strategy.COVERAGE_FIRST
    )
    #: open (not won or lost) matches a person may hold before the rule skips them
    cap_per_person = models.PositiveIntegerField(_("open matches per person at most"), default=50)
    #: round-robin cursor: the last person this rule assigned to
    last_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("last assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["priority", "id"]
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")

    def __str__(self) -> str:
        return self.name


class DryRun(models.Model):
    """What a rule set's (possibly unsaved) configuration would match, against the current
    matches: kept so the page can show it and "apply" can check nothing moved since."""

    rule_set = models.ForeignKey(
        MatchRuleSet,
        verbose_name=_("rule set"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="dry_runs",
    )
    #: the configuration tried: {"criteria", "threshold", "max_per_project"}
    configuration = models.JSONField(_("configuration"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    job = models.ForeignKey(
        "core.Job", verbose_name=_("job"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    #: counts: {"total", "added", "removed", "kept", "rescored"}
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    #: [[project_id, investor_id, score], ...] (capped for display; counts are exact)
    added = models.JSONField(_("added"), default=list, blank=True)
    removed = models.JSONField(_("removed"), default=list, blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = DataScopeFields(department="rule_set__department", owner="created_by")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("dry run")
        verbose_name_plural = _("dry runs")

    def __str__(self) -> str:
        return f"{self.rule_set or '—'} @ {self.created_at:%Y-%m-%d %H:%M}"


# The engine's bookkeeping tables live in their own module; imported here so Django registers them.
from ibcloud.matching.engine_models import (  # noqa: E402, F401
    EngineState,
    InvestorMatchIndex,
)
