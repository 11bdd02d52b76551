"""L1 protected site: refuses clients that do not look like a browser.

A request gets 403 unless its User-Agent looks like a browser's ("Mozilla/5.0", and none of
"scrapy", "python", "curl", "wget", "bot", "spider", "httpclient") and it sends Accept-Language,
which browsers always do and bare HTTP libraries do not. Otherwise the same list and detail
pages as the project listing, for its own projects, under ``/l1/``.
"""

from __future__ import annotations

from ibcloud.demo.sites import projects as listing
from ibcloud.demo.sites.data import Project
from ibcloud.demo.sites.web import Request, Response, page

PREFIX = "/l1/"
SITE = "L1 项目站"
NON_BROWSER_MARKERS = ("scrapy", "python", "curl", "wget", "bot", "spider", "httpclient", "java/")


def looks_like_browser(request: Request) -> bool:
    agent = request.header("User-Agent")
    lowered = agent.lower()
    return (
        "Mozilla/5.0" in agent
        and not any(marker in lowered for marker in NON_BROWSER_MARKERS)
        and bool(request.header("Accept-Language"))
    )


def refused() -> Response:
    return page(
        "访问被拒绝",
        '<div class="block-page"><h1>403 访问被拒绝</h1>'
        "<p>检测到非浏览器访问，请使用浏览器访问本站。</p></div>",
        site=SITE,
        status=403,
    )


def handle(request: Request, projects: list[Project], raw_id: str | None) -> Response:
    if not looks_like_browser(request):
        return refused()
    if raw_id is None:
        return listing.list_page(request, projects, PREFIX, "L1 融资项目", SITE)
    return listing.detail_page(projects, raw_id, PREFIX, SITE)
