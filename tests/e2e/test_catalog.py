"""A banker finds a company in the catalog: three sources list it under different names, the
catalog holds it once; a boolean keyword query finds it and not its look-alike; its page says
where each value came from."""

import pytest

from ibcloud.catalog import services
from ibcloud.catalog.models import Project
from tests.catalog.factories import raw_item
from tests.e2e.session import login
from tests.factories import CrawlSourceFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def crawl_three_listings():
    """Three sources describe 云图智能 their own way; a fourth record is a different company."""
    listing = CrawlSourceFactory(name="项目库", trust=80)
    feed = CrawlSourceFactory(name="项目快讯", trust=40)
    directory = CrawlSourceFactory(name="企业名录", trust=60)
    raw_item(
        listing,
        {
            "name": "云图智能",
            "full_name": "深圳市云图智能科技有限公司",
            "industry": "人工智能",
            "province": "广东",
            "city": "深圳",
            "round": "A轮",
            "amount": "数千万元",
            "summary": "云图智能专注于计算机视觉，核心产品为视觉质检一体机。",
        },
        url="http://listing.example/projects/1.html",
    )
    raw_item(
        feed,
        {"title": "云图智能完成A轮融资", "name": "云图智能", "round": "A轮", "amount": "US$10M"},
        url="http://feed.example/items/1",
    )
    raw_item(
        directory,
        {
            "name": "云图智能科技（深圳）有限公司",
            "location": "广东·深圳",
            "summary": "视觉质检一体机与工业视觉检测平台。",
            "website": "https://www.yuntu-ai.cn",
        },
        url="http://directory.example/c/1",
    )
    raw_item(
        listing,
        {
            "name": "云途智能",
            "full_name": "杭州云途智能科技有限公司",
            "industry": "医疗器械",
            "province": "浙江",
            "city": "杭州",
            "round": "B轮",
            "amount": "1.5亿元",
            "summary": "云途智能研发手术机器人与医疗影像设备。",
        },
        url="http://listing.example/projects/2.html",
    )
    services.ingest_pending()


def test_banker_searches_the_catalog_and_reads_provenance(live_server, browser):
    UserFactory(username="catalog-admin", is_superuser=True, is_staff=True)
    crawl_three_listings()
    assert Project.objects.count() == 2
    yuntu = Project.objects.get(name_key__contains="云图")

    page = browser.new_page()
    base = live_server.url
    login(page, base, "catalog-admin")

    page.goto(f"{base}/catalog/projects/")
    page.fill("input[name=q]", '"视觉质检" NOT 医疗')
    page.click("button[form=filter-form][type=submit]")
    page.wait_for_url("**/catalog/projects/?*")
    rows = page.locator("table tbody tr")
    assert rows.count() == 1
    assert "云图智能" in rows.first.inner_text()

    page.fill("input[name=q]", "智能 AND (手术 OR 机器人)")
    page.click("button[form=filter-form][type=submit]")
    page.wait_for_load_state()
    assert page.locator("table tbody tr").count() == 1
    assert "云途智能" in page.locator("table tbody tr").first.inner_text()

    page.fill("input[name=q]", '"视觉')
    page.click("button[form=filter-form][type=submit]")
    page.wait_for_load_state()
    assert page.locator("#keyword-error").is_visible()

    page.goto(f"{base}/catalog/projects/{yuntu.pk}/")
    provenance = page.locator("#provenance")
    assert "深圳市云图智能科技有限公司" in provenance.inner_text()
    # The most trusted source gives most values; the directory alone knows the website.
    assert "项目库" in page.locator("[data-provenance=full_name]").inner_text()
    assert "企业名录" in page.locator("[data-provenance=website]").inner_text()
    assert page.locator("#region").inner_text().strip().startswith("广东")
    browser.close()


def test_banker_chooses_the_columns_of_the_project_list(live_server, browser):
    from ibcloud.core.models import TableConfig
    from tests.catalog.factories import ProjectFactory

    user = UserFactory(username="columns-admin", is_superuser=True, is_staff=True)
    ProjectFactory(name="云图智能")

    page = browser.new_page()
    base = live_server.url
    login(page, base, "columns-admin")

    page.goto(f"{base}/catalog/projects/?sort=name")
    headers = page.locator("#object-table thead th")
    assert "工商全称" in headers.all_inner_texts()
    # On a wide screen the list uses the width (a page body is capped at 1320 px elsewhere).
    page.set_viewport_size({"width": 1920, "height": 900})
    assert page.locator(".page-body > .container-xl").bounding_box()["width"] > 1320
    page.set_viewport_size({"width": 1400, "height": 900})
    page.click("#columns-button")
    page.wait_for_selector("#columns-modal.show")
    page.uncheck("#columns-modal [data-column=full_name] input")
    # Industry up to the front: three steps past region, registered name and name.
    for _ in range(3):
        page.click("#columns-modal [data-column=industry] [data-column-move=up]")
    page.click("#columns-save")
    page.wait_for_url(f"{base}/catalog/projects/?sort=name")

    texts = [t.strip() for t in page.locator("#object-table thead th").all_inner_texts()]
    assert "工商全称" not in texts
    assert texts.index("行业") < texts.index("项目方")
    assert "云图智能" in page.locator("#object-table tbody").inner_text()
    browser.close()

    saved = TableConfig.objects.get(user=user)
    assert saved.columns[:2] == ["industry", "name"] and "full_name" not in saved.columns
