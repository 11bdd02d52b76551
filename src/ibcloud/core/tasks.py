"""Periodic housekeeping of the job system itself."""

from huey import crontab

from ibcloud.core.jobs import JobContext, periodic_job, reap_stale_jobs


@periodic_job(crontab(minute="*"), record=False)
def reap_stale(ctx: JobContext | None) -> dict:
    """Fail running jobs whose worker stopped sending heartbeats."""
    return {"reaped": reap_stale_jobs()}
