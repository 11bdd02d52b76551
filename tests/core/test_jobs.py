"""Background jobs: runs, retries, cancellation, progress, stale workers, and the job pages/API."""

import datetime
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from ibcloud.core import jobs
from ibcloud.core.jobs import JobContext, job
from ibcloud.core.models import Job
from ibcloud.core.parameters import set_parameter
from ibcloud.core.tasks import purge_finished_jobs
from tests.conftest import make_org
from tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db


@job(queue="default", name="tests.core.add")
def add(ctx: JobContext, a: int, b: int) -> dict:
    ctx.progress(50, "adding")
    ctx.log(f"{a} + {b}")
    return {"sum": a + b}


@job(queue="default", retries=2, retry_delay=0, name="tests.core.flaky")
def flaky(ctx: JobContext, failures: int) -> str:
    if ctx.job.attempts <= failures:
        raise RuntimeError(f"attempt {ctx.job.attempts} failed")
    return "ok"


@job(queue="default", name="tests.core.cancelled_midway")
def cancelled_midway(ctx: JobContext) -> None:
    ctx.progress(20, "step one")
    # Someone presses "cancel" while the job runs.
    jobs.request_cancel(Job.objects.get(pk=ctx.job.pk))
    ctx.progress(60, "step two")
    raise AssertionError("a cancelled job must stop at its next progress report")


@job(queue="default", timeout=1, name="tests.core.slow")
def slow(ctx: JobContext) -> str:
    for step in range(100):
        time.sleep(0.05)
        ctx.progress(step)
    return "finished"


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Enqueue inside ``with run_jobs():`` to run the jobs (in-process) when the block ends."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_job_succeeds_with_result_progress_and_log(run_jobs):
    user = UserFactory()
    with run_jobs():
        row = add.enqueue(2, 3, user=user)
    row.refresh_from_db()
    assert row.status == Job.Status.SUCCEEDED
    assert row.result == {"sum": 5}
    assert row.progress == 100
    assert row.attempts == 1
    assert "2 + 3" in row.log
    assert row.owner == user
    assert row.arguments == {"args": [2, 3], "kwargs": {}}
    assert row.started_at <= row.finished_at
    assert row.worker


def test_job_retries_then_succeeds(run_jobs):
    with run_jobs():
        row = flaky.enqueue(1)
    row.refresh_from_db()
    assert (row.status, row.attempts, row.result) == (Job.Status.SUCCEEDED, 2, "ok")


def test_job_fails_after_its_retries(run_jobs):
    with run_jobs():
        row = flaky.enqueue(10)
    row.refresh_from_db()
    assert row.status == Job.Status.FAILED
    assert row.attempts == 3  # one run plus two retries
    assert row.message == "attempt 3 failed"
    assert "RuntimeError" in row.error


def test_job_past_its_time_limit_fails_at_its_next_progress_report(run_jobs):
    with run_jobs():
        row = slow.enqueue()
    row.refresh_from_db()
    assert row.status == Job.Status.FAILED
    assert "time limit" in row.message
    assert 10 < row.progress < 99


def test_cancel_pending_job():
    row = add.enqueue(1, 1)  # not run: the transaction never commits in this test
    jobs.request_cancel(row)
    row.refresh_from_db()
    assert row.status == Job.Status.CANCELLED
    assert row.finished_at is not None


def test_cancel_running_job_stops_at_next_progress(run_jobs):
    with run_jobs():
        row = cancelled_midway.enqueue()
    row.refresh_from_db()
    assert row.status == Job.Status.CANCELLED
    assert row.progress == 60
    assert row.error == ""


def test_stale_running_job_is_reaped():
    now = timezone.now()
    stale = Job.objects.create(
        name="x", status=Job.Status.RUNNING, heartbeat_at=now - datetime.timedelta(hours=1)
    )
    alive = Job.objects.create(name="y", status=Job.Status.RUNNING, heartbeat_at=now)
    assert jobs.reap_stale_jobs(now) == 1
    stale.refresh_from_db()
    alive.refresh_from_db()
    assert stale.status == Job.Status.FAILED
    assert "heartbeat" in stale.message
    assert alive.status == Job.Status.RUNNING


def test_interrupted_job_is_failed():
    row = Job.objects.create(name="x", status=Job.Status.RUNNING)
    assert jobs.fail_interrupted(row.pk, "host:1")
    row.refresh_from_db()
    assert row.status == Job.Status.FAILED
    assert not jobs.fail_interrupted(row.pk)  # finished rows are left alone


def test_old_finished_jobs_are_purged_after_the_retention_parameter():
    now = timezone.now()

    def finished(days_ago, status=Job.Status.SUCCEEDED):
        return Job.objects.create(
            name="x", status=status, finished_at=now - datetime.timedelta(days=days_ago)
        )

    old, recent = finished(40), finished(10)
    running = Job.objects.create(name="x", status=Job.Status.RUNNING)
    assert purge_finished_jobs(now) == 1
    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk, running.pk}
    assert not Job.objects.filter(pk=old.pk).exists()

    set_parameter("jobs.retention_days", 5)
    assert purge_finished_jobs(now) == 1
    assert list(Job.objects.values_list("pk", flat=True)) == [running.pk]


