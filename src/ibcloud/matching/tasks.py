"""Background jobs of matching: full re-matches, incremental matches, dry runs.

- :func:`run_rule_set_job`: a full re-match of one rule set (a person's "run now" button);
- :func:`run_all_rule_sets_job`: every night at 02:30, a full re-match of every active rule set;
- :func:`dry_run_job`: compute a prepared :class:`DryRun` row's configuration;
- :func:`apply_dry_run_job`: apply a dry run (save its configuration, write its changes);
- :func:`incremental_match_job`: match the projects and investors changed since the stored
  watermark (started by ``receivers.py`` when the catalog changes, and every five minutes by
  :func:`incremental_safety_net` when something changed and no such job waits).

Engine jobs never overlap on a rule set: each takes the rule set's lock (an ``EngineState``
row taken with one conditional UPDATE, so it holds across workers and machines); a full run
that finds it taken steps aside, an incremental job leaves the watermark where it was so the
next one tries again.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
from collections.abc import Iterator

from django.db.models import Q
from django.utils import timezone
from huey import crontab

from ibcloud.core.jobs import JobContext, job, periodic_job

#: minutes between two safety-net checks
SAFETY_NET_MINUTES = 5
#: how long a lock holds when its holder dies without releasing it
LOCK_SECONDS = 3 * 3600
#: changed records re-read by each incremental job, for rows committed late with an older stamp
OVERLAP = datetime.timedelta(seconds=60)
#: above this many changed projects an incremental job runs full matches instead
FULL_RUN_ABOVE = 5_000
WATERMARK = "incremental_watermark"


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def acquire(name: str, seconds: int = LOCK_SECONDS) -> bool:
    """Take the engine lock ``name`` (free or expired); False when someone else holds it."""
    from ibcloud.matching.engine_models import EngineState

    EngineState.objects.get_or_create(name=name)
    now = timezone.now()
    free = Q(locked_by="") | Q(locked_until__lt=now) | Q(locked_until__isnull=True)
    taken = EngineState.objects.filter(free, name=name).update(
        locked_by=_holder(), locked_until=now + datetime.timedelta(seconds=seconds)
    )
    return taken == 1


def release(name: str) -> None:
    from ibcloud.matching.engine_models import EngineState

    EngineState.objects.filter(name=name).update(locked_by="", locked_until=None)


@contextlib.contextmanager
def rule_set_lock(rule_set_id: int) -> Iterator[bool]:
    """``with rule_set_lock(id) as held:`` — ``held`` False: another engine job has it."""
    name = f"lock:rule_set:{rule_set_id}"
    held = acquire(name)
    try:
        yield held
    finally:
        if held:
            release(name)


@job(queue="default", timeout=4 * 3600)
def run_rule_set_job(ctx: JobContext, rule_set_id: int) -> dict:
    """Re-match every project under one rule set, with progress; cancellable until it writes."""
    from ibcloud.core.signals import record_sensitive_action
    from ibcloud.matching import engine
    from ibcloud.matching.models import MatchRuleSet

    rule_set = MatchRuleSet.objects.filter(pk=rule_set_id).first()
    if rule_set is None:
        return {"skipped": "rule set deleted"}
    with rule_set_lock(rule_set_id) as held:
        if not held:
            ctx.log("another matching job is running on this rule set; this one steps aside")
            return {"skipped": "locked"}
        report = engine.run_rule_set(rule_set, job=ctx)
    result = report.as_dict()
    ctx.log(
        "{proposed} proposed: {added} added, {reopened} reopened, {withdrawn} withdrawn, "
        "{kept} kept; {pairs_scored} pairs scored in {seconds} s".format(**result)
    )
    record_sensitive_action(
        None,
        "matching.run",
        target=rule_set,
        description=f"full match of {rule_set}",
        actor=ctx.job.owner,
        **result,
    )
    return result


@periodic_job(crontab(hour="2", minute="30"))
def run_all_rule_sets_job(ctx: JobContext) -> dict:
    """Every night at 02:30 (local time): a full re-match of every active rule set."""
    from ibcloud.matching import engine

    results = {}
    rule_sets = engine.active_rule_sets()
    for number, rule_set in enumerate(rule_sets):
        ctx.progress(100 * number / max(len(rule_sets), 1), rule_set.name)
        with rule_set_lock(rule_set.pk) as held:
            if not held:
                results[str(rule_set.pk)] = {"skipped": "locked"}
                continue
            results[str(rule_set.pk)] = engine.run_rule_set(rule_set).as_dict()
    return results


@job(queue="default", timeout=4 * 3600)
def dry_run_job(ctx: JobContext, dry_run_id: int) -> dict:
    """Compute a dry run prepared by the UI or API (a ``DryRun`` row holding the
    configuration); the row is filled in place."""
    from ibcloud.matching import engine
    from ibcloud.matching.models import DryRun

    prepared = DryRun.objects.filter(pk=dry_run_id).first()
    if prepared is None:
        return {"skipped": "dry run deleted"}
    computed = engine.dry_run(
        prepared.configuration, rule_set=prepared.rule_set, user=prepared.created_by, job=ctx
    )
    # the engine saved a new row: move its result onto the prepared one, which pages link to
    DryRun.objects.filter(pk=prepared.pk).update(
        summary=computed.summary,
        added=computed.added,
        removed=computed.removed,
        configuration=computed.configuration,
        job=ctx.job,
    )
    computed.delete()
    return dict(computed.summary)


@job(queue="default", timeout=4 * 3600)
def apply_dry_run_job(ctx: JobContext, dry_run_id: int, user_id: int | None = None) -> dict:
    """Apply a dry run (``engine.apply_dry_run``) in the background: save its configuration
    into the rule set and write exactly the changes it showed. When the rule set or the data
    changed since, nothing is applied and the result says why (``{"refused": message}``)."""
    from django.contrib.auth import get_user_model
    from django.core.exceptions import ValidationError

    from ibcloud.matching import engine
    from ibcloud.matching.models import DryRun

    dry_run = DryRun.objects.filter(pk=dry_run_id).select_related("rule_set").first()
    if dry_run is None or dry_run.rule_set_id is None:
        return {"skipped": "dry run or rule set deleted"}
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    with rule_set_lock(dry_run.rule_set_id) as held:
        if not held:
            message = "another matching job is running on this rule set; apply again later"
            ctx.log(message)
            return {"refused": message}
        ctx.progress(5, "applying")
        try:
            report = engine.apply_dry_run(dry_run, user)
        except ValidationError as exc:
            message = " ".join(exc.messages)
            ctx.log(message)
            return {"refused": message}
    result = report.as_dict()
    ctx.log(
        "{added} added, {reopened} reopened, {withdrawn} withdrawn, {kept} kept".format(**result)
    )
    return result


def _watermark():
    from ibcloud.matching.engine_models import EngineState

    state, _created = EngineState.objects.get_or_create(name=WATERMARK)
    return state


@job(queue="default", timeout=3600)
def incremental_match_job(ctx: JobContext) -> dict:
    """Match the projects and investors changed since the watermark, under every active rule
    set; then move the watermark to the newest change seen."""
    from ibcloud.catalog.models import Investor, Project
    from ibcloud.matching import engine
    from ibcloud.matching.engine_models import EngineState

    state = _watermark()
    since = state.watermark
    projects = Project.objects.all()
    investors = Investor.objects.all()
    if since is not None:
        projects = projects.filter(updated_at__gt=since - OVERLAP)
        investors = investors.filter(updated_at__gt=since - OVERLAP)
    newest = engine.latest_change()
    project_ids = list(projects.values_list("id", flat=True))
    investor_ids = list(investors.values_list("id", flat=True))
    result: dict = {"projects": len(project_ids), "investors": len(investor_ids), "rule_sets": {}}
    skipped = False
    for rule_set in engine.active_rule_sets():
        with rule_set_lock(rule_set.pk) as held:
            if not held:
                skipped = True
                result["rule_sets"][str(rule_set.pk)] = {"skipped": "locked"}
                continue
            if since is None or len(project_ids) > FULL_RUN_ABOVE:
                report = engine.run_rule_set(rule_set, job=ctx)
            else:
                report = engine.match_investors(investor_ids, [rule_set])
                report.merge(engine.match_projects(project_ids, [rule_set]))
            result["rule_sets"][str(rule_set.pk)] = report.as_dict()
    if not skipped and newest is not None:
        EngineState.objects.filter(pk=state.pk).update(watermark=newest)
    ctx.log(f"{len(project_ids)} projects, {len(investor_ids)} investors changed")
    return result


def incremental_waiting() -> bool:
    """Whether an incremental job is queued or running already."""
    from ibcloud.core.models import Job

    active = (Job.Status.PENDING, Job.Status.RUNNING, Job.Status.RETRYING)
    return Job.objects.filter(name=incremental_match_job.job_name, status__in=active).exists()


def start_incremental() -> int | None:
    """Queue an incremental match unless one waits already; returns the job id or None."""
    if incremental_waiting():
        return None
    return incremental_match_job.enqueue().pk


@periodic_job(crontab(minute=f"*/{SAFETY_NET_MINUTES}"), record=False)
def incremental_safety_net(ctx: JobContext | None) -> dict:
    """Every few minutes: start an incremental match when the catalog changed after the
    watermark (a lost signal, a worker that died) and none waits."""
    from ibcloud.matching import engine

    newest = engine.latest_change()
    state = _watermark()
    if newest is None or (state.watermark is not None and newest <= state.watermark):
        return {"started": None}
    if not engine.active_rule_sets():
        return {"started": None}
    return {"started": start_incremental()}
