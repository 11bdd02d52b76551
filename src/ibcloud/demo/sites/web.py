"""A very small WSGI toolkit for the demo sites: request parsing, responses and page layout.

The demo sites are deliberately not Django: they stand for somebody else's web site, run in
threads of whatever process starts them (the demo command, a test, the benchmark) and must not
touch the platform's settings or database.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from functools import cached_property
from html import escape
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode

#: request bodies beyond this are refused (a demo site has no reason to read more)
MAX_BODY = 1024 * 1024


@dataclass
class DemoState:
    """Switches a demo or a test flips at run time, and the sites' own bookkeeping."""

    #: "v1" or "v2": v2 changes the markup of the projects' amount field (a "site redesign")
    project_layout: str = "v1"
    #: requests per client IP per sliding minute the L2 site serves before answering 429
    l2_limit_per_minute: int = 20
    #: answered requests per site ("projects", "investors", "l1", ...), for tests and the demo
    requests: Counter = field(default_factory=Counter)
    l2_hits: dict[str, deque] = field(default_factory=dict)
    l3_sessions: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, site: str) -> None:
        with self.lock:
            self.requests[site] += 1

    def reset(self) -> None:
        """Forget rate-limit windows, sessions and counters (switches keep their values)."""
        with self.lock:
            self.requests.clear()
            self.l2_hits.clear()
            self.l3_sessions.clear()


class Request:
    """The parts of a WSGI environ the demo sites read."""

    def __init__(self, environ: dict) -> None:
        self.environ = environ
        self.method = environ.get("REQUEST_METHOD", "GET").upper()
        self.path = environ.get("PATH_INFO") or "/"
        self.query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        self.client_ip = environ.get("REMOTE_ADDR", "")

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str) -> str:
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            return self.environ.get(key, "")
        return self.environ.get(f"HTTP_{key}", "")

    @cached_property
    def cookies(self) -> dict[str, str]:
        jar = SimpleCookie()
        try:
            jar.load(self.header("Cookie"))
        except CookieError:
            return {}
        return {name: morsel.value for name, morsel in jar.items()}

    @cached_property
    def body(self) -> bytes:
        try:
            length = int(self.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= 0:
            return b""
        return self.environ["wsgi.input"].read(min(length, MAX_BODY))

    def form(self) -> dict[str, str]:
        """URL-encoded form fields (first value of each)."""
        fields = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {name: values[0] for name, values in fields.items()}

    def json(self) -> Any:
        """The JSON body, or None when there is none or it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else None
        except (UnicodeDecodeError, ValueError):
            return None

    @property
    def base_url(self) -> str:
        """Scheme and host as the client addressed the site (through a proxy too)."""
        scheme = self.environ.get("wsgi.url_scheme", "http")
        host = self.header("Host") or (
            f"{self.environ.get('SERVER_NAME', '127.0.0.1')}:{self.environ.get('SERVER_PORT')}"
        )
        return f"{scheme}://{host}"


@dataclass
class Response:
    body: bytes | str = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    def encoded(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


def redirect(location: str, status: int = 302, headers: list | None = None) -> Response:
    return Response(b"", status, headers=[("Location", location), *(headers or [])])


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False), status, "application/json; charset=utf-8"
    )


def script_json(payload: Any) -> str:
    """JSON safe to place inside a ``<script>`` element (no ``</script>`` or HTML comment)."""
    text = json.dumps(payload, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def query(**params: Any) -> str:
    return "?" + urlencode(params)


STYLE = """
body{font-family:"PingFang SC","Microsoft YaHei",sans-serif;margin:0;color:#1f2937}
.site-header{background:#0f3d6e;color:#fff;padding:12px 24px}.site-header a{color:#fff}
main{max-width:960px;margin:24px auto;padding:0 16px}
.project-item{border-bottom:1px solid #e5e7eb;padding:12px 0;list-style:none}
.meta span{margin-right:12px;color:#6b7280}.pagination a{margin-right:12px}
dl.project-fields dt{font-weight:bold;margin-top:8px}.tags li{display:inline;margin-right:8px}
.block-page{color:#b91c1c}
"""


def page(
    title: str, content: str, site: str = "项目汇", status: int = 200, headers=None
) -> Response:
    """A whole HTML page; ``title`` is escaped here, ``content`` must already be escaped."""
    html = (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{escape(title)} - {escape(site)}</title><style>{STYLE}</style></head>"
        f'<body><header class="site-header"><a class="brand" href="/">{escape(site)}</a>'
        ' <nav class="top-nav"><a href="/projects/">项目库</a> <a href="/l1/">L1</a> '
        '<a href="/l2/">L2</a> <a href="/l3/">L3</a></nav></header>'
        f'<main id="content">{content}</main>'
        '<footer class="site-footer"><p>演示站点 · 数据为随机生成，仅供演示</p></footer>'
        "</body></html>"
    )
    return Response(html, status, headers=list(headers or []))


def not_found(message: str = "页面不存在") -> Response:
    return page("404", f'<h1 class="error">404</h1><p>{escape(message)}</p>', status=404)


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def page_number(request: Request, last: int) -> int | None:
    """The ``page`` query parameter as 1..last, or None when absent-but-invalid or out of range."""
    raw = request.arg("page", "1") or "1"
    if not raw.isdigit():
        return None
    number = int(raw)
    return number if 1 <= number <= max(last, 1) else None


def pages_of(count: int, per_page: int) -> int:
    return max((count + per_page - 1) // per_page, 1)
