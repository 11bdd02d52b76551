"""The demo sites' WSGI application: routing, robots.txt, the private area and run-time switches.

Routes (see each site's module for its behaviour):

* ``/`` a home page linking every site; ``/robots.txt`` (``Disallow: /private/``)
* ``/projects/`` and ``/projects/<id>.html``; ``/feed/projects.xml`` (:mod:`.projects`)
* ``/investors/api/investors`` and ``/investors/api/investors/<id>`` (:mod:`.investors`)
* ``/l1/``, ``/l2/``, ``/l3/`` with their detail pages; ``/l3/login`` (:mod:`.l1`, ...)
* ``/private/...``: pages robots.txt forbids
* ``/_control/<switch>?value=...`` (POST, loopback clients only): ``layout`` (v1/v2),
  ``l2_limit`` (requests per minute), ``reset`` (forget rate-limit windows and sessions);
  ``GET /_control/`` shows the state.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable
from html import escape

from ibcloud.demo.sites import investors, l1, l2, l3, projects
from ibcloud.demo.sites.data import DemoData
from ibcloud.demo.sites.web import (
    DemoState,
    Request,
    Response,
    json_response,
    not_found,
    page,
    status_line,
)

logger = logging.getLogger(__name__)

ROBOTS = "User-agent: *\nDisallow: /private/\n"
TEXT = "text/plain; charset=utf-8"


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class DemoApp:
    """WSGI callable serving every demo site from one data set and one mutable state."""

    def __init__(self, data: DemoData, state: DemoState) -> None:
        self.data = data
        self.state = state
        # (pattern, site name for the request counter, handler(request, *groups))
        self.routes: list[tuple[re.Pattern, str, Callable[..., Response]]] = [
            (r"/", "home", self.home),
            (r"/robots\.txt", "robots", lambda request: Response(ROBOTS, content_type=TEXT)),
            (r"/projects/", "projects", self.projects_list),
            (r"/projects/(\d+)\.html", "projects", self.projects_detail),
            (r"/feed/projects\.xml", "feed", lambda r: projects.feed(r, data.projects)),
            (r"/investors/", "investors", investors.investors_home),
            (
                r"/investors/api/investors/?",
                "investors",
                lambda r: investors.investors_list(r, data.investors),
            ),
            (
                r"/investors/api/investors/(\d+)",
                "investors",
                lambda r, pk: investors.investors_detail(r, data.investors, pk),
            ),
            (r"/l1/", "l1", lambda r: l1.handle(r, data.l1_projects, None)),
            (r"/l1/(\d+)\.html", "l1", lambda r, pk: l1.handle(r, data.l1_projects, pk)),
            (r"/l2/", "l2", lambda r: l2.handle(r, data.l2_projects, state, None)),
            (r"/l2/(\d+)\.html", "l2", lambda r, pk: l2.handle(r, data.l2_projects, state, pk)),
            (r"/l3/login", "l3", lambda r: l3.login(r, state)),
            (r"/l3/logout", "l3", lambda r: l3.logout(r, state)),
            (r"/l3/", "l3", lambda r: l3.handle(r, data.l3_projects, state, None)),
            (r"/l3/(\d+)\.html", "l3", lambda r, pk: l3.handle(r, data.l3_projects, state, pk)),
            (r"/private/(.*)", "private", self.private),
            (r"/_control/(\w*)", "control", self.control),
        ]
        self.routes = [(re.compile(pattern), site, view) for pattern, site, view in self.routes]

    def __call__(self, environ: dict, start_response) -> list[bytes]:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception:  # a demo site answers 500 like any site, and says why in the log
            logger.exception("demo site error on %s", request.path)
            response = page("500", "<h1>500 服务器错误</h1>", status=500)
        body = response.encoded()
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(body))),
            *response.headers,
        ]
        start_response(status_line(response.status), headers)
        return [b""] if request.method == "HEAD" else [body]

    def dispatch(self, request: Request) -> Response:
        for pattern, site, view in self.routes:
            match = pattern.fullmatch(request.path)
            if match:
                self.state.count(site)
                return view(request, *match.groups())
        return not_found()

    # --- small pages -----------------------------------------------------------------------

    def home(self, request: Request) -> Response:
        links = [
            ("/projects/", "融资项目库（HTML 列表 + 详情，分页）"),
            ("/feed/projects.xml", "项目快讯（RSS）"),
            ("/investors/", "投资机构库（JSON API）"),
            ("/l1/", "L1 站点：拒绝非浏览器 User-Agent"),
            ("/l2/", "L2 站点：每 IP 每分钟限流"),
            ("/l3/", "L3 站点：登录 + JS Cookie + JS 渲染"),
        ]
        items = "".join(
            f'<li><a href="{escape(href)}">{escape(label)}</a></li>' for href, label in links
        )
        return page("演示站点", f'<h1>演示站点</h1><ul class="site-list">{items}</ul>')

    def projects_list(self, request: Request) -> Response:
        return projects.projects_list(request, self.data.projects, self.state)

    def projects_detail(self, request: Request, raw_id: str) -> Response:
        return projects.projects_detail(request, self.data.projects, self.state, raw_id)

    def private(self, request: Request, rest: str) -> Response:
        return page(
            "内部资料",
            '<h1>内部资料</h1><p class="confidential">本目录不对爬虫开放（见 robots.txt）。</p>'
            f'<p class="path">{escape(rest)}</p>',
        )

    def control(self, request: Request, switch: str) -> Response:
        """Flip a switch at run time: for the demo and tests, from this machine only."""
        if not _is_loopback(request.client_ip):
            return json_response({"error": "forbidden"}, 403)
        state = self.state
        if switch and request.method != "POST":
            return json_response({"error": "use POST"}, 405)
        value = request.arg("value", "") or ""
        if switch == "layout":
            if value not in ("v1", "v2"):
                return json_response({"error": "value must be v1 or v2"}, 400)
            state.project_layout = value
        elif switch == "l2_limit":
            if not value.isdigit() or int(value) < 1:
                return json_response({"error": "value must be a positive integer"}, 400)
            state.l2_limit_per_minute = int(value)
        elif switch == "reset":
            state.reset()
        elif switch:
            return json_response({"error": "unknown switch"}, 404)
        return json_response(
            {
                "project_layout": state.project_layout,
                "l2_limit_per_minute": state.l2_limit_per_minute,
                "requests": dict(state.requests),
            }
        )
