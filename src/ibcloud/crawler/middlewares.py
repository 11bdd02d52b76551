"""Downloader middlewares of a crawl, one job each, plus the guarded DNS resolver and browser guard.

Order (``process_request`` runs low to high, ``process_response`` high to low)::

    50  SSRFGuardMiddleware       refuse what the SSRF policy forbids (redirects re-enter)
    100 RobotsTxtMiddleware       (Scrapy) robots.txt
    110 PageBudgetMiddleware      max pages per run; counts fetched pages
    390 BrowserHeadersMiddleware  L1+: browser headers, rotating user agents
    740 ProxyPoolMiddleware       L2+: proxy rotation, ban detection, back-off, retry elsewhere
    960 RateLimitMiddleware       L2+: requests per minute per domain

:class:`GuardedResolver` checks every address a host name resolves to when the connection is made,
so a DNS answer that changes after the middleware's check (DNS rebinding) is refused too. The
headless browser is guarded by :mod:`ibcloud.crawler.browser`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
import random
import time
from typing import Any
from urllib.parse import quote, urlsplit

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.httpobj import urlparse_cached

from ibcloud.core.ssrf import SSRFBlocked, UnresolvableHost, check_address, check_url

logger = logging.getLogger(__name__)

#: honest user agent of fetch level L0; robots.txt rules are matched against its product token
BOT_USER_AGENT = "IBCloudBot/1.0"
BOT_NAME = "IBCloudBot"

#: how many examples of a kind of problem are kept in the run's statistics
EXAMPLES = 5

#: proxies: first rest after a ban, doubling with each further ban of the same proxy, capped
BAN_REST_SECONDS = 30.0
BAN_REST_MAX_SECONDS = 600.0
#: a banned request is retried on this many other proxies before it is given up
BAN_TRIES = 3
#: wait at most this long for a resting proxy before giving a request up
PROXY_WAIT_MAX_SECONDS = 30.0


# --- Outcomes the spider's errback recognises -----------------------------------------------------


class SSRFRefused(IgnoreRequest):
    """The SSRF guard refused the URL (or the address its host resolved to)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"SSRF guard refused {url}: {reason}")
        self.url = url
        self.reason = reason


class PageLimitReached(IgnoreRequest):
    """The run has fetched its maximum number of pages."""


class Banned(IgnoreRequest):
    """Every proxy tried was banned (403/429/block page), or none was available."""


class AddressRefused(Exception):
    """Raised by the resolver: the host resolved to an address the SSRF policy forbids.

    Not a DNS error on purpose: Scrapy would retry those, and a refusal is final.
    """

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"SSRF guard refused {host}: {reason}")
        self.host = host
        self.reason = reason


def add_example(stats, key: str, example: str) -> None:
    """Keep up to :data:`EXAMPLES` distinct examples (URL and reason) under ``key``."""
    examples = stats.get_value(key) or []
    if len(examples) < EXAMPLES and example not in examples:
        stats.set_value(key, [*examples, example])


# --- SSRF guard -----------------------------------------------------------------------------------


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def record_ssrf_refusal(stats, url: str, reason: str) -> None:
    """Count a refusal and keep an example (the spider's message quotes it)."""
    stats.inc_value("ibcloud/ssrf_refused")
    add_example(stats, "ibcloud/ssrf_examples", f"{url} — {reason}")


