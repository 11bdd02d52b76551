"""Backup and restore of the database and the uploaded files (自动备份).

A backup is one zip archive in the backup directory (:mod:`ibcloud.monitor.archives`) holding the
database dump (:mod:`ibcloud.monitor.dumps`), the uploaded files and a manifest. This module runs
the whole: a backup with its catalog row, the retention, and the restore.

Restore (CLI only, with the application stopped) verifies every checksum before it changes
anything, refuses an archive of the other database vendor, replaces the database
(``pg_restore --clean --if-exists --no-owner`` in one transaction, or the backup API in reverse),
puts the files back (files that are not in the backup, or differ, are moved aside, never deleted),
then compares the row counts with the manifest.

The catalog of backups (``monitor.Backup``) is not part of the dump: restoring would bring back a
list that does not match the archives on disk. It is rebuilt from the archives' manifests instead.
"""

from __future__ import annotations

import datetime
import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditlog.context import disable_auditlog
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ibcloud.core import parameters
from ibcloud.core.signals import record_sensitive_action
from ibcloud.monitor.archives import (
    ARCHIVE_PREFIX,
    ARCHIVE_SUFFIX,
    CHUNK,
    Progress,
    archive_path,
    backup_dir,
    file_sha256,
    key_fingerprints,
    manifest_summary,
    media_on_disk,
    no_progress,
    read_manifest,
    restore_media,
    verify_archive,
    write_archive,
)
from ibcloud.monitor.dumps import (
    DATABASE_MEMBERS,
    DUMPERS,
    RESTORERS,
    BackupError,
    database_vendor,
    live_table_counts,
    pending_migrations,
)
from ibcloud.monitor.models import Backup
from ibcloud.monitor.parameters import BACKUP_KEEP_COUNT, BACKUP_KEEP_DAYS

logger = logging.getLogger(__name__)

#: The audit event of a restore (a CLI action: no request, the OS user in the details).
RESTORE_EVENT = "backup_restore"


# --- Backing up -----------------------------------------------------------------------------------


def _machine_save(backup: Backup) -> None:
    """Save a row the backup run writes (not a person's change: kept out of the change log)."""
    with disable_auditlog():
        backup.save()


def create_backup(
    *,
    kind: str = Backup.Kind.MANUAL,
    user: Any = None,
    include_media: bool = True,
    alias: str = "default",
    progress: Progress = no_progress,
) -> Backup:
    """Back up the database and (``include_media``) the uploaded files into a new archive.

    The catalog row is written first (status running) so the list shows the run; on any
    failure, cancellation included, the partial archive is removed and the row says why.
    The database is dumped before the files are read: a file uploaded meanwhile is archived
    (unreferenced, harmless); a file deleted meanwhile is the only thing a restore can miss.
    """
    vendor = database_vendor(alias)
    include_media = include_media and media_on_disk()
    directory = backup_dir()
    backup = Backup(
        vendor=vendor,
        includes_media=include_media,
        kind=kind,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        status=Backup.Status.RUNNING,
    )
    _machine_save(backup)
    stamp = timezone.localtime(backup.started_at).strftime("%Y%m%d-%H%M%S")
    name = f"{ARCHIVE_PREFIX}{stamp}-{backup.pk}{ARCHIVE_SUFFIX}"
    partial = directory / f".{name}.part"
    about = {
        "kind": kind,
        "created_by": getattr(backup.created_by, "username", ""),
        "started": backup.started_at.isoformat(),
        "file_name": name,
    }
    try:
        progress(5, "dumping the database")
        with tempfile.TemporaryDirectory(dir=directory, prefix=".dump-") as scratch:
            database_file = Path(scratch) / DATABASE_MEMBERS[vendor]
            tables = DUMPERS[vendor](alias, database_file)
            progress(45, "archiving")
            manifest = write_archive(
                partial, vendor, database_file, tables, include_media, about, progress
            )
        final = directory / name
        os.replace(partial, final)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        backup.status = Backup.Status.FAILED
        backup.error = str(exc) or exc.__class__.__name__
        backup.finished_at = timezone.now()
        _machine_save(backup)
        logger.warning("backup #%s failed: %s", backup.pk, backup.error)
        raise
    backup.file_name = name
    backup.size = final.stat().st_size
    backup.sha256 = file_sha256(final)
    backup.manifest = manifest_summary(manifest)
    backup.status = Backup.Status.SUCCEEDED
    backup.finished_at = timezone.now()
    _machine_save(backup)
    logger.info("backup %s written (%s bytes)", name, backup.size)
    return backup


