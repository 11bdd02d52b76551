"""Speed of the catalog dashboard and of topic clustering over a large catalog.

Builds ``--projects`` projects (default 100,000) spread over 5 years, 20 industry sections, 31
provinces, two departments and a handful of topics, plus raw items of 10 sources, in a fresh
temporary data directory and SQLite database (or the database of ``--database-url``). Then it
times every dashboard figure (:func:`ibcloud.catalog.charts.dashboard_statistics`) for a
superuser and for a department-limited user (the best of ``--rounds``), and one clustering run.
Prints::

    projects: N
    dashboard_superuser_s: X
    dashboard_department_user_s: Y
    clustering_s: Z
    clusters: K

Run: ``.venv/bin/python bench/catalog_dashboard.py [--projects N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
import tempfile
import time

TOPICS = [
    "医疗器械 医院 临床 试验 心脏 支架 介入 导管 影像 诊断",
    "储能 锂电池 新能源 光伏 电站 动力 电池 氢能 风电",
    "芯片 半导体 晶圆 封装 测试 设计 光刻 模拟 射频",
    "人工智能 视觉 算法 大模型 机器人 语音 识别 自动驾驶",
    "消费 品牌 餐饮 门店 零售 电商 直播 供应链 茶饮",
    "工业 软件 数字化 制造 工厂 设备 运维 物联网 传感器",
]
SECTIONS = "ABCDEFGHIJKLMNOPQRST"
PROVINCES = [f"{code}0000" for code in range(11, 66, 2)][:31]


def build(projects: int, raw_items: int) -> tuple:
    from django.contrib.auth.models import Permission
    from django.utils import timezone

    from ibcloud.accounts.models import Department, Role, User
    from ibcloud.catalog.models import Project
    from ibcloud.crawler.models import CrawlSource, RawItem

    dept_a = Department.objects.add_root({"name": "一部", "code": "bench-a"})
    dept_b = Department.objects.add_root({"name": "二部", "code": "bench-b"})
    admin = User.objects.create(username="bench-admin", is_superuser=True, is_staff=True)
    role = Role.objects.create(name="部门", code="bench-dept", data_scope="dept")
    role.permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["catalog", "crawler"],
            codename__in=["view_project", "view_investor", "view_rawitem"],
        )
    )
    viewer = User.objects.create(username="bench-viewer", department=dept_a)
    viewer.roles.set([role])

    rng = random.Random(7)
    now = timezone.now()
    batch = []
    for n in range(projects):
        topic = rng.choice(TOPICS).split()
        words = rng.sample(topic, 5)
        batch.append(
            Project(
                name=f"项目{n}",
                department=dept_a if n % 2 else dept_b,
                industry_section=rng.choice(SECTIONS),
                industry=f"{rng.randint(1, 96):02d}",
                province_code=rng.choice(PROVINCES),
                province="省份",
                summary=f"项目{n}专注于{'、'.join(words)}。",
                search_text=f"项目{n} {' '.join(words)}",
                first_seen_at=now - datetime.timedelta(minutes=rng.randint(0, 5 * 365 * 1440)),
            )
        )
        if len(batch) == 5000:
            Project.objects.bulk_create(batch)
            batch = []
    Project.objects.bulk_create(batch)

    sources = [
        CrawlSource.objects.create(
            name=f"bench-source-{i}",
            start_urls=["http://127.0.0.1:9/"],
            department=dept_a if i % 2 else dept_b,
        )
        for i in range(10)
    ]
    items = [
        RawItem(
            source=sources[i % 10],
            item_type="project",
            url=f"http://127.0.0.1:9/{i}",
            fetched_at=now - datetime.timedelta(minutes=rng.randint(0, 365 * 1440)),
            content_hash=f"{i:064d}",
            data={"title": str(i)},
        )
        for i in range(raw_items)
    ]
    RawItem.objects.bulk_create(items, batch_size=5000)
    return admin, viewer


def best_of(rounds: int, fn) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--raw-items", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ibcloud-bench-dashboard-") as data_dir:
        os.environ.update(
            {"IBCLOUD_DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "ibcloud.settings"}
        )
        os.environ.pop("REDIS_URL", None)
        if args.database_url:
            os.environ["DATABASE_URL"] = args.database_url
        else:
            os.environ.pop("DATABASE_URL", None)
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)

        from ibcloud.catalog import charts, clustering

        started = time.perf_counter()
        admin, viewer = build(args.projects, args.raw_items)
        print(f"# built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        print(f"projects: {args.projects}")
        print(f"raw_items: {args.raw_items}")
        for label, user in (("superuser", admin), ("department_user", viewer)):
            seconds = best_of(args.rounds, lambda u=user: charts.dashboard_statistics(u))
            print(f"dashboard_{label}_s: {seconds:.3f}")
        wide = charts.ChartFilters(date_from=datetime.date.today() - datetime.timedelta(days=1800))
        seconds = best_of(args.rounds, lambda: charts.dashboard_statistics(admin, wide))
        print(f"dashboard_5_years_s: {seconds:.3f}")
        started = time.perf_counter()
        run = clustering.run_clustering()
        print(f"clustering_s: {time.perf_counter() - started:.1f}")
        print(f"clusters: {run.cluster_count}")


if __name__ == "__main__":
    main()
