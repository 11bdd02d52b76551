"""An admin configures a crawl source in the browser without writing code: two field rows, a
try-it preview against the demo project site, then saves it."""

import pytest

from ibcloud.crawler.models import CrawlSource
from tests.e2e.session import login
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(settings, monkeypatch):
    """The demo sites on loopback, allowed here and in the preview's child process."""
    from ibcloud.demo.sites import start_demo_sites

    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1", "localhost"]
    monkeypatch.setenv("IBCLOUD_SSRF_ALLOWLIST", "127.0.0.1,localhost")
    sites = start_demo_sites(projects=20, investors=10, proxies=0)
    yield sites
    sites.stop()


def test_admin_adds_a_source_with_two_fields_and_previews_it(live_server, browser, demo):
    UserFactory(username="crawl-admin", is_superuser=True, is_staff=True)
    page = browser.new_page()
    base = live_server.url

    login(page, base, "crawl-admin")

    page.goto(f"{base}/crawler/sources/add/")
    page.fill("#id_name", "项目汇（浏览器）")
    page.select_option("#id_item_type", "project")
    page.fill("#id_start_urls", f"{demo.base_url}/projects/")
    page.fill("#id_link_selector", "a.project-link::attr(href)")
    # The table starts with one empty row; "Add field" adds the second.
    page.fill("input[name='rules-0-name']", "title")
    page.fill("input[name='rules-0-expr']", "h1.project-name::text")
    page.click("#add-rule")
    page.fill("input[name='rules-1-name']", "ceo")
    page.fill("input[name='rules-1-expr']", ".ceo::text")

    page.fill("#id_preview_url", f"{demo.base_url}/projects/4.html")
    page.select_option("#id_preview_kind", "detail")
    page.click("#preview-button")
    item = page.locator("[data-preview-item]").first
    item.wait_for(timeout=60000)
    title = item.locator("[data-preview-field='title']")
    assert title.get_attribute("data-empty") is None
    assert title.inner_text().strip() not in ("", "title")
    # The second field matches nothing on the page: it is flagged, not hidden.
    assert item.locator("[data-preview-field='ceo']").get_attribute("data-empty") == "1"

    page.click("#save-button")
    page.wait_for_url(f"{base}/crawler/sources/*/")
    assert "h1.project-name::text" in page.content()
    browser.close()

    source = CrawlSource.objects.get(name="项目汇（浏览器）")
    assert [rule["name"] for rule in source.fields] == ["title", "ceo"]
    assert source.start_urls == [f"{demo.base_url}/projects/"]
