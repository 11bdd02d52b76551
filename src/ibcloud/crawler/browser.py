"""The headless browser of fetch level L3, kept inside the SSRF policy.

Chromium fetches a rendered page's scripts, frames and XHR itself and follows redirects itself,
so the downloader middlewares never see those requests. Two guards cover them:

* :func:`abort_browser_request` (``PLAYWRIGHT_ABORT_REQUEST``) aborts every request the page makes
  to a refused address before it leaves the browser (images, media and fonts are skipped too);
* :class:`GuardProxy` is a forward proxy on 127.0.0.1 that the browser must use: it checks each
  request's target again, including redirect hops (which Playwright's request interception does
  not show), and connects to the very address it checked, so DNS rebinding cannot slip through.
  Through it, a browser context of an L2/L3 proxy reaches that upstream proxy (the context's
  proxy user name names it).

:func:`browser_request_headers` gives the browser's requests the crawl's face (user agent,
language, the source's headers) while leaving cookies to the browser context.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured

from ibcloud.core.ssrf import SSRFBlocked, UnresolvableHost, check_url
from ibcloud.crawler.middlewares import PoolProxy, record_ssrf_refusal

logger = logging.getLogger(__name__)

#: resource types the browser need not load to render a page's text
SKIPPED_RESOURCES = frozenset({"image", "media", "font"})
#: the user name of a browser context's proxy names the upstream proxy: "proxy-<id>"
UPSTREAM_USER_PREFIX = "proxy-"
HEAD_TIMEOUT = 30
CONNECT_TIMEOUT = 30
MAX_HEAD = 64 * 1024

#: the stats collector of this process's crawl (one crawl per process)
_stats = None


def url_verdict(url: str) -> str | None:
    """None if the browser may fetch ``url``, else why not (blocking: resolves DNS)."""
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("data", "blob", "about"):
        return None  # never leaves the browser
    if scheme in ("ws", "wss"):
        url = "http" + url[2:]
    try:
        check_url(url)
    except SSRFBlocked as exc:
        return exc.reason
    except UnresolvableHost:
        return None  # the browser fails on its own
    return None


def _refused(url: str, reason: str) -> None:
    logger.warning("SSRF guard refused browser request %s: %s", url, reason)
    if _stats is not None:
        record_ssrf_refusal(_stats, url, reason)


async def abort_browser_request(playwright_request) -> bool:
    """``PLAYWRIGHT_ABORT_REQUEST``: abort browser requests the SSRF policy forbids."""
    if playwright_request.resource_type in SKIPPED_RESOURCES:
        return True
    reason = await asyncio.to_thread(url_verdict, playwright_request.url)
    if reason is None:
        return False
    _refused(playwright_request.url, reason)
    return True


async def browser_request_headers(
    *, browser_type_name: str, playwright_request, scrapy_request_data: dict
) -> dict[str, str]:
    """``PLAYWRIGHT_PROCESS_REQUEST_HEADERS``: the browser's headers with the crawl's face.

    Navigations take the Scrapy request's headers (user agent, language, the source's headers)
    but never its ``Cookie``: the browser context holds the session's cookies, including those
    its scripts set, and Scrapy's header would hide them. Other requests keep the browser's
    headers with the crawl's user agent.
    """
    browser_headers = await playwright_request.all_headers()
    scrapy_headers = scrapy_request_data["headers"].to_unicode_dict()
    if playwright_request.is_navigation_request():
        headers = dict(browser_headers)
        for name, value in scrapy_headers.items():
            if name.lower() not in ("cookie", "accept-encoding", "content-length"):
                headers[name.lower()] = value
        return headers
    agent = scrapy_headers.get("user-agent")
    if agent:
        browser_headers["user-agent"] = agent
    return browser_headers


# --- The guard proxy ------------------------------------------------------------------------------


class GuardProxy:
    """A forward proxy for the browser that lets through only what the SSRF policy allows.

    Plain HTTP requests (absolute URI) are sent on as one request per connection; ``CONNECT``
    (HTTPS, WebSocket) becomes a tunnel. The target is resolved and checked, and the connection
    is made to the checked address. With ``upstreams`` (id → proxy), a request authenticated as
    ``proxy-<id>`` goes out through that upstream proxy instead (Chromium sends the credentials
    of its context's proxy after a 407 challenge), the target still checked first.
    """

    def __init__(self, upstreams: dict[str, PoolProxy] | None = None) -> None:
        self.upstreams = upstreams or {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.server: asyncio.AbstractServer | None = None
        self.tasks: set[asyncio.Task] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, sock=self.sock)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        self.sock.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.tasks.add(task)
        try:
            await self._handle(reader, writer)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the browser or the site went away, or stalled: nothing to report
        except ValueError:
            pass  # not an HTTP request head
        finally:
            self.tasks.discard(task)
            writer.close()

    async def _handle(self, reader, writer) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
        if len(head) > MAX_HEAD:
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = [line for line in lines[1:] if line]
        if method.upper() == "CONNECT":
            host, _, port = target.rpartition(":")
            host = host.strip("[]")
            url, port_number = f"https://{target}/", int(port)
        else:
            parts = urlsplit(target)
            if parts.scheme != "http" or not parts.hostname:
                await _answer(writer, 400, "absolute http:// URI expected")
                return
            host, port_number, url = parts.hostname, parts.port or 80, target
        upstream = self._upstream(headers)
        if upstream is False:
            await _answer(writer, 407, "proxy credentials expected", challenge=True)
            return
        try:
            checked = await asyncio.to_thread(check_url, url)
        except SSRFBlocked as exc:
            _refused(url, exc.reason)
            await _answer(writer, 403, f"refused by the SSRF guard: {exc.reason}")
            return
        except UnresolvableHost:
            await _answer(writer, 502, f"cannot resolve {host}")
            return
        kept = [
            h for h in headers if not h.lower().startswith(("proxy-", "connection:", "keep-alive:"))
        ]
        if upstream is None:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(checked.addresses[0], port_number), CONNECT_TIMEOUT
            )
            if method.upper() == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                path = urlsplit(target)._replace(scheme="", netloc="").geturl() or "/"
                up_writer.write(_head(f"{method} {path} {version}", [*kept, "Connection: close"]))
        else:
            # The upstream proxy reaches the site; it gets the request as a proxy would.
            proxy_host, _, proxy_port = upstream.hostport.rpartition(":")
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(proxy_host.strip("[]"), int(proxy_port or 80)),
                CONNECT_TIMEOUT,
            )
            auth = []
            if upstream.username:
                token = base64.b64encode(f"{upstream.username}:{upstream.password}".encode())
                auth = [f"Proxy-Authorization: Basic {token.decode()}"]
            up_writer.write(_head(lines[0], [*kept, *auth, "Connection: close"]))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    def _upstream(self, headers: list[str]) -> PoolProxy | None | bool:
        """The upstream proxy the request names; None: go direct; False: ask for credentials."""
        if not self.upstreams:
            return None
        for line in headers:
            name, _, value = line.partition(":")
            if name.strip().lower() != "proxy-authorization":
                continue
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() != "basic":
                break
            with contextlib.suppress(ValueError):
                user = base64.b64decode(token).decode("utf-8").split(":", 1)[0]
                if user.startswith(UPSTREAM_USER_PREFIX):
                    return self.upstreams.get(user.removeprefix(UPSTREAM_USER_PREFIX), False)
        return False


def _head(first_line: str, headers: list[str]) -> bytes:
    return ("\r\n".join([first_line, *headers]) + "\r\n\r\n").encode("latin-1")


async def _answer(writer, status: int, reason: str, challenge: bool = False) -> None:
    body = reason.encode("utf-8")
    headers = [f"Content-Length: {len(body)}", "Content-Type: text/plain; charset=utf-8"]
    if challenge:
        headers.append('Proxy-Authenticate: Basic realm="ibcloud"')
    phrase = {400: "Bad Request", 403: "Forbidden", 407: "Proxy Authentication Required"}
    writer.write(_head(f"HTTP/1.1 {status} {phrase.get(status, 'Bad Gateway')}", headers) + body)
    await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(OSError):
            writer.close()


# --- Wiring ---------------------------------------------------------------------------------------

#: the guard of this process's crawl, created with the settings (the browser is launched with it)
_guard: GuardProxy | None = None


def prepare_guard(proxies: list[dict[str, Any]]) -> GuardProxy:
    """Create (bind) the guard for this process's crawl; it serves once the spider opens."""
    global _guard
    upstreams = {str(entry["id"]): PoolProxy(entry) for entry in proxies if entry.get("id")}
    _guard = GuardProxy(upstreams)
    return _guard


class BrowserGuard:
    """Scrapy extension: serves the guard proxy while the spider runs; counts browser refusals."""

    def __init__(self, crawler, guard: GuardProxy) -> None:
        global _stats
        _stats = crawler.stats
        self.guard = guard
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        if _guard is None:
            raise NotConfigured
        return cls(crawler, _guard)

    async def spider_opened(self, spider) -> None:
        await self.guard.start()

    async def spider_closed(self, spider) -> None:
        await self.guard.stop()
