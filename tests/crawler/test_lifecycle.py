"""Starting, cancelling and cleaning up crawl runs, and previewing a source before saving it."""

import datetime
import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from ibcloud.audit.models import AuditEntry
from ibcloud.core import jobs
from ibcloud.core.models import Job
from ibcloud.crawler import services
from ibcloud.crawler.models import CrawlJob, RawItem
from ibcloud.crawler.tasks import kill_child, run_crawl_job
from ibcloud.demo.sites import start_demo_sites
from tests.factories import CrawlJobFactory, CrawlSourceFactory, DepartmentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory(department=DepartmentFactory())


@pytest.fixture
def source(owner):
    return CrawlSourceFactory(owner=owner)


# --- start ----------------------------------------------------------------------------------------


def test_start_creates_a_queued_run_owned_like_its_source(source):
    requester = UserFactory()

    run = services.start_crawl(source, user=requester)

    assert run.status == CrawlJob.Status.PENDING
    assert (run.owner, run.department) == (source.owner, source.department)
    assert run.requested_by == requester
    assert run.trigger == CrawlJob.Trigger.MANUAL
    assert run.job.name == run_crawl_job.job_name
    assert run.job.queue == "crawl"
    assert run.job.arguments == {"args": [run.pk], "kwargs": {}}
    assert run.job.owner == requester


def test_a_manual_start_is_audited(source):
    requester = UserFactory()

    run = services.start_crawl(source, user=requester)

    entry = AuditEntry.objects.get(event="crawl_start")
    assert entry.actor == requester
    assert entry.object_id == source.pk
    assert str(run.pk) in entry.description


def test_a_second_run_is_refused_while_one_is_pending_or_running(source, english):
    first = services.start_crawl(source)

    with pytest.raises(ValidationError) as refused:
        services.start_crawl(source)
    assert f"run #{first.pk}" in refused.value.messages[0]
    assert "already running" in refused.value.messages[0]

    CrawlJob.objects.filter(pk=first.pk).update(status=CrawlJob.Status.RUNNING)
    with pytest.raises(ValidationError):
        services.start_crawl(source)

    CrawlJob.objects.filter(pk=first.pk).update(status=CrawlJob.Status.FAILED)
    assert services.start_crawl(source).pk != first.pk
    assert CrawlJob.objects.filter(source=source).count() == 2


def test_other_sources_run_at_the_same_time(source):
    services.start_crawl(source)
    other = services.start_crawl(CrawlSourceFactory())
    assert other.status == CrawlJob.Status.PENDING


def test_a_disabled_source_can_still_be_run_by_hand(source):
    source.enabled = False
    source.save()

    assert services.start_crawl(source).status == CrawlJob.Status.PENDING


def test_an_unsaved_source_cannot_be_run():
    with pytest.raises(ValidationError):
        services.start_crawl(CrawlSourceFactory.build())


# --- cancel ---------------------------------------------------------------------------------------


def test_cancelling_a_queued_run_ends_it_and_its_job_at_once(source):
    requester = UserFactory()
    run = services.start_crawl(source, user=requester)

    services.cancel_crawl(run, user=requester)

    run.refresh_from_db()
    assert run.status == CrawlJob.Status.CANCELLED
    assert run.finished_at is not None
    assert run.job.status == Job.Status.CANCELLED
    entry = AuditEntry.objects.get(event="crawl_cancel")
    assert entry.actor == requester
    # The source can run again.
    assert services.start_crawl(source).status == CrawlJob.Status.PENDING


def test_cancelling_a_running_run_asks_its_job_to_stop(source):
    run = services.start_crawl(source)
    Job.objects.filter(pk=run.job_id).update(status=Job.Status.RUNNING)
    CrawlJob.objects.filter(pk=run.pk).update(status=CrawlJob.Status.RUNNING)

    services.cancel_crawl(run)

    run.refresh_from_db()
    assert run.job.cancel_requested  # the crawl process and its supervisor act on it
    assert run.status == CrawlJob.Status.RUNNING


def test_cancelling_a_finished_run_changes_nothing(source):
    run = CrawlJobFactory(source=source, status=CrawlJob.Status.SUCCEEDED, message="done")

    services.cancel_crawl(run)

    run.refresh_from_db()
    assert (run.status, run.message) == (CrawlJob.Status.SUCCEEDED, "done")
    assert not AuditEntry.objects.filter(event="crawl_cancel").exists()


def test_a_run_without_a_background_job_is_cancelled_directly(source):
    run = CrawlJobFactory(source=source, status=CrawlJob.Status.RUNNING)

    services.cancel_crawl(run)

    run.refresh_from_db()
    assert run.status == CrawlJob.Status.CANCELLED


# --- the background job and the run end together --------------------------------------------------


def test_a_run_whose_worker_stopped_is_failed_with_it(source, english):
    run = services.start_crawl(source)
    Job.objects.filter(pk=run.job_id).update(status=Job.Status.RUNNING)
    CrawlJob.objects.filter(pk=run.pk).update(status=CrawlJob.Status.RUNNING)

    assert jobs.fail_interrupted(run.job_id, "host:123")

    run.refresh_from_db()
    assert run.status == CrawlJob.Status.FAILED
    assert "worker" in run.message and "stopped" in run.message
    assert run.finished_at is not None


def test_a_reaped_background_job_fails_its_run(source):
    run = services.start_crawl(source)
    old = timezone.now() - datetime.timedelta(seconds=jobs.STALE_AFTER_SECONDS + 60)
    Job.objects.filter(pk=run.job_id).update(status=Job.Status.RUNNING, heartbeat_at=old)

    assert jobs.reap_stale_jobs() == 1

    run.refresh_from_db()
    assert run.status == CrawlJob.Status.FAILED


