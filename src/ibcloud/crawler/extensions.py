"""A run's live progress, its log, and the verdict at the end.

:class:`CrawlProgress` (a Scrapy extension) writes pages, items, errors, the current URL, the
statistics, the heartbeat and the log into the ``CrawlJob`` row every second (one UPDATE), and
closes the spider when someone cancels the run or the worker that started this process is gone.
:func:`run_statistics` turns Scrapy's counters into the row's ``stats``; :func:`conclude` decides
the final status and writes the message a user can act on (a pure function over those figures).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from typing import Any

from asgiref.sync import sync_to_async
from django.utils import timezone
from django.utils.translation import gettext as _
from scrapy import signals
from scrapy.exceptions import NotConfigured

logger = logging.getLogger(__name__)

PROGRESS_SECONDS = 1.0
#: the job's log keeps this many characters: the start and the most recent lines
LOG_HEAD_CHARS = 50_000
LOG_TAIL_CHARS = 150_000
MESSAGE_CHARS = 1000

#: close reasons of our own (Scrapy's are "finished", "closespider_timeout", "shutdown", ...)
CANCELLED = "cancelled"
WORKER_LOST = "worker_lost"


# --- The job's log --------------------------------------------------------------------------------


class JobLogHandler(logging.Handler):
    """Keeps the run's log lines (INFO and above): the first and the latest ~200 kB."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.head: list[str] = []
        self.head_size = 0
        self.tail: list[str] = []
        self.tail_size = 0
        self.dropped = 0
        self.version = 0
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)[:5000] + "\n"
        except Exception:  # noqa: BLE001 - a bad log call must not break the crawl
            return
        with self._lock:
            self.version += 1
            if self.head_size + len(line) <= LOG_HEAD_CHARS and not self.tail:
                self.head.append(line)
                self.head_size += len(line)
                return
            self.tail.append(line)
            self.tail_size += len(line)
            while self.tail_size > LOG_TAIL_CHARS and len(self.tail) > 1:
                self.tail_size -= len(self.tail.pop(0))
                self.dropped += 1

    def text(self) -> str:
        with self._lock:
            gap = f"[... {self.dropped} lines left out ...]\n" if self.dropped else ""
            return "".join(self.head) + gap + "".join(self.tail)


# --- Statistics -----------------------------------------------------------------------------------


def run_statistics(scrapy_stats: dict[str, Any], recorder) -> dict[str, Any]:
    """The ``CrawlJob.stats`` of a run: request figures, refusals, bans, hints (JSON-safe)."""
    prefix = "downloader/response_status_count/"
    responses = {
        key[len(prefix) :]: int(value)
        for key, value in scrapy_stats.items()
        if key.startswith(prefix)
    }
    http_errors = sum(count for code, count in responses.items() if int(code) >= 400)

    def count(key: str) -> int:
        return int(scrapy_stats.get(key) or 0)

    stats: dict[str, Any] = {
        "requests": count("downloader/request_count"),
        "responses": responses,
        "http_errors": http_errors,
        "network_errors": count("downloader/exception_count"),
        "retries": count("retry/count"),
        "bytes": count("downloader/response_bytes"),
        "pages": count("ibcloud/pages"),
        "robots_forbidden": count("robotstxt/forbidden"),
        "ssrf_refused": count("ibcloud/ssrf_refused"),
        "bans": count("ibcloud/bans"),
        "ban_retries": count("ibcloud/ban_retries"),
        "ban_gave_up": count("ibcloud/ban_gave_up"),
        "block_marker": count("ibcloud/block_marker"),
        "proxy_errors": count("ibcloud/proxy_errors"),
        "proxy_unavailable": count("ibcloud/proxy_unavailable"),
        "no_proxies": bool(scrapy_stats.get("ibcloud/no_proxies")),
        "page_limit_dropped": count("ibcloud/page_limit_dropped"),
        "browser_pages": count("playwright/page_count"),
        "browser_requests_aborted": count("playwright/request_count/aborted"),
        "login_pages": recorder.login_pages,
        "login_failed": recorder.login_failed,
        "js_pages": recorder.js_pages,
        "empty_list_pages": recorder.empty_list_pages,
        "empty_records": recorder.empty_records,
        "problems": dict(recorder.problems),
        "examples": {kind: list(urls) for kind, urls in recorder.examples.items()},
    }
    for key in ("ssrf_examples", "ban_examples"):
        if scrapy_stats.get(f"ibcloud/{key}"):
            stats[key] = list(scrapy_stats[f"ibcloud/{key}"])
    start = scrapy_stats.get("start_time")
    end = scrapy_stats.get("finish_time") or timezone.now()
    if start is not None:
        stats["elapsed_seconds"] = round((end - start).total_seconds(), 3)
    if scrapy_stats.get("finish_reason"):
        stats["finish_reason"] = scrapy_stats["finish_reason"]
    return stats


