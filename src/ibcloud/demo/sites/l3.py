"""L3 protected site: login form, a JavaScript-set cookie and JavaScript-rendered content.

* Every page but the login form needs a session: without one it redirects to
  ``/l3/login?next=<page>``. The form (fields ``username`` and ``password``; demo credentials
  ``demo`` / ``demo-l3-pass``) sets the ``l3_session`` cookie and redirects back.
* With a session but without a valid ``l3_js`` cookie a page answers with a script that computes
  the token from a challenge, stores it in the ``l3_js`` cookie and reloads: only a client that
  runs JavaScript gets further.
* With both cookies list and detail pages carry their data as inline JSON and build the visible
  markup in the browser; the raw HTML contains no items. The rendered markup matches the project
  listing's (``.project-item a.project-link``, ``a.next``, ``dd.amount``, ...) and the ``#app``
  element gets a ``data-rendered`` attribute once it is complete (a selector to wait for).
"""

from __future__ import annotations

import hashlib
import secrets
from html import escape
from urllib.parse import quote

from ibcloud.demo.sites import projects as listing
from ibcloud.demo.sites.data import Project
from ibcloud.demo.sites.web import (
    DemoState,
    Request,
    Response,
    not_found,
    page,
    page_number,
    pages_of,
    redirect,
    script_json,
)

PREFIX = "/l3/"
LOGIN_PATH = "/l3/login"
SITE = "L3 会员项目站"
USERNAME = "demo"
PASSWORD = "demo-l3-pass"  # noqa: S105 (public demo credential)
SESSION_COOKIE = "l3_session"
JS_COOKIE = "l3_js"
WAIT_FOR_SELECTOR = "#app[data-rendered]"


def challenge(session: str) -> str:
    return hashlib.sha256(f"l3-challenge:{session}".encode()).hexdigest()[:16]


def js_token(session: str) -> str:
    """The token the challenge script computes (djb2-xor over the challenge, hex)."""
    value = 5381
    for char in challenge(session):
        value = ((value * 33) & 0xFFFFFFFF) ^ ord(char)
    return format(value, "x")


CHALLENGE_SCRIPT = """<script>
(function () {
  var c = %s, h = 5381;
  for (var i = 0; i < c.length; i++) { h = ((h * 33) ^ c.charCodeAt(i)) >>> 0; }
  document.cookie = "l3_js=" + h.toString(16) + "; path=/; SameSite=Lax";
  location.reload();
})();
</script>"""

LIST_SCRIPT = """<script>
(function () {
  var data = JSON.parse(document.getElementById("page-data").textContent);
  var app = document.getElementById("app");
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  app.textContent = "";
  var list = el("ul", "project-list");
  data.items.forEach(function (p) {
    var li = el("li", "project-item");
    li.setAttribute("data-id", p.id);
    var h3 = el("h3", "project-title");
    var a = el("a", "project-link", p.name);
    a.href = data.prefix + p.id + ".html";
    h3.appendChild(a);
    li.appendChild(h3);
    var meta = el("div", "meta");
    meta.appendChild(el("span", "industry", p.industry));
    meta.appendChild(el("span", "round", p.round));
    meta.appendChild(el("span", "location", p.location));
    meta.appendChild(el("time", "published", p.published));
    li.appendChild(meta);
    list.appendChild(li);
  });
  app.appendChild(list);
  var nav = el("nav", "pagination");
  if (data.page > 1) {
    var prev = el("a", "prev", "上一页");
    prev.rel = "prev"; prev.href = data.prefix + "?page=" + (data.page - 1);
    nav.appendChild(prev);
  }
  nav.appendChild(el("span", "current", "第 " + data.page + " / " + data.pages + " 页"));
  if (data.page < data.pages) {
    var next = el("a", "next", "下一页");
    next.rel = "next"; next.href = data.prefix + "?page=" + (data.page + 1);
    nav.appendChild(next);
  }
  app.appendChild(nav);
  app.setAttribute("data-rendered", "1");
})();
</script>"""

