#!/usr/bin/env python3
"""Set up 投行云 from a fresh checkout and run it, or run its tests.

    python3 bootstrap.py demo     # install, migrate, load demo data, serve on http://127.0.0.1:8000
    python3 bootstrap.py test     # install (with test tools and Chromium), run the whole suite
                                  # in parallel, one pytest worker per CPU (``test -n 0``: serial)
    python3 bootstrap.py install  # install only

Works on Linux and Windows (``py bootstrap.py demo``). Needs Python 3.11+ and Node 20+ (npm).
Everything lands in ``.venv/`` and ``src/ibcloud/static/vendor/``; nothing is fetched at run time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
WINDOWS = os.name == "nt"
BIN = VENV / ("Scripts" if WINDOWS else "bin")
PYTHON = BIN / ("python.exe" if WINDOWS else "python")
FRONTEND = ROOT / "frontend"
VENDOR = ROOT / "src" / "ibcloud" / "static" / "vendor"
CHROMIUM = Path("/usr/bin/chromium")

# Front-end files served locally: (path under node_modules, path under static/vendor).
ASSETS = [
    ("@tabler/core/dist/css/tabler.min.css", "tabler/tabler.min.css"),
    ("@tabler/core/dist/js/tabler.min.js", "tabler/tabler.min.js"),
    ("@tabler/icons-webfont/dist/tabler-icons.min.css", "tabler-icons/tabler-icons.min.css"),
    (
        "@tabler/icons-webfont/dist/fonts/tabler-icons.woff2",
        "tabler-icons/fonts/tabler-icons.woff2",
    ),
    ("@tabler/icons-webfont/dist/fonts/tabler-icons.woff", "tabler-icons/fonts/tabler-icons.woff"),
    ("@tabler/icons-webfont/dist/fonts/tabler-icons.ttf", "tabler-icons/fonts/tabler-icons.ttf"),
    ("echarts/dist/echarts.min.js", "echarts/echarts.min.js"),
    ("tom-select/dist/js/tom-select.complete.min.js", "tom-select/tom-select.complete.min.js"),
    (
        "tom-select/dist/css/tom-select.bootstrap5.min.css",
        "tom-select/tom-select.bootstrap5.min.css",
    ),
    ("sortablejs/Sortable.min.js", "sortablejs/Sortable.min.js"),
]


def run(*args: str | Path, **kwargs) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], check=True, **kwargs)  # noqa: S603


def install(with_tests: bool) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - bootstrap runs on whatever python3 is
        sys.exit("Python 3.11 or newer is needed.")
    if not PYTHON.exists():
        create_venv()
    target = ".[test]" if with_tests else "."
    run(
        PYTHON,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-c",
        ROOT / "requirements.lock",
        "-e",
        target,
        cwd=ROOT,
    )
    install_assets()


def create_venv() -> None:
    """Create .venv; Debian/Ubuntu ship venv support in a separate package, installed if missing."""
    try:
        run(sys.executable, "-m", "venv", VENV)
        return
    except subprocess.CalledProcessError:
        shutil.rmtree(VENV, ignore_errors=True)
    apt = shutil.which("apt-get")
    if WINDOWS or apt is None:
        sys.exit("Could not create a virtual environment; install Python's venv module.")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*prefix, apt, "update", "-qq"], check=False, env=env)  # noqa: S603
    run(*prefix, apt, "install", "-y", "-qq", f"python{version}-venv", env=env)
    run(sys.executable, "-m", "venv", VENV)


def install_assets() -> None:
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm (Node 20+) is needed to install the front-end packages.")
    run(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error", cwd=FRONTEND)
    for source, target in ASSETS:
        destination = VENDOR / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FRONTEND / "node_modules" / source, destination)
    print(f"front-end assets copied to {VENDOR.relative_to(ROOT)}")


def ensure_test_tools() -> None:
    """What the tests drive besides Python: Debian's chromium (browser tests) and the PostgreSQL
    client (pg_dump / pg_restore for the backup tests); installed when missing and we can."""
    if WINDOWS:
        return
    packages = []
    if not (CHROMIUM.exists() or os.environ.get("IBCLOUD_CHROMIUM")):
        packages.append("chromium")
    if shutil.which("pg_dump") is None and not os.environ.get("IBCLOUD_PG_BIN"):
        packages.append("postgresql-client")
    if not packages:
        return
    apt = shutil.which("apt-get")
    if apt is None:
        print(f"warning: {', '.join(packages)} missing and apt-get unavailable; those tests skip")
        return
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*prefix, apt, "update", "-qq"], check=False, env=env)  # noqa: S603
    run(*prefix, apt, "install", "-y", "-qq", "--no-install-recommends", *packages, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["demo", "test", "install"])
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="passed on to pytest / ibcloud")
    options = parser.parse_args()
    os.chdir(ROOT)
    if options.command == "test":
        install(with_tests=True)
        ensure_test_tools()
        run(PYTHON, "-m", "ruff", "check", "src", "tests", "bench", "bootstrap.py")
        run(PYTHON, "-m", "ruff", "format", "--check", "src", "tests", "bench", "bootstrap.py")
        run(PYTHON, "-m", "ibcloud.cli", "makemigrations", "--check", "--dry-run")
        # One pytest worker per CPU (pytest-xdist); worksteal hands a long test's neighbours to
        # an idle worker. Extra arguments come last, so ``-n 0`` runs everything in one process.
        run(PYTHON, "-m", "pytest", "-n", "auto", "--dist", "worksteal", *options.extra)
    elif options.command == "demo":
        install(with_tests=False)
        run(PYTHON, "-m", "ibcloud.cli", "demo", *options.extra)
    else:
        install(with_tests=False)


if __name__ == "__main__":
    main()
