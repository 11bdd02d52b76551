"""The UI is Chinese by default: every message in the code has a zh_Hans translation."""

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "ibcloud"
CATALOG = PACKAGE / "locale" / "zh_Hans" / "LC_MESSAGES"

needs_gettext = pytest.mark.skipif(
    shutil.which("xgettext") is None or shutil.which("msgattrib") is None,
    reason="GNU gettext tools not installed",
)


@needs_gettext
def test_every_message_is_translated_to_chinese(tmp_path):
    # makemessages writes into every locale folder under its working directory, so it runs on a
    # copy of the sources: the test never touches the catalog in the repository.
    source = tmp_path / "ibcloud"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("static", "__pycache__"))
    locale = source / "locale"
    env = {**os.environ, "IBCLOUD_LOCALE_DIR": str(locale)}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ibcloud.cli",
            "makemessages",
            "-l",
            "zh_Hans",
            "--no-obsolete",
            "--ignore=*/migrations/*",
        ],
        cwd=source,
        env=env,
        check=True,
        capture_output=True,
    )
    catalog = locale / "zh_Hans" / "LC_MESSAGES" / "django.po"
    statistics = subprocess.run(
        ["msgfmt", "--statistics", "-o", os.devnull, str(catalog)],
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    # e.g. "558 translated messages, 2 untranslated messages, 1 fuzzy translation."
    assert "untranslated" not in statistics and "fuzzy" not in statistics, (
        f"{statistics.strip()}: run makemessages -l zh_Hans, translate, compilemessages"
    )


@needs_gettext
def test_compiled_catalog_is_up_to_date(tmp_path):
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "-o", str(compiled), str(CATALOG / "django.po")], check=True)
    assert filecmp.cmp(compiled, CATALOG / "django.mo", shallow=False), (
        "django.mo is stale: run `.venv/bin/ibcloud compilemessages`"
    )
