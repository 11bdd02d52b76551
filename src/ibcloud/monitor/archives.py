"""The backup archive: one zip file holding the database dump, the uploaded files and a manifest.

* ``database.sqlite3`` or ``database.dump`` (see :mod:`ibcloud.monitor.dumps`);
* ``media/...``: the uploaded files (deal attachments) under ``MEDIA_ROOT``;
* ``manifest.json``: format, vendor, time, row counts per table (of the very snapshot dumped),
  every file with its size and SHA-256, and which encryption key protected the stored secrets.

Zip rather than tar.gz: members are read directly, so the catalog reads a manifest without
decompressing the archive, and the manifest is written last from the checksums computed while the
bytes were written (it describes exactly what the archive holds).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.utils import timezone

from ibcloud.monitor.dumps import CATALOG_TABLE, DATABASE_MEMBERS, BackupError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
ARCHIVE_PREFIX = "ibcloud-backup-"
ARCHIVE_SUFFIX = ".zip"
MANIFEST_NAME = "manifest.json"
MEDIA_PREFIX = "media/"
CHUNK = 1024 * 1024

Progress = Callable[[float, str], None]


def no_progress(percent: float, message: str) -> None:
    return None


# --- Where things are -----------------------------------------------------------------------------


def backup_dir() -> Path:
    """The directory holding the archives (created when missing).

    ``settings.IBCLOUD_BACKUP_DIR`` when set, else the ``IBCLOUD_BACKUP_DIR`` environment
    variable, else ``<data dir>/backups``.
    """
    configured = getattr(settings, "IBCLOUD_BACKUP_DIR", None) or os.environ.get(
        "IBCLOUD_BACKUP_DIR"
    )
    path = Path(configured) if configured else Path(settings.DATA_DIR) / "backups"
    path.mkdir(parents=True, exist_ok=True)
    return path


def archive_path(file_name: str) -> Path:
    """The archive ``file_name`` in the backup directory; refuses anything but a plain name."""
    if not file_name or Path(file_name).name != file_name or file_name.startswith("."):
        raise BackupError(f"Not a backup file name: {file_name!r}")
    return backup_dir() / file_name


def media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def media_on_disk() -> bool:
    """Whether uploaded files live under MEDIA_ROOT (not in S3-compatible object storage, whose
    own versioning and replication keep them)."""
    backend = settings.STORAGES.get("default", {}).get("BACKEND", "")
    return backend.endswith("FileSystemStorage")


def key_fingerprint(key: str) -> str:
    """A short one-way identifier of an encryption key (never the key itself)."""
    return hashlib.sha256(b"ibcloud-backup-key-id:" + key.encode("utf-8")).hexdigest()[:16]


def key_fingerprints() -> list[str]:
    """Identifiers of the configured encryption keys, the encrypting one first.

    The keys are not in the archive (a stolen archive would then give up the secrets stored
    encrypted in it); the manifest records which key encrypted them, so a restore can warn when
    this installation cannot decrypt them.
    """
    return [key_fingerprint(k) for k in getattr(settings, "IBCLOUD_ENCRYPTION_KEYS", ()) if k]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def iter_media_files(root: Path | None = None) -> Iterator[tuple[str, Path]]:
    """``(posix path relative to MEDIA_ROOT, path)`` of every regular file under MEDIA_ROOT,
    sorted; the backup directory is skipped should it lie inside."""
    root = root or media_root()
    if not root.is_dir():
        return
    skip = backup_dir().resolve()
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        resolved = path.resolve()
        if resolved == skip or skip in resolved.parents:
            continue
        yield path.relative_to(root).as_posix(), path


# --- Archives -------------------------------------------------------------------------------------


def _zip_time(timestamp: float) -> tuple[int, int, int, int, int, int]:
    """A file time as zip stores it (zip cannot store times before 1980)."""
    moment = datetime.datetime.fromtimestamp(max(timestamp, 315_532_800))
    return moment.timetuple()[:6]


def _add_file(archive: zipfile.ZipFile, path: Path, member: str, compress: bool) -> dict:
    """Write ``path`` as ``member``, hashing the bytes as they are written."""
    stat = path.stat()
    info = zipfile.ZipInfo(member, date_time=_zip_time(stat.st_mtime))
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as source, archive.open(info, "w", force_zip64=True) as target:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            target.write(chunk)
            size += len(chunk)
    return {"size": size, "sha256": digest.hexdigest(), "mtime": int(stat.st_mtime)}


def _software_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ibcloud")
    except PackageNotFoundError:
        return ""


def write_archive(
    target: Path,
    vendor: str,
    database_file: Path,
    tables: dict[str, int],
    include_media: bool,
    about: dict,
    progress: Progress = no_progress,
) -> dict:
    """Write the archive ``target`` (database file, uploaded files, manifest); the manifest."""
    media_files: list[dict] = []
    media_bytes = 0
    with zipfile.ZipFile(target, "w", allowZip64=True) as archive:
        # A PostgreSQL custom-format dump is compressed already.
        database = _add_file(
            archive, database_file, DATABASE_MEMBERS[vendor], compress=vendor == "sqlite"
        )
        database["file"] = DATABASE_MEMBERS[vendor]
        if include_media:
            paths = list(iter_media_files())
            for index, (relative, path) in enumerate(paths):
                try:
                    entry = _add_file(archive, path, MEDIA_PREFIX + relative, compress=True)
                except FileNotFoundError:
                    # Deleted since the listing (its record went with it after the dump).
                    logger.warning("backup: %s vanished while archiving", relative)
                    continue
                media_files.append({"path": relative, **entry})
                media_bytes += entry["size"]
                # Each report writes the job row: once per percent, not once per file.
                if (100 * (index + 1)) // len(paths) != (100 * index) // len(paths):
                    progress(45 + 50 * (index + 1) / len(paths), f"files {index + 1}/{len(paths)}")
        manifest = {
            "format": FORMAT_VERSION,
            "app": "ibcloud",
            "version": _software_version(),
            "created": timezone.now().isoformat(),
            "vendor": vendor,
            "encryption_key": (key_fingerprints() or [""])[0],
            "database": database,
            "tables": tables,
            "excluded_tables": [CATALOG_TABLE],
            "media": {
                "included": include_media,
                "count": len(media_files),
                "bytes": media_bytes,
                "files": media_files,
            },
            "backup": about,
        }
        archive.writestr(
            MANIFEST_NAME, json.dumps(manifest, ensure_ascii=False, indent=1), zipfile.ZIP_DEFLATED
        )
    return manifest


def manifest_summary(manifest: dict) -> dict:
    """The manifest without the file list (kept in the catalog row; the archive has it all)."""
    summary = dict(manifest)
    summary["media"] = {k: v for k, v in manifest.get("media", {}).items() if k != "files"}
    return summary


def read_manifest(path: Path) -> dict:
    """The manifest of archive ``path``; BackupError when it is not a backup of this platform."""
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read(MANIFEST_NAME).decode("utf-8"))
    except FileNotFoundError as exc:
        raise BackupError(f"{path} does not exist.") from exc
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise BackupError(f"{path.name} is not a readable backup archive ({exc}).") from exc
    if not isinstance(manifest, dict) or manifest.get("app") != "ibcloud":
        raise BackupError(f"{path.name} is not a backup of this platform.")
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(
            f"{path.name} has backup format {manifest.get('format')!r}; this version reads "
            f"format {FORMAT_VERSION}."
        )
    if manifest.get("vendor") not in DATABASE_MEMBERS:
        raise BackupError(f"{path.name} names an unknown database: {manifest.get('vendor')!r}.")
    if not _well_formed(manifest):
        raise BackupError(f"{path.name} has a damaged manifest.")
    return manifest


def _well_formed(manifest: dict) -> bool:
    """The parts a restore reads have the shape this module writes (a hand-edited or damaged
    manifest must give a clear refusal, not a traceback halfway through)."""
    database = manifest.get("database")
    tables = manifest.get("tables")
    media = manifest.get("media")
    if not (isinstance(database, dict) and isinstance(tables, dict) and isinstance(media, dict)):
        return False
    if database.get("file") not in DATABASE_MEMBERS.values():
        return False
    if not isinstance(database.get("sha256"), str):
        return False
    if not all(isinstance(k, str) and type(v) is int for k, v in tables.items()):
        return False
    files = media.get("files", [])
    return isinstance(files, list) and all(
        isinstance(entry, dict)
        and isinstance(entry.get("path"), str)
        and isinstance(entry.get("sha256"), str)
        for entry in files
    )


def _safe_media_path(relative: str) -> PurePosixPath:
    """A manifest's file path, refused when it could land outside MEDIA_ROOT."""
    pure = PurePosixPath(relative)
    if not relative or pure.is_absolute() or ".." in pure.parts or "\\" in relative:
        raise BackupError(f"The archive names an unsafe file path: {relative!r}.")
    return pure


