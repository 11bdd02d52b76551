"""Load: N concurrent users drive a realistic mix of pages and API calls for a while on loopback.

Builds a fresh installation in a temporary data directory (SQLite, or the empty database of
``--database-url``): ``--deals`` deals (default 5,000) with 10 milestones each across 20
departments (the generator of ``bench/deals.py``) and ``--projects`` catalog projects (default
5,000). Starts the web server itself — gunicorn with the shipped ``deploy/ubuntu/gunicorn.conf.py``
(3 processes x 4 threads on 2 cores), or ``ibcloud serve --no-workers`` (waitress) with
``--server waitress`` — on a free loopback port. Then ``--users`` threads (default 50) each log in
once through the login form (a browser session) and through ``/api/v1/auth/login/`` (an API
token), wait for the others, and for ``--seconds`` (default 60) repeat a weighted mix without
think time: the home page, the deal dashboard, deal lists with filters, sorting, paging and htmx
table refreshes, deal details, the kanban, catalog project lists with a search, API list calls
with filters, the API dashboard and a filtered CSV export. Prints one ``key: value`` per line::

    users: 50
    seconds: 60
    requests: N
    rps: X
    p50_ms: X
    p95_ms: X
    p99_ms: X
    errors: 0
    retried: N            (GETs sent again after a broken connection, as a browser does)
    cpu_seconds: X        (web server processes, during the measured window)
    load_average: X       (1-minute, at the end)

and the p95 of every kind of request. An error is an exception (refused, reset, timeout) or an
answer other than the one a user expects (200, or the 302 of the login form); a GET whose
connection broke before any answer is sent once more first, as browsers do (``retried``). Exits 1
when any request failed. Acceptance (issue 7): ``--users 50`` gives ``errors: 0``.

Run: ``.venv/bin/python bench/load.py [--users 50] [--seconds 60] [--server gunicorn|waitress]``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
GUNICORN_CONF = REPO_DIR / "deploy" / "ubuntu" / "gunicorn.conf.py"
#: the password of every load-test account (it passes the password policy)
PASSWORD = "Load-Bench@2026"
#: accounts the virtual users take in turn: all data, own department, superuser
ACCOUNTS = ("bench-all", "bench-dept", "load-admin")
REQUEST_TIMEOUT = 60


# --- installation -------------------------------------------------------------------------------


def installation_env(data_dir: Path, database_url: str = "", redis_url: str = "") -> dict:
    """The environment of every process of the throwaway installation (server, workers, seeding)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ibcloud.settings",
        "IBCLOUD_DATA_DIR": str(data_dir),
        # fixed for the run so that every process signs sessions alike
        "IBCLOUD_SECRET_KEY": f"bench-{os.getpid()}-{time.time_ns()}",
        "IBCLOUD_DEBUG": "0",
        "IBCLOUD_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    for name, value in (("DATABASE_URL", database_url), ("REDIS_URL", redis_url)):
        if value:
            env[name] = value
        else:
            env.pop(name, None)
    return env


def setup_django(env: dict) -> None:
    """Point this process at the installation and start Django (once)."""
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            name: value
            for name, value in env.items()
            if name.startswith(("IBCLOUD_", "DJANGO_")) or name in ("DATABASE_URL", "REDIS_URL")
        }
    )
    import django

    django.setup()


