"""Jobs of the job system itself: housekeeping and a ping that proves a worker runs."""

import datetime
import time

from django.utils import timezone
from huey import crontab

from ibcloud.core.jobs import JobContext, job, periodic_job, reap_stale_jobs
from ibcloud.core.parameters import JOBS_RETENTION_DAYS


@periodic_job(crontab(minute="*"), record=False)
def reap_stale(ctx: JobContext | None) -> dict:
    """Fail running jobs whose worker stopped sending heartbeats."""
    return {"reaped": reap_stale_jobs()}


def purge_finished_jobs(now: datetime.datetime | None = None) -> int:
    """Delete finished jobs older than the "jobs.retention_days" parameter; returns how many."""
    from ibcloud.core.models import Job

    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=JOBS_RETENTION_DAYS.get())
    old = Job.objects.filter(status__in=Job.FINISHED, finished_at__lt=cutoff)
    deleted, _ = old.delete()
    return deleted


@periodic_job(crontab(hour="3", minute="17"))
def purge_jobs(ctx: JobContext) -> dict:
    """Daily: forget finished jobs past their retention."""
    deleted = purge_finished_jobs()
    ctx.log(f"deleted {deleted} finished job(s)")
    return {"deleted": deleted}


def _pong(ctx: JobContext, seconds: float) -> dict:
    seconds = max(0.0, min(float(seconds), 60.0))
    ctx.progress(10, "ping received")
    if seconds:
        time.sleep(seconds)
    ctx.log("pong")
    return {"pong": True, "worker": ctx.job.worker}


@job(queue="default")
def ping(ctx: JobContext, seconds: float = 0) -> dict:
    """Answer from a worker of the default queue (after ``seconds``): proves workers run."""
    return _pong(ctx, seconds)


@job(queue="crawl")
def ping_crawl(ctx: JobContext, seconds: float = 0) -> dict:
    """The same check for the crawl queue."""
    return _pong(ctx, seconds)
