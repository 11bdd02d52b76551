"""Background jobs: Huey queues plus a ``Job`` row per run.

Two queues, ``default`` and ``crawl``, each a Huey instance: SQLite files under the data directory
by default, Redis when ``REDIS_URL`` is set (then many workers on many machines share them).

A module declares a job with :func:`job`; the function receives a :class:`JobContext` first::

    @job(queue="default", retries=3)
    def deliver(ctx: JobContext, delivery_id: int) -> dict: ...

    deliver.enqueue(42, user=request.user)   # creates the Job row, queues the run, returns the row

The row records status, arguments, progress, log, error and heartbeats; the UI, the API and alerts
read it. Retries are counted on the row; a run can be cancelled (``request_cancel``) and honours it
at its next ``ctx.progress`` or ``ctx.check_cancelled`` call.

A worker that dies (killed, machine lost) takes the runs it had off the queue with it: Huey's
queues have no acknowledgement. The rows say what happened, and :func:`reap_stale_jobs` (every
minute) puts it right: a running row whose heartbeat stopped is queued again once (unless its job
says ``requeue_lost=False``; then, or the second time, it is marked failed), and a waiting row
whose run is in no queue is queued again. A run may therefore be delivered twice; it starts once,
because a worker first claims the row (pending or retrying → running) and skips a row it cannot
claim.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.dispatch import Signal
from django.utils import timezone
from huey import RedisHuey, SqliteHuey, crontab
from huey.exceptions import RetryTask

logger = logging.getLogger(__name__)

QUEUE_NAMES = ("default", "crawl")
HEARTBEAT_SECONDS = 15
STALE_AFTER_SECONDS = int(os.environ.get("IBCLOUD_JOB_STALE_SECONDS", "120"))

#: Every declared job by name: (Huey task, attempts allowed, queue again when its worker is lost).
_DECLARED: dict[str, tuple[Callable, int, bool]] = {}

#: Sent after a job reaches a final status (succeeded, failed, cancelled); ``job`` is the row.
job_finished = Signal()


def _build_queue(name: str):
    prefix = settings.IBCLOUD_QUEUE_PREFIX
    # utc=False: crontabs read in local time, which Django sets to TIME_ZONE (Asia/Shanghai).
    options = {"immediate": settings.IBCLOUD_JOBS_IMMEDIATE, "utc": False}
    if settings.REDIS_URL:
        return RedisHuey(f"{prefix}-{name}", url=settings.REDIS_URL, **options)
    path = settings.DATA_DIR / f"queue-{prefix}-{name}.sqlite3"
    return SqliteHuey(f"{prefix}-{name}", filename=str(path), **options)


QUEUES = {name: _build_queue(name) for name in QUEUE_NAMES}


def get_queue(name: str):
    try:
        return QUEUES[name]
    except KeyError as exc:
        raise ValueError(f"Unknown queue {name!r}; known: {', '.join(QUEUE_NAMES)}") from exc


class JobCancelled(Exception):
    """Raised inside a job when someone asked for it to stop."""


class JobTimedOut(Exception):
    """Raised inside a job that ran past its time limit."""


class JobContext:
    """Handed to a job function: progress, log lines, cancellation and the time limit."""

    def __init__(self, job, timeout: int | None = None) -> None:
        self.job = job
        # Huey's own timeout does nothing with thread workers, so the limit is checked here,
        # at every progress report, which long jobs make often.
        self.deadline = time.monotonic() + timeout if timeout else None

    def log(self, line: str) -> None:
        from ibcloud.core.models import Job

        stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M:%S")
        self.job.log += f"[{stamp}] {line}\n"
        Job.objects.filter(pk=self.job.pk).update(log=self.job.log, heartbeat_at=timezone.now())

    def progress(self, percent: float, message: str = "") -> None:
        """Record progress (0–100) and stop if a cancel was requested."""
        from ibcloud.core.models import Job

        self.job.progress = max(0, min(100, int(percent)))
        if message:
            self.job.message = message[:500]
        Job.objects.filter(pk=self.job.pk).update(
            progress=self.job.progress, message=self.job.message, heartbeat_at=timezone.now()
        )
        self.check_cancelled()

    def check_cancelled(self) -> None:
        """Stop (raise) if someone asked to cancel or the time limit has passed."""
        from ibcloud.core.models import Job

        if Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            raise JobCancelled()
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise JobTimedOut()


class _Heartbeat(threading.Thread):
    """Touches the row while the job function runs, so a dead worker is told from a slow job."""

    def __init__(self, job_id: int) -> None:
        super().__init__(daemon=True, name=f"job-heartbeat-{job_id}")
        self.job_id = job_id
        self.stopped = threading.Event()

    def run(self) -> None:
        from ibcloud.core.models import Job

        while not self.stopped.wait(HEARTBEAT_SECONDS):
            try:
                Job.objects.filter(pk=self.job_id).update(heartbeat_at=timezone.now())
            except Exception:  # noqa: BLE001 - a missed beat must not kill the job
                logger.warning("heartbeat of job %s failed", self.job_id, exc_info=True)
            finally:
                close_old_connections()


def _finish(job, status: str, **fields: Any) -> None:
    from ibcloud.core.models import Job

    job.status = status
    job.finished_at = timezone.now()
    for key, value in fields.items():
        setattr(job, key, value)
    job.save()
    job_finished.send(sender=Job, job=job)


def _send(task: Callable, job_id: int, again: bool = False) -> None:
    """Queue a run of the row ``job_id`` and note the queue's id for it on the row (a first run
    that already started in-process, in immediate mode, keeps the id it noted)."""
    from ibcloud.core.models import Job

    handle = task(job_id)
    rows = Job.objects.filter(pk=job_id) if again else Job.objects.filter(pk=job_id, task_id="")
    rows.update(task_id=getattr(handle, "id", "") or "")


def _run(
    fn: Callable,
    job_id: int,
    max_attempts: int,
    retry_delay: int,
    queue,
    timeout: int | None = None,
) -> Any:
    from ibcloud.core.models import Job

    if not queue.immediate:
        close_old_connections()
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.is_finished:
        return None
    if job.cancel_requested:
        _finish(job, Job.Status.CANCELLED, message="cancelled before start")
        return None
    # Claim the row: a run delivered twice (see reap_stale_jobs) starts only once.
    now = timezone.now()
    claimed = Job.objects.filter(
        pk=job.pk, status__in=[Job.Status.PENDING, Job.Status.RETRYING]
    ).update(
        status=Job.Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=Coalesce(F("started_at"), now),
        heartbeat_at=now,
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )
    if not claimed:
        return None
    job.refresh_from_db()

    heartbeat = _Heartbeat(job.pk)
    heartbeat.start()
    try:
        args = job.arguments.get("args", [])
        kwargs = job.arguments.get("kwargs", {})
        result = fn(JobContext(job, timeout), *args, **kwargs)
    except JobCancelled:
        job.refresh_from_db()
        _finish(job, Job.Status.CANCELLED, message=str(job.message or "cancelled"))
        return None
    except JobTimedOut:
        job.refresh_from_db()
        _finish(job, Job.Status.FAILED, message=f"time limit of {timeout} s exceeded")
        return None
    except Exception as exc:
        job.refresh_from_db()
        job.error = traceback.format_exc()[-20000:]
        job.message = str(exc)[:500] or exc.__class__.__name__
        if job.attempts < max_attempts:
            job.status = Job.Status.RETRYING
            job.save()
            # Immediate mode (tests, local calls) cannot wait for a delay: retry at once.
            delay = None if queue.immediate else retry_delay * (2 ** (job.attempts - 1))
            raise RetryTask(delay=delay) from exc
        _finish(job, Job.Status.FAILED)
        logger.warning("job %s failed after %s attempts: %s", job, job.attempts, exc)
        return None
    finally:
        heartbeat.stopped.set()
        if not queue.immediate:
            close_old_connections()
    job.refresh_from_db()
    _finish(job, Job.Status.SUCCEEDED, result=result, progress=100, error="")
    return None


def job(
    queue: str = "default",
    retries: int = 0,
    retry_delay: int = 30,
    timeout: int | None = None,
    name: str | None = None,
    requeue_lost: bool = True,
) -> Callable:
    """Declare ``fn(ctx, *args, **kwargs)`` as a background job; adds ``fn.enqueue``.

    ``retries`` extra attempts follow a failure, ``retry_delay`` seconds apart, doubling each time.
    ``timeout`` (seconds) stops a run that takes too long; it counts as a failure.
    ``requeue_lost=False`` for a job that must not start again after its worker died mid-run
    (the run is marked failed instead); by default it is queued again once.
    Arguments must be JSON-serializable: they are stored on the ``Job`` row.
    """
    huey = get_queue(queue)

    def decorator(fn: Callable) -> Callable:
        task_name = name or f"{fn.__module__}.{fn.__qualname__}"

        @huey.task(name=task_name)
        def run_job(job_id: int) -> Any:
            return _run(fn, job_id, retries + 1, retry_delay, huey, timeout)

        _DECLARED[task_name] = (run_job, retries + 1, requeue_lost)

        def enqueue(*args: Any, user: Any = None, **kwargs: Any):
            """Create the Job row and queue the run once the current transaction commits."""
            from ibcloud.core.models import Job

            row = Job.objects.create(
                name=task_name,
                queue=queue,
                arguments={"args": list(args), "kwargs": kwargs},
                owner=user if getattr(user, "is_authenticated", False) else None,
                department_id=getattr(user, "department_id", None),
            )

            transaction.on_commit(lambda: _send(run_job, row.pk))
            return row

        fn.enqueue = enqueue
        fn.task = run_job
        fn.job_name = task_name
        return fn

    return decorator


def periodic_job(schedule: crontab, name: str | None = None, record: bool = True) -> Callable:
    """Run ``fn(ctx)`` on the default queue's scheduler.

    Each run gets a Job row; ``record=False`` is for frequent housekeeping whose runs would only
    bury the interesting rows (such a function receives ``None`` for ``ctx``).
    """
    huey = get_queue("default")

    def decorator(fn: Callable) -> Callable:
        task_name = name or f"{fn.__module__}.{fn.__qualname__}"

        @huey.periodic_task(schedule, name=task_name)
        @huey.lock_task(f"periodic:{task_name}")
        def run_periodic() -> None:
            from ibcloud.core.models import Job

            if not huey.immediate:
                close_old_connections()
            if not record:
                fn(None)
                return
            row = Job.objects.create(name=task_name, queue="default")
            _run(fn, row.pk, 1, 0, huey)

        fn.task = run_periodic
        fn.job_name = task_name
        return fn

    return decorator


def request_cancel(job) -> None:
    """Ask a job to stop: a pending one is cancelled at once, a running one at its next check."""
    from ibcloud.core.models import Job

    if job.is_finished:
        return
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    job.cancel_requested = True
    if job.status == Job.Status.PENDING:
        if job.task_id:
            get_queue(job.queue).revoke_by_id(job.task_id)
        _finish(job, Job.Status.CANCELLED, message="cancelled before start")


def fail_interrupted(job_id: int, worker: str = "") -> bool:
    """Mark a job failed because its worker stopped while it ran (shutdown without waiting)."""
    from ibcloud.core.models import Job

    row = Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).first()
    if row is None:
        return False
    _finish(
        row,
        Job.Status.FAILED,
        message="worker stopped while the job ran",
        error=f"Worker {worker or row.worker} shut down before the job finished.",
    )
    return True


def reap_stale_jobs(now: datetime.datetime | None = None) -> int:
    """Put right the rows of runs whose worker was lost; returns how many rows it changed.

    A running row whose heartbeat stopped is queued again once if its job allows
    (``requeue_lost``), else marked failed. A pending or retrying row of a known job, quiet for
    longer than the stale limit, whose run is in no queue (a worker took it and died before
    claiming it, or the queue was unreachable when it was sent) is queued again: it never started.
    """
    from ibcloud.core.models import Job

    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=STALE_AFTER_SECONDS)
    count = 0
    # Only running rows beat; a retrying row waits for its delay without a worker.
    for row in Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff):
        task, attempts_allowed, requeue = _DECLARED.get(row.name, (None, 0, False))
        if task is not None and requeue and row.attempts <= attempts_allowed:
            moved = Job.objects.filter(pk=row.pk, status=Job.Status.RUNNING).update(
                status=Job.Status.RETRYING,
                message=f"worker {row.worker} lost; queued again"[:500],
                heartbeat_at=now,
            )
            if moved:
                _send(task, row.pk, again=True)
        else:
            _finish(
                row,
                Job.Status.FAILED,
                message="worker stopped sending heartbeats",
                error=(
                    f"No heartbeat since {row.heartbeat_at.isoformat()}; worker {row.worker} lost."
                ),
            )
        count += 1
    waiting = Job.objects.annotate(quiet_since=Coalesce("heartbeat_at", "created_at")).filter(
        status__in=[Job.Status.PENDING, Job.Status.RETRYING],
        quiet_since__lt=cutoff,
        name__in=list(_DECLARED),
    )
    if waiting.exists():
        queued = {
            task.id
            for queue in QUEUES.values()
            if not queue.immediate
            for task in [*queue.pending(), *queue.scheduled()]
        }
        for row in waiting:
            if row.task_id and row.task_id in queued:
                continue
            # The conditional update is the lock against a worker claiming the row meanwhile.
            if Job.objects.filter(pk=row.pk, status=row.status, task_id=row.task_id).update(
                heartbeat_at=now
            ):
                _send(_DECLARED[row.name][0], row.pk, again=True)
                count += 1
    return count