def seed(deals: int, projects: int) -> None:
    """Migrate and fill the database: deals, milestones, projects and the load-test accounts."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Permission
    from django.core.management import call_command

    from ibcloud.accounts.models import Department, Role, User

    call_command("migrate", verbosity=0)
    if User.objects.filter(username="load-admin").exists():
        return
    sys.path.insert(0, str(BENCH_DIR))
    import deals as deals_bench  # bench/deals.py: its generator, not its measurements

    deals_bench.build(deals, 10)
    # The deal bench's roles see deals only; a realistic user also works the catalog.
    catalog = Permission.objects.filter(
        content_type__app_label__in=["catalog", "matching", "core", "notify"],
        codename__startswith="view_",
    )
    for role in Role.objects.filter(code__in=["bench-all", "bench-dept"]):
        role.permissions.add(*catalog)
    User.objects.create(
        username="load-admin",
        name="压测管理员",
        is_superuser=True,
        is_staff=True,
        department=Department.objects.get(code="bench-0"),
    )
    # One hash for every account: hashing is slow by design and the accounts are throwaway.
    User.objects.filter(username__in=ACCOUNTS).update(password=make_password(PASSWORD))
    build_projects(projects)


def build_projects(count: int, seed_value: int = 11) -> None:
    """Catalog projects spread over the deal departments, industries and provinces."""
    import datetime

    from django.utils import timezone

    from ibcloud.accounts.models import Department
    from ibcloud.catalog.models import Project

    rng = random.Random(seed_value)
    departments = list(Department.objects.filter(code__startswith="bench-"))
    words = "医疗器械 储能 锂电池 芯片 半导体 人工智能 机器人 消费 品牌 工业 软件 物联网".split()
    now = timezone.now()
    batch = []
    for n in range(count):
        batch.append(
            Project(
                name=f"项目{n}",
                department=rng.choice(departments),
                industry_section=rng.choice("ABCDEFGHIJKLMNOPQRST"),
                industry=f"{rng.randint(1, 96):02d}",
                province_code=f"{rng.randrange(11, 66, 2)}0000",
                province="省份",
                search_text=f"项目{n} {' '.join(rng.sample(words, 4))}",
                first_seen_at=now - datetime.timedelta(minutes=rng.randint(0, 3 * 365 * 1440)),
            )
        )
    Project.objects.bulk_create(batch, batch_size=5000)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def web_server_command(server: str, port: int, processes: int = 0) -> list[str]:
    """gunicorn with the shipped settings (``processes`` overrides their count), or
    ``ibcloud serve`` without its workers."""
    if server == "gunicorn":
        extra = ["--workers", str(processes)] if processes else []
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(GUNICORN_CONF),
            "--bind",
            f"127.0.0.1:{port}",
            # the shipped file logs every request; 50 busy users would only fill the log
            "--access-logfile",
            os.devnull,
            *extra,
        ]
    return [sys.executable, "-m", "ibcloud.cli", "serve", "--no-workers", "--port", str(port)]


def start_process(command: list[str], env: dict, log_path: Path) -> subprocess.Popen:
    """Start a server or worker in its own process group, its output in ``log_path``."""
    log = log_path.open("ab")
    return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_until_up(base_url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    """Wait for the login page to answer; fail if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{base_url}: server exited with {process.returncode}")
        try:
            if requests.get(f"{base_url}/accounts/login/", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{base_url}: no answer within {timeout:.0f} s")


def stop_process(process: subprocess.Popen, wait: float = 20) -> None:
    """SIGTERM the process group, SIGKILL what is left after ``wait`` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(wait)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def cpu_seconds(pid: int) -> float:
    """CPU time of a process, its reaped children and its live children (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")

    def stat(p: int) -> list[str]:
        text = Path(f"/proc/{p}/stat").read_text()
        return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on

    try:
        fields = stat(pid)
    except OSError:
        return 0.0
    total = sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = stat(int(entry.name))
        except OSError:
            continue
        if int(child[1]) == pid:  # ppid
            total += int(child[11]) + int(child[12])
    return total / ticks


# --- virtual users ------------------------------------------------------------------------------


@dataclass
class Results:
    """Latencies and failures of every user, by kind of request."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)
    retried: int = 0

    def record(self, kind: str, ms: float, error: str = "", retried: bool = False) -> None:
        with self.lock:
            self.times[kind].append(ms)
            self.retried += retried
            if error:
                self.errors[kind] += 1
                if len(self.samples) < 20:
                    self.samples.append(f"{kind}: {error}")


@dataclass
class Catalogue:
    """What the virtual users pick from: per account the deals it may open and how many pages
    of deals and projects it has (a user never asks for a page past the last one), plus filter
    values and search words."""

    deal_ids: dict[str, list[int]]
    deal_pages: dict[str, int]
    project_pages: dict[str, int]
    departments: dict[str, list[int]]
    stages: list[str]
    words: list[str]


def catalogue() -> Catalogue:
    from ibcloud.accounts.models import User
    from ibcloud.catalog.models import Project
    from ibcloud.core.scoping import restrict
    from ibcloud.deals.models import Deal

    deal_ids, deal_pages, project_pages, departments = {}, {}, {}, {}
    for user in User.objects.filter(username__in=ACCOUNTS):
        # The departments whose deals it sees: a filter on another one is refused (400).
        departments[user.username] = sorted(
            {pk for pk in deals_of(user).values_list("department_id", flat=True) if pk}
        )
        deals = deals_of(user)
        deal_ids[user.username] = list(deals.order_by("?").values_list("pk", flat=True)[:2000])
        deal_pages[user.username] = max(1, min(5, deals.count() // 50))
        projects = restrict(Project.objects.all(), user, "view")
        project_pages[user.username] = max(1, min(5, projects.count() // 50))
    stages = sorted(set(Deal.objects.values_list("stage", flat=True).distinct()))
    words = ["项目1", "客户2", "B00001", "储能", "芯片"]
    return Catalogue(deal_ids, deal_pages, project_pages, departments, stages, words)


def deals_of(user):
    from ibcloud.core.scoping import restrict
    from ibcloud.deals.models import Deal

    return restrict(Deal.objects.all(), user, "view")


def login_session(base_url: str, username: str, password: str = PASSWORD) -> requests.Session:
    """A browser session logged in through the login form (CSRF cookie and token)."""
    session = requests.Session()
    page = session.get(f"{base_url}/accounts/login/", timeout=REQUEST_TIMEOUT)
    page.raise_for_status()
    token = session.cookies.get("csrftoken") or ""
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    answer = session.post(
        f"{base_url}/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": match.group(1) if match else token,
        },
        headers={"Referer": f"{base_url}/accounts/login/"},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )
    if answer.status_code != 302 or "/accounts/login/" in answer.headers.get("Location", ""):
        raise RuntimeError(f"login of {username} answered {answer.status_code}")
    return session


def api_token(base_url: str, username: str, password: str = PASSWORD) -> str:
    answer = requests.post(
        f"{base_url}/api/v1/auth/login/",
        json={"username": username, "password": password},
        timeout=REQUEST_TIMEOUT,
    )
    answer.raise_for_status()
    return answer.json()["token"]


def request_mix(
    cat: Catalogue, username: str
) -> list[tuple[str, int, Callable[[random.Random], tuple]]]:
    """(kind, weight, make) where ``make(rng)`` gives (channel, path, params, headers)."""
    pages = "page"
    api = "api"
    deal_ids = cat.deal_ids[username]

    def deal_filters(rng: random.Random) -> dict:
        choice = rng.randrange(4)
        if choice == 0:
            return {"stage": rng.choice(cat.stages)}
        if choice == 1:
            return {"status": rng.choice(["active", "on_hold", "completed"])}
        if choice == 2:
            return {"q": rng.choice(cat.words)}
        return {
            "sort": rng.choice(["-opened_on", "name", "-deal_size"]),
            "page": rng.randint(1, cat.deal_pages[username]),
        }

    return [
        ("home", 8, lambda rng: (pages, "/", {}, {})),
        ("deal_dashboard", 10, lambda rng: (pages, "/deals/dashboard/", {}, {})),
        ("deal_list", 16, lambda rng: (pages, "/deals/deals/", deal_filters(rng), {})),
        (
            "deal_list_htmx",
            8,
            lambda rng: (pages, "/deals/deals/", deal_filters(rng), {"HX-Request": "true"}),
        ),
        (
            "deal_detail",
            14,
            lambda rng: (pages, f"/deals/deals/{rng.choice(deal_ids)}/", {}, {}),
        ),
        ("deal_kanban", 3, lambda rng: (pages, "/deals/kanban/", {}, {})),
        (
            "project_list",
            8,
            lambda rng: (
                pages,
                "/catalog/projects/",
                rng.choice(
                    [
                        {},
                        {"q": rng.choice(cat.words)},
                        {"page": rng.randint(1, cat.project_pages[username])},
                    ]
                ),
                {},
            ),
        ),
        (
            "api_deals",
            14,
            lambda rng: (api, "/api/v1/deals/deals/", deal_filters(rng) | {"page_size": 50}, {}),
        ),
        (
            "api_milestones",
            6,
            lambda rng: (
                api,
                "/api/v1/deals/milestones/",
                {"deal": rng.choice(deal_ids)},
                {},
            ),
        ),
        ("api_projects", 6, lambda rng: (api, "/api/v1/catalog/projects/", {}, {})),
        ("api_deal_dashboard", 4, lambda rng: (api, "/api/v1/deals/dashboard/", {}, {})),
        ("api_me", 2, lambda rng: (api, "/api/v1/auth/me/", {}, {})),
        (
            "api_deal_export_csv",
            1,
            lambda rng: (
                api,
                "/api/v1/deals/deals/export/",
                {"file_format": "csv", "department": rng.choice(cat.departments[username])},
                {},
            ),
        ),
    ]


class VirtualUser(threading.Thread):
    """Logs in once, waits for the start, then requests the mix until the deadline."""

    def __init__(
        self,
        number: int,
        base_url: str,
        cat: Catalogue,
        results: Results,
        start: threading.Barrier,
        window: dict,
        retry_broken: bool = True,
    ) -> None:
        super().__init__(daemon=True, name=f"user-{number}")
        self.number = number
        self.base_url = base_url
        self.results = results
        self.start_barrier = start
        self.window = window
        self.rng = random.Random(number)
        self.username = ACCOUNTS[number % len(ACCOUNTS)]
        mix = request_mix(cat, self.username)
        self.kinds = [kind for kind, _weight, _make in mix]
        self.weights = [weight for _kind, weight, _make in mix]
        self.makers = {kind: make for kind, _weight, make in mix}
        self.login_error = ""
        self.retry_broken = retry_broken

    def run(self) -> None:
        username = self.username
        try:
            browser = login_session(self.base_url, username)
            api = requests.Session()
            api.headers["Authorization"] = f"Token {api_token(self.base_url, username)}"
        except (requests.RequestException, RuntimeError) as exc:
            self.login_error = f"{username}: {exc}"
            browser = api = None
        try:
            self.start_barrier.wait()
        except threading.BrokenBarrierError:
            return
        if browser is None:
            return
        while time.monotonic() < self.window["end"]:
            kind = self.rng.choices(self.kinds, self.weights)[0]
            channel, path, params, headers = self.makers[kind](self.rng)
            session = browser if channel == "page" else api
            started = time.perf_counter()
            error, retried = self.get(session, path, params, headers)
            ms = (time.perf_counter() - started) * 1000
            if time.monotonic() <= self.window["end"] or error:
                self.results.record(kind, ms, error, retried)

    def get(self, session: requests.Session, path: str, params: dict, headers: dict) -> tuple:
        """One GET as a browser makes it: (error or "", whether it was sent twice).

        A connection that breaks before any answer is tried once more on a new one, as browsers
        do: gunicorn closes a kept-alive connection after ``keepalive`` (5 s) idle, and a request
        sent at that very moment meets a reset (behind nginx, nginx retries it the same way).
        Such retries are counted and printed (``retried``); a second failure is an error. The
        cluster proof turns them off: there only the proxy may retry.
        """
        for attempt in (1, 2):
            try:
                answer = session.get(
                    self.base_url + path,
                    params=params,
                    headers=headers,
                    allow_redirects=False,
                    timeout=REQUEST_TIMEOUT,
                )
                answer.content  # noqa: B018 - read the whole body, as a browser would
            except requests.Timeout as exc:
                return f"{exc.__class__.__name__} {path}: {exc}"[:300], attempt > 1
            except requests.ConnectionError as exc:
                if attempt == 1 and self.retry_broken:
                    continue
                return f"{exc.__class__.__name__} {path}: {exc}"[:300], True
            except requests.RequestException as exc:
                return f"{exc.__class__.__name__} {path}: {exc}"[:300], attempt > 1
            if answer.status_code != 200:
                return f"{answer.status_code} {path}?{params}", attempt > 1
            return "", attempt > 1
        raise AssertionError("unreachable")


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def drive(base_url: str, users: int, seconds: float, cat: Catalogue) -> tuple[Results, float, list]:
    """Run the users; returns the results, the measured seconds and the failed logins."""
    results = Results()
    barrier = threading.Barrier(users + 1)
    window = {"end": float("inf")}
    threads = [VirtualUser(n, base_url, cat, results, barrier, window) for n in range(users)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.monotonic()
    window["end"] = started + seconds
    for thread in threads:
        thread.join(seconds + REQUEST_TIMEOUT + 10)
    elapsed = time.monotonic() - started
    failed_logins = [t.login_error for t in threads if t.login_error]
    return results, min(elapsed, seconds), failed_logins


def report(results: Results, elapsed: float, failed_logins: list, users: int) -> dict:
    every = [ms for times in results.times.values() for ms in times]
    errors = sum(results.errors.values()) + len(failed_logins)
    figures = {
        "users": users,
        "seconds": round(elapsed, 1),
        "requests": len(every),
        "rps": round(len(every) / elapsed, 1) if elapsed else 0,
        "p50_ms": round(percentile(every, 50), 1),
        "p95_ms": round(percentile(every, 95), 1),
        "p99_ms": round(percentile(every, 99), 1),
        "errors": errors,
        "retried": results.retried,
    }
    for kind in sorted(results.times):
        figures[f"{kind}_p95_ms"] = round(percentile(results.times[kind], 95), 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--deals", type=int, default=5000)
    parser.add_argument("--projects", type=int, default=5000)
    parser.add_argument("--server", choices=["gunicorn", "waitress"], default="gunicorn")
    parser.add_argument("--database-url", default="", help="An EMPTY database (default SQLite).")
    parser.add_argument("--keep", action="store_true", help="Keep the data directory.")
    args = parser.parse_args()
    if args.users < 1 or args.seconds <= 0:
        parser.error("--users and --seconds must be positive")

    data_dir = Path(tempfile.mkdtemp(prefix="ibcloud-bench-load-"))
    server = None
    try:
        env = installation_env(data_dir, args.database_url)
        setup_django(env)
        seed(args.deals, args.projects)
        cat = catalogue()
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        server = start_process(
            web_server_command(args.server, port), env, data_dir / "web-server.log"
        )
        wait_until_up(base_url, server)
        cpu_before = cpu_seconds(server.pid)
        results, elapsed, failed_logins = drive(base_url, args.users, args.seconds, cat)
        cpu_used = cpu_seconds(server.pid) - cpu_before
        figures = report(results, elapsed, failed_logins, args.users)
        figures["cpu_seconds"] = round(cpu_used, 1)
        figures["load_average"] = round(os.getloadavg()[0], 2)
        for key, value in figures.items():
            print(f"{key}: {value}")
        for line in failed_logins + results.samples:
            print(f"error: {line}", file=sys.stderr)
        if args.keep:
            print(f"data_dir: {data_dir}", file=sys.stderr)
        sys.exit(1 if figures["errors"] else 0)
    finally:
        if server is not None:
            stop_process(server)
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
