"""The project listing (项目库): paginated HTML list pages, detail pages and an RSS feed.

``/projects/?page=N`` lists 10 projects per page, newest first, with a ``rel="next"`` link;
``/projects/<id>.html`` shows one project, each field in its own labelled element. With
``state.project_layout == "v2"`` the detail page's financing amount moves into a differently
built block (class ``financing-size`` under another label), so a selector written for v1
(``.amount``, or the ``融资金额`` label) stops matching: the "site redesign" the health monitor
must notice. ``/feed/projects.xml`` is an RSS 2.0 feed of the newest 20 projects.

The L1 and L2 sites reuse the list and detail markup for their own projects under their prefix.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from email.utils import format_datetime
from html import escape
from xml.sax.saxutils import escape as xml_escape

from ibcloud.demo.sites.data import Project
from ibcloud.demo.sites.web import (
    DemoState,
    Request,
    Response,
    not_found,
    page,
    page_number,
    pages_of,
)

PER_PAGE = 10
FEED_SIZE = 20


def newest_first(projects: list[Project]) -> list[Project]:
    return sorted(projects, key=lambda project: project.id, reverse=True)


def list_content(projects: list[Project], number: int, prefix: str, heading: str) -> str:
    """The list page body: page ``number`` of ``projects`` (newest first), linking under prefix."""
    ordered = newest_first(projects)
    last = pages_of(len(ordered), PER_PAGE)
    rows = []
    for project in ordered[(number - 1) * PER_PAGE : number * PER_PAGE]:
        rows.append(
            f'<li class="project-item" data-id="{project.id}">'
            f'<h3 class="project-title"><a class="project-link" href="{prefix}{project.id}.html">'
            f"{escape(project.name)}</a></h3>"
            f'<div class="meta"><span class="industry">{escape(project.industry)}</span>'
            f'<span class="round">{escape(project.round)}</span>'
            f'<span class="location">{escape(project.location)}</span>'
            f'<time class="published" datetime="{project.published:%Y-%m-%d}">'
            f"{project.published:%Y-%m-%d}</time></div></li>"
        )
    nav = ['<nav class="pagination" aria-label="分页">']
    if number > 1:
        nav.append(f'<a class="prev" rel="prev" href="{prefix}?page={number - 1}">上一页</a>')
    nav.append(f'<span class="current">第 {number} / {last} 页</span>')
    if number < last:
        nav.append(f'<a class="next" rel="next" href="{prefix}?page={number + 1}">下一页</a>')
    nav.append("</nav>")
    return (
        f'<h1 class="page-title">{escape(heading)}</h1>'
        f'<p class="summary-count">共 <span class="total">{len(ordered)}</span> 个项目</p>'
        f'<ul class="project-list">{"".join(rows)}</ul>{"".join(nav)}'
    )


def _field(label: str, css_class: str, value_html: str) -> str:
    return f'<dt>{escape(label)}</dt><dd class="{css_class}">{value_html}</dd>'


def detail_content(project: Project, layout: str = "v1", back: str = "/projects/") -> str:
    """The detail page body; ``layout`` "v2" rebuilds the amount field's markup."""
    website = escape(project.website)
    fields = [
        _field("公司全称", "full-name", escape(project.full_name)),
        _field("所属行业", "industry", escape(project.industry)),
        _field(
            "所在地区",
            "location",
            f'<span class="province">{escape(project.province)}</span> '
            f'<span class="city">{escape(project.city)}</span>',
        ),
        _field("融资轮次", "round", escape(project.round)),
    ]
    if layout == "v1":
        fields.append(_field("融资金额", "amount", escape(project.amount)))
    fields += [
        _field("成立时间", "founded", escape(project.founded)),
        _field(
            "公司官网",
            "website",
            f'<a href="{website}" rel="nofollow noopener" target="_blank">{website}</a>',
        ),
        _field(
            "发布时间",
            "published",
            f'<time datetime="{project.published:%Y-%m-%dT%H:%M}+08:00">'
            f"{project.published:%Y-%m-%d %H:%M}</time>",
        ),
    ]
    financing = ""
    if layout != "v1":
        financing = (
            '<div class="financing-box"><p class="financing-row">'
            '<em class="financing-label">本轮融资规模</em>'
            f'<strong class="financing-size">{escape(project.amount)}</strong></p></div>'
        )
    tags = "".join(f'<li class="tag">{escape(tag)}</li>' for tag in project.tags)
    investors = ""
    if project.investors:
        names = "".join(f'<li class="investor">{escape(name)}</li>' for name in project.investors)
        investors = (
            '<section class="round-investors"><h2>本轮投资方</h2>'
            f'<ul class="investors">{names}</ul></section>'
        )
    return (
        f'<article class="project-detail" data-id="{project.id}">'
        f'<h1 class="project-name">{escape(project.name)}</h1>'
        f'<ul class="tags">{tags}</ul>{financing}'
        f'<dl class="project-fields">{"".join(fields)}</dl>'
        f'<section class="business"><h2>业务简介</h2><p class="summary">'
        f"{escape(project.summary)}</p></section>{investors}"
        f'<p class="back"><a href="{back}">返回列表</a></p></article>'
    )


