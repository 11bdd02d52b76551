"""Durable schedule: each cron slot of a source runs once, missed slots follow the source's policy.

The scheduler (a periodic job, every minute) calls ``schedule_due_sources``; these tests call it
with the time it would run at. Runs it starts stay pending here (no worker in these tests).
"""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from ibcloud.crawler import services
from ibcloud.crawler.models import CrawlJob, CrawlSource
from tests.factories import CrawlJobFactory, CrawlSourceFactory

pytestmark = pytest.mark.django_db


def at(hour: int, minute: int = 0, second: int = 0, day: int = 2) -> datetime.datetime:
    """A moment on 2026-03-<day> in the platform's time zone (Asia/Shanghai)."""
    return timezone.make_aware(datetime.datetime(2026, 3, day, hour, minute, second))


def hourly_source(**kwargs) -> CrawlSource:
    """A source crawled at the top of every hour, last scheduled at 09:00."""
    kwargs.setdefault("last_scheduled_at", at(9))
    return CrawlSourceFactory(schedule="0 * * * *", **kwargs)


def runs(source) -> list[CrawlJob]:
    return list(CrawlJob.objects.filter(source=source).order_by("scheduled_for"))


def test_a_due_slot_starts_one_scheduled_run():
    source = hourly_source()

    started = services.schedule_due_sources(now=at(10, 0, 30))

    assert [job.source for job in started] == [source]
    (run,) = runs(source)
    assert run.trigger == CrawlJob.Trigger.SCHEDULE
    assert run.scheduled_for == at(10)
    assert run.status == CrawlJob.Status.PENDING
    assert run.job is not None and run.job.queue == "crawl"
    assert run.requested_by is None
    source.refresh_from_db()
    assert source.last_scheduled_at == at(10)


def test_calling_the_scheduler_again_starts_nothing_more():
    source = hourly_source()

    services.schedule_due_sources(now=at(10, 0, 30))
    assert services.schedule_due_sources(now=at(10, 0, 30)) == []
    assert services.schedule_due_sources(now=at(10, 1, 30)) == []

    assert len(runs(source)) == 1


def test_a_slot_already_run_is_not_run_again_even_when_claimed_twice():
    source = hourly_source()
    services.schedule_due_sources(now=at(10, 0, 30))
    CrawlJob.objects.filter(source=source).update(status=CrawlJob.Status.SUCCEEDED)
    # A second scheduler that read the source before the first one claimed the slot.
    CrawlSource.objects.filter(pk=source.pk).update(last_scheduled_at=at(9))

    assert services.schedule_due_sources(now=at(10, 0, 40)) == []
    assert len(runs(source)) == 1
    # The database refuses a second run of the same slot outright.
    with pytest.raises(IntegrityError), transaction.atomic():
        CrawlJobFactory(source=source, scheduled_for=at(10), trigger="schedule")


def test_the_next_slot_runs_again():
    source = hourly_source()
    services.schedule_due_sources(now=at(10, 0, 30))
    CrawlJob.objects.filter(source=source).update(status=CrawlJob.Status.SUCCEEDED)

    services.schedule_due_sources(now=at(11, 0, 20))

    assert [run.scheduled_for for run in runs(source)] == [at(10), at(11)]


def test_missed_slots_with_run_once_start_one_run_for_the_latest_slot():
    # Workers were down from 06:30 to 10:20: the 07:00 ... 10:00 slots were missed.
    source = hourly_source(last_scheduled_at=at(6), missed_run_policy="run_once")

    started = services.schedule_due_sources(now=at(10, 20))

    assert len(started) == 1
    assert [run.scheduled_for for run in runs(source)] == [at(10)]
    assert services.schedule_due_sources(now=at(10, 21)) == []
    assert len(runs(source)) == 1


def test_missed_slots_with_skip_start_nothing_and_the_next_slot_runs():
    source = hourly_source(last_scheduled_at=at(6), missed_run_policy="skip")

    assert services.schedule_due_sources(now=at(10, 20)) == []
    assert runs(source) == []
    source.refresh_from_db()
    assert source.last_scheduled_at == at(10)  # dealt with: not run later either

    services.schedule_due_sources(now=at(11, 0, 30))
    assert [run.scheduled_for for run in runs(source)] == [at(11)]


def test_a_slot_within_the_grace_period_is_on_time_even_with_skip():
    source = hourly_source(missed_run_policy="skip")

    services.schedule_due_sources(now=at(10, 1, 50))

    assert [run.scheduled_for for run in runs(source)] == [at(10)]


def test_disabled_sources_and_sources_without_schedule_are_not_run():
    disabled = hourly_source(enabled=False)
    unscheduled = CrawlSourceFactory(schedule="")

    assert services.schedule_due_sources(now=at(10, 0, 30)) == []

    assert runs(disabled) == [] and runs(unscheduled) == []
    disabled.refresh_from_db()
    assert disabled.last_scheduled_at == at(9)


def test_a_source_enabled_again_does_not_run_the_slots_of_its_disabled_time():
    source = hourly_source(enabled=False, last_scheduled_at=at(9, day=1))
    source.enabled = True
    source.save()

    assert services.schedule_due_sources() == []
    assert runs(source) == []


def test_a_new_schedule_does_not_backfill_past_slots():
    source = CrawlSourceFactory(schedule="*/5 * * * *")

    assert source.last_scheduled_at is not None  # counting starts when the schedule is set
    assert services.schedule_due_sources() == []
    assert runs(source) == []

    # The first slot after the schedule was set runs.
    next_slot = services.next_run_at(source)
    services.schedule_due_sources(now=next_slot + datetime.timedelta(seconds=20))
    assert [run.scheduled_for for run in runs(source)] == [next_slot]


def test_a_changed_schedule_does_not_backfill_either():
    source = hourly_source(last_scheduled_at=at(9, day=1))
    source.schedule = "*/10 * * * *"
    source.save()

    assert services.schedule_due_sources() == []
    assert runs(source) == []


def test_a_schedule_seen_without_a_last_slot_starts_counting_there():
    source = hourly_source()
    CrawlSource.objects.filter(pk=source.pk).update(last_scheduled_at=None)  # e.g. bulk import

    assert services.schedule_due_sources(now=at(10, 0, 30)) == []
    source.refresh_from_db()
    assert source.last_scheduled_at == at(10)
    assert len(services.schedule_due_sources(now=at(11, 0, 30))) == 1


def test_a_slot_due_while_the_previous_run_still_runs_is_not_started():
    source = hourly_source()
    CrawlJobFactory(source=source, status=CrawlJob.Status.RUNNING)

    assert services.schedule_due_sources(now=at(10, 0, 30)) == []

    assert CrawlJob.objects.filter(source=source).count() == 1
    source.refresh_from_db()
    assert source.last_scheduled_at == at(10)  # the slot is dealt with, not retried every minute


def test_next_run_at_follows_the_cron_expression_in_local_time():
    source = CrawlSourceFactory(schedule="30 8 * * 1-5")  # weekdays at 08:30

    assert services.next_run_at(source, now=at(9, day=6)) == at(8, 30, day=9)  # Fri → Mon
    assert services.next_run_at(CrawlSourceFactory(schedule=""), now=at(9)) is None
    source.enabled = False
    assert services.next_run_at(source, now=at(9)) is None
