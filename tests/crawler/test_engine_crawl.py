"""Real crawls of the demo sites, each in its own process (``ibcloud crawl run``)."""

import pytest

from ibcloud.crawler import runner
from ibcloud.crawler.models import CrawlJob, RawItem
from ibcloud.demo.sites import start_demo_sites
from tests.factories import CrawlJobFactory, CrawlSourceFactory

pytestmark = pytest.mark.django_db(transaction=True)

PROJECTS = 25  # 3 list pages, 25 detail pages
INVESTORS = 45


@pytest.fixture(scope="module")
def sites():
    running = start_demo_sites(projects=PROJECTS, investors=INVESTORS, proxies=3, protected=12)
    yield running
    running.stop()


@pytest.fixture
def allow_loopback(settings):
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1", "localhost"]


def crawl(source, child_env, timeout=60) -> CrawlJob:
    """Run one crawl job of ``source`` to its end in a child process; the job row after."""
    job = CrawlJobFactory(source=source)
    process = runner.spawn_crawl(job.pk, env=child_env)
    assert process.wait(timeout=timeout) == 0
    job.refresh_from_db()
    return job


PROJECT_FIELDS = [
    {"name": "name", "by": "css", "expr": "h1.project-name", "required": True},
    {"name": "industry", "by": "css", "expr": "dd.industry"},
    {"name": "amount", "by": "css", "expr": "dd.amount"},
    {"name": "tags", "by": "css", "expr": "li.tag", "all": True},
    {"name": "website", "by": "css", "expr": "dd.website a", "attribute": "href", "type": "url"},
]


def test_html_list_and_detail_pages_with_next_link_collect_every_project(
    sites, allow_loopback, child_env
):
    source = CrawlSourceFactory(
        start_urls=[f"{sites.base_url}/projects/"],
        pagination="next_link",
        next_selector="a.next",
        fields=PROJECT_FIELDS,
    )
    job = crawl(source, child_env)

    assert job.status == "succeeded", job.message
    assert (job.pages, job.items, job.new_items, job.errors) == (
        PROJECTS + 3,
        PROJECTS,
        PROJECTS,
        0,
    )
    items = {item.url: item for item in RawItem.objects.filter(source=source)}
    assert len(items) == PROJECTS
    for project in sites.data.projects:
        stored = items[f"{sites.base_url}/projects/{project.id}.html"]
        assert stored.data["name"] == project.name
        assert stored.data["amount"] == project.amount
        assert stored.data["website"] == project.website
        assert stored.data.get("tags", []) == list(project.tags)  # no tags: the field is empty
    assert stored.job_id == job.pk and stored.item_type == "project"
    assert job.field_stats["amount"] == {"filled": PROJECTS, "total": PROJECTS, "invalid": 0}
    untagged = [p for p in sites.data.projects if not p.tags]
    assert job.field_stats["tags"]["filled"] == PROJECTS - len(untagged)
    assert len(job.sample_urls["tags"]) == min(5, len(untagged))
    assert job.sample_page_url.endswith(".html") and "project-name" in job.sample_page
    assert job.stats["requests"] >= PROJECTS + 3 and job.finished_at and job.log


INVESTOR_FIELDS = [
    {"name": "name", "by": "jsonpath", "expr": "$.name", "required": True},
    {"name": "type", "by": "jsonpath", "expr": "type"},
    {"name": "industries", "by": "jsonpath", "expr": "$.industries", "all": True},
]


def investor_source(sites, **overrides):
    config = {
        "item_type": "investor",
        "start_urls": [f"{sites.base_url}/investors/api/investors?limit=20"],
        "page_format": "json",
        "list_mode": "inline",
        "list_selector_type": "jsonpath",
        "item_selector": "$.data[*]",
        "link_selector": "",
        "pagination": "json_cursor",
        "cursor_path": "$.next_cursor",
        "page_param": "cursor",
        "fields": INVESTOR_FIELDS,
        **overrides,
    }
    source = CrawlSourceFactory(**config)
    source.full_clean()
    return source


