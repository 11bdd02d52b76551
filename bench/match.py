"""Matching speed: a full match of 100k projects against 20k investors, and incremental matches.

Builds, in a fresh temporary data directory and SQLite database (not timed), a catalog with
realistic skew: project industries concentrate in a few divisions (software, medical devices,
electronics …) and in the coastal provinces, rounds follow the demo's weights, amounts are
log-normal by round with an eighth undisclosed; investors state 2–6 industries (one in ten a whole
section), 2–4 neighbouring stages, one to three provinces or nationwide, a ticket range, RMB / USD /
dual capital, and half have revealed preferences from past deals. Texts come from the demo
generators (``ibcloud.demo.sites.data``). Then a fresh process runs the rule set
``RECOMMENDED_CRITERIA`` (``ibcloud.matching.criteria``) with ``engine.run_rule_set`` and matches 20
single new projects with ``engine.match_projects``. Prints::

    full_match_s: X        (target: at most 60 on a 2-core machine)
    peak_rss_mb: Y         (the matching process)
    incremental_ms: Z      (median of 20 single new projects; target: at most 100)
    cpu_seconds, pairs_scored, matches, projects, investors, incremental_max_ms

Run: ``.venv/bin/python bench/match.py [--projects N] [--investors M] [--data-dir DIR]``
(``--data-dir`` keeps the generated catalog for later runs).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

PROJECTS = 100_000
INVESTORS = 20_000
INCREMENTAL_RUNS = 20

#: demo industry → (weight, divisions it lands in)
INDUSTRY_DIVISIONS = {
    "人工智能": (14, ["65", "64"]),
    "企业服务": (12, ["65", "72", "64"]),
    "医疗健康": (14, ["27", "35", "84"]),
    "新能源": (9, ["38", "44"]),
    "先进制造": (10, ["34", "35", "40"]),
    "半导体": (8, ["39"]),
    "消费": (9, ["14", "52", "15"]),
    "金融科技": (5, ["65", "66"]),
    "新材料": (6, ["26", "30", "32"]),
    "汽车交通": (6, ["36", "54"]),
    "文娱传媒": (4, ["86", "87", "64"]),
    "农业科技": (3, ["01", "05", "13"]),
}
ROUND_WEIGHTS = {
    "seed": 4,
    "angel": 10,
    "pre_a": 8,
    "a": 14,
    "a_plus": 7,
    "b": 10,
    "c": 5,
    "d": 3,
    "pre_ipo": 3,
    "strategic": 3,
    "": 2,
}
PROVINCE_WEIGHTS = {
    "440000": 18,
    "110000": 16,
    "310000": 14,
    "320000": 11,
    "330000": 10,
    "510000": 5,
    "420000": 4,
    "370000": 4,
    "350000": 3,
    "610000": 3,
    "430000": 3,
    "340000": 3,
    "120000": 2,
    "500000": 2,
    "410000": 2,
}
ROUND_AMOUNT = {  # median CNY
    "seed": 3e6,
    "angel": 8e6,
    "pre_a": 2e7,
    "a": 5e7,
    "a_plus": 8e7,
    "b": 1.5e8,
    "c": 3e8,
    "d": 6e8,
    "e_plus": 7e8,
    "pre_ipo": 8e8,
    "strategic": 2e8,
    "": 5e7,
}
LADDER = ["seed", "angel", "pre_a", "a", "a_plus", "b", "c", "d", "e_plus", "pre_ipo"]


def _setup(data_dir: str) -> None:
    os.environ.update({"IBCLOUD_DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "ibcloud.settings"})
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    import django

    django.setup()


def _weighted(rng: random.Random, table: dict) -> str:
    keys = list(table)
    weights = [table[k][0] if isinstance(table[k], tuple) else table[k] for k in keys]
    return rng.choices(keys, weights=weights)[0]


def _cities() -> dict[str, list[str]]:
    from ibcloud.catalog.normalization.places import division_index

    cities: dict[str, list[str]] = {}
    for division in division_index().by_code.values():
        if division.level == "city":
            cities.setdefault(division.province_code, []).append(division.code)
    return cities


def generate(projects: int, investors: int) -> dict[str, int]:
    """Fill the database (not timed)."""
    from django.core.management import call_command

    from ibcloud.catalog.models import Investor, Project
    from ibcloud.catalog.segmentation import search_text
    from ibcloud.demo.sites.data import generate_investors, generate_projects
    from ibcloud.matching.criteria import RECOMMENDED_CRITERIA
    from ibcloud.matching.features import section_of
    from ibcloud.matching.models import MatchRuleSet

    call_command("migrate", verbosity=0)
    rng = random.Random(20251126)
    cities = _cities()
    pool: dict[str, list[tuple[str, str]]] = {}
    for demo in generate_projects(12_000, namespace="bench-match"):
        pool.setdefault(demo.industry, []).append(
            (demo.summary, search_text(demo.summary, " ".join(demo.tags)))
        )
    now = datetime.now(UTC)
    rows = []
    for number in range(1, projects + 1):
        industry = _weighted(rng, INDUSTRY_DIVISIONS)
        division = rng.choice(INDUSTRY_DIVISIONS[industry][1])
        summary, words = rng.choice(pool[industry])
        round_code = _weighted(rng, ROUND_WEIGHTS)
        province = _weighted(rng, PROVINCE_WEIGHTS)
        city = rng.choice(cities.get(province, [province]))
        amount = None
        if rng.random() > 0.12:
            amount = int(ROUND_AMOUNT[round_code] * rng.lognormvariate(0, 0.6))
        wide = amount is not None and rng.random() < 0.3
        currency = "" if amount is None else ("USD" if rng.random() < 0.12 else "CNY")
        name = f"项目{number}"
        rows.append(
            Project(
                name=name,
                full_name=f"{name}科技有限公司",
                name_key=name,
                industry=division,
                industry_section=section_of(division),
                round=round_code,
                province_code=province,
                city_code=city,
                amount_low=(amount // 2 if wide else amount) if amount else None,
                amount_high=(amount * 2 if wide else amount) if amount else None,
                amount_currency=currency,
                summary=summary,
                search_text=f"{name} {words}",
                first_seen_at=now,
            )
        )
        if len(rows) == 5000:
            Project.objects.bulk_create(rows)
            rows = []
    Project.objects.bulk_create(rows)

    demo_investors = generate_investors(min(investors, 5000), namespace="bench-match")
    names_by_division = {d: k for k, (_w, ds) in INDUSTRY_DIVISIONS.items() for d in ds}
    rows = []
    today = date.today()
    for number in range(1, investors + 1):
        demo = demo_investors[number % len(demo_investors)]
        chosen: list[str] = []
        while len(chosen) < rng.randint(2, 6):
            industry = _weighted(rng, INDUSTRY_DIVISIONS)
            code = rng.choice(INDUSTRY_DIVISIONS[industry][1])
            if rng.random() < 0.1:
                code = section_of(code)
            if code not in chosen:
                chosen.append(code)
        start = rng.randrange(0, len(LADDER) - 1)
        rounds = LADDER[start : start + rng.randint(2, 4)]
        nationwide = rng.random() < 0.4
        regions = [] if nationwide else rng.sample(list(PROVINCE_WEIGHTS), rng.randint(1, 3))
        if not nationwide and rng.random() < 0.05:
            regions = []
        middle = ROUND_AMOUNT[rounds[len(rounds) // 2]]
        ticket_min = int(middle * rng.uniform(0.2, 0.6))
        ticket_max = int(middle * rng.uniform(1.5, 4))
        revealed = {}
        if rng.random() < 0.5:
            deals = rng.randint(3, 60)
            industries: dict[str, int] = {}
            for _ in range(deals):
                code = rng.choice(chosen) if rng.random() < 0.7 else rng.choice(["65", "35", "39"])
                industries[code] = industries.get(code, 0) + 1
            revealed = {
                "deal_count": deals,
                "industries": industries,
                "rounds": {r: rng.randint(1, deals) for r in rounds[:2]},
                "regions": {rng.choice(list(PROVINCE_WEIGHTS)): rng.randint(1, deals)},
                "amount_median": int(middle * rng.uniform(0.5, 2)),
                "last_deal_on": (today - timedelta(days=rng.randint(0, 900))).isoformat(),
            }
        focus = "、".join(names_by_division.get(c, "") for c in chosen if c.isdigit())
        rows.append(
            Investor(
                name=f"{demo.name}{number}",
                full_name=f"{demo.full_name}{number}",
                name_key=f"{demo.name}{number}",
                investor_type="vc",
                capital_type=rng.choices(["rmb", "usd", "dual", ""], [68, 14, 14, 4])[0],
                description=f"{demo.description}重点关注{focus}。",
                preferred_industries=chosen,
                preferred_rounds=rounds,
                preferred_regions=regions,
                nationwide=nationwide,
                ticket_min=ticket_min,
                ticket_max=ticket_max,
                revealed_preferences=revealed,
                last_active_on=today - timedelta(days=rng.randint(0, 1500)),
                first_seen_at=now,
            )
        )
        if len(rows) == 5000:
            Investor.objects.bulk_create(rows)
            rows = []
    Investor.objects.bulk_create(rows)
    MatchRuleSet.objects.create(
        name="bench", criteria=RECOMMENDED_CRITERIA, threshold=50, max_per_project=5
    )
    # the engine indexes investors (focus words, blocking keys) as they arrive, through the
    # incremental job the catalog's changes start; a catalog filled in bulk gets it here
    began = time.perf_counter()
    from ibcloud.matching.engine import refresh_investor_index

    refresh_investor_index()
    print(f"index_build_s: {time.perf_counter() - began:.3f}")
    return {"projects": Project.objects.count(), "investors": Investor.objects.count()}


def measure() -> dict[str, float]:
    """Time the full match and the incremental matches (in this fresh process)."""
    from ibcloud.catalog.models import Investor, Project
    from ibcloud.catalog.segmentation import search_text
    from ibcloud.matching import engine
    from ibcloud.matching.features import section_of
    from ibcloud.matching.models import Match, MatchRuleSet

    def cpu() -> float:
        # this process and its scoring worker processes
        usage = [
            resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        ]
        return sum(u.ru_utime + u.ru_stime for u in usage)

    rule_set = MatchRuleSet.objects.get(name="bench")
    started, cpu_started = time.perf_counter(), cpu()
    report = engine.run_rule_set(rule_set)
    full = time.perf_counter() - started
    cpu_seconds = cpu() - cpu_started

    rng = random.Random(7)
    template = Project.objects.order_by("id").first()
    timings = []
    for number in range(INCREMENTAL_RUNS):
        name = f"新项目{number}"
        summary = template.summary
        industry = rng.choice(["65", "35", "39", "27", "38"])
        project = Project.objects.create(
            name=name,
            full_name=f"{name}科技有限公司",
            name_key=name,
            industry=industry,
            industry_section=section_of(industry),
            round=rng.choice(["angel", "a", "b"]),
            province_code="440000",
            city_code="440300",
            amount_low=50_000_000,
            amount_high=50_000_000,
            amount_currency="CNY",
            summary=summary,
            search_text=search_text(name, summary),
        )
        began = time.perf_counter()
        engine.match_projects([project.pk])
        timings.append((time.perf_counter() - began) * 1000)
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return {
        "full_match_s": full,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale,
        "incremental_ms": statistics.median(timings),
        "incremental_max_ms": max(timings),
        "cpu_seconds": cpu_seconds,
        **{f"stage_{name}_s": seconds for name, seconds in report.stages.items()},
        "pairs_scored": report.pairs_scored,
        "matches": Match.objects.filter(rule_set=rule_set).count(),
        "projects": Project.objects.count(),
        "investors": Investor.objects.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=PROJECTS)
    parser.add_argument("--investors", type=int, default=INVESTORS)
    parser.add_argument(
        "--data-dir",
        help="keep the generated catalog here and reuse it on later runs (each run starts "
        "from the same untouched copy); default: a fresh temporary directory",
    )
    parser.add_argument("--measure", metavar="DATA_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        _setup(args.measure)
        for key, value in measure().items():
            print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
        return
    if args.data_dir:
        os.makedirs(args.data_dir, exist_ok=True)
        _run(args, args.data_dir)
        return
    with tempfile.TemporaryDirectory(prefix="ibcloud-bench-match-") as data_dir:
        _run(args, data_dir)


def _run(args: argparse.Namespace, data_dir: str) -> None:
    """Generate the catalog (unless a kept copy exists), then measure in a fresh process."""
    database = os.path.join(data_dir, "ibcloud.sqlite3")
    pristine = os.path.join(data_dir, "bench-pristine.sqlite3")
    if not os.path.exists(pristine):
        began = time.perf_counter()
        _setup(data_dir)
        counts = generate(args.projects, args.investors)
        print(f"generated: {counts} in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        from django.db import connection, connections

        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connections.close_all()
        shutil.copyfile(database, pristine)
    else:
        for suffix in ("-wal", "-shm"):
            if os.path.exists(database + suffix):
                os.remove(database + suffix)
        shutil.copyfile(pristine, database)
    subprocess.run(
        [sys.executable, __file__, "--measure", data_dir],
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


if __name__ == "__main__":
    main()
