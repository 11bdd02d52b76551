"""Crawl lifecycle: start, cancel, preview, schedule and clean up runs of crawl sources.

A run is a :class:`~ibcloud.crawler.models.CrawlJob` executed by :func:`ibcloud.crawler.tasks.
run_crawl_job` on the ``crawl`` queue, which starts ``ibcloud crawl run <id>`` in a child process
and supervises it. The child sets the run's final status; when it cannot (it crashed, was killed,
or its worker vanished) the lifecycle code here does, and after every finished run it asks the
health monitor (:func:`ibcloud.crawler.alerts.check_after_job`) to raise or resolve alerts.

Scheduling is durable: each source remembers the latest cron slot it dealt with
(``last_scheduled_at``); the scheduler claims a slot with a compare-and-set update, so two
schedulers never both start it, and the ``(source, scheduled_for)`` unique constraint backs that
up. A slot found more than :data:`MISSED_GRACE` late was missed while no scheduler ran; the source's
``missed_run_policy`` then runs it once (the latest slot only) or skips it.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from croniter import croniter
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.core import jobs
from ibcloud.core.signals import record_sensitive_action
from ibcloud.crawler.models import CrawlJob, CrawlSource
from ibcloud.crawler.signals import crawl_job_finished

logger = logging.getLogger(__name__)

#: statuses of a run that has not ended; a source has at most one such run
ACTIVE = (CrawlJob.Status.PENDING, CrawlJob.Status.RUNNING)
#: a cron slot found later than this was missed (no scheduler ran at the time)
MISSED_GRACE = datetime.timedelta(minutes=2)
PREVIEW_KINDS = ("list", "detail")


# --- Starting and stopping runs -------------------------------------------------------------------


def start_crawl(
    source: CrawlSource,
    user: Any = None,
    trigger: str = CrawlJob.Trigger.MANUAL,
    scheduled_for: datetime.datetime | None = None,
    *,
    request: Any = None,
) -> CrawlJob:
    """Create a run of ``source`` and queue it on the ``crawl`` queue; returns the run.

    The run belongs to the source's owner and department (whoever sees the source sees its runs).
    A source runs once at a time: a second start while a run is pending or running raises
    ``ValidationError``. A disabled source may still be run by hand (the scheduler skips it).
    ``scheduled_for`` is the cron slot a scheduled run serves; a slot that already has a run
    raises ``IntegrityError``. Manual starts are audited (``request`` gives IP and user agent).
    """
    from ibcloud.crawler.tasks import run_crawl_job

    if trigger not in CrawlJob.Trigger.values:
        raise ValidationError(
            gettext_lazy("Unknown trigger %(trigger)s."), params={"trigger": trigger}
        )
    if source.pk is None:
        raise ValidationError(gettext_lazy("Save the source before running it."))
    user = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        # Lock the source row (PostgreSQL) so two simultaneous starts cannot both pass the check.
        list(CrawlSource.objects.select_for_update().filter(pk=source.pk).values_list("pk"))
        active = CrawlJob.objects.filter(source_id=source.pk, status__in=ACTIVE).first()
        if active is not None:
            raise ValidationError(
                gettext_lazy(
                    "%(source)s is already running (run #%(job)s, %(status)s). Wait for it to "
                    "finish or cancel it before starting another run."
                ),
                code="already_running",
                params={"source": source, "job": active.pk, "status": active.get_status_display()},
            )
        crawl_job = CrawlJob.objects.create(
            source=source,
            owner_id=source.owner_id,
            department_id=source.department_id,
            requested_by=user,
            trigger=trigger,
            scheduled_for=scheduled_for,
        )
        # The job is queued when this transaction commits, so the row below is linked first.
        crawl_job.job = run_crawl_job.enqueue(crawl_job.pk, user=user)
        crawl_job.save(update_fields=["job"])
    if trigger == CrawlJob.Trigger.MANUAL:
        record_sensitive_action(
            request,
            "crawl_start",
            target=source,
            actor=user,
            description=_("Started run #%(job)s of %(source)s")
            % {"job": crawl_job.pk, "source": source},
            crawl_job=crawl_job.pk,
        )
    crawl_job.refresh_from_db()  # jobs that run in-process (tests) have finished by now
    return crawl_job


def cancel_crawl(crawl_job: CrawlJob, user: Any = None, *, request: Any = None) -> None:
    """Stop a run: a pending one is cancelled at once, a running one within seconds.

    The crawl process watches the cancel flag and closes gracefully; its supervisor kills it if it
    has not stopped after a grace period. A finished run is left as it is. Audited.
    """
    crawl_job.refresh_from_db()
    if crawl_job.is_finished:
        return
    core_job = crawl_job.job
    if core_job is not None:
        jobs.request_cancel(core_job)  # a pending job finishes cancelled: receivers mark the run
    else:
        # A run without a background job (its row was purged) has nothing that would end it.
        finish_crawl_job(crawl_job, CrawlJob.Status.CANCELLED, _("Cancelled."))
    crawl_job.refresh_from_db()
    if crawl_job.status == CrawlJob.Status.PENDING and (core_job is None or core_job.is_finished):
        finish_crawl_job(crawl_job, CrawlJob.Status.CANCELLED, _("Cancelled before it started."))
    actor = user if getattr(user, "is_authenticated", False) else None
    record_sensitive_action(
        request,
        "crawl_cancel",
        target=crawl_job.source,
        actor=actor,
        description=_("Cancelled run #%(job)s of %(source)s")
        % {"job": crawl_job.pk, "source": crawl_job.source},
        crawl_job=crawl_job.pk,
    )


def finish_crawl_job(crawl_job: CrawlJob, status: str, message: str, log: str = "") -> bool:
    """End a run that is still pending or running with ``status`` and ``message``.

    For runs whose crawl process could not end them itself (crash, kill, lost worker). The update
    is conditional, so of several parties noticing the same end only one writes it; that one
    appends ``log`` to the run's log and asks the health monitor to check the source. Returns
    whether this call ended the run.
    """
    now = timezone.now()
    changes: dict[str, Any] = {
        "status": status,
        "message": str(message)[:1000],
        "finished_at": now,
        "current_url": "",
    }
    if log:
        changes["log"] = Concat(Coalesce(F("log"), Value("")), Value(log))
    updated = CrawlJob.objects.filter(pk=crawl_job.pk, status__in=ACTIVE).update(**changes)
    crawl_job.refresh_from_db()
    if not updated:
        return False
    if crawl_job.started_at is None:
        CrawlJob.objects.filter(pk=crawl_job.pk, started_at__isnull=True).update(started_at=now)
        crawl_job.started_at = now
    logger.info("crawl job %s ended %s: %s", crawl_job.pk, status, message)
    check_after_job(crawl_job)
    return True


def check_after_job(crawl_job: CrawlJob) -> None:
    """Let the health monitor raise, group or resolve alerts after a finished run.

    A failure here is logged, never raised: the run has ended either way. Then
    ``crawl_job_finished`` is sent (every path that ends a run comes through here), so the
    catalog takes in the new raw items.
    """
    try:
        from ibcloud.crawler import alerts

        alerts.check_after_job(crawl_job)
    except Exception:  # noqa: BLE001 - alerting must not undo the end of a run
        logger.exception("health check after crawl job %s failed", crawl_job.pk)
    try:
        crawl_job_finished.send(sender=CrawlJob, crawl_job=crawl_job)
    except Exception:  # noqa: BLE001 - a receiver's failure must not undo the end of a run
        logger.exception("receivers of crawl_job_finished failed for crawl job %s", crawl_job.pk)


# --- Preview -------------------------------------------------------------------------------------


def preview_source(
    source: CrawlSource, url: str, kind: str = "list", proxies: list | None = None
) -> dict:
    """Fetch one ``url`` with the (possibly unsaved) source's configuration and extract from it.

    ``kind`` is "list" (a list page: items or detail links, next page) or "detail" (one detail
    page). ``proxies`` replaces the source's proxies ([{"id", "url", "username", "password"}]),
    for an unsaved source. Returns the preview result of :func:`ibcloud.crawler.runner.preview`;
    fetch problems are reported in its ``error``, not raised.
    """
    if kind not in PREVIEW_KINDS:
        raise ValidationError(
            {"kind": [gettext_lazy("Preview kind must be “list” or “detail”.")]}, code="invalid"
        )
    url = (url or "").strip()
    if not url.lower().startswith(("http://", "https://")):
        raise ValidationError(
            {"url": [gettext_lazy("Enter an http:// or https:// URL to preview.")]},
            code="invalid",
        )
    from ibcloud.crawler import runner
    from ibcloud.crawler.config import source_config

    config = source_config(source, proxies=proxies)
    return runner.preview(config, url, kind)


# --- Schedule ------------------------------------------------------------------------------------


def _local(now: datetime.datetime | None) -> datetime.datetime:
    # Cron expressions are read in local time (TIME_ZONE), like the periodic jobs of the queues.
    return timezone.localtime(now or timezone.now())


def latest_slot(schedule: str, now: datetime.datetime | None = None) -> datetime.datetime:
    """The latest cron slot of ``schedule`` at or before ``now`` (raises ValueError if invalid)."""
    # croniter's get_prev is strictly before its start; a slot at exactly ``now`` is due too.
    start = _local(now) + datetime.timedelta(microseconds=1)
    return croniter(schedule, start).get_prev(datetime.datetime)


def next_run_at(source: CrawlSource, now: datetime.datetime | None = None):
    """When the scheduler will next start ``source``; None without a schedule or when disabled."""
    if not source.enabled or not source.schedule:
        return None
    try:
        return croniter(source.schedule, _local(now)).get_next(datetime.datetime)
    except (ValueError, KeyError):
        return None


def schedule_due_sources(now: datetime.datetime | None = None) -> list[CrawlJob]:
    """Start the runs that are due; returns the runs started. Called every minute.

    Per enabled source with a schedule: the latest slot at or before ``now`` is due if it is newer
    than the last slot dealt with. It is claimed with a compare-and-set update first (several
    schedulers may run); a slot more than :data:`MISSED_GRACE` old was missed and follows the
    source's policy: run once (one run for the latest missed slot, however many were missed) or
    skip. A source seen for the first time starts counting from now: no backfill.
    """
    now = now or timezone.now()
    started: list[CrawlJob] = []
    sources = CrawlSource.objects.filter(enabled=True).exclude(schedule="")
    for source in sources.only("id", "name", "schedule", "missed_run_policy", "last_scheduled_at"):
        try:
            slot = latest_slot(source.schedule, now)
        except (ValueError, KeyError) as exc:
            logger.warning("source %s has an invalid schedule %r: %s", source, source.schedule, exc)
            continue
        previous = source.last_scheduled_at
        if previous is not None and slot <= previous:
            continue
        claim = CrawlSource.objects.filter(pk=source.pk)
        if previous is None:
            claim = claim.filter(last_scheduled_at__isnull=True)
        else:
            claim = claim.filter(last_scheduled_at=previous)
        if not claim.update(last_scheduled_at=slot):
            continue  # another scheduler claimed it
        if previous is None:
            logger.info("source %s: schedule %r first seen", source, source.schedule)
            continue
        missed = now - slot > MISSED_GRACE
        if missed and source.missed_run_policy == CrawlSource.MissedRunPolicy.SKIP:
            logger.warning(
                "source %s: skipped the run due at %s, missed while no scheduler ran "
                "(missed-run policy: skip)",
                source,
                slot.isoformat(),
            )
            continue
        if missed:
            logger.warning(
                "source %s: the run due at %s was missed; running it once now "
                "(missed-run policy: run once)",
                source,
                slot.isoformat(),
            )
        crawl_job = _start_scheduled(source, slot)
        if crawl_job is not None:
            started.append(crawl_job)
    return started


def _start_scheduled(source: CrawlSource, slot: datetime.datetime) -> CrawlJob | None:
    source = CrawlSource.objects.get(pk=source.pk)
    try:
        return start_crawl(source, trigger=CrawlJob.Trigger.SCHEDULE, scheduled_for=slot)
    except ValidationError as exc:
        logger.warning("source %s: run due at %s not started: %s", source, slot, exc.messages[0])
    except IntegrityError:
        logger.info("source %s: the run due at %s exists already", source, slot)
    return None


def schedule_changed(source: CrawlSource, now: datetime.datetime | None = None) -> None:
    """Restart the slot count of a source whose schedule was set, changed or re-enabled.

    Slots before now are not the new schedule's missed runs (nor those of the disabled time).
    Sets the field on the instance; the caller saves it.
    """
    source.last_scheduled_at = (now or timezone.now()) if source.schedule else None


# --- Clean-up ------------------------------------------------------------------------------------


def reap_stale_crawl_jobs(now: datetime.datetime | None = None) -> int:
    """Mark running runs whose heartbeat stopped as failed; returns how many.

    The crawl process beats every second and its supervisor every few; a run silent for
    ``core.jobs.STALE_AFTER_SECONDS`` lost its worker (the machine stopped, the process was
    killed with its children).
    """
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=jobs.STALE_AFTER_SECONDS)
    stale = CrawlJob.objects.annotate(
        last_sign=Coalesce("heartbeat_at", "started_at", "created_at")
    ).filter(status=CrawlJob.Status.RUNNING, last_sign__lt=cutoff)
    count = 0
    for crawl_job in stale:
        silent = int((now - crawl_job.last_sign).total_seconds())
        message = _(
            "The worker stopped sending heartbeats (nothing for %(seconds)s s): it was stopped "
            "or lost during the run. Start the run again when workers are running."
        ) % {"seconds": silent}
        if finish_crawl_job(crawl_job, CrawlJob.Status.FAILED, message):
            count += 1
    return count


def raw_item_refusal(source: CrawlSource) -> str | None:
    """Why ``source`` cannot be deleted (it has raw items), or None."""
    count = source.raw_items.count()
    if count:
        return _(
            "%(source)s has %(n)d raw item(s), which the catalog may still use; it cannot be "
            "deleted. Disable it instead to stop crawling."
        ) % {"source": source, "n": count}
    return None
