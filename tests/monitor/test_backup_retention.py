"""Scheduled backups and retention: the newest N are kept (and/or the last D days), deleting a
backup removes its archive, and the daily run starts once, at the hour admins chose."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from ibcloud.core.models import Job
from ibcloud.core.parameters import set_parameter
from ibcloud.monitor import archives, backups, dumps, tasks
from ibcloud.monitor.models import Backup

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(datetime.datetime(2026, 11, 25, 10, 0))


@pytest.fixture
def backup_dir(settings, tmp_path):
    settings.IBCLOUD_BACKUP_DIR = tmp_path / "backups"
    return archives.backup_dir()


def archived(backup_dir, days_ago: float, status=Backup.Status.SUCCEEDED, **fields) -> Backup:
    """A catalog row (with its archive file when it succeeded) started ``days_ago`` before NOW."""
    started = NOW - datetime.timedelta(days=days_ago)
    backup = Backup.objects.create(vendor="sqlite", status=status, started_at=started, **fields)
    if status == Backup.Status.SUCCEEDED:
        backup.file_name = f"ibcloud-backup-{backup.pk}.zip"
        (backup_dir / backup.file_name).write_bytes(b"zip")
        backup.save()
    return backup


def test_the_newest_successful_backups_are_kept_and_older_ones_go_with_their_files(
    backup_dir, django_capture_on_commit_callbacks
):
    rows = [archived(backup_dir, days) for days in (1, 2, 3, 4, 5)]
    with django_capture_on_commit_callbacks(execute=True):
        removed = backups.apply_retention(keep_count=3, keep_days=0, now=NOW)
    assert sorted(removed) == sorted([rows[3].file_name, rows[4].file_name])
    assert list(Backup.objects.order_by("started_at")) == list(reversed(rows[:3]))
    assert sorted(p.name for p in backup_dir.iterdir()) == sorted(r.file_name for r in rows[:3])


def test_failures_do_not_count_towards_the_kept_number_and_running_ones_stay(backup_dir):
    newest_failure = archived(backup_dir, 0.5, Backup.Status.FAILED)
    kept = [archived(backup_dir, days) for days in (1, 2)]
    old_failure = archived(backup_dir, 3, Backup.Status.FAILED)
    gone = archived(backup_dir, 4)
    running = archived(backup_dir, 0.1, Backup.Status.RUNNING)
    backups.apply_retention(keep_count=2, keep_days=0, now=NOW)
    assert set(Backup.objects.all()) == {newest_failure, *kept, running}
    assert not Backup.objects.filter(pk__in=[old_failure.pk, gone.pk]).exists()


def test_a_run_whose_process_died_is_failed_after_a_day_and_then_deleted(backup_dir):
    newer = [archived(backup_dir, days) for days in (1, 2)]
    abandoned = archived(backup_dir, 3, Backup.Status.RUNNING)
    backups.apply_retention(keep_count=2, keep_days=0, now=NOW)
    assert set(Backup.objects.all()) == set(newer)
    assert not Backup.objects.filter(pk=abandoned.pk).exists()


def test_keep_days_also_keeps_every_backup_of_the_last_days(backup_dir):
    rows = [archived(backup_dir, days) for days in (1, 2, 3, 10)]
    backups.apply_retention(keep_count=1, keep_days=5, now=NOW)
    assert set(Backup.objects.all()) == set(rows[:3])


def test_retention_reads_its_parameters(backup_dir):
    for days in (1, 2, 3):
        archived(backup_dir, days)
    set_parameter("backup.keep_count", 2)
    assert len(backups.apply_retention(now=NOW)) == 1
    assert Backup.objects.count() == 2


def test_deleting_a_backup_removes_its_archive(backup_dir, django_capture_on_commit_callbacks):
    backup = archived(backup_dir, 1)
    with django_capture_on_commit_callbacks(execute=True):
        backup.delete()
    assert not list(backup_dir.iterdir())


def test_the_daily_backup_is_due_at_its_hour_once_a_day(backup_dir):
    set_parameter("backup.schedule_hour", 3)
    at_three = timezone.make_aware(datetime.datetime(2026, 11, 25, 3, 7))
    assert tasks.scheduled_backup_due(at_three)
    assert not tasks.scheduled_backup_due(at_three.replace(hour=4))
    Backup.objects.create(
        vendor="sqlite", kind=Backup.Kind.SCHEDULED, started_at=at_three.replace(minute=1)
    )
    assert not tasks.scheduled_backup_due(at_three)
    assert tasks.scheduled_backup_due(at_three + datetime.timedelta(days=1))


def test_a_manual_backup_does_not_replace_the_daily_one(backup_dir):
    set_parameter("backup.schedule_hour", 3)
    at_three = timezone.make_aware(datetime.datetime(2026, 11, 25, 3, 7))
    Backup.objects.create(vendor="sqlite", kind=Backup.Kind.MANUAL, started_at=at_three)
    assert tasks.scheduled_backup_due(at_three)


def test_scheduled_backups_can_be_switched_off(backup_dir):
    set_parameter("backup.schedule_hour", 3)
    set_parameter("backup.schedule_enabled", False)
    assert not tasks.scheduled_backup_due(
        timezone.make_aware(datetime.datetime(2026, 11, 25, 3, 7))
    )


@pytest.fixture
def at_three(monkeypatch):
    """The clock reads 03:07 local time."""
    moment = timezone.make_aware(datetime.datetime(2026, 11, 25, 3, 7))
    monkeypatch.setattr(tasks.timezone, "now", lambda: moment)
    return moment


def test_the_hourly_check_queues_the_backup_job_when_due(backup_dir, at_three):
    set_parameter("backup.schedule_hour", 3)
    set_parameter("backup.include_media", False)
    tasks.schedule_backup.task.call_local()
    job = Job.objects.get(name=tasks.run_backup.job_name)
    assert job.arguments["kwargs"] == {"kind": "scheduled", "include_media": False}


def test_the_hourly_check_queues_nothing_at_other_hours(backup_dir, at_three):
    set_parameter("backup.schedule_hour", 4)
    tasks.schedule_backup.task.call_local()
    assert not Job.objects.filter(name=tasks.run_backup.job_name).exists()


def test_a_second_scheduled_run_on_the_same_day_does_nothing(
    backup_dir, at_three, django_capture_on_commit_callbacks
):
    Backup.objects.create(vendor="sqlite", kind=Backup.Kind.SCHEDULED, started_at=at_three)
    with django_capture_on_commit_callbacks(execute=True):
        job = tasks.run_backup.enqueue(kind="scheduled")
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.result == {"skipped": True}
    assert Backup.objects.count() == 1


def test_a_failed_backup_job_tells_the_administrators_why(
    backup_dir, monkeypatch, admin_user, django_capture_on_commit_callbacks
):
    from ibcloud.notify.models import Notification
    from tests.factories import RoleFactory, UserFactory

    operator = UserFactory(
        username="operator", roles=[RoleFactory(perms=["monitor.add_backup"], data_scope="all")]
    )
    bystander = UserFactory(username="bystander")

    def broken(alias, target):
        raise dumps.BackupError("pg_dump failed: server version mismatch")

    monkeypatch.setitem(dumps.DUMPERS, dumps.database_vendor(), broken)
    with django_capture_on_commit_callbacks(execute=True):
        job = tasks.run_backup.enqueue(kind="scheduled")
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    told = Notification.objects.filter(event=tasks.FAILED_EVENT)
    assert {n.recipient for n in told} == {admin_user, operator}
    assert all("version mismatch" in n.body and n.level == "error" for n in told)
    assert Backup.objects.get().status == Backup.Status.FAILED
    assert bystander not in {n.recipient for n in told}
