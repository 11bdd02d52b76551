"""Signals the crawler sends so higher apps (the catalog) can react without being imported."""

from __future__ import annotations

from django.dispatch import Signal

#: A crawl run has ended (any final status) and its raw items are stored. kwargs: ``crawl_job``.
#: Sent after every finished run, possibly more than once for the same run (receivers must be
#: idempotent); the catalog starts an ingest of the new raw items.
crawl_job_finished = Signal()
