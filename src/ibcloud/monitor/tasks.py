"""Background jobs of the operations module: backups, on demand and on schedule; the node
reporting of every worker process and the monitoring housekeeping (offline nodes, rollups,
retention, disk forecasts)."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from huey import crontab

from ibcloud.core.jobs import QUEUE_NAMES, JobCancelled, JobContext, get_queue, job, periodic_job
from ibcloud.monitor import alerts, backups, forecast, metrics
from ibcloud.monitor.models import Backup
from ibcloud.monitor.parameters import (
    BACKUP_INCLUDE_MEDIA,
    BACKUP_SCHEDULE_ENABLED,
    BACKUP_SCHEDULE_HOUR,
)
from ibcloud.notify import events
from ibcloud.notify.services import absolute_link, notify

FAILED_EVENT = "monitor.backup_failed"
events.register(FAILED_EVENT, gettext_lazy("A backup failed"))

#: A large database with many files takes a while; a stuck dump should still end.
BACKUP_TIMEOUT_SECONDS = 6 * 3600


@job(queue="default", timeout=BACKUP_TIMEOUT_SECONDS)
def run_backup(
    ctx: JobContext,
    kind: str = Backup.Kind.MANUAL,
    user_id: int | None = None,
    include_media: bool = True,
) -> dict:
    """Back up now, then delete the backups past the retention."""
    if kind == Backup.Kind.SCHEDULED and scheduled_backup_done_today():
        # Two schedulers (a cluster) may queue the same day's run; one is enough.
        ctx.log("a scheduled backup already ran today")
        return {"skipped": True}
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        backup = backups.create_backup(
            kind=kind if kind in Backup.Kind.values else Backup.Kind.MANUAL,
            user=user,
            include_media=include_media,
            progress=ctx.progress,
        )
    except JobCancelled:
        raise
    except Exception as exc:
        notify_failure(str(exc) or exc.__class__.__name__, user)
        raise
    ctx.log(f"wrote {backup.file_name} ({backup.size} bytes, {backup.file_count} file(s))")
    removed = backups.apply_retention()
    for name in removed:
        ctx.log(f"retention: removed {name}")
    return {"backup": backup.pk, "file": backup.file_name, "size": backup.size, "removed": removed}


def backup_admins() -> list[Any]:
    """Who hears that a backup failed: active superusers and holders of
    ``monitor.add_backup`` (directly or through an active role)."""
    holders = Q(is_superuser=True)
    permission = Permission.objects.filter(
        content_type__app_label="monitor", codename="add_backup"
    ).first()
    if permission is not None:
        holders |= Q(user_permissions=permission) | Q(
            roles__is_active=True, roles__permissions=permission
        )
    return list(get_user_model().objects.filter(holders, is_active=True).distinct())


def notify_failure(error: str, starter: Any = None) -> None:
    """Tell the administrators (and whoever started it) that a backup failed, and why."""
    url = reverse("monitor:backup_list")
    notify(
        [*backup_admins(), starter],
        _("Backup failed"),
        body=_("%(error)s\nBackups: %(url)s") % {"error": error[:1000], "url": absolute_link(url)},
        url=url,
        level="error",
        event=FAILED_EVENT,
    )


def scheduled_backup_done_today(now: datetime.datetime | None = None) -> bool:
    """Whether a scheduled backup started today (local time), whatever its outcome."""
    now = timezone.localtime(now or timezone.now())
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return Backup.objects.filter(kind=Backup.Kind.SCHEDULED, started_at__gte=midnight).exists()


def scheduled_backup_due(now: datetime.datetime | None = None) -> bool:
    """Whether the daily backup should start now: switched on, its hour, not yet run today."""
    now = timezone.localtime(now or timezone.now())
    return (
        BACKUP_SCHEDULE_ENABLED.get()
        and now.hour == BACKUP_SCHEDULE_HOUR.get()
        and not scheduled_backup_done_today(now)
    )


@periodic_job(crontab(minute="7"), record=False)
def schedule_backup(ctx: JobContext | None) -> None:
    """Hourly check (the hour is a parameter admins change at run time, a crontab is fixed at
    start-up): queue the daily backup when it is due. Only a run gets a job row."""
    if scheduled_backup_due():
        run_backup.enqueue(
            kind=Backup.Kind.SCHEDULED.value, include_media=BACKUP_INCLUDE_MEDIA.get()
        )


# --- Hardware monitoring --------------------------------------------------------------------------


def _report_from_worker(queue_name: str):
    def start() -> None:
        # A Huey start-up hook runs in every worker thread: the reporter starts once a process.
        metrics.start_reporter(f"worker:{queue_name}")

    return start


for _queue_name in QUEUE_NAMES:
    get_queue(_queue_name).on_startup(f"monitor.node_reporter.{_queue_name}")(
        _report_from_worker(_queue_name)
    )


@periodic_job(crontab(minute="*"), record=False)
def check_nodes(ctx: JobContext | None) -> None:
    """Every minute: nodes silent past the offline limit raise an alert (a stopped node cannot
    report itself, so the default queue's scheduler looks for them)."""
    alerts.check_offline()


@periodic_job(crontab(minute="3"), record=False)
def maintain_metrics(ctx: JobContext | None) -> None:
    """Hourly: roll the minute samples up into hours and the hours into days, delete samples past
    their retention, and warn of disks forecast to fill up."""
    metrics.roll_up("hour")
    metrics.roll_up("day")
    metrics.apply_retention()
    forecast.check_forecasts()
