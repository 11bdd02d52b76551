"""Signal receivers of the catalog, connected when ``CatalogConfig.ready`` imports this module.

- A finished crawl run starts an ingest of the raw items it stored (unless one is already
  queued or running: that one takes them in).
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from ibcloud.crawler.signals import crawl_job_finished


@receiver(crawl_job_finished, dispatch_uid="catalog.ingest_after_crawl")
def ingest_after_crawl(sender: Any, crawl_job: Any, **kwargs: Any) -> None:
    """Queue the ingest of pending raw items once a crawl run has ended."""
    from ibcloud.catalog.tasks import ingest_pending_job, ingest_running
    from ibcloud.crawler.models import RawItem

    if ingest_running():
        return
    if not RawItem.objects.filter(processed_at__isnull=True).exists():
        return
    ingest_pending_job.enqueue()
