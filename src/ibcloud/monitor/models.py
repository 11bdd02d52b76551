"""Operations records: backups; nodes, their metric samples and alerts."""

from __future__ import annotations

import datetime

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


class Node(ObjectUrls, models.Model):
    """One machine running part of the platform (app server, worker, crawler server).

    Every process of the platform heartbeats its node (``monitor/metrics.py``); ``roles`` maps
    each role seen (``web``, ``worker:default``, ``worker:crawl``) to its last heartbeat, so a
    node shows what runs on it. A node whose heartbeat is older than the offline limit is offline.
    """

    name = models.CharField(_("name"), max_length=200, unique=True)
    roles = models.JSONField(_("roles"), default=dict, blank=True)
    version = models.CharField(_("version"), max_length=50, blank=True)
    platform = models.CharField(_("platform"), max_length=200, blank=True)
    cpu_count = models.PositiveIntegerField(_("CPU cores"), default=1)
    memory_total = models.PositiveBigIntegerField(_("memory (bytes)"), default=0)
    first_seen = models.DateTimeField(_("first seen"), default=timezone.now)
    last_heartbeat = models.DateTimeField(_("last heartbeat"), default=timezone.now, db_index=True)
    # the newest sample's figures, so the nodes page needs no query per node
    latest = models.JSONField(_("latest figures"), default=dict, blank=True)

    objects = RestrictedQuerySet.as_manager()
    # A system record: the permissions alone decide (held by administrators' roles).
    scope_fields = GLOBAL

    class Meta:
        ordering = ["name"]
        verbose_name = _("node")
        verbose_name_plural = _("nodes")

    def __str__(self) -> str:
        return self.name

    def is_online(self, now=None) -> bool:
        from ibcloud.monitor.parameters import NODE_OFFLINE_MINUTES

        limit = (now or timezone.now()) - datetime.timedelta(minutes=NODE_OFFLINE_MINUTES.get())
        return self.last_heartbeat >= limit

    @property
    def role_names(self) -> list[str]:
        """The roles heartbeating now (a process moved elsewhere drops out after the offline
        limit); every role ever seen when the whole node is silent."""
        from ibcloud.monitor.parameters import NODE_OFFLINE_MINUTES

        limit = timezone.now() - datetime.timedelta(minutes=NODE_OFFLINE_MINUTES.get())
        recent = []
        for role, beat in (self.roles or {}).items():
            try:
                moment = datetime.datetime.fromisoformat(str(beat))
            except ValueError:
                continue
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment, datetime.UTC)
            if moment >= limit:
                recent.append(role)
        return sorted(recent or (self.roles or {}))


class MetricSample(models.Model):
    """A node's figures for one period: a raw sample (one per minute) or a rollup (the average of
    an hour or a day of raw samples; disk use is the period's last value).

    ``disks`` maps each monitored mount point to ``{"total", "used", "percent"}``; rates are bytes
    per second over the period.
    """

    class Resolution(models.TextChoices):
        RAW = "raw", _("Minute")
        HOUR = "hour", _("Hour")
        DAY = "day", _("Day")

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="samples")
    resolution = models.CharField(max_length=4, choices=Resolution.choices, default="raw")
    time = models.DateTimeField(_("time"))
    cpu_percent = models.FloatField(_("CPU (%)"), default=0)
    memory_percent = models.FloatField(_("memory (%)"), default=0)
    memory_used = models.PositiveBigIntegerField(_("memory used (bytes)"), default=0)
    load1 = models.FloatField(_("load (1 min)"), default=0)
    load5 = models.FloatField(_("load (5 min)"), default=0)
    load15 = models.FloatField(_("load (15 min)"), default=0)
    net_in = models.FloatField(_("network in (bytes/s)"), default=0)
    net_out = models.FloatField(_("network out (bytes/s)"), default=0)
    disks = models.JSONField(_("disks"), default=dict, blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = GLOBAL

    class Meta:
        ordering = ["node", "resolution", "time"]
        verbose_name = _("metric sample")
        verbose_name_plural = _("metric samples")
        constraints = [
            # several processes on one machine: the first to write a period's row wins
            models.UniqueConstraint(
                fields=["node", "resolution", "time"], name="monitor_sample_once_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.node_id} {self.resolution} {self.time:%Y-%m-%d %H:%M}"


class NodeAlert(models.Model):
    """One alert episode: opened when a figure crosses its threshold, resolved when it falls back
    below (with a margin, so a figure hovering at the threshold does not flap). One episode sends
    one notification when it opens and one when it resolves, however many samples it spans."""

    class Kind(models.TextChoices):
        CPU = "cpu", _("CPU")
        MEMORY = "memory", _("Memory")
        DISK = "disk", _("Disk")
        LOAD = "load", _("Load")
        OFFLINE = "offline", _("Offline")
        DISK_FORECAST = "disk_forecast", _("Disk filling up")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    node = models.ForeignKey(
        Node, verbose_name=_("node"), on_delete=models.CASCADE, related_name="alerts"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # the mount point of a disk alert; empty for the others
    subject = models.CharField(_("subject"), max_length=500, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    value = models.FloatField(_("value"), default=0)
    threshold = models.FloatField(_("threshold"), default=0)
    message = models.TextField(_("message"), blank=True)
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = GLOBAL

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("node alert")
        verbose_name_plural = _("node alerts")
        constraints = [
            # one open episode per node, kind and mount, even with several reporting processes
            models.UniqueConstraint(
                fields=["node", "kind", "subject"],
                condition=models.Q(status="open"),
                name="monitor_one_open_alert",
            )
        ]

    def __str__(self) -> str:
        label = self.get_kind_display()
        return f"{self.node} · {label} {self.subject}".strip()

    def get_absolute_url(self) -> str:
        return self.node.get_absolute_url()
