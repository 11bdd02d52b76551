"""Running crawls and previews, each in a process of its own.

Twisted's reactor cannot be restarted, so every crawl (and every preview) runs in a fresh
process: ``ibcloud crawl run <crawl job id>`` and ``ibcloud crawl preview``. :func:`spawn_crawl`
and :func:`preview` start those processes; :func:`run_crawl_job` and :func:`run_preview` are what
the processes execute (Scrapy on the asyncio reactor, configured per source by
:func:`crawl_settings`).
"""

from __future__ import annotations

import datetime
import gc
import json
import logging
import os
import subprocess
import sys
import time
from typing import Any

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

#: Chromium for rendering: $IBCLOUD_CHROMIUM, else the system's, else Playwright's own
SYSTEM_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PREVIEW_TIMEOUT = 90
#: a preview's crawl closes itself a little before the caller's timeout
PREVIEW_CRAWL_SECONDS = 60
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 2
#: 403 and 429 are not retried blindly: they mean "not you" or "slow down" (L2 handles them)
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]


def chromium_path() -> str | None:
    """The Chromium executable to launch; None lets Playwright use its own download."""
    configured = os.environ.get("IBCLOUD_CHROMIUM", "").strip()
    if configured:
        return configured
    return SYSTEM_CHROMIUM if os.path.exists(SYSTEM_CHROMIUM) else None


def crawl_settings(
    config: dict[str, Any],
    *,
    crawl_job_id: int | None = None,
    preview: bool = False,
    parent_pid: int | None = None,
) -> dict[str, Any]:
    """Scrapy settings for one run of the source described by ``config``."""
    from ibcloud.crawler.middlewares import BOT_NAME, BOT_USER_AGENT

    level = int(config.get("fetch_level") or 0)
    concurrency = max(int(config.get("concurrency") or 1), 1)
    time_limit = int(config.get("time_limit") or 0)
    if preview:
        time_limit = min(time_limit or PREVIEW_CRAWL_SECONDS, PREVIEW_CRAWL_SECONDS)
    settings: dict[str, Any] = {
        "BOT_NAME": "ibcloud",
        "LOG_LEVEL": "INFO",
        "LOG_INSTALL_ROOT_HANDLER": False,  # Django's logging configuration is in place
        "LOGSTATS_INTERVAL": 60.0,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,  # Scrapy 2.19 would serve code execution over HTTP
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "TWISTED_DNS_RESOLVER": "ibcloud.crawler.middlewares.GuardedResolver",
        "USER_AGENT": BOT_USER_AGENT,
        "ROBOTSTXT_OBEY": bool(config.get("obey_robots", True)),
        "ROBOTSTXT_USER_AGENT": BOT_NAME,  # robots.txt rules for us, whatever face L1 shows
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": float(config.get("delay") or 0),
        "DOWNLOAD_TIMEOUT": DOWNLOAD_TIMEOUT,
        "DOWNLOAD_MAXSIZE": 20 * 1024 * 1024,
        "REDIRECT_MAX_TIMES": 10,
        "CLOSESPIDER_TIMEOUT": time_limit,
        "RETRY_TIMES": RETRY_TIMES,
        "RETRY_HTTP_CODES": RETRY_HTTP_CODES,
        "COOKIES_ENABLED": True,
        "MEMUSAGE_ENABLED": False,
        # A development aid that re-reads a callback's source for every response (its cache is
        # keyed on short-lived bound methods): a third of the crawl's CPU on large callbacks.
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        # Scrapy 2.19 starts this many asyncio tasks for every response's output; a page yields
        # at most a list page's links, and 100 tasks per page cost a third of the crawl's CPU.
        "CONCURRENT_ITEMS": 16,
        "HTTPERROR_ALLOW_ALL": preview,  # a preview shows what the site answered, errors too
        "DOWNLOADER_MIDDLEWARES": {
            "ibcloud.crawler.middlewares.SSRFGuardMiddleware": 50,
            "ibcloud.crawler.middlewares.PageBudgetMiddleware": 110,
            "ibcloud.crawler.middlewares.BrowserHeadersMiddleware": 390,
            "ibcloud.crawler.middlewares.ProxyPoolMiddleware": 740,
            "ibcloud.crawler.middlewares.RateLimitMiddleware": 960,
        },
        "EXTENSIONS": {"ibcloud.crawler.extensions.CrawlProgress": 500},
        "ITEM_PIPELINES": {} if preview else {"ibcloud.crawler.pipelines.StoragePipeline": 300},
        "IBCLOUD_FETCH_LEVEL": level,
        "IBCLOUD_MAX_PAGES": 0 if preview else int(config.get("max_pages") or 0),
        "IBCLOUD_PROXIES": list(config.get("proxies") or []) if level >= 2 else [],
        "IBCLOUD_BLOCK_MARKER": config.get("block_marker") or "",
        "IBCLOUD_RATE_LIMIT": int(config.get("rate_limit") or 0),
        "IBCLOUD_SOURCE_ID": 0 if preview else int(config.get("source_id") or 0),
        "IBCLOUD_CRAWL_JOB_ID": 0 if preview else int(crawl_job_id or 0),
        "IBCLOUD_ITEM_TYPE": config.get("item_type") or "project",
        "IBCLOUD_PARENT_PID": parent_pid or 0,
    }
    if level >= 3 and config.get("render_js"):
        from ibcloud.crawler import browser

        # Every request of the browser goes through the SSRF guard proxy (redirects included).
        guard = browser.prepare_guard(settings["IBCLOUD_PROXIES"])
        handler = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
        launch: dict[str, Any] = {
            "headless": True,
            "args": CHROMIUM_ARGS,
            "proxy": {"server": guard.url},
        }
        if chromium_path():
            launch["executable_path"] = chromium_path()
        settings["EXTENSIONS"]["ibcloud.crawler.browser.BrowserGuard"] = 100
        settings.update(
            {
                "IBCLOUD_BROWSER_PROXY": guard.url,
                "DOWNLOAD_HANDLERS": {"http": handler, "https": handler},
                "PLAYWRIGHT_BROWSER_TYPE": "chromium",
                "PLAYWRIGHT_LAUNCH_OPTIONS": launch,
                "PLAYWRIGHT_ABORT_REQUEST": "ibcloud.crawler.browser.abort_browser_request",
                "PLAYWRIGHT_PROCESS_REQUEST_HEADERS": (
                    "ibcloud.crawler.browser.browser_request_headers"
                ),
                "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": concurrency,
                "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": DOWNLOAD_TIMEOUT * 1000,
            }
        )
    return settings


