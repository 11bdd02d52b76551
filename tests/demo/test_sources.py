"""The demo crawl sources: valid, owned by the demo admin in 投资银行部, re-seeded idempotently."""

import io

import pytest
from django.core.management import call_command
from django.db import connection

from ibcloud.crawler.models import CrawlSource, FetchLevel, Proxy
from ibcloud.demo.sources import seed_demo_sources

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    """The demo sites run on this machine; the SSRF guard refuses it unless allowlisted."""
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1", "localhost"]


PROXIES = [f"http://demo:demo-proxy-pass@127.0.0.1:{port}" for port in (41001, 41002, 41003)]
NAMES = [
    "演示·项目库",
    "演示·投资机构",
    "演示·项目快讯",
    "演示·L1 站点",
    "演示·L2 站点",
    "演示·L3 站点",
]


def test_seeding_creates_valid_sources_owned_by_the_demo_admin():
    sources = seed_demo_sources("http://127.0.0.1:8001", PROXIES)
    assert [source.name for source in sources] == NAMES
    for source in sources:
        source.full_clean()  # the validation of the form and the API
        assert source.owner.username == "admin"
        assert source.department.name == "并购组"
        assert source.schedule
        assert all(url.startswith("http://127.0.0.1:8001/") for url in source.start_urls)
    by_name = {source.name: source for source in sources}
    assert by_name["演示·投资机构"].page_format == CrawlSource.PageFormat.JSON
    assert by_name["演示·项目快讯"].page_format == CrawlSource.PageFormat.FEED
    levels = [by_name[f"演示·L{level} 站点"].fetch_level for level in (1, 2, 3)]
    assert levels == [FetchLevel.L1, FetchLevel.L2, FetchLevel.L3]
    l2, l3 = by_name["演示·L2 站点"], by_name["演示·L3 站点"]
    assert l2.block_marker == "访问过于频繁"
    assert sorted(proxy.url for proxy in l2.proxies.all()) == [
        "http://127.0.0.1:41001",
        "http://127.0.0.1:41002",
        "http://127.0.0.1:41003",
    ]
    assert l3.render_js and l3.wait_for_selector and l3.login_url.endswith("/l3/login")
    assert l3.login_form == {"username": "demo", "password": "demo-l3-pass"}


def test_proxy_passwords_are_stored_encrypted():
    seed_demo_sources("http://127.0.0.1:8001", PROXIES)
    proxy = Proxy.objects.get(url="http://127.0.0.1:41001")
    assert (proxy.username, proxy.password) == ("demo", "demo-proxy-pass")
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM crawler_proxy WHERE id = %s", [proxy.pk])
        stored = cursor.fetchone()[0]
    assert "demo-proxy-pass" not in stored


def test_seeding_again_changes_nothing_but_moved_urls():
    seed_demo_sources("http://127.0.0.1:8001", PROXIES)
    investors = CrawlSource.objects.get(name="演示·投资机构")
    investors.start_urls = ["http://127.0.0.1:8001/investors/api/investors?limit=50"]
    investors.delay = 2.0  # an admin's edit
    investors.save()
    counts = (CrawlSource.objects.count(), Proxy.objects.count())

    moved_proxies = [url.replace(":4100", ":4200") for url in PROXIES]
    sources = seed_demo_sources("http://127.0.0.1:9123", moved_proxies)

    assert (CrawlSource.objects.count(), Proxy.objects.count()) == counts
    investors.refresh_from_db()
    assert investors.start_urls == ["http://127.0.0.1:9123/investors/api/investors?limit=50"]
    assert investors.delay == 2.0
    l3 = CrawlSource.objects.get(name="演示·L3 站点")
    assert l3.login_url == "http://127.0.0.1:9123/l3/login"
    assert {proxy.url for proxy in l3.proxies.all()} == {
        "http://127.0.0.1:42001",
        "http://127.0.0.1:42002",
        "http://127.0.0.1:42003",
    }
    for source in sources:
        source.full_clean()


def test_demo_command_without_serving_seeds_the_sources(settings):
    settings.IBCLOUD_SSRF_ALLOWLIST = []
    out = io.StringIO()
    call_command("demo", "--no-serve", "--sites-port", "8011", stdout=out)
    assert "http://127.0.0.1:8011/" in out.getvalue()
    assert CrawlSource.objects.filter(name__startswith="演示·").count() == 6
    assert CrawlSource.objects.get(name="演示·项目库").start_urls == [
        "http://127.0.0.1:8011/projects/"
    ]
    assert settings.IBCLOUD_SSRF_ALLOWLIST == []  # allowed for the seeding only


def test_the_demo_banker_and_manager_see_what_the_demo_sources_collect():
    """The sources' records belong to the sources' department: the M&A group's banker (own
    department) and the investment banking manager (department and below) find them; the IPO
    group's analyst (own records only) does not."""
    from ibcloud.accounts.models import User
    from ibcloud.catalog.models import Project
    from ibcloud.core.scoping import restrict
    from tests.catalog.factories import ProjectFactory

    source = seed_demo_sources("http://127.0.0.1:8001", PROXIES)[0]
    ProjectFactory(owner=source.owner, department=source.department)
    visible = {
        username: restrict(Project.objects.all(), User.objects.get(username=username)).count()
        for username in ("banker", "manager", "analyst")
    }
    assert visible == {"banker": 1, "manager": 1, "analyst": 0}
