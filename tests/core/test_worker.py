"""A real ``ibcloud worker`` process runs queued jobs and stops cleanly.

Everything runs in separate processes against a database of its own (a SQLite file in a temporary
data directory, or a fresh PostgreSQL database when ``DATABASE_URL`` is set) and its own queues
(a unique queue prefix: SQLite files, or Redis keys when ``REDIS_URL`` is set). So the test sees the
real queue, the real consumer and real commits, and cannot disturb a running installation.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dj_database_url
import pytest

pytestmark = pytest.mark.worker

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "ibcloud.cli"]

# Runs in a client process: enqueue a job, report when it runs and when it has finished.
CLIENT = """
import json, os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ibcloud.settings")
django.setup()
from ibcloud.core.tasks import ping

seconds = float(sys.argv[1])
row = ping.enqueue(seconds)
deadline = time.monotonic() + 20
announced = False
while time.monotonic() < deadline:
    row.refresh_from_db()
    if row.status == "running" and not announced:
        print("RUNNING", flush=True)
        announced = True
    if row.is_finished:
        break
    time.sleep(0.1)
print(json.dumps({"status": row.status, "result": row.result, "attempts": row.attempts,
                  "worker": row.worker, "progress": row.progress, "log": row.log}), flush=True)
"""

FLUSH_QUEUES = """
import os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ibcloud.settings")
django.setup()
from ibcloud.core.jobs import QUEUES
for queue in QUEUES.values():
    queue.storage.flush_all()
"""


@pytest.fixture
def platform_env(tmp_path):
    """Environment for the processes: own data directory, database and queue names."""
    suffix = uuid.uuid4().hex[:10]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ibcloud.settings",
        "IBCLOUD_DATA_DIR": str(tmp_path),
        "IBCLOUD_QUEUE_PREFIX": f"test{suffix}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("IBCLOUD_JOBS_IMMEDIATE", None)
    database_url = os.environ.get("DATABASE_URL")
    dropper = None
    if database_url:
        import psycopg

        config = dj_database_url.parse(database_url)
        name = f"{config['NAME']}_worker_{suffix}"[:63]
        admin = psycopg.connect(
            host=config["HOST"] or None,
            port=config["PORT"] or None,
            user=config["USER"] or None,
            password=config["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
        )
        admin.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = database_url.rsplit("/", 1)[0] + f"/{name}"

        def dropper():
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()

    subprocess.run(
        [*CLI, "migrate", "--verbosity", "0"], env=env, cwd=REPO, check=True, timeout=120
    )
    yield env
    subprocess.run([sys.executable, "-c", FLUSH_QUEUES], env=env, cwd=REPO, timeout=60)
    if dropper is not None:
        dropper()


def start_worker(env) -> subprocess.Popen:
    return subprocess.Popen(
        [*CLI, "worker", "--queue", "default", "--workers", "2"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.kill()
    output, _ = process.communicate(timeout=10)
    return output or ""


def test_worker_runs_a_queued_job_and_stops_cleanly(platform_env):
    started = time.monotonic()
    worker = start_worker(platform_env)
    try:
        quick = subprocess.run(
            [sys.executable, "-c", CLIENT, "0"],
            env=platform_env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert quick.returncode == 0, quick.stderr
        result = json.loads(quick.stdout.strip().splitlines()[-1])
        assert result["status"] == "succeeded", result
        assert result["result"]["pong"] is True
        assert result["attempts"] == 1
        assert result["worker"].endswith(f":{worker.pid}")  # run by the worker, not in-process
        assert "pong" in result["log"]

        # A job still running when the worker is asked to stop (SIGTERM) is allowed to finish.
        slow = subprocess.Popen(
            [sys.executable, "-c", CLIENT, "2"],
            env=platform_env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert slow.stdout.readline().strip() == "RUNNING"
        if os.name != "nt":
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=20) == 0
        output, errors = slow.communicate(timeout=30)
        final = json.loads(output.strip().splitlines()[-1])
        assert final["status"] == "succeeded", (final, errors)
    finally:
        log = stop(worker)
    assert "queue default" in log
    assert ("RedisHuey" if os.environ.get("REDIS_URL") else "SqliteHuey") in log
    assert time.monotonic() - started < 30


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_runs_web_and_workers_and_stops_them(platform_env):
    import urllib.request

    port = free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env=platform_env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = ""
        while "Press Ctrl-C" not in banner:
            line = server.stdout.readline()
            assert line, "serve exited before it was ready"
            banner += line
        assert f"http://127.0.0.1:{port}/" in banner
        pids = [int(p) for p in banner.split("(pids ")[1].split(")")[0].split(", ")]
        assert len(pids) == 2
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=10) as r:
            assert r.status == 200
        if os.name != "nt":
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) == 0
            for pid in pids:  # the workers stopped with the server
                with pytest.raises(ProcessLookupError):
                    os.kill(pid, 0)
    finally:
        stop(server)


def test_serve_refuses_an_unmigrated_database(tmp_path):
    env = {
        **os.environ,
        "IBCLOUD_DATA_DIR": str(tmp_path),
        "IBCLOUD_QUEUE_PREFIX": f"test{uuid.uuid4().hex[:10]}",
    }
    env.pop("DATABASE_URL", None)  # a fresh, empty SQLite database
    result = subprocess.run(
        [*CLI, "serve", "--port", str(free_port()), "--no-workers"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ibcloud migrate" in result.stderr