# --- The verdict ----------------------------------------------------------------------------------


def _first(examples: dict[str, list[str]], *kinds: str) -> str:
    for kind in kinds:
        if examples.get(kind):
            return examples[kind][0]
    return ""


def conclude(
    reason: str,
    *,
    pages: int,
    items: int,
    new_items: int,
    errors: int,
    stats: dict[str, Any],
    fetch_level: int = 0,
    time_limit: int = 0,
    max_pages: int = 0,
    block_marker: str = "",
    sample_url: str = "",
    page_format: str = "html",
) -> tuple[str, str]:
    """The final status and message of a run from its figures (pure: unit-tested).

    Status: ``cancelled`` or, when the worker vanished, ``failed``; otherwise ``failed`` without
    items, ``partial`` with items but errors, bans, refusals or a time limit, else ``succeeded``.
    The message leads with what was collected and then names each problem with what to do.
    """
    examples: dict[str, list[str]] = stats.get("examples") or {}
    problems: dict[str, int] = stats.get("problems") or {}
    requests = int(stats.get("requests") or 0)
    responses: dict[str, int] = stats.get("responses") or {}
    figures = {"pages": pages, "items": items, "new": new_items}

    if reason == CANCELLED:
        return "cancelled", _(
            "Cancelled after %(pages)s pages and %(items)s items (%(new)s new)."
        ) % figures
    if reason == WORKER_LOST:
        return "failed", _(
            "The worker process stopped while the job ran (after %(pages)s pages and %(items)s "
            "items); start the run again."
        ) % figures

    notes: list[str] = []
    serious = False  # something a run with items should be marked partial for

    ssrf = int(stats.get("ssrf_refused") or 0)
    if ssrf:
        serious = True
        example = (stats.get("ssrf_examples") or [""])[0] or _first(examples, "ssrf")
        notes.append(
            _(
                "%(count)s requests were refused by the SSRF guard (%(example)s): the address is "
                "internal or a cloud metadata address. If it is an intended intranet site, an "
                "administrator can add it to IBCLOUD_SSRF_ALLOWLIST."
            )
            % {"count": ssrf, "example": example}
        )
    if stats.get("login_failed"):
        serious = True
        notes.append(
            _(
                "The login did not succeed (%(example)s): check the login URL and the login form "
                "fields (user name, password)."
            )
            % {"example": _first(examples, "login", "network") or "-"}
        )
    login_pages = int(stats.get("login_pages") or 0)
    if login_pages:
        serious = True
        notes.append(
            _(
                "%(count)s list pages were a login form instead of the list: the site needs a "
                "login; use fetch level L3 with a login form or imported cookies."
            )
            % {"count": login_pages}
        )
    for status_code, advice_by_level in (
        (
            "429",
            (
                _("use fetch level L2 with proxies and a rate limit"),
                _("use fetch level L2 with proxies and a rate limit"),
                _("add proxies, lower the rate limit or raise the delay"),
            ),
        ),
        (
            "403",
            (
                _("use fetch level L1 (browser headers) or higher"),
                _("use fetch level L2 with proxies"),
                _("the proxies are blocked too: add fresh proxies"),
            ),
        ),
    ):
        # Answers retried successfully through another proxy were handled: not a problem.
        if not int(problems.get(f"http_{status_code}") or 0):
            continue
        serious = True
        answered = int(responses.get(status_code) or 0)
        advice = advice_by_level[min(fetch_level, 2)]
        if status_code == "429":
            text = _(
                "%(count)s of %(requests)s requests were answered 429 Too Many Requests: the site "
                "rate-limits this crawler; %(advice)s."
            )
        else:
            text = _(
                "%(count)s of %(requests)s requests were answered 403 Forbidden: the site "
                "refuses this crawler; %(advice)s."
            )
        notes.append(text % {"count": answered, "requests": requests, "advice": advice})
    gave_up = int(stats.get("ban_gave_up") or 0) + int(problems.get("banned") or 0)
    marker_hits = int(stats.get("block_marker") or 0)
    if marker_hits and gave_up:
        notes.append(
            _("%(count)s answers were block pages (marker “%(marker)s”).")
            % {"count": marker_hits, "marker": block_marker}
        )
    handled = int(stats.get("bans") or 0)
    if handled and not gave_up:
        notes.append(
            _(
                "%(count)s answers were bans (403, 429 or a block page); the proxies rested and "
                "the pages were fetched through other proxies."
            )
            % {"count": handled}
        )
    if gave_up:
        serious = True
        notes.append(
            _(
                "%(count)s pages were given up after every proxy tried was banned; add proxies, "
                "lower the rate limit or raise the delay."
            )
            % {"count": gave_up}
        )
    refused = problems.get("http_403") or problems.get("http_429")
    if stats.get("no_proxies") and fetch_level >= 2 and refused:
        notes.append(
            _("Fetch level L2 uses proxies, but none is enabled: add proxies to the pool.")
        )
    robots = int(stats.get("robots_forbidden") or 0)
    if robots:
        notes.append(
            _(
                "%(count)s pages were not fetched because robots.txt forbids them (e.g. "
                "%(example)s); turn off “respect robots.txt” only with the site's permission."
            )
            % {"count": robots, "example": _first(examples, "robots") or "-"}
        )
    js_pages = int(stats.get("js_pages") or 0)
    if js_pages and items == 0:
        notes.append(
            _(
                "%(count)s list pages had no items and build their content with JavaScript: turn "
                "on “render JavaScript” (fetch level L3) and set a selector to wait for."
            )
            % {"count": js_pages}
        )
    parse_errors = int(problems.get("parse") or 0)
    if parse_errors:
        serious = True
        notes.append(
            _("%(count)s pages could not be read as %(format)s (%(example)s).")
            % {"count": parse_errors, "format": page_format, "example": _first(examples, "parse")}
        )
    other_http = sum(
        count
        for kind, count in problems.items()
        if kind.startswith("http_") and kind not in ("http_403", "http_429")
    )
    if other_http:
        serious = True
        example = next(
            (
                urls[0]
                for kind, urls in examples.items()
                if kind.startswith("http_") and kind not in ("http_403", "http_429") and urls
            ),
            "",
        )
        notes.append(
            _("%(count)s pages failed with HTTP errors (e.g. %(example)s).")
            % {"count": other_http, "example": example}
        )
    network = int(problems.get("network") or 0)
    if network:
        serious = True
        notes.append(
            _(
                "%(count)s requests got no answer (e.g. %(example)s): check that the site is "
                "reachable."
            )
            % {"count": network, "example": _first(examples, "network")}
        )
    storage = int(problems.get("storage") or 0)
    if storage:
        serious = True
        notes.append(
            _("Storing raw items failed %(count)s times; see the log.") % {"count": storage}
        )
    if reason == "closespider_timeout":
        serious = True
        notes.append(
            _(
                "The time limit of %(seconds)s s was reached after %(pages)s pages; raise the "
                "time limit or lower the pages per run."
            )
            % {"seconds": time_limit, "pages": pages}
        )
    elif reason not in ("finished", "closespider_timeout"):
        serious = True
        notes.append(_("The crawl was stopped early (%(reason)s).") % {"reason": reason})
    if int(stats.get("page_limit_dropped") or 0):
        notes.append(
            _("Stopped at the limit of %(max)s pages; raise “max pages” to collect more.")
            % {"max": max_pages}
        )
    empty_records = int(stats.get("empty_records") or 0)
    if empty_records:
        notes.append(
            _("%(count)s pages or entries matched no field at all: the pages may have changed.")
            % {"count": empty_records}
        )
    if items == 0 and not notes:
        if pages:
            notes.append(
                _(
                    "%(pages)s pages were fetched but no item was found: check the selectors "
                    "against the sample page (%(url)s)."
                )
                % {"pages": pages, "url": sample_url or "-"}
            )
        else:
            notes.append(_("No page was fetched: check the start URLs."))

    if items == 0:
        status = "failed"
        headline = _("No item was collected (%(pages)s pages fetched).") % figures
    else:
        status = "partial" if (serious or errors) else "succeeded"
        headline = _("Collected %(items)s items (%(new)s new) from %(pages)s pages.") % figures
        if errors and not serious:
            notes.append(_("%(count)s requests failed; see the log.") % {"count": errors})
    message = headline
    for note in notes:
        if len(message) + 1 + len(note) > MESSAGE_CHARS:
            break
        message += " " + note
    return status, message


