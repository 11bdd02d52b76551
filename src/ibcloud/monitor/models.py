"""Operations records: backups (and, later, nodes, metrics and alerts)."""

from __future__ import annotations

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ibcloud.core.models import ObjectUrls
from ibcloud.core.scoping import GLOBAL, RestrictedQuerySet


class Backup(ObjectUrls, models.Model):
    """One backup run: an archive in the backup directory holding the database dump, the
    uploaded files and a manifest (row counts per table, files with checksums).

    The archives on disk are the truth: a restore brings back the database as it was, so this
    catalog is rebuilt from the archives' manifests afterwards (``backups.rebuild_catalog``).
    """

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    class Kind(models.TextChoices):
        MANUAL = "manual", _("Manual")
        SCHEDULED = "scheduled", _("Scheduled")

    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    vendor = models.CharField(_("database"), max_length=20)
    includes_media = models.BooleanField(_("includes uploaded files"), default=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.RUNNING, db_index=True
    )
    error = models.TextField(_("error"), blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.MANUAL)
    manifest = models.JSONField(_("manifest"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    # A system record: the permissions alone decide (held by administrators' roles).
    scope_fields = GLOBAL

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("backup")
        verbose_name_plural = _("backups")
        permissions = [
            ("download_backup", _("Can download backups")),
            # the log viewer (monitor/logs.py) reads files, not rows: its permission lives here
            ("view_log", _("Can view system logs")),
        ]

    def __str__(self) -> str:
        return self.file_name or f"{self._meta.verbose_name} #{self.pk}"

    def delete(self, *args, **kwargs):
        """Delete the row and, once that is committed, its archive file.

        Delete backups one by one (as the views and the retention do): a queryset's
        ``delete()`` does not call this and would leave the files behind.
        """
        from ibcloud.monitor.backups import remove_archive

        name = self.file_name
        result = super().delete(*args, **kwargs)
        transaction.on_commit(lambda: remove_archive(name))
        return result

    @property
    def file_count(self) -> int:
        return int((self.manifest or {}).get("media", {}).get("count", 0))

    @property
    def table_counts(self) -> dict[str, int]:
        return dict((self.manifest or {}).get("tables", {}))

    @property
    def row_total(self) -> int:
        return sum(self.table_counts.values())
