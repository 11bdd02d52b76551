"""Runs whose worker died: queued again (once), never lost, never started twice."""

import datetime

import pytest
from django.utils import timezone

from ibcloud.core import jobs
from ibcloud.core.jobs import JobContext, job
from ibcloud.core.models import Job

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)


@job(queue="default", name="tests.core.repeatable")
def repeatable(ctx: JobContext, value: int) -> dict:
    return {"value": value}


@job(queue="default", name="tests.core.not_repeatable", requeue_lost=False)
def not_repeatable(ctx: JobContext) -> str:
    return "ran"


def lost_row(name: str, attempts: int = 1, **fields) -> Job:
    """A row as a killed worker leaves it: running, its heartbeat an hour old."""
    return Job.objects.create(
        name=name,
        status=Job.Status.RUNNING,
        attempts=attempts,
        arguments={"args": [7], "kwargs": {}} if name == repeatable.job_name else {},
        heartbeat_at=timezone.now() - HOUR,
        worker="host:1",
        **fields,
    )


def test_a_run_lost_with_its_worker_is_queued_again_and_completes():
    row = lost_row(repeatable.job_name)
    assert jobs.reap_stale_jobs() == 1
    row.refresh_from_db()
    assert row.status == Job.Status.SUCCEEDED  # jobs run in-process in tests
    assert row.result == {"value": 7}
    assert row.attempts == 2


def test_a_run_lost_twice_is_failed():
    row = lost_row(repeatable.job_name, attempts=2)
    assert jobs.reap_stale_jobs() == 1
    row.refresh_from_db()
    assert row.status == Job.Status.FAILED
    assert "heartbeat" in row.message


def test_a_job_that_must_not_repeat_is_failed_when_its_worker_is_lost():
    row = lost_row(not_repeatable.job_name)
    jobs.reap_stale_jobs()
    row.refresh_from_db()
    assert row.status == Job.Status.FAILED


def test_a_waiting_run_that_left_the_queue_unstarted_is_queued_again():
    row = Job.objects.create(
        name=repeatable.job_name,
        arguments={"args": [3], "kwargs": {}},
        task_id="taken-by-a-dead-worker",
        created_at=timezone.now() - HOUR,
    )
    recent = Job.objects.create(name=repeatable.job_name, arguments={"args": [4], "kwargs": {}})
    assert jobs.reap_stale_jobs() == 1
    row.refresh_from_db()
    recent.refresh_from_db()
    assert row.status == Job.Status.SUCCEEDED
    assert recent.status == Job.Status.PENDING  # still within the stale limit: left alone


def test_a_run_delivered_twice_starts_once():
    row = Job.objects.create(name=repeatable.job_name, arguments={"args": [1], "kwargs": {}})
    Job.objects.filter(pk=row.pk).update(status=Job.Status.RUNNING, attempts=1, worker="host:2")
    repeatable.task(row.pk)  # the second delivery
    row.refresh_from_db()
    assert row.status == Job.Status.RUNNING
    assert row.attempts == 1
    assert row.worker == "host:2"