class SSRFGuardMiddleware:
    """Refuses every request (redirect hops and robots.txt included) the SSRF policy forbids.

    Redirects come back through the scheduler as new requests, so each hop is checked here.
    Results are cached per scheme, host and port for the run: the policy does not change during
    a run, and the resolver checks again at connection time.
    """

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.verdicts: dict[tuple[str, str, int | None], str | None] = {}

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_request(self, request):
        parts = urlparse_cached(request)
        key = (parts.scheme, parts.hostname or "", parts.port)
        if key not in self.verdicts:
            self.verdicts[key] = await self._check(request.url, parts.hostname or "")
        reason = self.verdicts[key]
        if reason is None:
            return None
        record_ssrf_refusal(self.crawler.stats, request.url, reason)
        logger.warning("SSRF guard refused %s: %s", request.url, reason)
        raise SSRFRefused(request.url, reason)

    @staticmethod
    async def _check(url: str, host: str) -> str | None:
        try:
            if _is_ip_literal(host) or not host:
                check_url(url)  # nothing to resolve: cheap enough for the event loop
            else:
                await asyncio.to_thread(check_url, url)  # resolves DNS: blocking
        except SSRFBlocked as exc:
            return exc.reason
        except UnresolvableHost:
            return None  # not a refusal: the download fails with a DNS error of its own
        return None


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver that refuses addresses the SSRF policy forbids.

    The connection is made to the address returned here, so checking it here closes the gap
    between the middleware's check and the connection (DNS rebinding).
    """

    def getHostByName(self, name: str, timeout=()):  # noqa: N802 - Twisted's interface
        deferred = super().getHostByName(name, timeout)
        deferred.addCallback(lambda address: self.check_resolved(name, address))
        return deferred

    @staticmethod
    def check_resolved(name: str, address: str) -> str:
        """``address`` if ``name`` may be connected to there, else raise :class:`AddressRefused`."""
        try:
            check_address(address, name)
        except SSRFBlocked as exc:
            logger.warning("SSRF guard refused %s (%s): %s", name, address, exc.reason)
            raise AddressRefused(name, exc.reason) from None
        return address


# --- Page budget ----------------------------------------------------------------------------------


class PageBudgetMiddleware:
    """Stops scheduling pages beyond the source's ``max_pages`` and counts fetched pages.

    Only the spider's own page requests count (meta ``ibcloud_kind``); a retry or a redirect of a
    page keeps its meta and so its budget unit, so every page once started can finish.
    """

    def __init__(self, crawler, max_pages: int) -> None:
        self.crawler = crawler
        self.max_pages = max_pages
        self.started = 0

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler, crawler.settings.getint("IBCLOUD_MAX_PAGES"))

    def process_request(self, request):
        if "ibcloud_kind" not in request.meta or request.meta.get("ibcloud_budgeted"):
            return None
        if self.max_pages and self.started >= self.max_pages:
            self.crawler.stats.inc_value("ibcloud/page_limit_dropped")
            raise PageLimitReached(f"page limit of {self.max_pages} reached")
        self.started += 1
        request.meta["ibcloud_budgeted"] = True
        return None

    def process_response(self, request, response):
        if "ibcloud_kind" in request.meta:
            self.crawler.stats.inc_value("ibcloud/pages")
        return response


# --- L1: browser headers --------------------------------------------------------------------------

#: current desktop browsers (one is picked per request)
BROWSER_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36 Edg/142.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:145.0) Gecko/20100101 Firefox/145.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.6 Safari/605.1.15",
)

_HTML_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
)


class BrowserHeadersMiddleware:
    """L1+: the headers a desktop browser sends, with a user agent picked per request.

    Runs before Scrapy's default-headers and user-agent middlewares and only fills in what is
    missing, so headers configured on the source win.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.random = random.Random(seed)

    @classmethod
    def from_crawler(cls, crawler):
        if crawler.settings.getint("IBCLOUD_FETCH_LEVEL") < 1:
            raise NotConfigured
        return cls()

    def process_request(self, request):
        headers = request.headers
        headers.setdefault("User-Agent", self.random.choice(BROWSER_USER_AGENTS))
        json_api = request.meta.get("ibcloud_format") == "json"
        headers.setdefault(
            "Accept", "application/json, text/plain, */*" if json_api else _HTML_ACCEPT
        )
        headers.setdefault("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8")
        headers.setdefault("Cache-Control", "no-cache")
        headers.setdefault("Pragma", "no-cache")
        if not json_api:
            headers.setdefault("Upgrade-Insecure-Requests", "1")
            headers.setdefault("Sec-Fetch-Dest", "document")
            headers.setdefault("Sec-Fetch-Mode", "navigate")
            headers.setdefault(
                "Sec-Fetch-Site", "none" if not headers.get("Referer") else "same-origin"
            )
            headers.setdefault("Sec-Fetch-User", "?1")
        return None


# --- L2: proxy pool -------------------------------------------------------------------------------


