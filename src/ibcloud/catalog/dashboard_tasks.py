"""Background jobs of the dashboard: topic clustering, weekly and on demand."""

from __future__ import annotations

from huey import crontab

from ibcloud.core.jobs import JobContext, job, periodic_job


def _cluster(ctx: JobContext | None, k: int | None = None) -> dict:
    from ibcloud.catalog.clustering import run_clustering

    run = run_clustering(k=k, progress=ctx.progress if ctx else None)
    return {
        "cluster_run": run.pk,
        "projects": run.project_count,
        "clusters": run.cluster_count,
    }


@job(queue="default", timeout=3600)
def run_clustering_now(ctx: JobContext, k: int | None = None) -> dict:
    """Cluster the projects now (the dashboard's "run clustering now" button)."""
    return _cluster(ctx, k)


@periodic_job(crontab(day_of_week="1", hour="3", minute="30"))
def weekly_clustering(ctx: JobContext) -> dict:
    """Every Monday at 03:30 (local time): cluster the projects for the dashboard."""
    return _cluster(ctx)