DETAIL_SCRIPT = """<script>
(function () {
  var p = JSON.parse(document.getElementById("page-data").textContent);
  var app = document.getElementById("app");
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  app.textContent = "";
  var article = el("article", "project-detail");
  article.appendChild(el("h1", "project-name", p.name));
  var tags = el("ul", "tags");
  p.tags.forEach(function (t) { tags.appendChild(el("li", "tag", t)); });
  article.appendChild(tags);
  var dl = el("dl", "project-fields");
  [["公司全称", "full-name", p.full_name], ["所属行业", "industry", p.industry],
   ["所在地区", "location", p.province + " " + p.city], ["融资轮次", "round", p.round],
   ["融资金额", "amount", p.amount], ["成立时间", "founded", p.founded],
   ["公司官网", "website", p.website], ["发布时间", "published", p.published]
  ].forEach(function (f) {
    dl.appendChild(el("dt", "", f[0]));
    dl.appendChild(el("dd", f[1], f[2]));
  });
  article.appendChild(dl);
  var section = el("section", "business");
  section.appendChild(el("h2", "", "业务简介"));
  section.appendChild(el("p", "summary", p.summary));
  article.appendChild(section);
  app.appendChild(article);
  app.setAttribute("data-rendered", "1");
})();
</script>"""


def _session(request: Request, state: DemoState) -> str | None:
    session = request.cookies.get(SESSION_COOKIE, "")
    with state.lock:
        return session if session in state.l3_sessions else None


def _safe_next(target: str | None) -> str:
    """Only paths of this site: never an open redirect."""
    if target and target.startswith(PREFIX) and not target.startswith("//"):
        return target
    return PREFIX


def _login_form(next_path: str, error: str = "", status: int = 200) -> Response:
    message = f'<p class="login-error">{escape(error)}</p>' if error else ""
    return page(
        "会员登录",
        '<h1>会员登录</h1><p class="hint">项目详情仅对登录会员开放。</p>'
        f'{message}<form class="login-form" method="post" action="{LOGIN_PATH}">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<p><label for="id_username">用户名</label>'
        '<input id="id_username" name="username" autocomplete="username" required></p>'
        '<p><label for="id_password">密码</label><input id="id_password" name="password" '
        'type="password" autocomplete="current-password" required></p>'
        '<p><button type="submit">登录</button></p></form>',
        site=SITE,
        status=status,
    )


def login(request: Request, state: DemoState) -> Response:
    if request.method != "POST":
        return _login_form(_safe_next(request.arg("next")))
    form = request.form()
    next_path = _safe_next(form.get("next") or request.arg("next"))
    if form.get("username") != USERNAME or form.get("password") != PASSWORD:
        return _login_form(next_path, "用户名或密码错误")
    session = secrets.token_urlsafe(24)
    with state.lock:
        state.l3_sessions.add(session)
    cookie = f"{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax"
    return redirect(next_path, 302, headers=[("Set-Cookie", cookie)])


def logout(request: Request, state: DemoState) -> Response:
    session = request.cookies.get(SESSION_COOKIE, "")
    with state.lock:
        state.l3_sessions.discard(session)
    expired = f"{SESSION_COOKIE}=; Path=/; Max-Age=0"
    return redirect(LOGIN_PATH, 302, headers=[("Set-Cookie", expired)])


def _rendered(title: str, payload: dict, script: str) -> Response:
    return page(
        title,
        f'<div id="app" class="project-app"><p class="loading">加载中…</p></div>'
        f'<script type="application/json" id="page-data">{script_json(payload)}</script>'
        f"{script}",
        site=SITE,
    )


def handle(
    request: Request, projects: list[Project], state: DemoState, raw_id: str | None
) -> Response:
    session = _session(request, state)
    if session is None:
        target = request.path + (f"?{request.environ['QUERY_STRING']}" if request.query else "")
        return redirect(f"{LOGIN_PATH}?next={quote(target, safe='/')}")
    if request.cookies.get(JS_COOKIE) != js_token(session):
        return page(
            "正在验证",
            '<p class="js-check">正在检查浏览器环境，请稍候…</p>'
            "<noscript>请启用 JavaScript 后访问本站。</noscript>"
            + CHALLENGE_SCRIPT
            % script_json(challenge(session)),
            site=SITE,
        )
    if raw_id is None:
        last = pages_of(len(projects), listing.PER_PAGE)
        number = page_number(request, last)
        if number is None:
            return not_found("没有这一页")
        chunk = listing.newest_first(projects)[
            (number - 1) * listing.PER_PAGE : number * listing.PER_PAGE
        ]
        items = [
            {
                "id": project.id,
                "name": project.name,
                "industry": project.industry,
                "round": project.round,
                "location": project.location,
                "published": f"{project.published:%Y-%m-%d}",
            }
            for project in chunk
        ]
        payload = {"items": items, "page": number, "pages": last, "prefix": PREFIX}
        return _rendered("L3 融资项目", payload, LIST_SCRIPT)
    project = listing.find(projects, raw_id)
    if project is None:
        return not_found("项目不存在或已下线")
    return _rendered(project.name, project.as_dict(), DETAIL_SCRIPT)
