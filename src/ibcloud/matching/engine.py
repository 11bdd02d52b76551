"""The matching engine: full runs, incremental runs and dry runs of rule sets.

A run never scores all pairs. It indexes investors by the blocking keys of the rule set's hard
filters (industry, round, region, capital type: ``Criterion.investor_keys``), groups projects
whose keys are the same, looks each group's candidates up once (the intersection over the
filters of the union of the postings), and scores the group × candidates block with numpy
(``Criterion.matrix``). Each project keeps its best ``max_per_project`` investors at or above the
threshold (equal scores: lower investor id first).

The scoring (loaded data ready to score, the numpy blocks, worker processes, top-k, explanation
JSON) is in ``scoring.py``; what a run writes against the rule set's existing matches (added,
reopened, withdrawn, rescored) is in ``writes.py``. This module loads the data and runs them.

Incremental runs (:func:`match_projects`, :func:`match_investors`) do the same for some projects,
against the investors this process keeps in memory while the investor index stays the same
(:func:`all_investors`). Dry runs compute the same proposals without writing and keep the
difference (:func:`dry_run`, :func:`apply_dry_run`). Large runs score in worker processes.
See docs/matching-engine.md.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ibcloud.catalog.models import Investor, Project
from ibcloud.matching import features as ft
from ibcloud.matching.criteria import Context
from ibcloud.matching.engine_models import EngineState, InvestorMatchIndex
from ibcloud.matching.models import DryRun, Match, MatchRuleSet
from ibcloud.matching.scoring import (
    Configuration,
    InvestorSet,
    Progress,
    Proposals,
    Scorer,
    compute,
    digest,
    project_fingerprint,
)
from ibcloud.matching.writes import (
    BATCH,
    RunReport,
    blocked_pairs,
    chunks,
    diff,
    existing_matches,
    notify_reviewers,
    write,
)

#: added / removed pairs a dry run keeps for display (the counts are exact)
DRY_RUN_LIST_CAP = 500
INVESTOR_INDEX_STATE = "investor_index"


# --- Loading --------------------------------------------------------------------------------------


def load_projects(ids: Iterable[int] | None = None, extra: tuple[str, ...] = ()) -> list[dict]:
    """Feature dicts of projects (all, or ``ids``)."""
    columns = list(dict.fromkeys([*ft.PROJECT_COLUMNS, *extra]))
    rows = Project.objects.order_by("id")
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return [ft.project_features(row, extra) for row in rows.values(*columns).iterator(5000)]


def load_investors(
    ids: Iterable[int] | None = None, extra: tuple[str, ...] = (), refresh: bool = True
) -> list[dict]:
    """Feature dicts of investors (all, or ``ids``), with focus text from the index."""
    if refresh:
        refresh_investor_index()
    columns = list(dict.fromkeys([*ft.INVESTOR_COLUMNS, *extra]))
    rows = Investor.objects.order_by("id")
    index = InvestorMatchIndex.objects.all()
    if ids is not None:
        ids = list(ids)
        rows = rows.filter(pk__in=ids)
        index = index.filter(pk__in=ids)
    focus = dict(index.values_list("investor_id", "focus_text").iterator(5000))
    return [
        ft.investor_features(row, extra, focus_text=focus.get(row["id"]))
        for row in rows.values(*columns).iterator(5000)
    ]


def refresh_investor_index(investor_ids: Iterable[int] | None = None) -> int:
    """Bring the investors' focus text and blocking keys up to date: those changed since the
    last refresh (``updated_at`` past the watermark), plus ``investor_ids``. Returns how many."""
    state, _created = EngineState.objects.get_or_create(name=INVESTOR_INDEX_STATE)
    changed = Investor.objects.all()
    if state.watermark is not None:
        changed = changed.filter(updated_at__gt=state.watermark)
    ids = set(changed.values_list("id", flat=True))
    if investor_ids is not None:
        ids |= set(investor_ids)
    if not ids:
        return 0
    newest = None
    index_rows = []
    columns = ["id", "updated_at", *ft.INVESTOR_COLUMNS[1:]]
    for chunk in chunks(sorted(ids), 5000):
        for row in Investor.objects.filter(pk__in=chunk).values(*columns):
            features = ft.investor_features(row)
            index_rows.append(
                InvestorMatchIndex(
                    investor_id=row["id"],
                    focus_text=features["text"],
                    source_updated_at=row["updated_at"],
                )
            )
            if newest is None or row["updated_at"] > newest:
                newest = row["updated_at"]
    with transaction.atomic():
        for chunk in chunks(sorted(ids), 5000):
            InvestorMatchIndex.objects.filter(investor_id__in=chunk).delete()
        InvestorMatchIndex.objects.bulk_create(index_rows, batch_size=BATCH)
        # a new random version, not a count: a restored or recreated database never brings
        # back a version some process still holds investors for
        changes: dict[str, Any] = {"version": secrets.randbits(62)}
        if newest is not None and (state.watermark is None or newest > state.watermark):
            changes["watermark"] = newest
        EngineState.objects.filter(pk=state.pk).update(**changes)
    return len(index_rows)


#: (index version, extra fields) → the investors as last loaded by this process
_INVESTOR_CACHE: dict[tuple, InvestorSet] = {}


def _index_version() -> int:
    return (
        EngineState.objects.filter(name=INVESTOR_INDEX_STATE)
        .values_list("version", flat=True)
        .first()
        or 0
    )


def all_investors(extra: tuple[str, ...] = (), fresh: bool = False) -> InvestorSet:
    """Every investor, ready to score; kept in this process until the investor index changes
    (``refresh_investor_index`` bumps its version), so incremental matches load nothing.
    ``fresh``: read them again anyway (full runs do: a row changed without a new ``updated_at``
    is read too)."""
    refresh_investor_index()
    key = (_index_version(), extra)
    found = None if fresh else _INVESTOR_CACHE.get(key)
    if found is None:
        found = InvestorSet.of(load_investors(None, extra, refresh=False))
        _INVESTOR_CACHE.clear()
        _INVESTOR_CACHE[key] = found
    return found


# --- Full runs ------------------------------------------------------------------------------------


def _proposals_for(
    configuration: Configuration,
    rule_set: MatchRuleSet | None,
    project_ids: Iterable[int] | None,
    investor_ids: Iterable[int] | None,
    progress: Progress | None,
    stages: dict[str, float] | None = None,
) -> tuple[Proposals, dict]:
    clock = _Clock(stages)
    extra = configuration.fields()
    projects = load_projects(project_ids, extra["project"])
    clock.lap("load_projects")
    if investor_ids is None:
        investors = all_investors(extra["investor"], fresh=True)
    else:
        investors = InvestorSet.of(load_investors(investor_ids, extra["investor"]))
    clock.lap("load_investors")
    existing = existing_matches(
        rule_set, None if project_ids is None else [p["id"] for p in projects]
    )
    blocked = blocked_pairs(
        existing,
        {p["id"]: project_fingerprint(p) for p in projects},
        investors.fingerprints(pair[1] for pair in existing),
    )
    clock.lap("existing")
    proposals = compute(configuration, projects, investors, blocked, Context.now(), progress)
    clock.lap("score")
    return proposals, existing


class _Clock:
    """Seconds per stage into ``stages`` (when given)."""

    def __init__(self, stages: dict[str, float] | None) -> None:
        self.stages = stages
        self.last = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        if self.stages is not None:
            self.stages[name] = round(now - self.last, 3)
        self.last = now


def _progress_of(job: Any, low: float = 0, high: float = 90) -> Progress | None:
    if job is None:
        return None
    return lambda fraction, message: job.progress(low + (high - low) * fraction, message)


def run_rule_set(rule_set: MatchRuleSet, *, job: Any = None) -> RunReport:
    """Re-match every project under ``rule_set`` and write the result (see the module doc).

    ``job`` is the running job's context: progress is reported and a cancel request stops the
    run before anything is written."""
    started = time.monotonic()
    stages: dict[str, float] = {}
    configuration = Configuration.of(rule_set)
    proposals, existing = _proposals_for(
        configuration, rule_set, None, None, _progress_of(job), stages
    )
    if job is not None:
        job.progress(90, "writing")
    clock = _Clock(stages)
    changes = diff(existing, proposals)
    clock.lap("diff")
    report = write(rule_set, changes)
    clock.lap("write")
    report.stages = stages
    report.pairs_scored = proposals.pairs_scored
    report.proposed = len(proposals.pairs)
    report.projects = len(proposals.project_ids)
    report.seconds = time.monotonic() - started
    MatchRuleSet.objects.filter(pk=rule_set.pk).update(last_run_at=timezone.now())
    notify_reviewers(rule_set, report.added + report.reopened)
    return report


def active_rule_sets() -> list[MatchRuleSet]:
    return list(MatchRuleSet.objects.filter(is_active=True).order_by("id"))


# --- Incremental runs -----------------------------------------------------------------------------


def match_projects(
    project_ids: Iterable[int], rule_sets: Iterable[MatchRuleSet] | None = None
) -> RunReport:
    """Match the given projects again under each active rule set (or ``rule_sets``): only their
    candidate investors are loaded; their matches are added, rescored or withdrawn."""
    started = time.monotonic()
    ids = sorted(set(project_ids))
    total = RunReport()
    if not ids:
        return total
    for rule_set in rule_sets if rule_sets is not None else active_rule_sets():
        configuration = Configuration.of(rule_set)
        extra = configuration.fields()
        projects = load_projects(ids, extra["project"])
        # every investor, kept in memory while the index stays the same: the blocking
        # postings find the candidates without a query
        investors = all_investors(extra["investor"])
        existing = existing_matches(rule_set, [p["id"] for p in projects])
        blocked = blocked_pairs(
            existing,
            {p["id"]: project_fingerprint(p) for p in projects},
            investors.fingerprints(pair[1] for pair in existing),
        )
        proposals = compute(configuration, projects, investors, blocked, Context.now())
        report = write(rule_set, diff(existing, proposals))
        report.pairs_scored = proposals.pairs_scored
        report.proposed = len(proposals.pairs)
        report.projects = len(projects)
        notify_reviewers(rule_set, report.added + report.reopened)
        total.merge(report)
    total.seconds = time.monotonic() - started
    return total


def match_investors(
    investor_ids: Iterable[int], rule_sets: Iterable[MatchRuleSet] | None = None
) -> RunReport:
    """After investors changed: re-match the projects whose proposals they can enter or leave.

    Those are the projects where a changed investor now passes the filters and reaches the
    threshold and the project's current weakest proposal (or the project has free slots), and
    the projects where it holds a pending match now."""
    started = time.monotonic()
    ids = sorted(set(investor_ids))
    total = RunReport()
    if not ids:
        return total
    refresh_investor_index(ids)
    for rule_set in rule_sets if rule_sets is not None else active_rule_sets():
        configuration = Configuration.of(rule_set)
        extra = configuration.fields()
        investors = load_investors(ids, extra["investor"])
        affected = set(
            Match.objects.filter(
                rule_set=rule_set, investor_id__in=ids, status=Match.Status.PENDING
            ).values_list("project_id", flat=True)
        )
        if investors:
            affected |= _projects_reached(configuration, rule_set, investors)
        if affected:
            total.merge(match_projects(affected, [rule_set]))
    total.seconds = time.monotonic() - started
    return total


def _projects_reached(
    configuration: Configuration, rule_set: MatchRuleSet, investors: list[dict]
) -> set[int]:
    """Projects where one of ``investors`` would enter the best ``max_per_project``."""
    scorer = Scorer(configuration, Context.now())
    query = Project.objects.all()
    condition = None
    from django.db.models import Q

    for investor in investors:
        q = Q()
        for criterion, item in scorer.blocking:
            part = _project_condition(criterion.kind, investor, item["params"])
            if part is not None:
                q &= part
        condition = q if condition is None else condition | q
    if condition is not None:
        query = query.filter(condition)
    project_ids = list(query.values_list("id", flat=True))
    if not project_ids:
        return set()
    extra = configuration.fields()
    reached: set[int] = set()
    for chunk in chunks(project_ids, 20_000):
        projects = load_projects(chunk, extra["project"])
        proposals = compute(
            configuration,
            projects,
            investors,
            {},
            Context.now(),
        )
        if not proposals.pairs:
            continue
        weakest: dict[int, tuple[int, float]] = {}
        rows = Match.objects.filter(
            rule_set=rule_set,
            project_id__in=list({p for p, _i in proposals.pairs}),
            status__in=[Match.Status.PENDING, Match.Status.APPROVED],
        ).values_list("project_id", "score")
        for project_id, score in rows:
            count, low = weakest.get(project_id, (0, 101.0))
            weakest[project_id] = (count + 1, min(low, float(score)))
        for (project_id, _investor_id), proposal in proposals.pairs.items():
            count, low = weakest.get(project_id, (0, 101.0))
            if count < configuration.max_per_project or proposal.score >= low:
                reached.add(project_id)
    return reached


def _project_condition(kind: str, investor: dict, params: dict):
    """A database condition on projects that includes every project ``investor`` can pass
    the ``kind`` filter with (a superset; the scorer decides). None: no narrowing."""
    from django.db.models import Q

    if kind == "industry":
        if not investor["industries"]:
            return None if params["any_when_empty"] else Q(pk__in=[])
        sections = {ft.section_of(c) for c in investor["industries"]} - {""}
        q = Q(industry__in=investor["industries"]) | Q(industry_section__in=sections)
        if params["any_when_empty"]:
            q |= Q(industry="", industry_section="")
        return q
    if kind == "round":
        if not investor["rounds"]:
            return None if params["any_when_empty"] else Q(pk__in=[])
        rounds = set(investor["rounds"])
        for code in investor["rounds"]:
            rounds.update(ft.adjacent_rounds(code))
        q = Q(round__in=rounds)
        if params["any_when_empty"]:
            q |= Q(round="")
        return q
    if kind == "region":
        if investor["nationwide"] or not investor["regions"]:
            return None
        provinces = {ft.province_of(c) for c in investor["regions"]}
        q = Q(province_code__in=provinces)
        if params["any_when_empty"]:
            q |= Q(province_code="")
        return q
    return None


# --- Dry runs -------------------------------------------------------------------------------------


def _pairs_digest(added: list, removed: list) -> str:
    return digest([[p, i] for p, i, _s in added] + ["|"] + [[p, i] for p, i, _s in removed])


def dry_run(
    configuration: dict,
    rule_set: MatchRuleSet | None = None,
    user: Any = None,
    job: Any = None,
) -> DryRun:
    """What ``configuration`` would propose, against the rule set's current pending and approved
    matches; saved as a :class:`DryRun` (lists capped for display, counts exact)."""
    started = time.monotonic()
    config = Configuration.clean(configuration)
    proposals, existing = _proposals_for(config, rule_set, None, None, _progress_of(job))
    changes = diff(existing, proposals)
    added, removed = changes.added_pairs(), changes.removed_pairs()
    current = sum(1 for row in existing.values() if row["status"] in ("pending", "approved"))
    summary = {
        "total": len(proposals.pairs),
        "current": current,
        "added": len(added),
        "removed": len(removed),
        "kept": changes.kept,
        "rescored": len(changes.rescore),
        "reopened": len(changes.reopen),
        "pairs_scored": proposals.pairs_scored,
        "seconds": round(time.monotonic() - started, 3),
        "rule_set_version": rule_set.version if rule_set is not None else None,
        "digest": _pairs_digest(added, removed),
    }
    row = DryRun.objects.create(
        rule_set=rule_set,
        configuration=config.as_dict(),
        created_by=user if getattr(user, "is_authenticated", False) else None,
        job=getattr(job, "job", None),
        summary=summary,
        added=[[p, i, round(s, 2)] for p, i, s in added[:DRY_RUN_LIST_CAP]],
        removed=[[p, i, round(s, 2)] for p, i, s in removed[:DRY_RUN_LIST_CAP]],
    )
    return row


def apply_dry_run(dry_run: DryRun, user: Any) -> RunReport:
    """Save the dry run's configuration into its rule set (version + 1) and write exactly the
    changes it showed. Refuses (ValidationError) when the rule set or the data changed since:
    the user runs a new dry run."""
    rule_set = dry_run.rule_set
    if rule_set is None:
        raise ValidationError("Save the rule set before applying a dry run.")
    rule_set.refresh_from_db()
    if dry_run.summary.get("rule_set_version") != rule_set.version:
        raise ValidationError(
            "The rule set was changed after this dry run; run a new dry run before applying."
        )
    started = time.monotonic()
    config = Configuration.clean(dry_run.configuration)
    proposals, existing = _proposals_for(config, rule_set, None, None, None)
    changes = diff(existing, proposals)
    if _pairs_digest(changes.added_pairs(), changes.removed_pairs()) != dry_run.summary.get(
        "digest"
    ):
        raise ValidationError(
            "The matches this dry run showed are no longer what the rules give (projects, "
            "investors or reviews changed since); run a new dry run before applying."
        )
    rule_set.criteria = config.criteria
    rule_set.threshold = Decimal(str(config.threshold))
    rule_set.max_per_project = config.max_per_project
    rule_set.version += 1
    rule_set.save()
    report = write(rule_set, changes)
    report.pairs_scored = proposals.pairs_scored
    report.proposed = len(proposals.pairs)
    report.projects = len(proposals.project_ids)
    report.seconds = time.monotonic() - started
    MatchRuleSet.objects.filter(pk=rule_set.pk).update(last_run_at=timezone.now())
    notify_reviewers(rule_set, report.added + report.reopened)
    from ibcloud.core.signals import record_sensitive_action

    record_sensitive_action(
        None,
        "matching.dry_run_applied",
        target=rule_set,
        description=f"dry run {dry_run.pk} applied to {rule_set}",
        actor=user if getattr(user, "is_authenticated", False) else None,
        dry_run=dry_run.pk,
        **report.as_dict(),
    )
    return report


def latest_change() -> Any:
    """The newest ``updated_at`` of projects and investors (for the incremental job)."""
    project = Project.objects.aggregate(at=Max("updated_at"))["at"]
    investor = Investor.objects.aggregate(at=Max("updated_at"))["at"]
    return max([d for d in (project, investor) if d], default=None)