def _offline_public_suffixes() -> None:
    """Scrapy's cookie middleware asks tldextract for public suffixes, which by default fetches
    the list from the internet; bank intranets have none, so use the bundled snapshot."""
    from scrapy.downloadermiddlewares import cookies
    from tldextract import TLDExtract

    cookies._split_domain = TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)


def _crawl(spider_kwargs: dict[str, Any], settings: dict[str, Any]):
    """Run one SourceSpider to the end in this process; returns its crawler."""
    from scrapy.crawler import AsyncCrawlerProcess

    from ibcloud.crawler.spiders.source import SourceSpider

    _offline_public_suffixes()
    process = AsyncCrawlerProcess(settings)
    logging.getLogger("scrapy").setLevel(logging.INFO)
    logging.getLogger("scrapy-playwright").setLevel(logging.INFO)
    crawler = process.create_crawler(SourceSpider)
    process.crawl(crawler, **spider_kwargs)
    # Django and its apps leave ~150,000 long-lived objects that every full garbage collection
    # would scan again (~80 ms each, many times a crawl); they live as long as the process.
    gc.collect()
    gc.freeze()
    process.start()
    return crawler


def _progress_extension(crawler):
    from ibcloud.crawler.extensions import CrawlProgress

    for extension in crawler.extensions.middlewares:
        if isinstance(extension, CrawlProgress):
            return extension
    return None


# --- A crawl run ----------------------------------------------------------------------------------


def _resting_proxies(config: dict[str, Any]) -> None:
    """Proxies still resting after an earlier run's bans start this run resting."""
    from ibcloud.crawler.models import Proxy

    ids = [entry["id"] for entry in config.get("proxies") or [] if entry.get("id")]
    now = timezone.now()
    resting = dict(
        Proxy.objects.filter(pk__in=ids, banned_until__gt=now).values_list("pk", "banned_until")
    )
    for entry in config.get("proxies") or []:
        if entry.get("id") in resting:
            entry["resting_until"] = resting[entry["id"]].timestamp()


def _save_proxies(summary: list[dict[str, Any]]) -> None:
    from ibcloud.crawler.models import Proxy

    now = time.time()
    for entry in summary:
        if not entry.get("id"):
            continue
        changes: dict[str, Any] = {
            "successes": F("successes") + entry["successes"],
            "failures": F("failures") + entry["failures"],
        }
        if entry.get("last_used"):
            changes["last_used_at"] = _aware(entry["last_used"])
        if entry.get("resting_until", 0) > now:
            changes["banned_until"] = _aware(entry["resting_until"])
        Proxy.objects.filter(pk=entry["id"]).update(**changes)


def _aware(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)


