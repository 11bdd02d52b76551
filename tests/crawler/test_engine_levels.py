"""The three protection levels of the demo sites: each collected with its measure, refused without.

L1 refuses clients that do not look like a browser; L2 answers 429 after a few requests per
client address per minute; L3 needs a login, a cookie set by JavaScript and rendering.
"""

from urllib.parse import urlsplit

import pytest
import requests

from ibcloud.crawler import runner
from ibcloud.crawler.models import CrawlSource, Proxy, RawItem
from ibcloud.demo.sites import start_demo_sites
from ibcloud.demo.sites.l2 import BLOCK_MARKER
from ibcloud.demo.sites.l3 import PASSWORD, USERNAME, WAIT_FOR_SELECTOR
from tests.factories import CrawlJobFactory, CrawlSourceFactory, ProxyFactory

pytestmark = pytest.mark.django_db(transaction=True)

PROTECTED = 12  # projects per protected site: 2 list pages + 12 detail pages
L2_LIMIT = 8  # requests per client address per minute


@pytest.fixture(scope="module")
def running_sites():
    running = start_demo_sites(projects=5, investors=5, proxies=3, protected=PROTECTED)
    yield running
    running.stop()


@pytest.fixture
def sites(running_sites, settings):
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1", "localhost"]
    running_sites.state.l2_limit_per_minute = L2_LIMIT
    running_sites.state.reset()
    yield running_sites
    running_sites.state.reset()


def protected_source(sites, site, **overrides):
    config = {
        "start_urls": [f"{sites.base_url}/{site}/"],
        "pagination": "next_link",
        "next_selector": "a.next",
        "fields": [
            {"name": "name", "by": "css", "expr": "h1.project-name", "required": True},
            {"name": "amount", "by": "css", "expr": "dd.amount"},
        ],
        **overrides,
    }
    source = CrawlSourceFactory(**config)
    source.full_clean()
    return source


def crawl(source, child_env, timeout=90):
    job = CrawlJobFactory(source=source)
    assert runner.spawn_crawl(job.pk, env=child_env).wait(timeout=timeout) == 0
    job.refresh_from_db()
    return job


def assert_every_project(sites, job, projects):
    assert job.status == "succeeded", job.message
    names = set(RawItem.objects.filter(job=job).values_list("data__name", flat=True))
    assert names == {project.name for project in projects}
    amounts = set(RawItem.objects.filter(job=job).values_list("data__amount", flat=True))
    assert amounts == {project.amount for project in projects}


def test_l1_browser_headers_get_in_and_the_honest_crawler_is_refused(sites, child_env):
    job = crawl(protected_source(sites, "l1", fetch_level=1), child_env)
    assert_every_project(sites, job, sites.data.l1_projects)

    plain = crawl(protected_source(sites, "l1", fetch_level=0), child_env)
    assert plain.status == "failed" and plain.items == 0
    assert plain.stats["responses"] == {"200": 1, "403": 1}  # robots.txt, then refused
    assert "403" in plain.message and "L1" in plain.message


def demo_proxies(sites) -> list[Proxy]:
    proxies = []
    for index, url in enumerate(sites.proxy_urls):
        parts = urlsplit(url)
        proxies.append(
            ProxyFactory(
                name=f"demo-{index}",
                url=f"http://{parts.hostname}:{parts.port}",
                username=parts.username,
                password=parts.password,
            )
        )
    return proxies


def test_l2_proxies_spread_the_load_and_banned_proxies_rest(sites, child_env):
    proxies = demo_proxies(sites)
    # The first proxy's address has used up its quota already: its first answer is a 429.
    used_up = {"http": sites.proxy_urls[0]}
    for _ in range(L2_LIMIT):
        requests.get(f"{sites.base_url}/l2/", proxies=used_up, timeout=5).raise_for_status()

    job = crawl(protected_source(sites, "l2", fetch_level=2, block_marker=BLOCK_MARKER), child_env)
    assert_every_project(sites, job, sites.data.l2_projects)
    assert job.stats["bans"] >= 1 and job.stats["ban_retries"] >= 1
    first, *others = (Proxy.objects.get(pk=proxy.pk) for proxy in proxies)
    assert first.failures >= 1 and first.banned_until is not None
    assert all(proxy.successes > 0 and proxy.last_used_at for proxy in others)

    sites.state.reset()
    direct = crawl(protected_source(sites, "l2", fetch_level=1), child_env)
    assert direct.status in ("partial", "failed")
    assert direct.items < PROTECTED
    assert direct.stats["responses"]["429"] >= 1
    assert "429" in direct.message and "L2" in direct.message


def l3_source(sites, **overrides):
    config = {
        "fetch_level": 3,
        "login_url": f"{sites.base_url}/l3/login",
        "login_form": {"username": USERNAME, "password": PASSWORD},
        "render_js": True,
        "wait_for_selector": WAIT_FOR_SELECTOR,
        **overrides,
    }
    return protected_source(sites, "l3", **config)


def test_l3_login_javascript_cookie_and_rendering(sites, child_env):
    source = l3_source(sites)
    job = crawl(source, child_env)
    assert_every_project(sites, job, sites.data.l3_projects)
    assert job.stats["browser_pages"] >= PROTECTED + 2
    cookies = {cookie["name"] for cookie in CrawlSource.objects.get(pk=source.pk).cookies}
    assert {"l3_session", "l3_js"} <= cookies  # the session is kept (encrypted) for next time

    # A source with that session imported needs no login form (one rendered page is enough).
    project = sites.data.l3_projects[0]
    imported = l3_source(
        sites,
        name="l3-imported",
        start_urls=[f"{sites.base_url}/l3/{project.id}.html"],
        list_mode="inline",
        item_selector="article.project-detail",
        pagination="none",
        login_url="",
        login_form={},
        cookies=CrawlSource.objects.get(pk=source.pk).cookies,
    )
    again = crawl(imported, child_env)
    assert again.status == "succeeded", again.message
    assert RawItem.objects.get(job=again).data == {"name": project.name, "amount": project.amount}


def test_l3_site_without_login_and_rendering_fails_and_says_why(sites, child_env):
    job = crawl(l3_source(sites, fetch_level=2), child_env)
    assert job.status == "failed" and job.items == 0
    assert job.stats["login_pages"] >= 1
    assert "L3" in job.message


def test_l2_rate_limit_spaces_requests_to_a_domain(sites, child_env):
    # 120 requests a minute: one every 0.5 s. The robots.txt request is not a page of the site.
    source = protected_source(sites, "l2", fetch_level=2, rate_limit=120, max_pages=5)
    job = crawl(source, child_env)
    assert job.pages == 5 and job.status == "succeeded", job.message
    assert job.stats["elapsed_seconds"] >= 4 * 0.5
