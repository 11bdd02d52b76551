"""The yardstick of ``bench/crawl.py``: a minimal plain Scrapy spider over the demo project listing.

It follows the same list and detail links as the platform's source and yields a dict of a few
fields, with no pipeline, in a process of its own. Run by ``bench/crawl.py``::

    .venv/bin/python bench/plain_spider.py <list URL> <concurrency>

Prints one JSON line: pages fetched and the seconds from spider open to close (Scrapy's stats).
"""

from __future__ import annotations

import json
import sys

import scrapy
from scrapy.crawler import AsyncCrawlerProcess


class PlainSpider(scrapy.Spider):
    name = "plain"

    def __init__(self, start_url: str, **kwargs):
        super().__init__(**kwargs)
        self.start_url = start_url

    async def start(self):
        yield scrapy.Request(self.start_url, priority=1)

    def parse(self, response):
        for href in response.css("a.project-link::attr(href)").getall():
            yield response.follow(href, callback=self.parse_detail)
        next_page = response.css("a.next::attr(href)").get()
        if next_page:
            yield response.follow(next_page, priority=1)

    def parse_detail(self, response):
        yield {
            "name": response.css("h1.project-name::text").get(),
            "industry": response.css("dd.industry::text").get(),
            "amount": response.css("dd.amount::text").get(),
            "round": response.css("dd.round::text").get(),
        }


def main() -> None:
    start_url, concurrency = sys.argv[1], int(sys.argv[2])
    settings = {
        "LOG_LEVEL": "INFO",
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": 0,
        "MEMUSAGE_ENABLED": False,
        # The platform's engine settings, so that only the platform's own work is compared.
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        "CONCURRENT_ITEMS": 16,
    }
    process = AsyncCrawlerProcess(settings)
    crawler = process.create_crawler(PlainSpider)
    process.crawl(crawler, start_url=start_url)
    process.start()
    stats = crawler.stats.get_stats()
    elapsed = (stats["finish_time"] - stats["start_time"]).total_seconds()
    pages = stats.get("response_received_count", 0)
    items = stats.get("item_scraped_count")
    print(json.dumps({"pages": pages, "seconds": elapsed, "items": items}))


if __name__ == "__main__":
    main()