# --- reaper ---------------------------------------------------------------------------------------


def test_the_reaper_fails_running_runs_whose_heartbeat_stopped(source, english):
    now = timezone.now()
    stale = CrawlJobFactory(
        source=source,
        status=CrawlJob.Status.RUNNING,
        started_at=now - datetime.timedelta(minutes=10),
        heartbeat_at=now - datetime.timedelta(seconds=jobs.STALE_AFTER_SECONDS + 5),
    )
    alive = CrawlJobFactory(
        status=CrawlJob.Status.RUNNING,
        started_at=now - datetime.timedelta(minutes=10),
        heartbeat_at=now - datetime.timedelta(seconds=5),
    )
    pending = CrawlJobFactory(status=CrawlJob.Status.PENDING)

    assert services.reap_stale_crawl_jobs(now=now) == 1

    stale.refresh_from_db()
    assert stale.status == CrawlJob.Status.FAILED
    assert "stopped sending heartbeats" in stale.message
    assert stale.finished_at is not None
    for row in (alive, pending):
        row.refresh_from_db()
        assert not row.is_finished
    assert services.reap_stale_crawl_jobs(now=now) == 0


def test_the_reaper_counts_from_the_start_when_a_run_never_beat(source):
    now = timezone.now()
    silent = CrawlJobFactory(
        source=source,
        status=CrawlJob.Status.RUNNING,
        started_at=now - datetime.timedelta(seconds=jobs.STALE_AFTER_SECONDS + 5),
    )

    assert services.reap_stale_crawl_jobs(now=now) == 1
    silent.refresh_from_db()
    assert silent.status == CrawlJob.Status.FAILED


def test_a_failed_run_is_checked_by_the_health_monitor(source):
    alerts = pytest.importorskip("ibcloud.crawler.alerts")
    if not hasattr(alerts, "check_after_job"):
        pytest.skip("health monitor not installed")
    run = CrawlJobFactory(source=source, status=CrawlJob.Status.RUNNING)

    services.finish_crawl_job(run, CrawlJob.Status.FAILED, "crashed")

    assert source.alerts.filter(rule="job_failed").exists()


# --- real crawl processes -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sites():
    with start_demo_sites(projects=30, investors=5, proxies=0, protected=5) as running:
        yield running


@pytest.fixture
def loopback(settings):
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1", "localhost"]


@pytest.fixture
def crawl_processes_see_the_test(loopback, child_env, monkeypatch):
    """Crawl and preview processes inherit this process's environment: point it at the test."""
    for key, value in child_env.items():
        monkeypatch.setenv(key, value)


@pytest.mark.django_db(transaction=True)
def test_preview_of_an_unsaved_source_shows_items_and_fields_that_matched_nothing(
    sites, crawl_processes_see_the_test
):
    source = CrawlSourceFactory.build(
        start_urls=[sites.url("/projects/")],
        fields=[
            {"name": "name", "by": "css", "expr": "h1.project-name", "required": True},
            {"name": "industry", "by": "css", "expr": "dd.industry"},
            {"name": "ceo", "by": "css", "expr": ".ceo-name"},
        ],
    )

    result = services.preview_source(source, sites.url("/projects/"), "list", proxies=[])

    assert result["error"] is None
    assert len(result["links"]) == 10
    assert result["items"], result
    first = result["items"][0]
    assert first["url"] in result["links"]
    assert first["data"]["name"] and first["data"]["industry"]
    assert "ceo" in first["empty"]
    assert source.pk is None and not RawItem.objects.exists()  # a preview stores nothing

    detail = services.preview_source(source, sites.url("/projects/1.html"), "detail", proxies=[])
    assert [item["data"]["name"] for item in detail["items"]] == [sites.data.projects[0].name]


def test_preview_refuses_a_bad_kind_or_url():
    source = CrawlSourceFactory.build()
    with pytest.raises(ValidationError):
        services.preview_source(source, "http://127.0.0.1/", kind="everything")
    with pytest.raises(ValidationError):
        services.preview_source(source, "file:///etc/passwd")


@pytest.mark.django_db(transaction=True)
def test_a_crawl_process_that_dies_fails_its_run_saying_so(
    sites, crawl_processes_see_the_test, english
):
    source = CrawlSourceFactory(
        start_urls=[sites.url("/projects/")],
        pagination="next_link",
        next_selector="a.next",
        concurrency=1,
        delay=0.3,
    )

    # Jobs run in-process here: the run's job supervises its crawl process in this thread.
    def start() -> None:
        try:
            services.start_crawl(source)
        finally:
            connection.close()  # this thread's own connection

    supervisor = threading.Thread(target=start)
    supervisor.start()
    deadline = time.monotonic() + 60
    run = None
    while time.monotonic() < deadline:
        run = CrawlJob.objects.filter(source=source).first()
        if run is not None and (run.is_finished or run.source.raw_items.exists()):
            break
        time.sleep(0.2)
    assert run.status == CrawlJob.Status.RUNNING, run.message

    assert kill_child(run.pk)  # the crawl process dies (out of memory, killed by an admin, ...)
    supervisor.join(timeout=30)

    run.refresh_from_db()
    assert run.status == CrawlJob.Status.FAILED
    assert "crawl process" in run.message and "without finishing the run" in run.message
    assert run.finished_at is not None
    assert run.job.status == Job.Status.SUCCEEDED  # the supervising job itself did its work
    assert source.alerts.filter(rule="job_failed").exists()