def _member_sha256(archive: zipfile.ZipFile, member: str) -> str:
    digest = hashlib.sha256()
    with archive.open(member) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_archive(path: Path, manifest: dict | None = None, progress: Progress = no_progress):
    """Check every member against the manifest's SHA-256 (zip's CRC is checked on the way).

    Raises BackupError naming the first damaged or missing member; returns the manifest.
    """
    manifest = manifest or read_manifest(path)
    database = manifest.get("database", {})
    expected = [(database.get("file", ""), database.get("sha256", ""))]
    for entry in manifest.get("media", {}).get("files", []):
        _safe_media_path(entry.get("path", ""))
        expected.append((MEDIA_PREFIX + entry["path"], entry.get("sha256", "")))
    try:
        with zipfile.ZipFile(path) as archive:
            for index, (member, checksum) in enumerate(expected):
                try:
                    actual = _member_sha256(archive, member)
                except KeyError as exc:
                    raise BackupError(f"{path.name} lacks {member}.") from exc
                if actual != checksum:
                    raise BackupError(f"{path.name}: the checksum of {member} does not match.")
                progress(100 * (index + 1) / len(expected), f"verified {index + 1}")
    except (zipfile.BadZipFile, OSError) as exc:
        raise BackupError(f"{path.name} is damaged: {exc}") from exc
    return manifest


