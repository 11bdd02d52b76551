"""Entries older than the retention period are purged daily; 0 days keeps them forever."""

import datetime

import pytest
from django.utils import timezone

from ibcloud.audit import services
from ibcloud.audit.models import AuditEntry
from ibcloud.audit.tasks import purge_audit_log
from ibcloud.core.jobs import get_queue
from tests.audit.conftest import make_entry


@pytest.fixture
def aged(org):
    now = timezone.now()
    return {
        "ancient": make_entry(actor=org.dept_user, timestamp=now - datetime.timedelta(days=400)),
        "edge": make_entry(actor=org.dept_user, timestamp=now - datetime.timedelta(days=364)),
        "fresh": make_entry(actor=org.dept_user, timestamp=now),
    }


def test_purge_removes_only_entries_older_than_the_period(aged):
    deleted = services.purge_expired(retention_days=365)
    assert deleted == 1
    assert not AuditEntry.objects.filter(pk=aged["ancient"].pk).exists()
    assert AuditEntry.objects.filter(pk__in=[aged["edge"].pk, aged["fresh"].pk]).count() == 2


def test_purge_is_recorded(aged):
    services.purge_expired(retention_days=365)
    note = AuditEntry.objects.get(event="audit_purge")
    assert note.actor is None
    assert note.additional_data["deleted"] == 1
    assert note.additional_data["retention_days"] == 365


def test_zero_days_keeps_everything(aged, settings):
    settings.IBCLOUD_AUDIT_RETENTION_DAYS = 0
    assert services.purge_expired() == 0
    assert AuditEntry.objects.filter(pk=aged["ancient"].pk).exists()
    assert not AuditEntry.objects.filter(event="audit_purge").exists()


def test_purge_follows_the_setting(aged, settings):
    settings.IBCLOUD_AUDIT_RETENTION_DAYS = 30
    assert services.purge_expired() == 2
    assert AuditEntry.objects.filter(pk=aged["fresh"].pk).exists()


def test_purge_works_in_batches(org, monkeypatch):
    monkeypatch.setattr(services, "PURGE_BATCH", 2)
    old = timezone.now() - datetime.timedelta(days=800)
    for _ in range(5):
        make_entry(actor=org.dept_user, timestamp=old)
    assert services.purge_expired(retention_days=365) == 5


def test_daily_job_purges_with_the_configured_period(aged, settings):
    settings.IBCLOUD_AUDIT_RETENTION_DAYS = 365
    assert purge_audit_log(None) == {"deleted": 1}
    assert not AuditEntry.objects.filter(pk=aged["ancient"].pk).exists()


def test_job_is_scheduled_once_a_day():
    due = [
        hour
        for hour in range(24)
        for task in get_queue("default").read_periodic(datetime.datetime(2026, 3, 2, hour, 20))
        if task.name == purge_audit_log.task.name
    ]
    assert due == [3]  # 03:20 local time, a quiet hour
