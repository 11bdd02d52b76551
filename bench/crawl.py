"""Crawl speed of the platform against plain Scrapy over the same pages.

The demo project listing (``PROJECTS`` projects: list pages of 10 plus one detail page each) is
served by a process of its own, so the server never shares an interpreter lock with what is
measured. The platform crawls it as a source (``ibcloud crawl run``: SSRF guard, fetch level,
extraction of every field, storage of raw items, progress writes), and a minimal plain Scrapy
spider (``bench/plain_spider.py``) crawls the same links with the same settings (concurrency, no
delay, robots.txt off, and the engine settings the platform tunes). Each runs twice,
alternating, in a fresh temporary data directory and SQLite database; the better run of each
counts. Time is Scrapy's own, from spider open to close. Prints::

    platform_pages_per_s: X
    scrapy_pages_per_s: Y
    ratio: X/Y      (target: at least 0.8)

Run: ``.venv/bin/python bench/crawl.py [--projects N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECTS = 1500
CONCURRENCY = 16
ROUNDS = 2

SERVER = """
import sys, time
from ibcloud.demo.sites import start_demo_sites
sites = start_demo_sites(projects=int(sys.argv[1]), investors=1, proxies=0, protected=1)
print(sites.base_url, flush=True)
while True:
    time.sleep(3600)
"""


def start_server(projects: int, env: dict) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(projects)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the server's own log lines
        text=True,
    )
    base_url = server.stdout.readline().strip()
    if not base_url.startswith("http"):
        server.kill()
        raise SystemExit("the demo sites did not start")
    return server, base_url


def platform_run(base_url: str, env: dict) -> tuple[int, float]:
    """One platform crawl of the listing: (pages, seconds from spider open to close)."""
    from ibcloud.crawler.models import CrawlJob, CrawlSource

    source, _ = CrawlSource.objects.update_or_create(
        name="bench",
        defaults={
            "item_type": "project",
            "start_urls": [f"{base_url}/projects/"],
            "page_format": "html",
            "list_mode": "links",
            "list_selector_type": "css",
            "link_selector": "a.project-link",
            "pagination": "next_link",
            "next_selector": "a.next",
            "fields": [
                {"name": "name", "by": "css", "expr": "h1.project-name", "required": True},
                {"name": "full_name", "by": "css", "expr": "dd.full-name"},
                {"name": "industry", "by": "css", "expr": "dd.industry"},
                {"name": "location", "by": "css", "expr": "dd.location"},
                {"name": "round", "by": "css", "expr": "dd.round"},
                {"name": "amount", "by": "css", "expr": "dd.amount"},
                {"name": "founded", "by": "css", "expr": "dd.founded", "type": "date"},
                {"name": "website", "by": "css", "expr": "dd.website a", "attribute": "href"},
                {"name": "tags", "by": "css", "expr": "li.tag", "all": True},
                {"name": "summary", "by": "css", "expr": "p.summary"},
            ],
            "obey_robots": False,
            "concurrency": CONCURRENCY,
            "delay": 0,
            "max_pages": 100_000,
            "time_limit": 3600,
            "fetch_level": 0,  # an unprotected site: the crawler says who it is, as Scrapy does
        },
    )
    source.full_clean()
    source.raw_items.all().delete()  # every run stores every record, as a first crawl does
    job = CrawlJob.objects.create(source=source)
    subprocess.run(
        [sys.executable, "-m", "ibcloud.cli", "crawl", "run", str(job.pk)],
        env=env,
        check=True,
        stderr=subprocess.DEVNULL,
    )
    job.refresh_from_db()
    if job.status != "succeeded":
        raise SystemExit(f"the platform crawl did not succeed: {job.status}: {job.message}")
    return job.pages, float(job.stats["elapsed_seconds"])


def plain_run(base_url: str, env: dict) -> tuple[int, float]:
    """One plain Scrapy crawl of the listing: (pages, seconds from spider open to close)."""
    completed = subprocess.run(
        [sys.executable, str(BENCH / "plain_spider.py"), f"{base_url}/projects/", str(CONCURRENCY)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return int(result["pages"]), float(result["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=PROJECTS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ibcloud-bench-crawl-") as data_dir:
        env = {
            **os.environ,
            "IBCLOUD_DATA_DIR": data_dir,
            "IBCLOUD_SSRF_ALLOWLIST": "127.0.0.1",
            "DJANGO_SETTINGS_MODULE": "ibcloud.settings",
        }
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        os.environ.update(env)
        os.environ.pop("DATABASE_URL", None)
        os.environ.pop("REDIS_URL", None)
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)

        server, base_url = start_server(args.projects, env)
        try:
            platform, plain = [], []
            for _ in range(args.rounds):
                pages, seconds = platform_run(base_url, env)
                platform.append(pages / seconds)
                pages_plain, seconds_plain = plain_run(base_url, env)
                plain.append(pages_plain / seconds_plain)
                print(
                    f"# platform {pages} pages in {seconds:.2f} s; "
                    f"plain scrapy {pages_plain} pages in {seconds_plain:.2f} s",
                    file=sys.stderr,
                )
                time.sleep(0.5)
        finally:
            server.kill()
            server.wait()
    best_platform, best_plain = max(platform), max(plain)
    print(f"platform_pages_per_s: {best_platform:.1f}")
    print(f"scrapy_pages_per_s: {best_plain:.1f}")
    print(f"ratio: {best_platform / best_plain:.2f}")


if __name__ == "__main__":
    main()