def find(projects: list[Project], raw_id: str) -> Project | None:
    if not raw_id.isdigit():
        return None
    number = int(raw_id)
    return projects[number - 1] if 1 <= number <= len(projects) else None


def list_page(
    request: Request, projects: list[Project], prefix: str, heading: str, site: str
) -> Response:
    number = page_number(request, pages_of(len(projects), PER_PAGE))
    if number is None:
        return not_found("没有这一页")
    return page(heading, list_content(projects, number, prefix, heading), site=site)


def detail_page(
    projects: list[Project], raw_id: str, prefix: str, site: str, layout: str = "v1"
) -> Response:
    project = find(projects, raw_id)
    if project is None:
        return not_found("项目不存在或已下线")
    return page(project.name, detail_content(project, layout, back=prefix), site=site)


# --- the public project listing ----------------------------------------------------------------


def projects_list(request: Request, projects: list[Project], state: DemoState) -> Response:
    return list_page(request, projects, "/projects/", "融资项目库", "项目汇")


def projects_detail(
    request: Request, projects: list[Project], state: DemoState, raw_id: str
) -> Response:
    return detail_page(projects, raw_id, "/projects/", "项目汇", state.project_layout)


def feed(request: Request, projects: list[Project]) -> Response:
    """RSS 2.0 of the newest projects, with round and industry as categories."""
    base = request.base_url
    items = []
    newest = newest_first(projects)[:FEED_SIZE]
    for project in newest:
        link = f"{base}/projects/{project.id}.html"
        items.append(
            "<item>"
            f"<title>{xml_escape(f'{project.name}完成{project.amount}{project.round}融资')}</title>"
            f"<link>{xml_escape(link)}</link>"
            f'<guid isPermaLink="true">{xml_escape(link)}</guid>'
            f"<pubDate>{_rfc822(project)}</pubDate>"
            f'<category domain="industry">{xml_escape(project.industry)}</category>'
            f'<category domain="round">{xml_escape(project.round)}</category>'
            f"<description>{xml_escape(project.summary)}</description>"
            "</item>"
        )
    built = _rfc822(newest[0]) if newest else ""
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>项目汇 · 项目快讯</title><link>{xml_escape(base)}/projects/</link>"
        "<description>最新发布的融资项目</description><language>zh-cn</language>"
        f"<lastBuildDate>{built}</lastBuildDate>{''.join(items)}</channel></rss>"
    )
    return Response(xml, content_type="application/rss+xml; charset=utf-8")


CHINA = timezone(timedelta(hours=8))


def _rfc822(project: Project) -> str:
    return format_datetime(project.published.replace(tzinfo=CHINA))
