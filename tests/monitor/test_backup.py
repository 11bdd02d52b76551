"""Backup and restore: back up, wipe, restore, and find every row and every uploaded file equal.

The tests run against whichever database is configured (SQLite by default, PostgreSQL with
``DATABASE_URL``); the dump and the restore target the test database the test runs on. They are
transactional: the backup and the restore use their own connections (and, on PostgreSQL,
pg_dump and pg_restore), which must see committed data and take table locks.
"""

from __future__ import annotations

import json
import shutil
import threading
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from ibcloud.audit.models import AuditEntry
from ibcloud.core.parameters import set_parameter
from ibcloud.monitor import archives, backups, dumps
from ibcloud.monitor.models import Backup
from tests.catalog.factories import InvestorFactory, ProjectFactory
from tests.deals.factories import DealAttachmentFactory, DealFactory, MilestoneFactory
from tests.factories import DepartmentFactory, RoleFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

AUDIT_TABLE = AuditEntry._meta.db_table


@pytest.fixture
def places(settings, tmp_path) -> dict[str, Path]:
    """A backup directory and a MEDIA_ROOT of this test's own."""
    settings.IBCLOUD_BACKUP_DIR = tmp_path / "backups"
    settings.MEDIA_ROOT = tmp_path / "media"
    return {"backups": tmp_path / "backups", "media": tmp_path / "media"}


def _plain(value):
    # PostgreSQL returns bytea as memoryview, whose repr (used to sort) names an address.
    return bytes(value) if isinstance(value, memoryview) else value