def remove_archive(file_name: str) -> None:
    """Delete an archive file (after its catalog row went)."""
    if not file_name:
        return
    try:
        archive_path(file_name).unlink(missing_ok=True)
    except BackupError:
        logger.warning("not removing %r: not a backup file name", file_name)


#: A run still "running" after this long lost its process (a worker killed mid-backup).
ABANDONED_AFTER = datetime.timedelta(hours=24)


def fail_abandoned(now: datetime.datetime | None = None) -> int:
    """Mark backups whose process died while they ran as failed (so they can be deleted), and
    remove the scratch files such runs left; returns how many rows changed."""
    now = now or timezone.now()
    cutoff = now - ABANDONED_AFTER
    changed = 0
    for backup in Backup.objects.filter(status=Backup.Status.RUNNING, started_at__lt=cutoff):
        backup.status = Backup.Status.FAILED
        backup.error = "Interrupted: the backup process stopped before it finished."
        backup.finished_at = now
        _machine_save(backup)
        changed += 1
    for leftover in backup_dir().glob(".*"):
        if not leftover.name.startswith((".dump-", ".restore-", f".{ARCHIVE_PREFIX}")):
            continue
        if leftover.stat().st_mtime < cutoff.timestamp():
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
    return changed


def apply_retention(
    keep_count: int | None = None,
    keep_days: int | None = None,
    now: datetime.datetime | None = None,
) -> list[str]:
    """Delete backups past the retention; returns the names (or ``#id``) removed.

    Kept: the ``keep_count`` newest successful backups, failures newer than the oldest of
    those, and anything started within ``keep_days`` days (0: the number alone decides).
    Running backups are never touched (runs abandoned for a day are failed first). Deleting a
    row removes its file.
    """
    fail_abandoned(now)
    keep_count = BACKUP_KEEP_COUNT.get() if keep_count is None else keep_count
    keep_days = BACKUP_KEEP_DAYS.get() if keep_days is None else keep_days
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=keep_days) if keep_days else None
    kept_successes = 0
    removed = []
    for backup in Backup.objects.exclude(status=Backup.Status.RUNNING).order_by(
        "-started_at", "-id"
    ):
        if kept_successes < keep_count:
            kept_successes += backup.status == Backup.Status.SUCCEEDED
            continue
        if cutoff is not None and backup.started_at >= cutoff:
            continue
        removed.append(backup.file_name or f"#{backup.pk}")
        with disable_auditlog():
            backup.delete()
    return removed


# --- Restoring ------------------------------------------------------------------------------------


@dataclass
class RestoreReport:
    """What a restore did and found."""

    archive: Path
    manifest: dict
    mismatches: dict[str, tuple[int, int]] = field(default_factory=dict)  # table: (expected, now)
    files_restored: int = 0
    files_unchanged: int = 0
    files_displaced: int = 0
    displaced_dir: Path | None = None
    catalog_added: int = 0
    pending_migrations: int = 0
    #: tables the database has now that the backup did not (made by a later version)
    extra_tables: list[str] = field(default_factory=list)
    #: the key that encrypted the backup's stored secrets is not configured here
    key_missing: bool = False

    @property
    def ok(self) -> bool:
        return not self.mismatches


def rebuild_catalog() -> int:
    """Add a catalog row for every archive in the backup directory the catalog lacks.

    After a restore the database knows only the backups made before the restored one (and
    none of them, as the catalog is not dumped); the archives' manifests say the rest.
    Returns how many rows were added.
    """
    known = set(Backup.objects.values_list("file_name", flat=True))
    users = get_user_model()
    added = 0
    for path in sorted(backup_dir().glob(f"{ARCHIVE_PREFIX}*{ARCHIVE_SUFFIX}")):
        if path.name in known:
            continue
        try:
            manifest = read_manifest(path)
        except BackupError as exc:
            logger.warning("catalog: skipping %s: %s", path.name, exc)
            continue
        about = manifest.get("backup", {})
        kind = about.get("kind")
        username = about.get("created_by") or ""
        created = parse_datetime(str(manifest.get("created", ""))) or timezone.now()
        row = Backup(
            file_name=path.name,
            size=path.stat().st_size,
            sha256=file_sha256(path),
            vendor=manifest["vendor"],
            includes_media=bool(manifest.get("media", {}).get("included")),
            status=Backup.Status.SUCCEEDED,
            kind=kind if kind in Backup.Kind.values else Backup.Kind.MANUAL,
            manifest=manifest_summary(manifest),
            created_by=users.objects.filter(username=username).first() if username else None,
            started_at=parse_datetime(str(about.get("started", ""))) or created,
            finished_at=created,
        )
        _machine_save(row)
        added += 1
    return added


