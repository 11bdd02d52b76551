"""Settings read from the environment: a database the platform cannot run on is refused at start."""

import os
import subprocess
import sys

import pytest


def _start(database_url: str, tmp_path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ibcloud.settings",
        "IBCLOUD_DATA_DIR": str(tmp_path),
        "DATABASE_URL": database_url,
    }
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_mysql_database_url_is_refused_with_a_clear_message(tmp_path):
    started = _start("mysql://root@127.0.0.1:3306/test", tmp_path)
    assert started.returncode != 0
    assert "DATABASE_URL must name a PostgreSQL database" in started.stderr
    assert "django.db.backends.mysql" in started.stderr


@pytest.mark.parametrize(
    "database_url",
    ["postgres://postgres@127.0.0.1:5432/postgres", "sqlite:///{tmp}/other.sqlite3"],
)
def test_postgresql_and_sqlite_urls_start(database_url, tmp_path):
    started = _start(database_url.format(tmp=tmp_path), tmp_path)
    assert started.returncode == 0, started.stderr
    assert "started" in started.stdout
