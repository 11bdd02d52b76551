"""Database dumps for backups: SQLite through its online backup API, PostgreSQL through
``pg_dump`` / ``pg_restore``, each with the row counts of exactly what was dumped.

The catalog of backups (``monitor.Backup``) is never dumped: restoring it would bring back a list
that does not match the archives on disk; it is rebuilt from their manifests instead.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from ibcloud.monitor.models import Backup

#: The file of the dump inside an archive, per database vendor.
DATABASE_MEMBERS = {"sqlite": "database.sqlite3", "postgresql": "database.dump"}
#: The catalog of backups: never dumped, rebuilt from the archives after a restore.
CATALOG_TABLE = Backup._meta.db_table


class BackupError(Exception):
    """A backup or restore cannot proceed; the message says why, in words an operator acts on."""


def database_vendor(alias: str = "default") -> str:
    vendor = connections[alias].vendor
    if vendor not in DATABASE_MEMBERS:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {vendor}.")
    return vendor


def _sqlite_table_counts(db: sqlite3.Connection) -> dict[str, int]:
    names = [
        row[0]
        for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {
        name: db.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]  # noqa: S608 - catalog names
        for name in names
        if name != CATALOG_TABLE
    }


def dump_sqlite(alias: str, target: Path) -> dict[str, int]:
    """Copy the live SQLite database to ``target`` with the online backup API; row counts.

    One step (``pages=-1``) copies a single consistent snapshot: in WAL mode the application
    keeps writing meanwhile. The copy is switched out of WAL so it is one self-contained file.
    """
    config = connections[alias].settings_dict
    timeout = float(config.get("OPTIONS", {}).get("timeout", 20))
    with closing(sqlite3.connect(config["NAME"], timeout=timeout)) as source:
        with closing(sqlite3.connect(target)) as copy:
            source.backup(copy, pages=-1)
            copy.execute(f'DELETE FROM "{CATALOG_TABLE}"')  # noqa: S608 - a constant
            copy.commit()
            copy.execute("PRAGMA journal_mode=DELETE")
            return _sqlite_table_counts(copy)


def restore_sqlite(alias: str, source_file: Path) -> None:
    """Replace the live SQLite database with ``source_file`` through the backup API, which
    takes the database's write lock and copies every page (the WAL is handled by SQLite)."""
    connections[alias].close()
    config = connections[alias].settings_dict
    timeout = float(config.get("OPTIONS", {}).get("timeout", 20))
    with closing(sqlite3.connect(source_file)) as source:
        with closing(sqlite3.connect(config["NAME"], timeout=timeout)) as live:
            source.backup(live, pages=-1)
            live.execute("PRAGMA journal_mode=WAL")


def pg_tool(name: str) -> str:
    """Path of ``pg_dump`` / ``pg_restore`` (``IBCLOUD_PG_BIN`` names their directory)."""
    directory = os.environ.get("IBCLOUD_PG_BIN", "")
    found = shutil.which(name, path=directory) if directory else shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} was not found. Install the PostgreSQL client tools of the server's major "
            "version (Ubuntu/Debian: apt-get install postgresql-client), or set IBCLOUD_PG_BIN "
            "to the directory holding them."
        )
    return found


def _pg_connection_args(alias: str) -> tuple[list[str], dict[str, str]]:
    """Command-line arguments and environment reaching the database ``alias`` names.

    The password goes through the environment (``PGPASSWORD``), never the command line, where
    other users of the machine could read it.
    """
    config = connections[alias].settings_dict
    args = ["--no-password"]
    if config.get("HOST"):
        args += ["--host", str(config["HOST"])]
    if config.get("PORT"):
        args += ["--port", str(config["PORT"])]
    if config.get("USER"):
        args += ["--username", str(config["USER"])]
    env = dict(os.environ)
    if config.get("PASSWORD"):
        env["PGPASSWORD"] = str(config["PASSWORD"])
    sslmode = config.get("OPTIONS", {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    return args, env


def _run_tool(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        tool = Path(command[0]).name
        detail = (result.stderr or result.stdout or "").strip()[-4000:]
        hint = ""
        if "version mismatch" in detail:
            hint = (
                " Install the PostgreSQL client tools of the server's major version (or set "
                "IBCLOUD_PG_BIN to their directory)."
            )
        raise BackupError(f"{tool} failed (exit {result.returncode}): {detail}{hint}")


def dump_postgresql(alias: str, target: Path) -> dict[str, int]:
    """``pg_dump -Fc`` of the database into ``target``; row counts of the same snapshot.

    A separate connection opens a repeatable-read transaction and exports its snapshot; the
    counts are taken in it and pg_dump dumps exactly it (``--snapshot``), so the manifest
    describes the dump even while the application writes.
    """
    tool = pg_tool("pg_dump")
    args, env = _pg_connection_args(alias)
    name = str(connections[alias].settings_dict["NAME"])
    holder = connections.create_connection(alias)
    try:
        holder.ensure_connection()
        with holder.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            tables = [
                table
                for table in holder.introspection.table_names(cursor)
                if table != CATALOG_TABLE
            ]
            counts = {}
            for table in sorted(tables):
                cursor.execute(f"SELECT COUNT(*) FROM {holder.ops.quote_name(table)}")  # noqa: S608
                counts[table] = cursor.fetchone()[0]
            _run_tool(
                [
                    tool,
                    *args,
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--exclude-table-data={CATALOG_TABLE}",
                    f"--file={target}",
                    f"--dbname={name}",
                ],
                env,
            )
            cursor.execute("COMMIT")
    finally:
        holder.close()
    return counts


def other_sessions(alias: str = "default") -> int:
    """Sessions other than this one connected to the PostgreSQL database (a running app)."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def restore_postgresql(alias: str, source_file: Path) -> None:
    """``pg_restore --clean --if-exists --no-owner`` in one transaction: all or nothing.

    Refused while other sessions use the database: dropping their tables would wait for
    their locks for ever (the dump's own settings switch lock timeouts off).
    """
    tool = pg_tool("pg_restore")
    args, env = _pg_connection_args(alias)
    name = str(connections[alias].settings_dict["NAME"])
    others = other_sessions(alias)
    for _attempt in range(10):
        if not others:
            break
        # A session just closed (a finished job, a command) leaves pg_stat_activity shortly after.
        time.sleep(0.5)
        others = other_sessions(alias)
    if others:
        raise BackupError(
            f"{others} other session(s) are connected to the database {name} (the web server, "
            "the workers?). Stop them, then run the restore again."
        )
    connections[alias].close()
    _run_tool(
        [
            tool,
            *args,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={name}",
            str(source_file),
        ],
        env,
    )


DUMPERS = {"sqlite": dump_sqlite, "postgresql": dump_postgresql}
RESTORERS = {"sqlite": restore_sqlite, "postgresql": restore_postgresql}


def live_table_counts(alias: str = "default") -> dict[str, int]:
    """Rows per table of the live database (the catalog table left out)."""
    connection = connections[alias]
    counts = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            if table == CATALOG_TABLE or table.startswith("sqlite_"):
                continue
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            counts[table] = cursor.fetchone()[0]
    return counts


def pending_migrations(alias: str = "default") -> int:
    """Migrations of the installed code the (restored) database has not applied."""
    executor = MigrationExecutor(connections[alias])
    targets = executor.loader.graph.leaf_nodes()
    return len(executor.migration_plan(targets))
