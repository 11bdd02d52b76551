"""Ingest speed: clean, normalize, deduplicate and store 100k messy raw items (SQLite).

Builds, in a fresh temporary data directory and SQLite database, raw items as several sources
publish the same companies: the demo generators (``ibcloud.demo.sites.data``) with several
namespaces give the companies; each is listed by one to three project sources that write it
their own way (registered name vs "字号（城市）" vs short name, amounts as "数千万元" / "US$10M",
markup and boilerplate around summaries, full-width characters, relative dates), a mirror source
copies some listings verbatim (exact duplicates), and a few records are empty, spam, nameless or
broken. About a tenth are investors. Then a fresh process times ``services.ingest_pending()``
(the production path: process pool for the pure stage, batched writes). Prints::

    records_per_s: X        (target: at least 5,000 on a 2-core machine)
    peak_rss_mb: Y          (the ingesting process; workers separately)
    peak_rss_workers_mb: Z
    seconds, cpu_seconds (main + workers), load_average (the 1-minute load when it ended)
    writer_cpu_us_per_item, workers_cpu_us_per_item (CPU per raw item: the single writer, the pool)
    raw_items / created / merged / duplicate / quarantined / projects / investors

Run: ``.venv/bin/python bench/ingest.py [--items N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

ITEMS = 100_000
INVESTOR_SHARE = 0.1
PER_NAMESPACE = 8_000


def _setup(data_dir: str) -> None:
    os.environ.update({"IBCLOUD_DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "ibcloud.settings"})
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    import django

    django.setup()


def _full_width(text: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return text
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" or "A" <= c <= "Z" else c for c in text)


def _listings(company, rng: random.Random) -> list[tuple[str, dict]]:
    """How the project sources write one company: (source key, data)."""
    city = company.city
    stem_and_trade = company.full_name[len(city) :]
    trade = stem_and_trade
    for legal in ("股份有限公司", "有限公司"):
        trade = trade.removesuffix(legal)
    published = company.published
    out = []
    sources = rng.sample(["listing", "news", "exchange"], rng.choice([1, 2, 2, 3, 3]))
    for source in sources:
        if source == "listing":
            out.append(
                (
                    source,
                    {
                        "name": company.name,
                        "full_name": company.full_name,
                        "industry": company.industry,
                        "location": company.location,
                        "round": company.round,
                        "amount": company.amount,
                        "founded": company.founded,
                        "website": company.website,
                        "tags": list(company.tags),
                        "summary": f"<p>{company.summary}</p>&nbsp;<a href='#'>查看更多>></a>",
                        "published": published.strftime("%Y-%m-%d %H:%M"),
                    },
                )
            )
        elif source == "news":
            out.append(
                (
                    source,
                    {
                        "项目名称": f"{trade}（{city}）有限公司",
                        "所属行业": company.industry,
                        "融资轮次": company.round + "融资",
                        "融资金额": _full_width(company.amount, rng),
                        "地区": f"{company.province}{city}",
                        "标签": "、".join(company.tags),
                        "业务简介": f"  {company.summary}\n\n展开全文 ",
                        "发布时间": f"{published.year}年{published.month}月{published.day}日",
                    },
                )
            )
        else:
            out.append(
                (
                    source,
                    {
                        "name": f"  {company.name} ",
                        "city": city,
                        "round": company.round,
                        "amount": rng.choice([company.amount, "未披露", "US$10M"]),
                        "summary": company.summary[:60],
                        "published": rng.choice(["3天前", "昨天", "2小时前", "上周"]),
                    },
                )
            )
    return out


def _junk(rng: random.Random, number: int) -> dict:
    kind = rng.random()
    if kind < 0.4:
        return {"name": " ", "summary": "<div>&nbsp;</div>"}
    if kind < 0.65:
        return {"name": f"博彩娱乐{number}", "summary": "注册即送，加微信"}
    if kind < 0.9:
        return {"amount": "5000万元", "round": "A轮", "summary": f"某公司{number}"}
    return {"name": "锟斤拷锟斤拷", "summary": "烫烫烫"}


def generate(items: int) -> dict[str, int]:
    """Fill the database with about ``items`` raw items (not timed)."""
    from django.core.management import call_command

    from ibcloud.crawler.extraction import content_hash
    from ibcloud.crawler.models import CrawlSource, RawItem
    from ibcloud.demo.sites.data import generate_investors, generate_projects

    call_command("migrate", verbosity=0)
    fields = [{"name": "name", "by": "css", "expr": "h1", "required": True}]
    base = {"start_urls": ["http://127.0.0.1:9/"], "fields": fields, "link_selector": "a"}
    sources = {
        key: CrawlSource.objects.create(name=key, item_type=item_type, trust=trust, **base)
        for key, item_type, trust in [
            ("listing", "project", 70),
            ("news", "project", 50),
            ("exchange", "project", 30),
            ("mirror", "project", 20),
            ("vc-directory", "investor", 60),
            ("fund-news", "investor", 40),
        ]
    }
    rng = random.Random(20251125)
    fetched = datetime(2025, 6, 1, tzinfo=UTC)
    rows: list[RawItem] = []

    def add(source_key: str, data: dict) -> None:
        number = len(rows)
        rows.append(
            RawItem(
                source=sources[source_key],
                item_type=sources[source_key].item_type,
                url=f"https://{source_key}.example/{number}",
                fetched_at=fetched + timedelta(seconds=number),
                content_hash=content_hash(data),
                data=data,
            )
        )

    investor_items = int(items * INVESTOR_SHARE)
    project_items = items - investor_items
    namespace = 0
    while len(rows) < project_items:
        for company in generate_projects(PER_NAMESPACE, f"bench-{namespace}"):
            if len(rows) >= project_items:
                break
            roll = rng.random()
            if roll < 0.03:
                add("listing", _junk(rng, len(rows)))
                continue
            for source_key, data in _listings(company, rng):
                add(source_key, data)
                if source_key == "listing" and rng.random() < 0.05:
                    add("mirror", data)  # copied verbatim: an exact duplicate
        namespace += 1
    rows = rows[:project_items]
    namespace = 0
    while len(rows) < items:
        for investor in generate_investors(4_000, f"bench-investors-{namespace}"):
            if len(rows) >= items:
                break
            data = investor.as_dict()
            data.pop("id")
            add("vc-directory", data)
            if rng.random() < 0.4 and len(rows) < items:
                add(
                    "fund-news",
                    {
                        "name": investor.full_name,
                        "investor_type": investor.type,
                        "industries": "、".join(investor.industries),
                        "ticket": investor.ticket,
                        "updated_at": "2025年5月",
                    },
                )
        namespace += 1
    rows = rows[:items]
    RawItem.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return {"raw_items": RawItem.objects.count()}


def measure() -> dict[str, float]:
    """Time the ingest of every pending raw item (run in a fresh process)."""
    from ibcloud.catalog import services
    from ibcloud.catalog.models import Investor, Project

    def cpu(who: int) -> float:
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime

    started = time.perf_counter()
    writer_started, workers_started = cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)
    report = services.ingest_pending()
    elapsed = time.perf_counter() - started
    writer = cpu(resource.RUSAGE_SELF) - writer_started
    workers = cpu(resource.RUSAGE_CHILDREN) - workers_started  # the pool, joined at the end
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return {
        "records_per_s": report.processed / elapsed,
        "seconds": elapsed,
        "cpu_seconds": writer + workers,
        "writer_cpu_us": writer / report.processed * 1e6,
        "workers_cpu_us": workers / report.processed * 1e6,
        "load_average": os.getloadavg()[0],
        "peak_rss_mb": own / scale,
        "peak_rss_workers_mb": workers_rss / scale,
        "processed": report.processed,
        "created": report.created,
        "merged": report.merged,
        "duplicate": report.duplicate,
        "quarantined": report.quarantined,
        "projects": Project.objects.count(),
        "investors": Investor.objects.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=ITEMS)
    parser.add_argument("--measure", metavar="DATA_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        _setup(args.measure)
        print(json.dumps(measure()))
        return
    with tempfile.TemporaryDirectory(prefix="ibcloud-bench-ingest-") as data_dir:
        _setup(data_dir)
        started = time.perf_counter()
        counts = generate(args.items)
        print(
            f"# generated {counts['raw_items']} raw items in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        from django.db import connections

        connections.close_all()
        completed = subprocess.run(
            [sys.executable, __file__, "--measure", data_dir],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(completed.stdout.strip().splitlines()[-1])
    print(f"records_per_s: {result['records_per_s']:.0f}")
    print(f"peak_rss_mb: {result['peak_rss_mb']:.0f}")
    print(f"peak_rss_workers_mb: {result['peak_rss_workers_mb']:.0f}")
    print(f"seconds: {result['seconds']:.1f}")
    # On a shared machine wall time depends on the neighbours: CPU time tells the cost.
    print(f"cpu_seconds: {result['cpu_seconds']:.1f}")
    # Per raw item: the single writer (main process) and the pool. Two cores give at most
    # 2e6 / (writer + workers) items per second, and no more than 1e6 / writer.
    print(f"writer_cpu_us_per_item: {result['writer_cpu_us']:.0f}")
    print(f"workers_cpu_us_per_item: {result['workers_cpu_us']:.0f}")
    print(f"load_average: {result['load_average']:.1f}")
    print(f"raw_items: {counts['raw_items']}")
    for key in ("created", "merged", "duplicate", "quarantined", "projects", "investors"):
        print(f"{key}: {result[key]}")


if __name__ == "__main__":
    main()
