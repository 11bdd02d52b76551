"""Background jobs of the crawler: a run on the ``crawl`` queue, the scheduler and the reaper.

:func:`run_crawl_job` does not crawl in the worker: the Twisted reactor cannot restart, so each
run is an ``ibcloud crawl run <id>`` child process (:func:`ibcloud.crawler.runner.spawn_crawl`)
that writes its progress and final status into the ``CrawlJob`` row. The job supervises it: it
keeps the background job's heartbeat going (the core heartbeat thread), passes on a cancel request
(the child watches the cancel flag and closes gracefully; it is killed after
:data:`CANCEL_GRACE_SECONDS`), kills a child running far past the source's time limit, and ends
the run itself when the child died without doing so. Nothing here is POSIX-only: the same code
runs on Windows.
"""

from __future__ import annotations

import collections
import logging
import subprocess
import threading
import time
from typing import IO, Any

from django.utils import timezone
from django.utils.translation import gettext as _
from huey import crontab

from ibcloud.core.jobs import HEARTBEAT_SECONDS, JobCancelled, JobContext, job, periodic_job
from ibcloud.crawler import services
from ibcloud.crawler.models import CrawlJob

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
#: a cancelled crawl gets this long to close by itself before it is killed
CANCEL_GRACE_SECONDS = 15
#: past the source's time limit (which the crawl honours itself), the backstop kills the process
TIME_LIMIT_BACKSTOP_SECONDS = 60
#: how much of the crawl process's output a crashed run keeps in its log
OUTPUT_TAIL_LINES = 200
OUTPUT_TAIL_CHARS = 20_000

# Crawl processes this worker supervises, by CrawlJob id: killed when their job is interrupted.
_children: dict[int, subprocess.Popen] = {}
_children_lock = threading.Lock()


def kill_child(crawl_job_id: int) -> bool:
    """Kill the crawl process of a run supervised in this process, if any; returns whether."""
    with _children_lock:
        process = _children.get(crawl_job_id)
    if process is None or process.poll() is not None:
        return False
    process.kill()
    return True


class _OutputTail(threading.Thread):
    """Drains one output stream of the child (so a full pipe never blocks it), keeping the end."""

    def __init__(self, stream: IO, name: str) -> None:
        super().__init__(daemon=True, name=name)
        self.stream = stream
        self.lines: collections.deque[str] = collections.deque(maxlen=OUTPUT_TAIL_LINES)

    def run(self) -> None:
        try:
            while True:
                line = self.stream.readline()
                if not line:
                    break
                if isinstance(line, bytes):
                    line = line.decode("utf-8", errors="replace")
                self.lines.append(line.rstrip("\r\n"))
        except (OSError, ValueError):  # the stream was closed under us
            pass

    def text(self) -> str:
        return "\n".join(self.lines)[-OUTPUT_TAIL_CHARS:]


def _tails(process: subprocess.Popen) -> list[_OutputTail]:
    tails = []
    for label in ("stderr", "stdout"):
        stream = getattr(process, label, None)
        if stream is not None:
            tail = _OutputTail(stream, f"crawl-{process.pid}-{label}")
            tail.start()
            tails.append(tail)
    return tails


def _cancel_requested(ctx: JobContext) -> bool:
    from ibcloud.core.models import Job

    return Job.objects.filter(pk=ctx.job.pk, cancel_requested=True).exists()


def _supervise(ctx: JobContext, crawl_job: CrawlJob, process: subprocess.Popen) -> str | None:
    """Wait for the child; returns why it was killed ("cancel", "time_limit") or None."""
    started = time.monotonic()
    backstop = started + crawl_job.source.time_limit + TIME_LIMIT_BACKSTOP_SECONDS
    kill_at: float | None = None
    reason: str | None = None
    next_beat = started + HEARTBEAT_SECONDS
    while True:
        try:
            process.wait(timeout=POLL_SECONDS)
            return reason
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if kill_at is None and _cancel_requested(ctx):
            reason = "cancel"
            kill_at = now + CANCEL_GRACE_SECONDS
            ctx.log(f"cancel requested; the crawl gets {CANCEL_GRACE_SECONDS} s to stop")
        if kill_at is not None and now > kill_at and process.poll() is None:
            ctx.log("the crawl did not stop after the cancel request: killed")
            process.kill()
        if now > backstop and process.poll() is None:
            reason = reason or "time_limit"
            ctx.log("the crawl ran far past its time limit: killed")
            process.kill()
        if now >= next_beat:
            # The child beats every second; this beat also covers a child busy in one long step.
            CrawlJob.objects.filter(pk=crawl_job.pk, status=CrawlJob.Status.RUNNING).update(
                heartbeat_at=timezone.now()
            )
            next_beat = now + HEARTBEAT_SECONDS


