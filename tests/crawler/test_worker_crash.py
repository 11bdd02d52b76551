"""Runs on real workers: a worker killed mid-crawl, and a crawl cancelled while it runs.

Everything runs in separate processes like in production: ``ibcloud worker --queue crawl`` with
its own database and queue names (the ``platform_env`` of the core worker tests), crawl processes
started by the worker, and client processes that start, cancel and inspect runs. The crawl is of
the local demo project listing, made slow by the source's delay so there is time to act mid-crawl.
"""

import json
import os
import re
import signal
import subprocess
import sys

import pytest

from ibcloud.crawler.tasks import CANCEL_GRACE_SECONDS
from ibcloud.demo.sites import start_demo_sites
from tests.core.test_worker import CLI, REPO, platform_env  # noqa: F401 - fixture

pytestmark = pytest.mark.worker

PROJECTS = 30  # 3 list pages + 30 detail pages
SLOW_DELAY = 0.3  # seconds between requests: one at a time, the crawl takes ~10 s

# A client process: Django on the test platform, helpers, then the step's code.
PRELUDE = """
import json, os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ibcloud.settings")
django.setup()
from ibcloud.core.jobs import reap_stale_jobs
from ibcloud.crawler import services
from ibcloud.crawler.models import CrawlJob, CrawlSource, RawItem, SourceAlert
args = json.loads(sys.argv[1])
FINAL = ("succeeded", "partial", "failed", "cancelled")


def state(run):
    run.refresh_from_db()
    items = RawItem.objects.filter(source=run.source)
    return {
        "run": run.pk,
        "status": run.status,
        "message": run.message,
        "pages": run.pages,
        "items": run.items,
        "new_items": run.new_items,
        "job": run.job.status if run.job else None,
        "job_log": run.job.log if run.job else "",
        "raw_items": items.count(),
        "distinct_urls": items.values("url").distinct().count(),
        "distinct_hashes": items.values("content_hash").distinct().count(),
        "alerts": dict(SourceAlert.objects.filter(source=run.source).values_list("rule", "status")),
    }


def wait(run, until, timeout, count=0):
    # stored: running with `count` raw items; finished: the run ended; settled: its supervising
    # job has ended too (after the health check).
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        now = state(run)
        if until == "stored" and now["status"] == "running" and now["raw_items"] >= count:
            break
        if until == "finished" and now["status"] in FINAL:
            break
        if until == "settled" and now["status"] in FINAL and now["job"] in FINAL:
            break
        time.sleep(0.2)
    return {**state(run), "waited": time.monotonic() - started}


def start(delay, concurrency):
    source, _ = CrawlSource.objects.update_or_create(
        name="慢速项目库",
        defaults=dict(
            item_type="project",
            start_urls=[args["url"]],
            list_mode="links",
            link_selector="a.project-link",
            pagination="next_link",
            next_selector="a.next",
            fields=[
                {"name": "name", "by": "css", "expr": "h1.project-name", "required": True},
                {"name": "industry", "by": "css", "expr": "dd.industry"},
            ],
            concurrency=concurrency,
            delay=delay,
            time_limit=120,
        ),
    )
    source.full_clean()
    return services.start_crawl(source)
"""

START_SLOW_CRAWL = """
run = start(delay=args["delay"], concurrency=1)
print(json.dumps(wait(run, "stored", 60, count=2)))
"""

START_FAST_CRAWL = """
run = start(delay=0, concurrency=4)
print(json.dumps(wait(run, "settled", 60)))
"""

# After the worker was killed: the run ends (its crawl process notices), then the housekeeping
# the default worker runs every minute (run here with a 1 s staleness limit from the
# environment) fails the worker's silent job.
AFTER_KILL = """
run = CrawlJob.objects.get(pk=args["run"])
ended = wait(run, "finished", 30)
time.sleep(1.5)
reap_stale_jobs()
services.reap_stale_crawl_jobs()
print(json.dumps(wait(run, "settled", 5)))
"""