def _finish(crawl_job, fields: dict[str, Any], status: str, message: str) -> bool:
    """Write the run's figures, and its end unless something else ended it already."""
    from ibcloud.crawler.models import CrawlJob

    CrawlJob.objects.filter(pk=crawl_job.pk).update(**fields)
    ended = CrawlJob.objects.filter(
        pk=crawl_job.pk, status__in=(CrawlJob.Status.PENDING, CrawlJob.Status.RUNNING)
    ).update(status=status, message=message[:1000], finished_at=timezone.now(), current_url="")
    return bool(ended)


def run_crawl_job(crawl_job_id: int, parent_pid: int | None = None) -> str:
    """Run one ``CrawlJob`` here and now (``ibcloud crawl run``); returns its final status.

    Marks the run running, crawls with the source's settings while the progress extension keeps
    the row current, then writes the figures, the final status and message, the proxies' counters
    and (L3) the session's cookies. Raises when the crawl itself crashed, after marking it failed.
    ``parent_pid`` is the worker that started this process: when it is gone, the run stops.
    """
    from ibcloud.crawler import extraction
    from ibcloud.crawler.config import source_config
    from ibcloud.crawler.extensions import conclude, run_statistics
    from ibcloud.crawler.models import CrawlJob, CrawlSource

    crawl_job = CrawlJob.objects.select_related("source", "job").get(pk=crawl_job_id)
    if crawl_job.is_finished:
        logger.info("crawl job %s has ended already (%s)", crawl_job.pk, crawl_job.status)
        return crawl_job.status
    if crawl_job.job is not None and crawl_job.job.cancel_requested:
        _finish(crawl_job, {}, CrawlJob.Status.CANCELLED, _("Cancelled before it started."))
        return CrawlJob.Status.CANCELLED
    from ibcloud.crawler.extensions import WORKER_LOST, parent_alive

    if parent_pid and not parent_alive(parent_pid):
        _finish(
            crawl_job,
            {},
            CrawlJob.Status.FAILED,
            _("The worker process stopped before the run began; start the run again."),
        )
        return CrawlJob.Status.FAILED
    source = crawl_job.source
    now = timezone.now()
    CrawlJob.objects.filter(pk=crawl_job.pk).update(
        status=CrawlJob.Status.RUNNING,
        started_at=crawl_job.started_at or now,
        heartbeat_at=now,
        message="",
    )
    try:
        config = source_config(source)
        extraction.parse_rules(config.get("fields") or [])
    except (ValueError, Exception) as exc:  # noqa: BLE001 - any bad configuration ends the run
        message = _("The source's configuration cannot run: %(error)s") % {"error": exc}
        _finish(crawl_job, {}, CrawlJob.Status.FAILED, message)
        return CrawlJob.Status.FAILED
    _resting_proxies(config)
    logger.info(
        "crawl job %s: source %s (fetch level L%s)", crawl_job.pk, source, config.get("fetch_level")
    )
    try:
        settings = crawl_settings(config, crawl_job_id=crawl_job.pk, parent_pid=parent_pid)
        crawler = _crawl({"config": config}, settings)
    except Exception as exc:
        logger.exception("crawl job %s crashed", crawl_job.pk)
        message = _("The crawl crashed: %(error)s") % {"error": exc}
        _finish(crawl_job, {"heartbeat_at": timezone.now()}, CrawlJob.Status.FAILED, message)
        raise
    spider = crawler.spider
    extension = _progress_extension(crawler)
    scrapy_stats = crawler.stats.get_stats()
    if spider is None:
        message = _("The crawl could not start; see the log.")
        log = extension.log.text() if extension else ""
        _finish(crawl_job, {"log": log}, CrawlJob.Status.FAILED, message)
        raise RuntimeError("the spider did not open")
    recorder = spider.recorder
    reason = (extension.close_reason if extension else "") or scrapy_stats.get(
        "finish_reason", "finished"
    )
    stats = run_statistics(scrapy_stats, recorder)
    pages = int(scrapy_stats.get("ibcloud/pages") or 0)
    sample_url, sample_page = recorder.sample(config.get("list_mode") or "links")
    status, message = conclude(
        reason,
        pages=pages,
        items=recorder.items,
        new_items=recorder.new_items,
        errors=recorder.errors,
        stats=stats,
        fetch_level=int(config.get("fetch_level") or 0),
        time_limit=int(config.get("time_limit") or 0),
        max_pages=int(config.get("max_pages") or 0),
        block_marker=config.get("block_marker") or "",
        sample_url=sample_url,
        page_format=config.get("page_format") or "html",
    )
    logger.info("crawl job %s ended %s: %s", crawl_job.pk, status, message)
    if extension is not None:
        logging.getLogger().removeHandler(extension.log)
    fields = {
        "pages": pages,
        "items": recorder.items,
        "new_items": recorder.new_items,
        "errors": recorder.errors,
        "stats": stats,
        "field_stats": recorder.field_stats,
        "sample_urls": recorder.sample_urls,
        "sample_page_url": sample_url[:2000],
        "sample_page": sample_page,
        "heartbeat_at": timezone.now(),
        "log": extension.log.text() if extension else "",
    }
    if not _finish(crawl_job, fields, status, message):
        crawl_job.refresh_from_db()
        status = crawl_job.status
    elif reason == WORKER_LOST:
        # No supervisor is left to ask the health monitor, so the alert is raised from here.
        from ibcloud.crawler.services import check_after_job

        crawl_job.refresh_from_db()
        check_after_job(crawl_job)
    _save_proxies(scrapy_stats.get("ibcloud/proxy_summary") or [])
    if spider.final_cookies is not None:
        CrawlSource.objects.filter(pk=source.pk).update(cookies=spider.final_cookies)
    return status


