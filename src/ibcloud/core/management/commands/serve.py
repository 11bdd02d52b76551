"""``ibcloud serve``: the whole platform on one machine — web server plus job workers.

The web server is waitress (pure Python, runs on Windows and Linux) over the WSGI application;
static files come from whitenoise straight from the apps (no ``collectstatic``). Unless
``--no-workers`` is given, two worker processes run beside it (``worker --queue default``, which
also runs the periodic jobs, and ``worker --queue crawl``), started with ``subprocess`` so the same
code works on Windows; a worker that dies is restarted. Ctrl-C or SIGTERM stops the server and
then the workers.

The server refuses to start while migrations are unapplied: serving an old schema would fail on
the first request instead.

``ibcloud demo`` calls :func:`run_platform` after loading its data.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

logger = logging.getLogger("ibcloud.serve")

WEB_THREADS = 8
WORKER_QUEUES = ("default", "crawl")
STOP_WAIT_SECONDS = 40  # a worker gives running jobs 30 s after SIGTERM
RESTART_DELAY_SECONDS = 5


def unapplied_migrations() -> list[str]:
    """``app.migration`` names not yet applied to the default database."""
    connection = connections[DEFAULT_DB_ALIAS]
    connection.prepare_database()
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, backwards in plan]


def check_migrations() -> None:
    """Refuse to serve with unapplied migrations, saying how to apply them."""
    pending = unapplied_migrations()
    if pending:
        shown = ", ".join(pending[:5]) + (" ..." if len(pending) > 5 else "")
        raise CommandError(
            f"The database has {len(pending)} unapplied migration(s) ({shown}). "
            "Run `ibcloud migrate` first, then start the server again."
        )


def worker_command(queue: str) -> list[str]:
    return [sys.executable, "-m", "ibcloud.cli", "worker", "--queue", queue]


class WorkerProcesses:
    """The worker subprocesses of ``serve``: start, watch (restart when one dies), stop."""

    def __init__(self, queues: Iterable[str]) -> None:
        self.queues = list(queues)
        self.processes: dict[str, subprocess.Popen] = {}
        self.stopping = threading.Event()
        self.watcher = threading.Thread(target=self._watch, name="worker-watch", daemon=True)
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE}

    def _start_one(self, queue: str) -> None:
        self.processes[queue] = subprocess.Popen(worker_command(queue), env=self.env)  # noqa: S603

    def start(self) -> None:
        for queue in self.queues:
            self._start_one(queue)
        self.watcher.start()

    def _watch(self) -> None:
        while not self.stopping.wait(RESTART_DELAY_SECONDS):
            for queue, process in list(self.processes.items()):
                if process.poll() is not None and not self.stopping.is_set():
                    logger.warning(
                        "worker for queue %s exited with %s; restarting", queue, process.returncode
                    )
                    self._start_one(queue)

    def stop(self) -> None:
        self.stopping.set()
        for process in self.processes.values():
            if process.poll() is None:
                if os.name == "nt":
                    # Windows has no SIGTERM delivery; a stopped worker's jobs are reaped.
                    process.terminate()
                else:
                    process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                # Too slow, or a second Ctrl-C: stop now (the reaper fails their jobs).
                process.kill()
                process.wait()


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def run_platform(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: bool = True,
    banner_lines: Iterable[str] = (),
    threads: int = WEB_THREADS,
    trusted_proxy: str = "",
) -> None:
    """Serve the web application (and the workers) until Ctrl-C or SIGTERM.

    Behind a reverse proxy, ``trusted_proxy`` is its address: waitress then takes the client
    address and the scheme from its X-Forwarded-For / X-Forwarded-Proto headers. Without it,
    waitress removes those headers (a client could forge them).
    """
    from waitress import create_server

    check_migrations()
    connections.close_all()  # the server's threads open their own
    # whitenoise serves from the apps (WHITENOISE_USE_FINDERS) but warns when STATIC_ROOT is absent.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    from ibcloud.wsgi import application

    try:
        proxy_options = (
            {
                "trusted_proxy": trusted_proxy,
                "trusted_proxy_count": 1,
                "trusted_proxy_headers": "x-forwarded-for x-forwarded-proto",
            }
            if trusted_proxy
            else {}
        )
        server = create_server(application, host=host, port=port, threads=threads, **proxy_options)
    except OSError as exc:
        raise CommandError(f"Cannot listen on {host}:{port}: {exc}") from exc

    port = getattr(server, "effective_port", port)
    children = WorkerProcesses(WORKER_QUEUES) if workers else None
    previous = None
    try:
        if children is not None:
            children.start()
        print("\n".join(_banner(host, port, children, banner_lines)), flush=True)
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
            previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        server.run()  # returns on KeyboardInterrupt / SystemExit
    finally:
        server.close()
        if children is not None:
            print("Stopping job workers ...", flush=True)
            children.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        print("Stopped.", flush=True)


def _banner(host: str, port: int, children, banner_lines: Iterable[str]) -> list[str]:
    shown_host = f"[{host}]" if ":" in host else host
    lines = [*banner_lines, f"投行云 IB Cloud is running at http://{shown_host}:{port}/"]
    if children is not None:
        lines.append(f"Job workers: {', '.join(WORKER_QUEUES)} (pids {_pids(children)})")
    else:
        lines.append("Job workers: not started (--no-workers); run `ibcloud worker` separately.")
    lines.append("Press Ctrl-C to stop.")
    return lines


def _pids(children: WorkerProcesses) -> str:
    return ", ".join(str(p.pid) for p in children.processes.values())


class Command(BaseCommand):
    help = "Run the web server and the job workers (one-machine deployment)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on.")
        parser.add_argument("--threads", type=int, default=WEB_THREADS, help="Web server threads.")
        parser.add_argument(
            "--no-workers",
            action="store_true",
            help="Do not start job workers (run `ibcloud worker` elsewhere).",
        )
        parser.add_argument(
            "--trusted-proxy",
            default="",
            help="Address of the reverse proxy in front (e.g. 127.0.0.1) whose X-Forwarded-For "
            "and X-Forwarded-Proto headers are believed.",
        )

    def handle(self, *args, **options) -> None:
        if not 0 < options["port"] < 65536:
            raise CommandError("--port must be between 1 and 65535.")
        if not 1 <= options["threads"] <= 256:
            raise CommandError("--threads must be between 1 and 256.")
        run_platform(
            options["host"],
            options["port"],
            workers=not options["no_workers"],
            threads=options["threads"],
            trusted_proxy=options["trusted_proxy"],
        )
