"""Signal receivers of the crawler, connected when ``CrawlerConfig.ready`` imports this module.

- A run's background job that ends failed or cancelled while the run is still pending or running
  (cancelled before it started, its worker stopped or was reaped) ends the run the same way; if
  the crawl process had ended the run itself, the health check its lost supervisor owed is run.
- A source whose schedule is set or changed, or which is enabled again, counts its cron slots from
  now: the slots before are not runs it missed.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.utils.translation import gettext as _

from ibcloud.core.jobs import job_finished
from ibcloud.crawler import services
from ibcloud.crawler.models import CrawlJob, CrawlSource
from ibcloud.crawler.tasks import kill_child, run_crawl_job


@receiver(job_finished, dispatch_uid="crawler.end_run_with_its_job")
def end_run_with_its_job(sender: Any, job: Any, **kwargs: Any) -> None:
    """End the run of a ``run_crawl_job`` background job that failed or was cancelled."""
    ended = (job.Status.FAILED, job.Status.CANCELLED)
    if job.name != run_crawl_job.job_name or job.status not in ended:
        return
    crawl_job = CrawlJob.objects.filter(job_id=job.pk).first()
    if crawl_job is None:
        return
    if crawl_job.is_finished:
        # The crawl process ended the run, but its supervisor was lost before the health check
        # (the worker was killed). The check is idempotent; only the latest run is judged.
        latest = (
            CrawlJob.objects.filter(source_id=crawl_job.source_id, status__in=CrawlJob.FINISHED)
            .order_by("-finished_at", "-pk")
            .values_list("pk", flat=True)
            .first()
        )
        if job.status == job.Status.FAILED and latest == crawl_job.pk:
            services.check_after_job(crawl_job)
        return
    kill_child(crawl_job.pk)  # a worker shutting down must not leave its crawl running
    if job.status == job.Status.CANCELLED:
        status = CrawlJob.Status.CANCELLED
        message = (
            _("Cancelled before it started.")
            if crawl_job.status == CrawlJob.Status.PENDING
            else _("Cancelled.")
        )
    else:
        status = CrawlJob.Status.FAILED
        message = _(
            "The worker running this crawl stopped (%(reason)s). Start the run again when "
            "workers are running."
        ) % {"reason": job.message or _("no reason given")}
    services.finish_crawl_job(crawl_job, status, message)


@receiver(pre_save, sender=CrawlSource, dispatch_uid="crawler.restart_schedule_count")
def restart_schedule_count(sender: Any, instance: CrawlSource, raw: bool = False, **kw) -> None:
    """Reset the slot count of a new, re-scheduled or re-enabled source (not for fixtures)."""
    if raw:
        return
    if instance.pk is None or instance._state.adding:
        if instance.schedule and instance.last_scheduled_at is None:
            services.schedule_changed(instance)
        return
    before = CrawlSource.objects.filter(pk=instance.pk).values("schedule", "enabled").first() or {}
    changed = before.get("schedule") != instance.schedule
    enabled_again = before.get("enabled") is False and instance.enabled
    if changed or enabled_again:
        services.schedule_changed(instance)