CANCEL = """
run = CrawlJob.objects.get(pk=args["run"])
services.cancel_crawl(run)
print(json.dumps(wait(run, "settled", args["timeout"])))
"""


def python(env: dict, code: str, **args) -> dict:
    """Run ``code`` in a fresh Django process on the test platform; returns its JSON answer."""
    result = subprocess.run(
        [sys.executable, "-c", PRELUDE + code, json.dumps(args)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def sites():
    with start_demo_sites(projects=PROJECTS, investors=5, proxies=0, protected=5) as running:
        yield running


@pytest.fixture
def env(platform_env, sites):  # noqa: F811 - the fixture imported above
    return {**platform_env, "IBCLOUD_SSRF_ALLOWLIST": "127.0.0.1,localhost"}


def start_crawl_worker(env: dict) -> subprocess.Popen:
    # Output to a file, not a pipe: the crawl processes inherit it and may outlive the worker.
    with open(os.path.join(env["IBCLOUD_DATA_DIR"], "worker.log"), "ab") as log:
        return subprocess.Popen(
            [*CLI, "worker", "--queue", "crawl", "--workers", "1"],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.kill()
    worker.wait(timeout=10)


def end_crawl_processes(job_log: str) -> None:
    """Clean-up only: stop crawl processes the supervisor logged, should one still run."""
    for pid in re.findall(r"crawl process (\d+) started", job_log):
        try:
            os.kill(int(pid), getattr(signal, "SIGKILL", signal.SIGTERM))
        except OSError:
            pass  # gone, as it should be


def test_a_worker_killed_mid_crawl_leaves_a_failed_run_no_duplicates_and_an_alert(env, sites):
    url = sites.url("/projects/")
    worker = start_crawl_worker(env)
    log = ""
    try:
        midway = python(env, START_SLOW_CRAWL, url=url, delay=SLOW_DELAY)
        log = midway["job_log"]
        assert midway["status"] == "running", midway
        assert midway["raw_items"] < PROJECTS

        worker.kill()  # SIGKILL (TerminateProcess on Windows): the worker cleans up nothing
        worker.wait(timeout=10)
        ended = python({**env, "IBCLOUD_JOB_STALE_SECONDS": "1"}, AFTER_KILL, run=midway["run"])
        log = ended["job_log"] or log

        assert ended["status"] == "failed", ended
        assert ended["message"], ended
        assert ended["job"] == "failed", ended
        assert ended["raw_items"] == ended["distinct_urls"] == ended["distinct_hashes"]
        assert ended["alerts"].get("job_failed") == "open", ended

        # A new worker runs the source again: it completes the listing and adds no duplicates.
        worker = start_crawl_worker(env)
        done = python(env, START_FAST_CRAWL, url=url)
        log += done["job_log"]
        assert done["status"] == "succeeded", done
        assert done["items"] == PROJECTS
        assert done["new_items"] == PROJECTS - ended["raw_items"]
        assert done["raw_items"] == done["distinct_urls"] == PROJECTS
        assert done["alerts"]["job_failed"] == "resolved", done  # healthy again
    finally:
        stop(worker)
        end_crawl_processes(log)


def test_cancelling_a_running_crawl_on_a_worker_ends_it_cancelled_within_seconds(env, sites):
    worker = start_crawl_worker(env)
    log = ""
    try:
        midway = python(env, START_SLOW_CRAWL, url=sites.url("/projects/"), delay=SLOW_DELAY)
        log = midway["job_log"]
        assert midway["status"] == "running", midway

        ended = python(env, CANCEL, run=midway["run"], timeout=CANCEL_GRACE_SECONDS + 10)
        log = ended["job_log"] or log

        assert ended["status"] == "cancelled", ended
        assert ended["waited"] < 10, ended  # the crawl closed by itself, well before the kill
        assert ended["job"] == "cancelled", ended
        assert ended["raw_items"] < PROJECTS
        assert worker.poll() is None  # the worker carries on
    finally:
        stop(worker)
        end_crawl_processes(log)