def assert_every_investor(sites, source, job, pages):
    assert job.status == "succeeded", job.message
    assert (job.pages, job.items, job.new_items) == (pages, INVESTORS, INVESTORS)
    stored = {item.data["name"]: item.data for item in RawItem.objects.filter(source=source)}
    assert len(stored) == INVESTORS
    for investor in sites.data.investors:
        assert stored[investor.name]["type"] == investor.type
        assert stored[investor.name]["industries"] == list(investor.industries)
    assert RawItem.objects.filter(source=source, item_type="investor").count() == INVESTORS


@pytest.mark.parametrize(
    "pagination",
    [
        {},
        {"pagination": "json_offset", "page_param": "offset", "page_size": 20, "cursor_path": ""},
        {
            "method": "POST",
            "body": '{"limit": 20}',
            "start_urls": ["{base}/investors/api/investors"],
        },
    ],
    ids=["cursor", "offset", "post-cursor-in-body"],
)
def test_json_api_pages_by_cursor_or_offset_collect_every_investor(
    sites, allow_loopback, child_env, pagination
):
    if "start_urls" in pagination:
        pagination["start_urls"] = [u.format(base=sites.base_url) for u in pagination["start_urls"]]
    source = investor_source(sites, **pagination)
    job = crawl(source, child_env)
    # 45 investors, 20 a page: 3 pages, plus an empty 4th page that ends offset paging.
    assert_every_investor(sites, source, job, 4 if "page_size" in pagination else 3)


def test_rss_feed_entries_are_collected(sites, allow_loopback, child_env):
    source = CrawlSourceFactory(
        start_urls=[f"{sites.base_url}/feed/projects.xml"],
        page_format="feed",
        list_mode="inline",
        list_selector_type="xpath",
        link_selector="",
        item_selector="",
        fields=[
            {"name": "title", "by": "xpath", "expr": "title", "required": True},
            {"name": "link", "by": "xpath", "expr": "link", "type": "url"},
            {"name": "published", "by": "xpath", "expr": "pubDate", "type": "date"},
        ],
    )
    source.full_clean()
    job = crawl(source, child_env)
    assert job.status == "succeeded", job.message
    newest = sorted(sites.data.projects, key=lambda p: p.id, reverse=True)[:20]
    links = set(RawItem.objects.filter(source=source).values_list("data__link", flat=True))
    assert links == {f"{sites.base_url}/projects/{p.id}.html" for p in newest}
    assert job.items == 20 and job.field_stats["published"]["invalid"] == 0


def test_a_second_run_of_an_unchanged_site_adds_no_raw_item(sites, allow_loopback, child_env):
    source = CrawlSourceFactory(
        start_urls=[f"{sites.base_url}/projects/"],
        pagination="next_link",
        next_selector="a.next",
        fields=PROJECT_FIELDS,
    )
    first = crawl(source, child_env)
    second = crawl(source, child_env)
    assert (first.new_items, second.items, second.new_items) == (PROJECTS, PROJECTS, 0)
    assert second.status == "succeeded"
    assert RawItem.objects.filter(source=source).count() == PROJECTS
    assert not RawItem.objects.filter(job=second).exists()


@pytest.mark.parametrize("page_end", [3, 9], ids=["last-page-given", "until-a-missing-page"])
def test_page_number_pagination_over_a_url_template(sites, allow_loopback, child_env, page_end):
    source = CrawlSourceFactory(
        url_template=f"{sites.base_url}/projects/?page={{page}}",
        start_urls=[],
        page_start=1,
        page_end=page_end,
        pagination="page_number",
        fields=PROJECT_FIELDS,
    )
    source.full_clean()
    job = crawl(source, child_env)
    assert job.status == "succeeded", job.message
    assert (job.items, job.errors) == (PROJECTS, 0)
    # 3 list pages; without a last page, a 4th that does not exist ends the paging.
    assert job.pages == PROJECTS + (3 if page_end == 3 else 4)


def test_a_url_template_over_a_page_range_fetches_each_page(sites, allow_loopback, child_env):
    source = CrawlSourceFactory(
        url_template=f"{sites.base_url}/projects/?page={{page}}",
        start_urls=[],
        page_start=2,
        page_end=3,
        fields=PROJECT_FIELDS,
    )
    job = crawl(source, child_env)
    assert job.status == "succeeded" and job.items == PROJECTS - 10  # pages 2 and 3
