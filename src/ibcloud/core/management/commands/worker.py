"""``ibcloud worker``: run background jobs of one queue (Huey consumer with thread workers).

Every installed app's ``tasks`` module is imported first, so the worker knows every job. The
default queue also runs the periodic jobs (one scheduler per deployment is enough, but several are
safe: periodic jobs take a lock). SIGTERM stops gracefully: running jobs get ``--shutdown-timeout``
seconds to finish; Ctrl-C (SIGINT) stops at once. Jobs still running when the worker stops are
marked failed, so their rows never stay "running".
"""

from __future__ import annotations

import logging
import os
import socket

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils.module_loading import autodiscover_modules
from huey import signals as huey_signals
from huey.consumer import WORKER_THREAD

from ibcloud.core import jobs

logger = logging.getLogger("ibcloud.worker")


class Command(BaseCommand):
    help = "Run a background-job worker for one queue (default or crawl)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--queue",
            default="default",
            choices=list(jobs.QUEUE_NAMES),
            help="Queue to consume (default: %(default)s).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="Worker threads (default: 4 for the default queue, 2 for crawl).",
        )
        parser.add_argument(
            "--no-periodic",
            action="store_true",
            help="Do not run the periodic jobs (only the default queue runs them anyway).",
        )
        parser.add_argument(
            "--shutdown-timeout",
            type=float,
            default=30.0,
            help="Seconds running jobs get to finish after SIGTERM (default: %(default)s).",
        )

    def handle(self, *args, **options) -> None:
        queue_name: str = options["queue"]
        workers = options["workers"] or (4 if queue_name == "default" else 2)
        if not 1 <= workers <= 64:
            raise CommandError("--workers must be between 1 and 64.")
        autodiscover_modules("tasks")

        huey = jobs.get_queue(queue_name)
        # Tests and local calls may run jobs in-process; a worker never does.
        huey.immediate = False
        periodic = queue_name == "default" and not options["no_periodic"]
        identity = f"{socket.gethostname()}:{os.getpid()}"

        @huey.signal(huey_signals.SIGNAL_INTERRUPTED)
        def _interrupted(signal_name, task, *args, **kwargs) -> None:
            # Job tasks take the Job row id as their only argument; periodic tasks take none.
            job_args = task.args or ()
            if len(job_args) == 1 and isinstance(job_args[0], int):
                close_old_connections()
                jobs.fail_interrupted(job_args[0], identity)

        consumer = huey.create_consumer(
            workers=workers,
            worker_type=WORKER_THREAD,
            periodic=periodic,
            initial_delay=0.1,
            max_delay=2.0,
            check_worker_health=True,
            # The lock of a periodic job survives a killed worker; clear it when starting.
            flush_locks=periodic,
            shutdown_timeout=options["shutdown_timeout"],
            graceful_signal="TERM",
        )
        self.stdout.write(
            f"Worker {identity}: queue {queue_name}, {workers} thread(s), "
            f"periodic jobs {'on' if periodic else 'off'}, storage "
            f"{type(huey).__name__}.",
        )
        self.stdout.flush()
        consumer.run()
        self.stdout.write(f"Worker {identity} stopped.")
