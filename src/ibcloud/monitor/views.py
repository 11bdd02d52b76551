"""Pages of the operations module: the backup list, a backup's manifest, back up now, download,
delete. Restoring is CLI-only (``ibcloud restore``), with the application stopped."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.audit.models import EVENT_LABELS
from ibcloud.core.models import Job
from ibcloud.core.signals import record_sensitive_action
from ibcloud.core.views import (
    BULK_DELETE,
    BulkAction,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectListView,
    PermissionRequiredView,
    redirect,
)
from ibcloud.monitor import archives, backups, dumps
from ibcloud.monitor.filters import BackupFilterSet
from ibcloud.monitor.models import Backup
from ibcloud.monitor.parameters import (
    BACKUP_INCLUDE_MEDIA,
    BACKUP_KEEP_COUNT,
    BACKUP_KEEP_DAYS,
    BACKUP_SCHEDULE_ENABLED,
    BACKUP_SCHEDULE_HOUR,
)
from ibcloud.monitor.tables import BackupTable

START_EVENT = "backup_start"
DOWNLOAD_EVENT = "backup_download"
EVENT_LABELS.setdefault(START_EVENT, gettext_lazy("Start a backup"))
EVENT_LABELS.setdefault(DOWNLOAD_EVENT, gettext_lazy("Download a backup"))
EVENT_LABELS.setdefault(backups.RESTORE_EVENT, gettext_lazy("Restore a backup"))


# --- Actions shared by the pages and the API ------------------------------------------------------


def start_backup(request: Any, include_media: bool = True) -> Job:
    """Queue a manual backup for the requesting user (audited); returns the job to follow."""
    from ibcloud.monitor.tasks import run_backup

    job = run_backup.enqueue(
        kind=Backup.Kind.MANUAL.value,
        user_id=request.user.pk,
        include_media=include_media,
        user=request.user,
    )
    record_sensitive_action(
        request, START_EVENT, target=job, description=str(job), include_media=include_media
    )
    return job


def download_response(request: Any, backup: Backup) -> FileResponse:
    """The archive as a download (audited): it holds every record and file of the platform."""
    if backup.status != Backup.Status.SUCCEEDED or not backup.file_name:
        raise Http404
    try:
        path = archives.archive_path(backup.file_name)
        handle = open(path, "rb")  # noqa: SIM115 - FileResponse closes it
    except (dumps.BackupError, OSError) as exc:
        raise Http404 from exc
    record_sensitive_action(
        request, DOWNLOAD_EVENT, target=backup, description=backup.file_name, size=backup.size
    )
    response = FileResponse(
        handle, as_attachment=True, filename=backup.file_name, content_type="application/zip"
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


def deletion_refusal(backup: Backup) -> str | None:
    if backup.status == Backup.Status.RUNNING:
        return _("A backup that is still running cannot be deleted.")
    return None


def _bulk_delete_backups(request, queryset) -> str:
    """Delete the chosen backups (and their files) except running ones (reported)."""
    deleted = 0
    for backup in queryset:
        refusal = deletion_refusal(backup)
        if refusal:
            messages.error(request, f"{backup}: {refusal}")
            continue
        backup.delete()
        deleted += 1
    return _("Deleted %(n)d record(s).") % {"n": deleted}


def schedule_summary() -> dict:
    """The backup settings in force, for the list page."""
    last = Backup.objects.filter(status=Backup.Status.SUCCEEDED).order_by("-started_at").first()
    return {
        "directory": str(archives.backup_dir()),
        "enabled": BACKUP_SCHEDULE_ENABLED.get(),
        "hour": BACKUP_SCHEDULE_HOUR.get(),
        "include_media": BACKUP_INCLUDE_MEDIA.get(),
        "keep_count": BACKUP_KEEP_COUNT.get(),
        "keep_days": BACKUP_KEEP_DAYS.get(),
        "last": last,
        "media_on_disk": archives.media_on_disk(),
    }


# --- Pages ----------------------------------------------------------------------------------------


class BackupListView(ObjectListView):
    model = Backup
    table_class = BackupTable
    filterset_class = BackupFilterSet
    template_name = "monitor/backup_list.html"
    bulk_actions = (
        BulkAction(
            BULK_DELETE.name,
            BULK_DELETE.label,
            "delete",
            _bulk_delete_backups,
            css=BULK_DELETE.css,
            confirm=BULK_DELETE.confirm,
        ),
    )

    def base_queryset(self):
        return Backup.objects.select_related("created_by")

    def extra_context(self) -> dict:
        return {"schedule": schedule_summary()}


class BackupDetailView(ObjectDetailView):
    model = Backup
    template_name = "monitor/backup_detail.html"

    def extra_context(self, obj) -> dict:
        return {
            "title": str(obj),
            "tables": sorted(obj.table_counts.items()),
            "refusal": deletion_refusal(obj),
        }


class BackupRunView(PermissionRequiredView):
    """POST: back up now (a background job; the new backup appears in the list as it runs)."""

    model = Backup
    action = "add"

    def post(self, request):
        job = start_backup(request)
        messages.success(
            request,
            format_html(
                '{} <a href="{}">{}</a>',
                _("Backup started."),
                reverse("core:job_detail", args=[job.pk]),
                _("Follow its progress"),
            ),
        )
        return redirect(request, reverse("monitor:backup_list"))


class BackupDownloadView(PermissionRequiredView):
    model = Backup
    permission = "monitor.download_backup"

    def get(self, request, pk):
        backup = get_object_or_404(self.scoped_queryset("view"), pk=pk)
        return download_response(request, backup)


class BackupDeleteView(ObjectDeleteView):
    model = Backup

    def check_deletable(self, obj) -> str | None:
        return deletion_refusal(obj)
