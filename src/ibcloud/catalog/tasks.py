"""Background jobs of the catalog's ingest: take in raw items after crawls, and as a safety net.

- :func:`ingest_pending_job` takes in every raw item not processed yet, with progress (started
  when a crawl ends, by :mod:`ibcloud.catalog.receivers`, or by the safety net);
- :func:`ingest_safety_net` runs every few minutes and starts that job when raw items wait and
  no ingest is running (a crawl whose signal was lost, a worker that died mid-run).

Runs must not overlap (dedup sees one run's new records, not another's): a job that finds another
ingest running steps aside; the running one picks up the new items before it ends.
"""

from __future__ import annotations

from django.utils import timezone
from huey import crontab

from ibcloud.core.jobs import JobContext, job, periodic_job

#: minutes between two safety-net checks
SAFETY_NET_MINUTES = 5
#: projects the catalog needs before its first topic clustering runs on its own
FIRST_CLUSTERING_MIN_PROJECTS = 50


def ingest_running(exclude: int | None = None) -> bool:
    """Whether an ingest job is running or waiting to run (other than the row ``exclude``)."""
    from ibcloud.core.models import Job

    active = (Job.Status.PENDING, Job.Status.RUNNING, Job.Status.RETRYING)
    rows = Job.objects.filter(name=ingest_pending_job.job_name, status__in=active)
    if exclude is not None:
        rows = rows.exclude(pk=exclude)
    return rows.exists()


@job(queue="default", timeout=6 * 3600)
def ingest_pending_job(ctx: JobContext, limit: int | None = None) -> dict:
    """Take in the raw items not processed yet; then refresh investors' revealed preferences."""
    from ibcloud.catalog import services
    from ibcloud.core.models import Job

    running = Job.objects.filter(
        name=ingest_pending_job.job_name, status=Job.Status.RUNNING
    ).exclude(pk=ctx.job.pk)
    if running.filter(started_at__lt=ctx.job.started_at or timezone.now()).exists():
        ctx.log("another ingest is running; it takes in these raw items too")
        return {"skipped": True}
    report = services.ingest_pending(limit=limit, job=ctx)
    result = report.as_dict()
    if report.processed:
        result["revealed_preferences_changed"] = services.refresh_revealed_preferences()
        result["first_clustering"] = start_first_clustering()
    ctx.log(
        "processed {processed}: {created} created, {merged} merged, {duplicate} duplicates, "
        "{quarantined} quarantined".format(**result)
    )
    if report.created or report.merged:
        from ibcloud.catalog.signals import send_catalog_changed

        send_catalog_changed("ingest")
    return result


def start_first_clustering() -> int | None:
    """Queue a topic clustering when the catalog has never been clustered and now has enough
    projects, so a new installation sees its themes without waiting for the weekly run.
    Returns the queued job's id, or None."""
    from ibcloud.catalog.dashboard_tasks import run_clustering_now
    from ibcloud.catalog.models import ClusterRun, Project
    from ibcloud.core.models import Job

    if ClusterRun.objects.exists() or Project.objects.count() < FIRST_CLUSTERING_MIN_PROJECTS:
        return None
    if Job.objects.filter(name=run_clustering_now.job_name).exists():
        return None  # queued or tried already: the weekly run or a person takes it from here
    return run_clustering_now.enqueue().pk


@periodic_job(crontab(minute=f"*/{SAFETY_NET_MINUTES}"), record=False)
def ingest_safety_net(ctx: JobContext | None) -> dict:
    """Every few minutes: start an ingest when raw items wait and none is running."""
    from ibcloud.crawler.models import RawItem

    if ingest_running() or not RawItem.objects.filter(processed_at__isnull=True).exists():
        return {"started": None}
    return {"started": ingest_pending_job.enqueue().pk}
