"""Demo crawl sources for the demo sites, and the demo proxies as rows of the proxy pool.

:func:`seed_demo_sources` is idempotent: a source that exists keeps the configuration an admin
may have edited; only its URLs follow the demo sites when they run on another port, and the
demo proxies' rows follow the running proxies.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from django.db import transaction

from ibcloud.accounts.models import Department, User
from ibcloud.crawler.models import CrawlSource, FetchLevel, ItemType, Proxy

#: the demo's sources belong to the demo admin, in this department (see demo.services): the
#: records they collect belong to it too, so the M&A group's banker (own department's data) and
#: the department manager (department and below) both find them in the catalog
OWNER_USERNAME = "admin"
DEPARTMENT_CODE = "ibd-ma"
PROXY_NAME = "演示代理 {number}"
SCHEDULE = "0 */6 * * *"

#: the L3 site's demo credentials (ibcloud.demo.sites.l3)
L3_LOGIN = {"username": "demo", "password": "demo-l3-pass"}


def _css(name: str, label: str, expr: str, **options) -> dict:
    return {"name": name, "label": label, "by": "css", "expr": expr, **options}


def _detail_fields(location_spans: bool = True) -> list[dict]:
    """Field rules of a project detail page as the project listing (and L1/L2/L3) build it."""
    fields = [
        _css("name", "项目名称", "h1.project-name", required=True),
        _css("full_name", "公司全称", "dd.full-name", required=True, pattern="公司|合伙"),
        _css("industry", "所属行业", "dd.industry", required=True),
    ]
    if location_spans:
        fields += [
            _css("province", "省份", "dd.location .province"),
            _css("city", "城市", "dd.location .city"),
        ]
    else:
        fields.append(_css("location", "所在地区", "dd.location"))
    fields += [
        _css("round", "融资轮次", "dd.round", required=True, pattern="轮|IPO|融资"),
        _css("amount", "融资金额", "dd.amount", required=True),
        _css("founded", "成立时间", "dd.founded", pattern=r"(19|20)\d{2}"),
        _css("website", "公司官网", "dd.website", type="url"),
        _css("published", "发布时间", "dd.published", pattern=r"^\d{4}-\d{2}-\d{2}"),
        _css("tags", "标签", "ul.tags li.tag", all=True, type="list"),
        _css("summary", "业务简介", "p.summary"),
        _css("investors", "本轮投资方", "ul.investors li.investor", all=True, type="list"),
    ]
    return fields


def _listing(base: str, path: str) -> dict:
    """HTML list pages linking to detail pages, paginated by their next link."""
    return {
        "item_type": ItemType.PROJECT,
        "start_urls": [f"{base}{path}"],
        "page_format": CrawlSource.PageFormat.HTML,
        "list_mode": CrawlSource.ListMode.LINKS,
        "list_selector_type": CrawlSource.SelectorType.CSS,
        "link_selector": ".project-list a.project-link",
        "pagination": CrawlSource.Pagination.NEXT_LINK,
        "next_selector": "a.next[rel=next]::attr(href)",
        "fields": _detail_fields(),
    }


def demo_source_configs(base: str) -> list[dict]:
    """Configuration of each demo source, by model field name, for demo sites at ``base``."""
    investor_fields = [
        {"name": "name", "label": "机构简称", "by": "jsonpath", "expr": "$.name", "required": True},
        {"name": "full_name", "label": "机构全称", "by": "jsonpath", "expr": "$.full_name"},
        {"name": "investor_type", "label": "机构类型", "by": "jsonpath", "expr": "$.type"},
        {
            "name": "industries",
            "label": "关注行业",
            "by": "jsonpath",
            "expr": "$.industries[*]",
            "all": True,
            "type": "list",
            "required": True,
        },
        {
            "name": "stages",
            "label": "投资阶段",
            "by": "jsonpath",
            "expr": "$.stages[*]",
            "all": True,
            "type": "list",
        },
        {
            "name": "regions",
            "label": "投资地域",
            "by": "jsonpath",
            "expr": "$.regions[*]",
            "all": True,
            "type": "list",
        },
        {"name": "ticket", "label": "单笔投资规模", "by": "jsonpath", "expr": "$.ticket"},
        {"name": "aum", "label": "管理规模", "by": "jsonpath", "expr": "$.aum"},
        {
            "name": "founded",
            "label": "成立年份",
            "by": "jsonpath",
            "expr": "$.founded",
            "type": "integer",
        },
        {"name": "description", "label": "机构简介", "by": "jsonpath", "expr": "$.description"},
        {"name": "website", "label": "官网", "by": "jsonpath", "expr": "$.website", "type": "url"},
        {
            "name": "detail_url",
            "label": "详情接口",
            "by": "jsonpath",
            "expr": "$.url",
            "absolute_url": True,
            "type": "url",
        },
    ]
    feed_fields = [
        {"name": "title", "label": "标题", "by": "xpath", "expr": "./title", "required": True},
        {
            "name": "name",
            "label": "项目名称",
            "by": "xpath",
            "expr": "./title",
            "regex": "^(.+?)完成",
            "group": 1,
            "required": True,
        },
        {"name": "link", "label": "链接", "by": "xpath", "expr": "./link", "type": "url"},
        {"name": "published", "label": "发布时间", "by": "xpath", "expr": "./pubDate"},
        {
            "name": "industry",
            "label": "所属行业",
            "by": "xpath",
            "expr": "./category[@domain='industry']",
        },
        {
            "name": "round",
            "label": "融资轮次",
            "by": "xpath",
            "expr": "./category[@domain='round']",
            "pattern": "轮|IPO|融资",
        },
        {"name": "summary", "label": "业务简介", "by": "xpath", "expr": "./description"},
    ]
    return [
        {
            "name": "演示·项目库",
            "description": "演示站点的融资项目库：HTML 列表页链接到详情页，按“下一页”链接翻页。",
            **_listing(base, "/projects/"),
            "fetch_level": FetchLevel.PLAIN,
            "schedule": SCHEDULE,
        },
        {
            "name": "演示·投资机构",
            "description": "演示站点的投资机构库 JSON 接口：列表页即数据，按 next_cursor 翻页。",
            "item_type": ItemType.INVESTOR,
            "start_urls": [f"{base}/investors/api/investors?limit=20"],
            "page_format": CrawlSource.PageFormat.JSON,
            "list_mode": CrawlSource.ListMode.INLINE,
            "list_selector_type": CrawlSource.SelectorType.JSONPATH,
            "item_selector": "$.data[*]",
            "pagination": CrawlSource.Pagination.JSON_CURSOR,
            "cursor_path": "$.next_cursor",
            "page_param": "cursor",
            "headers": {"Accept": "application/json"},
            "fields": investor_fields,
            "fetch_level": FetchLevel.PLAIN,
            "schedule": "30 */6 * * *",
        },
        {
            "name": "演示·项目快讯",
            "description": "演示站点的项目快讯 RSS：每条快讯即一条记录。",
            "item_type": ItemType.PROJECT,
            "start_urls": [f"{base}/feed/projects.xml"],
            "page_format": CrawlSource.PageFormat.FEED,
            "list_mode": CrawlSource.ListMode.INLINE,
            "list_selector_type": CrawlSource.SelectorType.XPATH,
            "item_selector": "//item",
            "fields": feed_fields,
            "fetch_level": FetchLevel.PLAIN,
            "schedule": "0 * * * *",
        },
        {
            "name": "演示·L1 站点",
            "description": "L1 防护：拒绝非浏览器的 User-Agent。需要抓取级别 L1（浏览器请求头）。",
            **_listing(base, "/l1/"),
            "fetch_level": FetchLevel.L1,
            "schedule": "10 */6 * * *",
        },
        {
            "name": "演示·L2 站点",
            "description": "L2 防护：每个 IP 每分钟最多 20 次请求，超出返回 429“访问过于频繁”。"
            "需要抓取级别 L2（代理池轮换）。",
            **_listing(base, "/l2/"),
            "fetch_level": FetchLevel.L2,
            "block_marker": "访问过于频繁",
            "schedule": "20 */6 * * *",
        },
        {
            "name": "演示·L3 站点",
            "description": "L3 防护：登录表单 + JavaScript 设置的 Cookie + 浏览器渲染的内容。"
            "需要抓取级别 L3（登录、无头浏览器渲染）。",
            **_listing(base, "/l3/"),
            "fields": _detail_fields(location_spans=False),
            "fetch_level": FetchLevel.L3,
            "login_url": f"{base}/l3/login",
            "login_form": dict(L3_LOGIN),
            "render_js": True,
            "wait_for_selector": "#app[data-rendered]",
            "concurrency": 2,
            "schedule": "40 */6 * * *",
        },
    ]


#: sources crawled through the demo proxies
PROXIED_SOURCES = ("演示·L2 站点", "演示·L3 站点")
#: configuration keys that hold the demo sites' address
URL_KEYS = ("start_urls", "url_template", "login_url")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def rebase(url: str, base: str) -> str:
    """``url`` moved to the demo sites at ``base`` if it points at an earlier run of them.

    Only URLs on this machine move (the demo sites run on loopback), and only their scheme,
    host and port: a path or query an admin has edited is kept.
    """
    if not isinstance(url, str) or not url:
        return url
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK_HOSTS:
        return url
    return base + url[len(f"{parts.scheme}://{parts.netloc}") :]


def seed_demo_proxies(proxy_urls: list[str]) -> list[Proxy]:
    """Proxy rows for the running demo proxies (``http://user:pass@host:port``)."""
    rows = []
    for number, proxy_url in enumerate(proxy_urls, start=1):
        parts = urlsplit(proxy_url)
        address = f"{parts.scheme}://{parts.hostname}:{parts.port}"
        username, password = unquote(parts.username or ""), unquote(parts.password or "")
        proxy = Proxy.objects.filter(name=PROXY_NAME.format(number=number)).first()
        if proxy is None:
            proxy = Proxy(name=PROXY_NAME.format(number=number))
        if proxy.pk is None or (proxy.url, proxy.username, proxy.password) != (
            address,
            username,
            password,
        ):
            proxy.url, proxy.username, proxy.password = address, username, password
            proxy.full_clean()
            proxy.save()
        rows.append(proxy)
    return rows


@transaction.atomic
def seed_demo_sources(sites_base_url: str, proxy_urls: list[str]) -> list[CrawlSource]:
    """Create (or point at ``sites_base_url``) the demo crawl sources; returns them in order.

    ``proxy_urls`` are the demo proxies (``DemoSites.proxy_urls``); they become rows of the proxy
    pool and the proxies of the L2 and L3 sources. An empty list leaves the proxies as they are.
    Every source passes ``full_clean()`` (the same validation as the form and the API), which
    refuses loopback URLs unless ``IBCLOUD_SSRF_ALLOWLIST`` allows them: the demo command does.
    """
    base = sites_base_url.rstrip("/")
    owner = User.objects.filter(username=OWNER_USERNAME).first()
    department = Department.objects.filter(code=DEPARTMENT_CODE).first()
    if owner is None or department is None:
        from ibcloud.demo.services import seed_demo

        seed_demo()
        owner = User.objects.get(username=OWNER_USERNAME)
        department = Department.objects.get(code=DEPARTMENT_CODE)
    proxies = seed_demo_proxies(proxy_urls) if proxy_urls else []
    sources = []
    for config in demo_source_configs(base):
        source = CrawlSource.objects.filter(name=config["name"]).first()
        if source is None:
            source = CrawlSource(owner=owner, department=department, **config)
            changed = True
        else:
            changed = False
            for key in URL_KEYS:
                value = getattr(source, key)
                moved = (
                    [rebase(url, base) for url in value]
                    if isinstance(value, list)
                    else rebase(value, base)
                )
                if moved != value:
                    setattr(source, key, moved)
                    changed = True
        if changed:
            source.full_clean()
            source.save()
        if proxies and source.name in PROXIED_SOURCES:
            source.proxies.set(proxies)
        sources.append(source)
    return sources