# --- A preview ------------------------------------------------------------------------------------


def run_preview(config: dict[str, Any], url: str, kind: str) -> dict[str, Any]:
    """Fetch ``url`` with ``config`` here and now (``ibcloud crawl preview``): the result."""
    from ibcloud.crawler import extraction

    result: dict[str, Any] = {
        "url": url,
        "final_url": "",
        "status": None,
        "kind": kind,
        "items": [],
        "links": [],
        "next_page": None,
        "error": None,
        "fields": [],
    }
    try:
        rules = extraction.parse_rules(config.get("fields") or [])
    except ValueError as exc:
        result["error"] = str(exc)
        return result
    result["fields"] = [rule.name for rule in rules]
    crawler = _crawl(
        {"config": config, "preview": {"url": url, "kind": kind}},
        crawl_settings(config, preview=True),
    )
    spider = crawler.spider
    if spider is None or spider.preview_result is None:
        result["error"] = _("The preview could not start; see the log.")
        return result
    result = spider.preview_result
    # Detail pages arrive in any order; show them in the order of their links.
    order = {link: index for index, link in enumerate(result["links"])}
    result["items"].sort(key=lambda item: order.get(item["url"], -1))
    if result["status"] is None and not result["error"]:
        result["error"] = _("Nothing was fetched within %(seconds)s s.") % {
            "seconds": PREVIEW_CRAWL_SECONDS
        }
    return result


# --- Processes ------------------------------------------------------------------------------------


def crawl_command(*args: str) -> list[str]:
    """The command line of ``ibcloud crawl <args>`` with this interpreter."""
    return [sys.executable, "-m", "ibcloud.cli", "crawl", *args]


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` as given, else ours with this process's SSRF allowlist (which the demo and the
    tests widen in settings, not only in the environment)."""
    from django.conf import settings

    if env is not None:
        return env
    return {**os.environ, "IBCLOUD_SSRF_ALLOWLIST": ",".join(settings.IBCLOUD_SSRF_ALLOWLIST)}


def spawn_crawl(crawl_job_id: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``ibcloud crawl run <id>`` as a child process; the caller supervises it.

    The child stops (the run fails) if this process ends before it: a crawl never runs on
    without the worker that answers for it.
    """
    return subprocess.Popen(  # noqa: S603 - our own command line, no shell
        crawl_command("run", str(crawl_job_id), "--parent-pid", str(os.getpid())),
        env=child_env(env),
        stdin=subprocess.DEVNULL,
    )


def preview(
    config: dict[str, Any],
    url: str,
    kind: str,
    timeout: int = PREVIEW_TIMEOUT,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Preview ``url`` with ``config`` in a child process (``ibcloud crawl preview``).

    Never raises for a problem of the page or the process: the result's ``error`` says it.
    """
    payload = json.dumps({"config": config, "url": url, "kind": kind})
    try:
        completed = subprocess.run(  # noqa: S603 - our own command line, no shell
            crawl_command("preview"),
            input=payload,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=child_env(env),
            encoding="utf-8",
        )
    except subprocess.TimeoutExpired:
        return _preview_failure(
            url, kind, _("The preview took longer than %(seconds)s s.") % {"seconds": timeout}
        )
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                break
    logger.warning(
        "preview of %s failed (exit %s): %s", url, completed.returncode, completed.stderr[-2000:]
    )
    return _preview_failure(url, kind, _("The preview process failed; see the server log."))


def _preview_failure(url: str, kind: str, error: str) -> dict[str, Any]:
    return {
        "url": url,
        "final_url": "",
        "status": None,
        "kind": kind,
        "items": [],
        "links": [],
        "next_page": None,
        "error": str(error),
        "fields": [],
    }
