"""Storage of extracted records as ``RawItem`` rows, in batches, without duplicates.

Items are collected in memory and written when :data:`BATCH_SIZE` have gathered or
:data:`BATCH_SECONDS` have passed, one ``bulk_create`` per batch in the ORM's thread
(``sync_to_async(thread_sensitive=True)``: the crawl's event loop never blocks on the database and
never touches it from its own thread). A record is identified by its source and content hash
(unique constraint): an unchanged record is never stored twice, across runs and retries alike.
The number of new records is exact: the batch's hashes that exist already are looked up first
(one run of a source at a time, so nothing else inserts between the look-up and the insert), and
``ignore_conflicts`` keeps even a surprise from failing the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from asgiref.sync import sync_to_async

logger = logging.getLogger(__name__)

BATCH_SIZE = 100
BATCH_SECONDS = 1.0


def write_batch(source_id: int, job_id: int | None, item_type: str, batch: list[dict]) -> int:
    """Insert the batch's records that the source does not have yet; returns how many."""
    from ibcloud.crawler.models import RawItem

    unique: dict[str, dict] = {}
    for item in batch:
        unique.setdefault(item["content_hash"], item)  # the same record twice in one batch
    existing = set(
        RawItem.objects.filter(source_id=source_id, content_hash__in=list(unique)).values_list(
            "content_hash", flat=True
        )
    )
    rows = [
        RawItem(
            source_id=source_id,
            job_id=job_id,
            item_type=item_type,
            url=item["url"][:2000],
            fetched_at=item["fetched_at"],
            content_hash=content_hash,
            data=item["data"],
            problems=item["problems"],
        )
        for content_hash, item in unique.items()
        if content_hash not in existing
    ]
    if rows:
        RawItem.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


class StoragePipeline:
    """Writes the spider's records as ``RawItem`` rows in batches (crawl runs only)."""

    def __init__(self, crawler, source_id: int, job_id: int | None, item_type: str) -> None:
        self.crawler = crawler
        self.source_id = source_id
        self.job_id = job_id
        self.item_type = item_type
        self.batch: list[dict[str, Any]] = []
        self.first_at = 0.0
        self.writing: asyncio.Future | None = None
        self.ticker: asyncio.Future | None = None
        self._write = sync_to_async(write_batch, thread_sensitive=True)

    @classmethod
    def from_crawler(cls, crawler):
        from scrapy.exceptions import NotConfigured

        settings = crawler.settings
        source_id = settings.getint("IBCLOUD_SOURCE_ID")
        if not source_id:
            raise NotConfigured  # previews and benchmarks of plain Scrapy store nothing
        job_id = settings.getint("IBCLOUD_CRAWL_JOB_ID") or None
        return cls(crawler, source_id, job_id, settings.get("IBCLOUD_ITEM_TYPE") or "project")

    async def open_spider(self) -> None:
        self.ticker = asyncio.ensure_future(self._tick())

    async def _tick(self) -> None:
        # Records found by a slow crawl reach the database within about a second.
        while True:
            await asyncio.sleep(BATCH_SECONDS / 2)
            if self.due():
                self.flush_soon()

    def process_item(self, item):
        if not self.batch:
            self.first_at = time.monotonic()
        self.batch.append(item)
        if len(self.batch) >= BATCH_SIZE:
            self.flush_soon()
        return item

    def due(self) -> bool:
        """Whether the gathered records have waited long enough to be written."""
        return bool(self.batch) and time.monotonic() - self.first_at >= BATCH_SECONDS

    def flush_soon(self) -> None:
        """Start writing the gathered records unless a write is under way (it takes them next)."""
        if self.writing is None or self.writing.done():
            self.writing = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        while self.batch:
            batch, self.batch = self.batch, []
            try:
                created = await self._write(self.source_id, self.job_id, self.item_type, batch)
            except Exception:
                # Put the records back: the final flush tries again, the run's errors show it.
                self.batch = batch + self.batch
                self.crawler.spider.recorder.problem("storage", "writing raw items failed")
                logger.exception("writing %d raw items failed", len(batch))
                raise
            self.crawler.spider.recorder.new_items += created

    async def close_spider(self) -> None:
        self.ticker.cancel()
        if self.writing is not None:
            with contextlib.suppress(Exception):  # logged in _flush; the last flush tries again
                await self.writing
        if self.batch:
            self.writing = None
            await self._flush()