def _exit_description(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        return _("was killed by signal %(signal)s") % {"signal": -returncode}
    return _("exited with code %(code)s") % {"code": returncode}


def _end_unfinished(
    crawl_job: CrawlJob, process: subprocess.Popen, reason: str | None, output: str
) -> None:
    """End a run the child left pending or running (it crashed or was killed)."""
    limit = crawl_job.source.time_limit
    if reason == "cancel":
        status = CrawlJob.Status.CANCELLED
        message = _(
            "Cancelled. The crawl did not stop within %(grace)s s of the request and was stopped."
        ) % {"grace": CANCEL_GRACE_SECONDS}
    elif reason == "time_limit":
        status = CrawlJob.Status.FAILED
        message = _(
            "The crawl did not stop at its time limit of %(limit)s s and was killed "
            "%(extra)s s later. Lower the max pages or raise the time limit."
        ) % {"limit": limit, "extra": TIME_LIMIT_BACKSTOP_SECONDS}
    else:
        status = CrawlJob.Status.FAILED
        message = _("The crawl process %(exit)s without finishing the run.") % {
            "exit": _exit_description(process.returncode)
        }
        last = next((line for line in reversed(output.splitlines()) if line.strip()), "")
        if last:
            message += " " + _("Its last output: %(line)s (more in the log)") % {
                "line": last.strip()[:300]
            }
    log = ""
    if output:
        stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M:%S")
        log = f"\n[{stamp}] --- last output of the crawl process ---\n{output}\n"
    services.finish_crawl_job(crawl_job, status, message, log=log)


# A crawl lost with its worker is failed by reap_stale_crawls and runs again on its schedule;
# queued again here it could run beside a crawl process that outlived the worker.
@job(queue="crawl", timeout=None, requeue_lost=False)
def run_crawl_job(ctx: JobContext, crawl_job_id: int) -> dict[str, Any]:
    """Run one ``CrawlJob`` in a crawl process and see that the run ends, whatever happens."""
    crawl_job = CrawlJob.objects.select_related("source").filter(pk=crawl_job_id).first()
    if crawl_job is None:
        ctx.log(f"crawl job {crawl_job_id} no longer exists")
        return {"crawl_job": crawl_job_id, "status": "missing"}
    if crawl_job.is_finished:
        return {"crawl_job": crawl_job.pk, "status": crawl_job.status}
    ctx.log(f"crawling {crawl_job.source} (run #{crawl_job.pk})")
    try:
        from ibcloud.crawler import runner

        process = runner.spawn_crawl(crawl_job.pk)
    except Exception as exc:
        services.finish_crawl_job(
            crawl_job,
            CrawlJob.Status.FAILED,
            _("The crawl process could not be started: %(error)s") % {"error": exc},
        )
        raise
    with _children_lock:
        _children[crawl_job.pk] = process
    tails = _tails(process)
    reason = None
    try:
        ctx.log(f"crawl process {process.pid} started")
        reason = _supervise(ctx, crawl_job, process)
    finally:
        # Never leave a crawl running unsupervised, whatever went wrong here.
        if process.poll() is None:
            process.kill()
        process.wait()
        with _children_lock:
            _children.pop(crawl_job.pk, None)
        for tail in tails:
            tail.join(timeout=5)
    output = next((tail.text() for tail in tails if tail.text().strip()), "")
    ctx.log(f"crawl process {_exit_description(process.returncode)}")
    crawl_job.refresh_from_db()
    if crawl_job.is_finished:
        services.check_after_job(crawl_job)
    else:
        _end_unfinished(crawl_job, process, reason, output)
    crawl_job.refresh_from_db()
    if crawl_job.status == CrawlJob.Status.CANCELLED:
        raise JobCancelled()  # the background job shows "cancelled" too
    return {
        "crawl_job": crawl_job.pk,
        "status": crawl_job.status,
        "pages": crawl_job.pages,
        "items": crawl_job.items,
        "new_items": crawl_job.new_items,
        "exit_code": process.returncode,
    }


@periodic_job(crontab(minute="*"), record=False)
def schedule_crawls(ctx: JobContext | None) -> dict:
    """Every minute: start the runs of scheduled sources that are due (see the services)."""
    return {"started": [crawl_job.pk for crawl_job in services.schedule_due_sources()]}


@periodic_job(crontab(minute="*"), record=False)
def reap_stale_crawls(ctx: JobContext | None) -> dict:
    """Every minute: fail running crawls whose worker stopped sending heartbeats."""
    return {"reaped": services.reap_stale_crawl_jobs()}