def every_row(leave_out: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    """Every row of every table (values, sorted), except the backup catalog and ``leave_out``."""
    rows = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table == dumps.CATALOG_TABLE or table in leave_out:
                continue
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            rows[table] = sorted(
                (tuple(_plain(v) for v in row) for row in cursor.fetchall()), key=repr
            )
    return rows


def every_file(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


def make_records() -> dict:
    """Rows in several apps and uploaded files, some with Chinese names in nested folders."""
    department = DepartmentFactory(name="投资银行一部", code="ib1")
    role = RoleFactory(perms=["deals.view_deal", "catalog.view_project"], data_scope="dept")
    lead = UserFactory(username="lead", department=department, roles=[role])
    ProjectFactory.create_batch(3)
    InvestorFactory.create_batch(2)
    deal = DealFactory(lead=lead)
    MilestoneFactory(deal=deal)
    attachment = DealAttachmentFactory(deal=deal)
    DealAttachmentFactory(
        deal=deal,
        file__filename="尽调报告.docx",
        file__data=bytes(range(256)) * 64,
        name="尽调报告.docx",
    )
    set_parameter("backup.keep_count", 5)
    return {"lead": lead, "deal": deal, "attachment": attachment}


def wipe(media: Path) -> None:
    """What a lost server looks like: an empty database (plus a stray record) and no files."""
    call_command("flush", interactive=False, verbosity=0)
    UserFactory(username="intruder")
    shutil.rmtree(media, ignore_errors=True)


def test_backup_wipe_restore_leaves_every_row_and_file_equal(places):
    records = make_records()
    call_command("backup", verbosity=0)
    backup = Backup.objects.get()
    assert backup.status == Backup.Status.SUCCEEDED
    archive = places["backups"] / backup.file_name
    assert archive.is_file() and backup.size == archive.stat().st_size
    assert backup.sha256 == archives.file_sha256(archive)
    assert backup.file_count == 2
    rows_before = every_row()
    files_before = every_file(places["media"])
    assert len(files_before) == 2
    audit_before = rows_before.pop(AUDIT_TABLE)

    wipe(places["media"])
    assert not every_row()["deals_deal"]

    call_command("restore", backup.file_name, "--yes", verbosity=0)

    rows_after = every_row()
    audit_after = rows_after.pop(AUDIT_TABLE)
    assert rows_after == rows_before
    assert every_file(places["media"]) == files_before
    # The audit log has exactly what it had, plus the restore itself.
    assert set(audit_before) < set(audit_after)
    assert AuditEntry.objects.filter(event="backup_restore").count() == 1
    assert len(audit_after) == len(audit_before) + 1
    # The restored attachment opens through the storage with its bytes.
    attachment = type(records["attachment"]).objects.get(pk=records["attachment"].pk)
    with attachment.file.open("rb") as handle:
        assert handle.read() == b"%PDF-1.4 test"
    # The backup list matches the archives on disk again.
    listed = Backup.objects.get()
    assert (listed.file_name, listed.sha256, listed.status) == (
        backup.file_name,
        backup.sha256,
        Backup.Status.SUCCEEDED,
    )


def test_after_a_restore_new_records_do_not_collide_with_restored_ones(places):
    make_records()
    backup = backups.create_backup()
    UserFactory(username="after-backup")
    backups.restore_backup(places["backups"] / backup.file_name)
    users = UserFactory._meta.model.objects
    assert not users.filter(username="after-backup").exists()
    restored_ids = set(users.values_list("pk", flat=True))
    assert UserFactory(username="new").pk > max(restored_ids)


def test_the_manifest_counts_rows_per_table_and_lists_files_with_checksums(places):
    make_records()
    backup = backups.create_backup()
    with zipfile.ZipFile(places["backups"] / backup.file_name) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = set(archive.namelist())
    assert manifest["vendor"] == connection.vendor
    assert manifest["tables"]["deals_dealattachment"] == 2
    assert manifest["tables"] == dumps.live_table_counts()
    assert dumps.CATALOG_TABLE not in manifest["tables"]
    assert {f"media/{entry['path']}" for entry in manifest["media"]["files"]} <= names
    assert manifest["database"]["file"] in names
    assert all(len(entry["sha256"]) == 64 for entry in manifest["media"]["files"])
    # The catalog row keeps the counts, not the (possibly long) file list.
    assert "files" not in backup.manifest["media"]
    assert backup.row_total == sum(manifest["tables"].values())


def test_a_backup_without_files_restores_the_database_and_leaves_the_files(places):
    make_records()
    backup = backups.create_backup(include_media=False)
    assert not backup.includes_media and backup.file_count == 0
    files = every_file(places["media"])
    report = backups.restore_backup(places["backups"] / backup.file_name)
    assert report.ok
    assert every_file(places["media"]) == files


def test_files_not_in_the_backup_are_moved_aside_not_deleted(places):
    make_records()
    backup = backups.create_backup()
    stray = places["media"] / "deals" / "later.pdf"
    stray.write_bytes(b"uploaded after the backup")
    report = backups.restore_backup(places["backups"] / backup.file_name)
    assert not stray.exists()
    assert report.files_displaced == 1 and report.files_unchanged == 2
    assert (report.displaced_dir / "deals" / "later.pdf").read_bytes() == (
        b"uploaded after the backup"
    )


def _rewrite(archive: Path, target: Path, change) -> Path:
    """Copy ``archive`` to ``target`` with ``change(name, data) -> data`` applied to members."""
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(target, "w") as copy:
        for info in source.infolist():
            copy.writestr(info.filename, change(info.filename, source.read(info.filename)))
    return target


def test_a_damaged_archive_is_refused_before_anything_changes(places, tmp_path):
    make_records()
    backup = backups.create_backup()
    UserFactory(username="sentinel")

    def tamper(name, data):
        return data + b"!" if name.endswith("尽调报告.docx") else data

    damaged = _rewrite(places["backups"] / backup.file_name, tmp_path / "damaged.zip", tamper)
    with pytest.raises(CommandError, match="checksum"):
        call_command("restore", str(damaged), "--yes", verbosity=0)
    assert UserFactory._meta.model.objects.filter(username="sentinel").exists()


def test_an_archive_of_the_other_database_is_refused_clearly(places, tmp_path):
    make_records()
    backup = backups.create_backup()
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"

    def relabel(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["vendor"] = other
        return json.dumps(manifest).encode()

    foreign = _rewrite(places["backups"] / backup.file_name, tmp_path / "foreign.zip", relabel)
    with pytest.raises(dumps.BackupError, match=f"is a {other} backup"):
        backups.restore_backup(foreign)


def test_restore_asks_for_confirmation_and_refuses_what_is_not_a_backup(places, tmp_path):
    make_records()
    backup = backups.create_backup()
    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", backup.file_name, verbosity=0)  # no terminal to ask on
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(CommandError, match="not a readable backup"):
        call_command("restore", str(junk), "--yes", verbosity=0)
    with pytest.raises(CommandError, match="No backup archive"):
        call_command("restore", "missing.zip", "--yes", verbosity=0)


def test_a_failed_backup_says_why_and_leaves_no_partial_archive(places, monkeypatch):
    def broken(alias, target):
        target.write_bytes(b"half")
        raise dumps.BackupError("disk full")

    monkeypatch.setitem(dumps.DUMPERS, connection.vendor, broken)
    with pytest.raises(CommandError, match="disk full"):
        call_command("backup", verbosity=0)
    failed = Backup.objects.get()
    assert failed.status == Backup.Status.FAILED and failed.error == "disk full"
    assert failed.finished_at is not None
    assert not [p for p in places["backups"].iterdir() if p.is_file()]


def test_without_the_postgresql_client_the_message_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("IBCLOUD_PG_BIN", str(tmp_path))
    with pytest.raises(dumps.BackupError, match="postgresql-client"):
        dumps.pg_tool("pg_dump")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL sessions")
def test_a_postgresql_restore_is_refused_while_others_use_the_database(places):
    make_records()
    backup = backups.create_backup()
    UserFactory(username="sentinel")
    other = connections.create_connection("default")  # a web server still running
    other.ensure_connection()
    try:
        with pytest.raises(dumps.BackupError, match="other session"):
            backups.restore_backup(places["backups"] / backup.file_name)
    finally:
        other.close()
    assert UserFactory._meta.model.objects.filter(username="sentinel").exists()


def test_a_backup_taken_while_the_application_writes_is_one_consistent_snapshot(places):
    """Counts and dump come from the same moment: restoring gives exactly the counted rows."""
    make_records()
    Department = DepartmentFactory._meta.model
    stop = threading.Event()
    written = []

    def application_writes():
        try:
            while not stop.is_set():
                written.append(DepartmentFactory(name=f"部门-{len(written)}"))
        finally:
            connections.close_all()  # this thread's connection (PostgreSQL: a session)

    writer = threading.Thread(target=application_writes)
    writer.start()
    try:
        while len(written) < 3 and writer.is_alive():  # writing when the backup starts
            stop.wait(0.01)
        backup = backups.create_backup()
        during = len(written)
        while len(written) < during + 3 and writer.is_alive():  # and goes on after it
            stop.wait(0.01)
    finally:
        stop.set()
        writer.join()
    assert len(written) >= during + 3, "the writing thread stopped early"
    counted = backup.table_counts[Department._meta.db_table]
    assert counted < Department.objects.count()
    report = backups.restore_backup(places["backups"] / backup.file_name)
    assert report.ok, report.mismatches
    assert Department.objects.count() == counted


def test_a_damaged_manifest_is_refused_clearly(places, tmp_path):
    make_records()
    backup = backups.create_backup()

    def damage(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["media"]["files"] = "everything"
        return json.dumps(manifest).encode()

    damaged = _rewrite(places["backups"] / backup.file_name, tmp_path / "damaged.zip", damage)
    with pytest.raises(dumps.BackupError, match="damaged manifest"):
        backups.restore_backup(damaged)


def test_a_restore_warns_when_the_secrets_key_of_the_backup_is_not_configured(places, settings):
    make_records()
    backup = backups.create_backup()
    archive = places["backups"] / backup.file_name
    assert not backups.restore_backup(archive).key_missing
    settings.IBCLOUD_ENCRYPTION_KEYS = ["a-new-key", *settings.IBCLOUD_ENCRYPTION_KEYS]
    assert not backups.restore_backup(archive).key_missing  # the old key still decrypts
    settings.IBCLOUD_ENCRYPTION_KEYS = ["another-machine"]
    assert backups.restore_backup(archive).key_missing
    # The archive names the key, never holds it.
    with zipfile.ZipFile(archive) as opened:
        assert settings.SECRET_KEY.encode() not in opened.read("manifest.json")


def drop_every_table() -> None:
    """A new machine: the database exists but holds no table at all."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE")
            cursor.execute("CREATE SCHEMA public")
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA foreign_keys = OFF")
        # Full-text tables first: dropping one drops its shadow tables.
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY sql NOT LIKE 'CREATE VIRTUAL%'"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
        cursor.execute("PRAGMA foreign_keys = ON")


def test_a_restore_into_an_empty_database_brings_back_every_table(places):
    make_records()
    backup = backups.create_backup()
    rows_before = every_row(leave_out=(AUDIT_TABLE,))
    drop_every_table()
    assert not connection.introspection.table_names()
    shutil.rmtree(places["media"])

    report = backups.restore_backup(places["backups"] / backup.file_name)

    assert report.ok and report.pending_migrations == 0
    assert every_row(leave_out=(AUDIT_TABLE,)) == rows_before
    assert len(every_file(places["media"])) == 2
    assert Backup.objects.get().file_name == backup.file_name
