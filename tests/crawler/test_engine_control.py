"""Controlling a running crawl: cancel, time limit, page limit, a vanished worker; the preview."""

import json
import subprocess
import sys
import time

import psutil
import pytest

from ibcloud.core.models import Job
from ibcloud.crawler import runner
from ibcloud.crawler.config import source_config
from ibcloud.crawler.models import CrawlJob, RawItem
from ibcloud.demo.sites import start_demo_sites
from tests.factories import CrawlJobFactory, CrawlSourceFactory

pytestmark = pytest.mark.django_db(transaction=True)

PROJECTS = 30


@pytest.fixture(scope="module")
def sites():
    running = start_demo_sites(projects=PROJECTS, investors=5, proxies=0, protected=5)
    yield running
    running.stop()


@pytest.fixture
def allow_loopback(settings):
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1", "localhost"]


def slow_source(sites, **overrides):
    """3 list pages and 30 detail pages, one at a time, 0.2 s apart: about 7 s."""
    config = {
        "start_urls": [f"{sites.base_url}/projects/"],
        "pagination": "next_link",
        "next_selector": "a.next",
        "fields": [{"name": "name", "by": "css", "expr": "h1.project-name", "required": True}],
        "concurrency": 1,
        "delay": 0.2,
        **overrides,
    }
    return CrawlSourceFactory(**config)


def wait_until(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def process_alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie nobody reaped has finished)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def running_with_items(job):
    job.refresh_from_db()
    return job.status == "running" and job.items >= 2


def test_live_progress_and_cancel(sites, allow_loopback, child_env):
    background = Job.objects.create(name="crawler.run_crawl_job", queue="crawl", status="running")
    job = CrawlJobFactory(source=slow_source(sites), job=background)
    process = runner.spawn_crawl(job.pk, env=child_env)
    try:
        assert wait_until(lambda: running_with_items(job)), "no live progress"
        assert job.pages >= 2 and job.current_url.startswith(sites.base_url)
        assert job.heartbeat_at and job.started_at and job.stats["requests"] >= 2
        Job.objects.filter(pk=background.pk).update(cancel_requested=True)
        assert process.wait(timeout=15) == 0
    finally:
        process.kill()
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert 0 < job.items < PROJECTS
    assert RawItem.objects.filter(source=job.source).count() == job.new_items == job.items


def test_a_cancelled_run_row_stops_the_crawl(sites, allow_loopback, child_env):
    job = CrawlJobFactory(source=slow_source(sites))
    process = runner.spawn_crawl(job.pk, env=child_env)
    try:
        assert wait_until(lambda: running_with_items(job))
        CrawlJob.objects.filter(pk=job.pk).update(status="cancelled", message="Cancelled.")
        assert process.wait(timeout=15) == 0
    finally:
        process.kill()
    job.refresh_from_db()
    assert job.status == "cancelled" and job.items < PROJECTS


def test_the_time_limit_ends_the_run_partly_done(sites, allow_loopback, child_env):
    job = CrawlJobFactory(source=slow_source(sites, time_limit=2))
    assert runner.spawn_crawl(job.pk, env=child_env).wait(timeout=30) == 0
    job.refresh_from_db()
    assert job.status == "partial"
    assert 0 < job.items < PROJECTS
    assert job.stats["finish_reason"] == "closespider_timeout"
    assert "2 s" in job.message or "2 秒" in job.message  # the UI language is Chinese by default


def test_the_page_limit_stops_scheduling_pages(sites, allow_loopback, child_env):
    job = CrawlJobFactory(source=slow_source(sites, max_pages=8, delay=0, concurrency=4))
    assert runner.spawn_crawl(job.pk, env=child_env).wait(timeout=30) == 0
    job.refresh_from_db()
    assert job.status == "succeeded", job.message
    assert job.pages == 8 and 0 < job.items < 8  # some of the 8 pages were list pages
    assert job.stats["page_limit_dropped"] > 0 and "8" in job.message