def clear_cached_values() -> None:
    """Forget cached parameters, dictionaries and content types, which may differ in the
    restored database (a content type's id does: the audit entry of the restore names one).

    Key by key: clearing the whole cache would, on Redis, also wipe the job queues.
    """
    from django.contrib.contenttypes.models import ContentType

    from ibcloud.core import dictionaries
    from ibcloud.core.models import DictType

    ContentType.objects.clear_cache()

    for spec in parameters.definitions():
        cache.delete(parameters.CACHE_PREFIX + spec.key)
    for code in DictType.objects.values_list("code", flat=True):
        dictionaries.invalidate(code)


def _os_user() -> str:
    """Who ran the restore on the machine (the CLI has no platform user)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def check_vendor(path: Path, manifest: dict, alias: str = "default") -> str:
    """The database vendor, when the archive was made from the same one; else BackupError."""
    vendor = database_vendor(alias)
    if manifest["vendor"] != vendor:
        raise BackupError(
            f"{path.name} is a {manifest['vendor']} backup; this installation uses {vendor}. "
            "Restore it into an installation configured for the same database."
        )
    return vendor


def restore_backup(
    path: Path,
    *,
    alias: str = "default",
    include_media: bool = True,
    verify: bool = True,
    progress: Progress = no_progress,
) -> RestoreReport:
    """Restore archive ``path`` over the database ``alias`` and MEDIA_ROOT.

    Run with the web server and the workers stopped. Checks first (nothing changes when a
    check fails): the archive is a backup of the same database vendor and every checksum
    matches. Afterwards the row counts are compared with the manifest (``report.mismatches``)
    and the restore is recorded in the audit log.
    """
    manifest = read_manifest(path)
    vendor = check_vendor(path, manifest, alias)
    if verify:
        verify_archive(path, manifest, lambda pct, msg: progress(pct * 0.3, msg))
    report = RestoreReport(archive=path, manifest=manifest)
    progress(30, "restoring the database")
    with tempfile.TemporaryDirectory(dir=backup_dir(), prefix=".restore-") as scratch:
        database_file = Path(scratch) / manifest["database"]["file"]
        with zipfile.ZipFile(path) as archive:
            with archive.open(manifest["database"]["file"]) as source:
                with open(database_file, "wb") as out:
                    shutil.copyfileobj(source, out, CHUNK)
        RESTORERS[vendor](alias, database_file)
    progress(70, "restoring the files")
    if include_media and manifest.get("media", {}).get("included") and media_on_disk():
        (
            report.files_restored,
            report.files_unchanged,
            report.files_displaced,
            report.displaced_dir,
        ) = restore_media(path, manifest)
    progress(90, "checking")
    clear_cached_values()
    report.catalog_added = rebuild_catalog()
    now = live_table_counts(alias)
    for table, expected in manifest.get("tables", {}).items():
        actual = now.get(table, 0)
        if actual != expected:
            report.mismatches[table] = (expected, actual)
    report.extra_tables = sorted(set(now) - set(manifest.get("tables", {})))
    report.pending_migrations = pending_migrations(alias)
    key = manifest.get("encryption_key") or ""
    report.key_missing = bool(key) and key not in key_fingerprints()
    record_sensitive_action(
        None,
        RESTORE_EVENT,
        description=path.name,
        archive=path.name,
        created=manifest.get("created"),
        tables=len(manifest.get("tables", {})),
        files=report.files_restored + report.files_unchanged,
        mismatches=sorted(report.mismatches),
        os_user=_os_user(),
    )
    logger.warning(
        "restored %s (%d table(s) differ from the manifest)", path.name, len(report.mismatches)
    )
    progress(100, "done")
    return report
