"""L2 protected site: rate-limits each client IP.

Each client address (``REMOTE_ADDR``) is served at most ``state.l2_limit_per_minute`` requests
in any sliding minute; beyond that it gets 429 with a block page saying "访问过于频繁" (and a
``Retry-After`` header). Refused requests do not count, so a client that waits is served again.
A crawler gets everything only by spreading its requests over several addresses (proxies) or by
slowing down. Same list/detail markup as the project listing, under ``/l2/``.
"""

from __future__ import annotations

import time
from collections import deque

from ibcloud.demo.sites import projects as listing
from ibcloud.demo.sites.data import Project
from ibcloud.demo.sites.web import DemoState, Request, Response, page

PREFIX = "/l2/"
SITE = "L2 项目站"
WINDOW = 60.0
BLOCK_MARKER = "访问过于频繁"


def admit(state: DemoState, client_ip: str, now: float | None = None) -> bool:
    """Record a request from ``client_ip``; False when it is over the limit."""
    now = time.monotonic() if now is None else now
    with state.lock:
        hits = state.l2_hits.setdefault(client_ip, deque())
        while hits and hits[0] <= now - WINDOW:
            hits.popleft()
        if len(hits) >= state.l2_limit_per_minute:
            return False
        hits.append(now)
        return True


def blocked() -> Response:
    return page(
        BLOCK_MARKER,
        f'<div class="block-page"><h1>{BLOCK_MARKER}</h1>'
        "<p>您的 IP 在短时间内访问次数过多，请稍后再试。</p></div>",
        site=SITE,
        status=429,
        headers=[("Retry-After", "60")],
    )


def handle(
    request: Request, projects: list[Project], state: DemoState, raw_id: str | None
) -> Response:
    if not admit(state, request.client_ip):
        return blocked()
    if raw_id is None:
        return listing.list_page(request, projects, PREFIX, "L2 融资项目", SITE)
    return listing.detail_page(projects, raw_id, PREFIX, SITE)