# --- Pages ----------------------------------------------------------------------------------------


@pytest.fixture
def operator():
    role = RoleFactory(code="ops", data_scope="all", perms=["core.view_job", "core.change_job"])
    return UserFactory(username="ops", roles=[role])


def test_job_list_filters_and_scope(client):
    org = make_org(["core.view_job"])
    mine = Job.objects.create(name="mine.task", owner=org.self_user, status=Job.Status.FAILED)
    Job.objects.create(name="other.task", owner=org.b_user, department=org.dept_b)

    client.force_login(org.all_user)
    html = client.get(reverse("core:job_list")).content.decode()
    assert "mine.task" in html and "other.task" in html
    html = client.get(reverse("core:job_list"), {"status": "failed"}).content.decode()
    assert "mine.task" in html and "other.task" not in html

    client.force_login(org.self_user)
    html = client.get(reverse("core:job_list")).content.decode()
    assert "mine.task" in html and "other.task" not in html
    assert client.get(reverse("core:job_detail", args=[mine.pk])).status_code == 200
    other = Job.objects.get(name="other.task")
    assert client.get(reverse("core:job_detail", args=[other.pk])).status_code == 404


def test_detail_polls_until_finished(client, operator):
    client.force_login(operator)
    running = Job.objects.create(name="t", status=Job.Status.RUNNING, progress=40, message="half")
    page = client.get(reverse("core:job_detail", args=[running.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in page
    assert "half" in page and "width: 40%" in page
    assert 'id="job-cancel-form"' in page

    partial = client.get(
        reverse("core:job_detail", args=[running.pk]),
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="job-status",
    ).content.decode()
    assert partial.lstrip().startswith('<div id="job-status"')
    assert "<html" not in partial

    done = Job.objects.create(name="t", status=Job.Status.SUCCEEDED, progress=100)
    page = client.get(reverse("core:job_detail", args=[done.pk])).content.decode()
    assert "every 2s" not in page
    assert 'id="job-cancel-form"' not in page


def test_cancel_button(client, operator):
    row = add.enqueue(1, 2)
    client.force_login(operator)
    response = client.post(reverse("core:job_cancel", args=[row.pk]))
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == Job.Status.CANCELLED

    viewer = UserFactory(roles=[RoleFactory(code="jv", data_scope="all", perms=["core.view_job"])])
    other = add.enqueue(3, 4)
    client.force_login(viewer)
    assert client.post(reverse("core:job_cancel", args=[other.pk])).status_code == 403
    other.refresh_from_db()
    assert other.status == Job.Status.PENDING


# --- API ------------------------------------------------------------------------------------------


def test_api_lists_reads_and_cancels(api, operator):
    pending = add.enqueue(5, 6, user=operator)
    done = Job.objects.create(name="done", status=Job.Status.SUCCEEDED)
    client = api.as_user(operator)

    listed = client.get("/api/v1/system/jobs/", {"status": "pending"}).json()
    assert [row["id"] for row in listed["results"]] == [pending.pk]
    detail = client.get(f"/api/v1/system/jobs/{pending.pk}/").json()
    assert detail["arguments"] == {"args": [5, 6], "kwargs": {}}
    assert detail["owner"] == operator.pk

    cancelled = client.post(f"/api/v1/system/jobs/{pending.pk}/cancel/")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"

    conflict = client.post(f"/api/v1/system/jobs/{done.pk}/cancel/")
    assert conflict.status_code == 409
    assert set(conflict.json()) == {"code", "message", "details"}

    bad = client.get("/api/v1/system/jobs/", {"status": "exploded"})
    assert bad.status_code == 400
    assert client.get("/api/v1/system/jobs/999999/").status_code == 404


def test_api_is_read_only_and_scoped(api):
    org = make_org(["core.view_job", "core.change_job"])
    own = Job.objects.create(name="own", owner=org.self_user)
    foreign = Job.objects.create(name="foreign", owner=org.b_user, department=org.dept_b)
    client = api.as_user(org.self_user)
    ids = [row["id"] for row in client.get("/api/v1/system/jobs/").json()["results"]]
    assert ids == [own.pk]
    assert client.post(f"/api/v1/system/jobs/{foreign.pk}/cancel/").status_code == 404
    assert client.post("/api/v1/system/jobs/", {"name": "x"}).status_code == 405
    assert client.delete(f"/api/v1/system/jobs/{own.pk}/").status_code in (403, 405)
    assert Job.objects.filter(pk=own.pk).exists()


def test_api_export(api, operator):
    Job.objects.create(name="exported.task", status=Job.Status.FAILED)
    response = api.as_user(operator).get("/api/v1/system/jobs/export/", {"file_format": "csv"})
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert "exported.task" in text