class PoolProxy:
    """One proxy of the pool during a run: its URL with credentials, rest and counters."""

    def __init__(self, entry: dict[str, Any], resting_until: float = 0.0) -> None:
        self.id = entry.get("id")
        self.url = str(entry["url"]).strip()
        self.username = entry.get("username") or ""
        self.password = entry.get("password") or ""
        parts = urlsplit(self.url if "://" in self.url else f"http://{self.url}")
        self.scheme = parts.scheme or "http"
        self.hostport = parts.netloc.rsplit("@", 1)[-1]
        if parts.username and not self.username:
            # Credentials written into the URL count as well.
            self.username, self.password = parts.username, parts.password or ""
        self.resting_until = resting_until
        self.bans_in_a_row = 0
        self.successes = 0
        self.failures = 0
        self.last_used = 0.0

    @property
    def label(self) -> str:
        return f"{self.scheme}://{self.hostport}"

    @property
    def meta_url(self) -> str:
        """The URL for ``request.meta["proxy"]`` (Scrapy turns credentials into a header)."""
        if not self.username:
            return self.label
        auth = f"{quote(self.username, safe='')}:{quote(self.password, safe='')}"
        return f"{self.scheme}://{auth}@{self.hostport}"

    def rest(self, now: float) -> float:
        """Ban: rest with exponential back-off; returns the rest in seconds."""
        self.bans_in_a_row += 1
        seconds = min(BAN_REST_SECONDS * 2 ** (self.bans_in_a_row - 1), BAN_REST_MAX_SECONDS)
        self.resting_until = now + seconds
        self.failures += 1
        return seconds