# --- The extension --------------------------------------------------------------------------------


def parent_alive(ppid: int) -> bool:
    """Whether the process ``ppid`` that started this one still runs."""
    if sys.platform != "win32":
        # A dead parent's children are adopted (by init or a subreaper): the parent id changes.
        return os.getppid() == ppid
    import ctypes

    synchronize, wait_timeout = 0x00100000, 0x00000102
    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(synchronize, False, ppid)
    if not handle:
        return False
    try:
        return kernel32.WaitForSingleObject(handle, 0) == wait_timeout
    finally:
        kernel32.CloseHandle(handle)


def write_progress(job_id: int, fields: dict[str, Any]) -> bool:
    """One UPDATE of the running job's progress; returns whether the run should stop (cancel)."""
    from ibcloud.crawler.models import CrawlJob

    CrawlJob.objects.filter(pk=job_id, status=CrawlJob.Status.RUNNING).update(**fields)
    row = CrawlJob.objects.filter(pk=job_id).values("status", "job__cancel_requested").first()
    return (
        row is None
        or row["status"] == CrawlJob.Status.CANCELLED
        or bool(row["job__cancel_requested"])
    )


def _close_connection() -> None:
    from django.db import connection

    connection.close()


class CrawlProgress:
    """Live progress in the ``CrawlJob`` row every second; stops on cancel or a lost worker."""

    def __init__(self, crawler, job_id: int, parent_pid: int) -> None:
        self.crawler = crawler
        self.job_id = job_id
        self.ppid = parent_pid
        self.close_reason = ""
        self.task: asyncio.Future | None = None
        self.log = JobLogHandler()
        self.log_version = -1
        self._write = sync_to_async(write_progress, thread_sensitive=True)
        logging.getLogger().addHandler(self.log)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.spider_error, signal=signals.spider_error)

    @classmethod
    def from_crawler(cls, crawler):
        job_id = crawler.settings.getint("IBCLOUD_CRAWL_JOB_ID")
        if not job_id:
            raise NotConfigured
        return cls(crawler, job_id, crawler.settings.getint("IBCLOUD_PARENT_PID") or os.getppid())

    def spider_opened(self, spider) -> None:
        self.task = asyncio.ensure_future(self._beat())

    def spider_error(self, failure, response, spider) -> None:
        spider.recorder.problem(
            "parse", f"{response.url} — {failure.type.__name__}: {failure.value}"
        )

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_SECONDS)
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - a missed beat must not end the crawl
                logger.warning("progress update of crawl job %s failed", self.job_id, exc_info=True)

    def snapshot(self) -> dict[str, Any]:
        """The row's progress fields as they are now."""
        recorder = self.crawler.spider.recorder
        fields: dict[str, Any] = {
            "pages": int(self.crawler.stats.get_value("ibcloud/pages") or 0),
            "items": recorder.items,
            "new_items": recorder.new_items,
            "errors": recorder.errors,
            "current_url": recorder.current_url[:2000],
            "stats": run_statistics(self.crawler.stats.get_stats(), recorder),
            "heartbeat_at": timezone.now(),
        }
        if self.log.version != self.log_version:
            self.log_version = self.log.version
            fields["log"] = self.log.text()
        return fields

    async def tick(self) -> None:
        if not parent_alive(self.ppid):
            logger.error("the worker process that started this crawl stopped; closing")
            self.close(WORKER_LOST)
            return
        if await self._write(self.job_id, self.snapshot()):
            logger.info("crawl job %s was cancelled; closing", self.job_id)
            self.close(CANCELLED)

    def close(self, reason: str) -> None:
        if self.close_reason:
            return
        self.close_reason = reason
        asyncio.ensure_future(self.crawler.engine.close_spider_async(reason=reason))

    async def spider_closed(self, spider, reason) -> None:
        if self.task is not None:
            self.task.cancel()
        # The ORM thread's connection is not needed any more (the runner writes the end).
        await sync_to_async(_close_connection, thread_sensitive=True)()