def resolve_archive(name_or_path: str) -> Path:
    """An archive given as a path, or as a file name in the backup directory."""
    candidate = Path(name_or_path)
    if candidate.is_file():
        return candidate
    if candidate.name == name_or_path:
        in_dir = backup_dir() / name_or_path
        if in_dir.is_file():
            return in_dir
    raise BackupError(f"No backup archive {name_or_path!r} (looked in {backup_dir()}).")


def restore_media(path: Path, manifest: dict) -> tuple[int, int, int, Path | None]:
    """Make MEDIA_ROOT hold exactly the archive's files.

    Files already equal stay; files not in the backup, or different, are moved to a
    ``displaced-media-<time>-<random>`` folder in the backup directory (nothing is lost).
    Returns (restored, unchanged, displaced, displaced folder or None).
    """
    root = media_root()
    root.mkdir(parents=True, exist_ok=True)
    wanted = {entry["path"]: entry for entry in manifest.get("media", {}).get("files", [])}
    displaced_dir: Path | None = None
    displaced = 0
    present = set()
    for relative, existing in list(iter_media_files(root)):
        entry = wanted.get(relative)
        if entry is not None and file_sha256(existing) == entry["sha256"]:
            present.add(relative)
            continue
        if displaced_dir is None:
            # A folder of its own per restore (two restores never mix their files).
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
            displaced_dir = Path(
                tempfile.mkdtemp(prefix=f"displaced-media-{stamp}-", dir=backup_dir())
            )
        aside = displaced_dir / relative
        aside.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(existing, aside)
        displaced += 1
    restored = 0
    resolved_root = root.resolve()
    with zipfile.ZipFile(path) as archive:
        for relative, entry in wanted.items():
            if relative in present:
                continue
            target = root / _safe_media_path(relative)
            if resolved_root not in target.resolve().parents:
                raise BackupError(f"The archive names an unsafe file path: {relative!r}.")
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.restoring")
            with archive.open(MEDIA_PREFIX + relative) as source, open(partial, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
            os.replace(partial, target)
            mtime = entry.get("mtime")
            if isinstance(mtime, int):
                os.utime(target, (mtime, mtime))
            restored += 1
    return restored, len(present), displaced, displaced_dir