class ProxyPoolMiddleware:
    """L2+: rotate requests over the source's proxies; detect bans; retry on another proxy.

    A response is a ban when its status is 403 or 429 or its body holds the source's block-page
    marker. The proxy then rests (30 s, doubling with each ban in a row, at most 10 min) and the
    request is retried on another proxy, up to :data:`BAN_TRIES` proxies; after that the ban is
    reported (403/429 answers pass on as errors, a block page raises :class:`Banned`).
    Each proxy's successes, failures and rest are written back to its row after the run.
    """

    def __init__(self, crawler, proxies: list[dict], block_marker: str, browser_proxy: str) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.browser_proxy = browser_proxy
        self.block_marker = block_marker.encode("utf-8") if block_marker else b""
        self.pool = [PoolProxy(entry, entry.get("resting_until") or 0.0) for entry in proxies]
        self._turn = itertools.count()
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    def spider_closed(self, spider) -> None:
        # The runner writes these back to the Proxy rows after the crawl.
        self.stats.set_value("ibcloud/proxy_summary", self.summary())

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        if settings.getint("IBCLOUD_FETCH_LEVEL") < 2:
            raise NotConfigured
        proxies = settings.getlist("IBCLOUD_PROXIES")
        if not proxies:
            crawler.stats.set_value("ibcloud/no_proxies", 1)
            logger.warning("fetch level L2+ without proxies: requests go out directly")
        return cls(
            crawler,
            proxies,
            settings.get("IBCLOUD_BLOCK_MARKER") or "",
            settings.get("IBCLOUD_BROWSER_PROXY") or "",
        )

    def _pick(self, now: float, avoid: set) -> PoolProxy | None:
        available = [p for p in self.pool if p.resting_until <= now]
        fresh = [p for p in available if p.id not in avoid] or available
        if not fresh:
            return None
        # Round robin over the available proxies spreads requests evenly over their addresses.
        return fresh[next(self._turn) % len(fresh)]

    async def process_request(self, request):
        if not self.pool:
            return None
        avoid = set(request.meta.get("ibcloud_proxies_tried", ()))
        proxy = self._pick(time.time(), avoid)
        if proxy is None:
            wait = min(p.resting_until for p in self.pool) - time.time()
            if wait > PROXY_WAIT_MAX_SECONDS:
                self.stats.inc_value("ibcloud/proxy_unavailable")
                raise Banned(f"every proxy is resting after bans (next free in {int(wait)} s)")
            await asyncio.sleep(max(wait, 0))
            proxy = self._pick(time.time(), avoid)
            if proxy is None:
                raise Banned("every proxy is resting after bans")
        proxy.last_used = time.time()
        request.meta["ibcloud_proxy"] = proxy.id
        if request.meta.get("playwright"):
            # The browser takes proxies per context: one context per proxy, whose traffic the
            # browser's SSRF guard proxy sends on through that proxy (the user name says which).
            request.meta["playwright_context"] = f"proxy-{proxy.id}"
            request.meta["playwright_context_kwargs"] = {
                "proxy": {
                    "server": self.browser_proxy,
                    "username": f"proxy-{proxy.id}",
                    "password": "-",
                }
            }
        else:
            request.meta["proxy"] = proxy.meta_url
        self.stats.inc_value(f"ibcloud/proxy/{proxy.label}/requests")
        return None

    def _proxy_of(self, request) -> PoolProxy | None:
        proxy_id = request.meta.get("ibcloud_proxy")
        for proxy in self.pool:
            if proxy.id == proxy_id:
                return proxy
        return None

    def _is_ban(self, response) -> str:
        if response.status in (403, 429):
            return f"HTTP {response.status}"
        if self.block_marker and self.block_marker in response.body:
            self.stats.inc_value("ibcloud/block_marker")
            return "block page"
        return ""

    def process_response(self, request, response):
        proxy = self._proxy_of(request)
        if proxy is None:
            return response
        ban = self._is_ban(response)
        if not ban:
            proxy.successes += 1
            proxy.bans_in_a_row = 0
            return response
        rest = proxy.rest(time.time())
        self.stats.inc_value("ibcloud/bans")
        logger.info("proxy %s banned (%s) on %s; resting %d s", proxy.label, ban, request.url, rest)
        return self._retry_elsewhere(request, proxy, ban) or self._give_up(request, response, ban)

    def process_exception(self, request, exception):
        proxy = self._proxy_of(request)
        if proxy is None or isinstance(exception, IgnoreRequest):
            return None
        proxy.rest(time.time())
        self.stats.inc_value("ibcloud/proxy_errors")
        logger.info("proxy %s failed on %s: %s", proxy.label, request.url, exception)
        return self._retry_elsewhere(request, proxy, "connection error")  # None: Scrapy retries

    def _retry_elsewhere(self, request, proxy: PoolProxy, why: str):
        tried = [*request.meta.get("ibcloud_proxies_tried", ()), proxy.id]
        if len(tried) >= min(BAN_TRIES, len(self.pool)):
            return None
        retry = request.replace(dont_filter=True)
        retry.meta["ibcloud_proxies_tried"] = tried
        retry.meta.pop("proxy", None)
        retry.headers.pop("Proxy-Authorization", None)
        retry.headers.pop("User-Agent", None)  # a new face as well as a new address
        self.stats.inc_value("ibcloud/ban_retries")
        return retry

    def _give_up(self, request, response, ban: str):
        self.stats.inc_value("ibcloud/ban_gave_up")
        add_example(self.stats, "ibcloud/ban_examples", f"{request.url} — {ban}")
        if response.status in (403, 429):
            return response  # reported as an HTTP error by the spider
        raise Banned(f"block page on {request.url} through every proxy tried")

    def summary(self) -> list[dict[str, Any]]:
        """Per proxy: id, successes, failures and rest (epoch seconds) for writing back."""
        return [
            {
                "id": p.id,
                "successes": p.successes,
                "failures": p.failures,
                "resting_until": p.resting_until,
                "last_used": p.last_used,
            }
            for p in self.pool
        ]


# --- L2: rate limit -------------------------------------------------------------------------------


class RateLimitMiddleware:
    """L2+: at most ``rate_limit`` requests per minute to each domain (evenly spaced)."""

    def __init__(self, per_minute: int) -> None:
        self.interval = 60.0 / per_minute
        self.next_slot: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler):
        per_minute = crawler.settings.getint("IBCLOUD_RATE_LIMIT")
        if crawler.settings.getint("IBCLOUD_FETCH_LEVEL") < 2 or per_minute <= 0:
            raise NotConfigured
        return cls(per_minute)

    async def process_request(self, request):
        if request.meta.get("dont_obey_robotstxt") and request.url.endswith("/robots.txt"):
            return None  # robots.txt is not a page of the site
        domain = urlparse_cached(request).hostname or ""
        now = time.monotonic()
        slot = max(now, self.next_slot.get(domain, now))
        self.next_slot[domain] = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)
        return None