def test_a_crawl_whose_worker_died_stops_and_fails(sites, allow_loopback, child_env):
    job = CrawlJobFactory(source=slow_source(sites))
    # A stand-in worker: starts the crawl as its child, then dies without waiting for it once the
    # crawl has items (not after a fixed time: on a loaded machine the crawl may not have begun).
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time, django; django.setup(); from ibcloud.crawler import runner; "
            "from ibcloud.crawler.models import CrawlJob; "
            f"print(runner.spawn_crawl({job.pk}).pid, flush=True); "
            "deadline = time.monotonic() + 60\n"
            f"while CrawlJob.objects.get(pk={job.pk}).items < 2 and time.monotonic() < deadline:\n"
            "    time.sleep(0.2)",
        ],
        env=child_env,
        stdout=subprocess.PIPE,
        text=True,
    )
    crawl_pid = int(worker.stdout.readline())
    assert worker.wait(timeout=90) == 0
    assert wait_until(lambda: CrawlJob.objects.get(pk=job.pk).is_finished, timeout=15)
    # The orphaned crawl still writes after marking the run finished (its last statistics):
    # the test database is emptied only after it is gone.
    assert wait_until(lambda: not process_alive(crawl_pid), timeout=30)
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.stats["finish_reason"] == "worker_lost" or "worker" in job.message
    assert job.items < PROJECTS
    assert RawItem.objects.filter(source=job.source).count() == job.new_items


def test_preview_of_a_list_page_shows_items_and_empty_fields(sites, allow_loopback, child_env):
    source = slow_source(
        sites,
        delay=0,
        fields=[
            {"name": "name", "by": "css", "expr": "h1.project-name", "required": True},
            {"name": "amount", "by": "css", "expr": "dd.amount"},
            {"name": "ceo", "by": "css", "expr": "dd.ceo", "required": True},
        ],
    )
    result = runner.preview(
        source_config(source), f"{sites.base_url}/projects/", "list", env=child_env
    )
    assert result["error"] is None and result["status"] == 200
    assert len(result["links"]) == 10 and len(result["items"]) == 3
    assert result["next_page"] == f"{sites.base_url}/projects/?page=2"
    assert result["fields"] == ["name", "amount", "ceo"]
    first = result["items"][0]
    assert first["url"] == result["links"][0]
    assert set(first["data"]) == {"name", "amount"}
    assert first["empty"] == ["ceo"] and first["problems"] == {"ceo": "missing"}


def test_preview_of_an_unsaved_inline_json_config(sites, allow_loopback, child_env):
    config = {
        "fetch_level": 1,
        "obey_robots": True,
        "page_format": "json",
        "list_mode": "inline",
        "list_selector_type": "jsonpath",
        "item_selector": "$.data[*]",
        "pagination": "json_cursor",
        "cursor_path": "$.next_cursor",
        "page_param": "cursor",
        "fields": [{"name": "name", "by": "jsonpath", "expr": "name"}],
        "source_id": None,
        "proxies": [],
    }
    url = f"{sites.base_url}/investors/api/investors?limit=2"
    result = runner.preview(config, url, "list", env=child_env)
    assert result["error"] is None
    assert [item["data"]["name"] for item in result["items"]] == [
        investor.name for investor in sites.data.investors[:2]
    ]
    assert "cursor=" in result["next_page"]


def test_preview_reports_what_went_wrong(sites, allow_loopback, child_env):
    config = source_config(slow_source(sites))
    refused = runner.preview(config, "http://169.254.169.254/", "detail", env=child_env)
    assert "169.254.169.254" in refused["error"] and refused["items"] == []
    missing = runner.preview(config, f"{sites.base_url}/projects/999.html", "detail", env=child_env)
    assert missing["status"] == 404 and missing["error"] == "HTTP 404"
    json.dumps(missing)  # plain JSON for the API


def test_the_crawl_command_refuses_what_it_cannot_run(child_env):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="no crawl source"):
        call_command("crawl", "start", "no such source")
    completed = subprocess.run(
        runner.crawl_command("run", "987654"), env=child_env, capture_output=True, text=True
    )
    assert completed.returncode == 1 and "does not exist" in completed.stderr
