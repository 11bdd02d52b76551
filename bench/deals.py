"""Server time of the deal dashboard and the deal list over a large book of deals.

Builds ``--deals`` deals (default 50,000) with ``--milestones-per-deal`` milestones each (default
10, so 500,000) across 20 departments, opened over three years, of every type and stage, some
closed and some with overdue milestones, in a fresh temporary data directory and SQLite database
(or the database of ``--database-url``). Then it requests the dashboard page
(``deals:dashboard``) and the deal list (``deals:deal_list``) ``--requests`` times each through
Django's test client, logged in as a department-scoped user and as an all-scope user, and prints
the percentiles of the time each request took inside Django (middleware, queries, templates)::

    deals: 50000
    milestones: 500000
    dashboard_p50_ms: X
    dashboard_p95_ms: X
    list_p50_ms: X
    list_p95_ms: X
    dashboard_cpu_p95_ms: X
    list_cpu_p95_ms: X
    cpu_seconds: X

(plus the wall-clock figures per user). Targets (issue 6): dashboard_p95_ms <= 300,
list_p95_ms <= 150.

Run: ``.venv/bin/python bench/deals.py [--deals N] [--requests N] [--database-url URL]``.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import random
import statistics
import sys
import tempfile
import time

DEPARTMENTS = 20
LEADS_PER_DEPARTMENT = 5
SECTIONS = "ABCDEFGHIJKLMNOPQRST"
BENCH_PERMS = ["view_deal", "view_milestone", "export_deal_report"]


def build(deals: int, per_deal: int, seed: int = 7) -> None:
    """The departments, people (``bench-all``: all scope; ``bench-dept``: own department),
    deals and milestones."""
    from django.contrib.auth.models import Permission
    from django.utils import timezone

    from ibcloud.accounts.models import Department, Role, User
    from ibcloud.core import dictionaries
    from ibcloud.deals import services
    from ibcloud.deals.models import Deal, Milestone

    rng = random.Random(seed)
    today = timezone.localdate()
    permissions = Permission.objects.filter(
        content_type__app_label="deals", codename__in=BENCH_PERMS
    )
    everyone = Role.objects.create(name="全部", code="bench-all", data_scope="all")
    own = Role.objects.create(name="本部门", code="bench-dept", data_scope="dept")
    for role in (everyone, own):
        role.permissions.set(permissions)
    departments = [
        Department.objects.add_root({"name": f"投行{n + 1}部", "code": f"bench-{n}"})
        for n in range(DEPARTMENTS)
    ]
    leads = [
        User(username=f"bench-{d}-{n}", name=f"经理{d}-{n}", department=department)
        for d, department in enumerate(departments)
        for n in range(LEADS_PER_DEPARTMENT)
    ]
    User.objects.bulk_create(leads)
    leads = list(User.objects.filter(username__startswith="bench-").order_by("pk"))
    manager = User.objects.create(username="bench-all", name="总经理", department=departments[0])
    manager.roles.set([everyone])
    viewer = User.objects.create(username="bench-dept", name="部门", department=departments[0])
    viewer.roles.set([own])

    types = [value for value, _label in dictionaries.choices("deal_type")]
    stages = {t: [value for value, _label in services.stage_choices(t)] for t in types}
    divisions = [f"{n:02d}" for n in range(1, 97)]
    statuses = ["active"] * 14 + ["on_hold"] * 2 + ["completed"] * 3 + ["terminated"]
    now = timezone.now()
    batch = []
    for n in range(deals):
        lead = rng.choice(leads)
        deal_type = rng.choice(types)
        status = rng.choice(statuses)
        opened = today - datetime.timedelta(days=rng.randint(0, 3 * 365))
        closed = None
        if status in ("completed", "terminated"):
            closed = min(today, opened + datetime.timedelta(days=rng.randint(30, 400)))
        batch.append(
            Deal(
                code=f"B{n:07d}",
                name=f"项目{n}",
                deal_type=deal_type,
                stage=rng.choice(stages[deal_type]),
                status=status,
                client=f"客户{n}有限公司",
                lead=lead,
                owner=lead,
                department_id=lead.department_id,
                industry=rng.choice(SECTIONS) if n % 3 else rng.choice(divisions),
                deal_size=rng.randint(1, 500) * 10_000_000,
                expected_fee=rng.randint(1, 300) * 100_000,
                opened_on=opened,
                closed_on=closed,
                stage_changed_at=now,
            )
        )
        if len(batch) == 5000:
            Deal.objects.bulk_create(batch)
            batch = []
    Deal.objects.bulk_create(batch)

    rows = Deal.objects.values_list("pk", "opened_on", "lead_id", "status").iterator()
    milestones = []
    for pk, opened, lead_id, status in rows:
        for k in range(per_deal):
            due = opened + datetime.timedelta(days=30 * (k + 1) + rng.randint(-5, 5))
            if due < today:
                # most past milestones are done; a few are still open (overdue)
                state = "done" if rng.random() < 0.97 or status != "active" else "in_progress"
            else:
                state = "pending"
            milestones.append(
                Milestone(
                    deal_id=pk,
                    name=f"里程碑{k + 1}",
                    sort_order=k,
                    due_date=due,
                    owner_id=lead_id,
                    status=state,
                    completed_on=due if state == "done" else None,
                )
            )
        if len(milestones) >= 20000:
            Milestone.objects.bulk_create(milestones)
            milestones = []
    Milestone.objects.bulk_create(milestones)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def timed_requests(client, url: str, count: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of ``count`` GETs of ``url`` (each must answer 200).

    The CPU time (this process's, SQLite included) is printed too: on a machine other work
    shares, it shows what the request costs when the wall clock also counts waiting for a core.
    """
    client.get(url)  # warm caches (dictionaries, permissions, templates) as a server would be
    wall, cpu = [], []
    for _ in range(count):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=50_000)
    parser.add_argument("--milestones-per-deal", type=int, default=10)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--data-dir", default="", help="Keep the data here; a second run reuses what it built."
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ibcloud-bench-deals-") as scratch:
        data_dir = args.data_dir or scratch
        os.environ.update(
            {"IBCLOUD_DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "ibcloud.settings"}
        )
        os.environ.pop("REDIS_URL", None)
        if args.database_url:
            os.environ["DATABASE_URL"] = args.database_url
        else:
            os.environ.pop("DATABASE_URL", None)
        import django
        from django.conf import settings
        from django.core.management import call_command
        from django.test import Client
        from django.urls import reverse

        django.setup()
        # the figures are the output: keep the login lockout's INFO lines out of it
        logging.getLogger("axes").setLevel(logging.WARNING)
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        call_command("migrate", verbosity=0)

        from ibcloud.accounts.models import User
        from ibcloud.deals.models import Deal, Milestone

        started = time.perf_counter()
        if not User.objects.filter(username="bench-all").exists():
            # no ANALYZE afterwards: an installation's SQLite database has no statistics
            # (Django never gathers them), so the planner chooses as it would there
            build(args.deals, args.milestones_per_deal)
        manager = User.objects.get(username="bench-all")
        viewer = User.objects.get(username="bench-dept")
        print(f"# built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        print(f"deals: {Deal.objects.count()}")
        print(f"milestones: {Milestone.objects.count()}")

        urls = {"dashboard": reverse("deals:dashboard"), "list": reverse("deals:deal_list")}
        times: dict[str, list[float]] = {"dashboard": [], "list": []}
        cpu_times: dict[str, list[float]] = {"dashboard": [], "list": []}
        cpu = time.process_time()
        for label, user in (("department_user", viewer), ("all_user", manager)):
            client = Client()
            client.force_login(user)
            for name, url in urls.items():
                wall, used = timed_requests(client, url, args.requests)
                times[name] += wall
                cpu_times[name] += used
                print(f"{name}_{label}_p50_ms: {statistics.median(wall):.1f}")
                print(f"{name}_{label}_p95_ms: {percentile(wall, 95):.1f}")
        for name, values in times.items():
            print(f"{name}_p50_ms: {statistics.median(values):.1f}")
            print(f"{name}_p95_ms: {percentile(values, 95):.1f}")
        for name, values in cpu_times.items():
            print(f"{name}_cpu_p95_ms: {percentile(values, 95):.1f}")
        print(f"cpu_seconds: {time.process_time() - cpu:.1f}")


if __name__ == "__main__":
    main()
