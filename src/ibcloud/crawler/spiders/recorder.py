"""What a run observed, beyond Scrapy's counters: items, field fill rates, evidence, problems.

The spider, the middlewares' errbacks and the storage pipeline write into one
:class:`RunRecorder`; the progress extension reads it every second and the runner reads it at the
end to fill the ``CrawlJob`` row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: sample URLs kept per field (pages where it matched nothing) and per kind of error
SAMPLE_URLS = 5
#: the sample page is cut to this many characters
SAMPLE_PAGE_CHARS = 200_000


@dataclass
class RunRecorder:
    """Counters and evidence of one run (plain data: cheap to update from callbacks)."""

    field_names: list[str]
    items: int = 0
    new_items: int = 0
    errors: int = 0
    empty_records: int = 0
    current_url: str = ""
    #: field → {"filled", "total", "invalid"}
    field_stats: dict[str, dict[str, int]] = field(default_factory=dict)
    #: field → up to SAMPLE_URLS URLs where it matched nothing
    sample_urls: dict[str, list[str]] = field(default_factory=dict)
    list_sample_url: str = ""
    list_sample: str = ""
    detail_sample_url: str = ""
    detail_sample: str = ""
    #: list pages with no item or link that look like a login form / need JavaScript
    login_pages: int = 0
    js_pages: int = 0
    empty_list_pages: int = 0
    login_failed: bool = False
    #: problem kind → count, and a few "URL — reason" examples per kind
    problems: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    #: where the JS/login hint was seen (for the message)
    hint_urls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in self.field_names:
            self.field_stats[name] = {"filled": 0, "total": 0, "invalid": 0}

    def record_item(self, url: str, data: dict[str, Any], empty: list[str], problems: dict) -> None:
        """Account one extracted record (also one where nothing matched) in the fill rates."""
        for name in self.field_names:
            figures = self.field_stats[name]
            figures["total"] += 1
            if name in data:
                figures["filled"] += 1
            if name in problems and problems[name] != "missing":
                figures["invalid"] += 1
        for name in empty:
            urls = self.sample_urls.setdefault(name, [])
            if len(urls) < SAMPLE_URLS and url not in urls:
                urls.append(url)
        if data:
            self.items += 1
        else:
            self.empty_records += 1

    def problem(self, kind: str, example: str = "", error: bool = True) -> None:
        """Count a problem of ``kind`` (an error unless ``error`` is False) and keep an example."""
        self.problems[kind] = self.problems.get(kind, 0) + 1
        if error:
            self.errors += 1
        if example:
            examples = self.examples.setdefault(kind, [])
            if len(examples) < SAMPLE_URLS and example not in examples:
                examples.append(example)

    def wants_sample(self, kind: str) -> bool:
        """Whether the first page of ``kind`` ("list" or "detail") is still to be kept."""
        return not (self.detail_sample_url if kind == "detail" else self.list_sample_url)

    def keep_sample(self, kind: str, url: str, text: str) -> None:
        """Keep the first list or detail page as the run's sample (evidence for page diffs)."""
        if kind == "detail" and not self.detail_sample_url:
            self.detail_sample_url, self.detail_sample = url, text[:SAMPLE_PAGE_CHARS]
        elif kind == "list" and not self.list_sample_url:
            self.list_sample_url, self.list_sample = url, text[:SAMPLE_PAGE_CHARS]

    def sample(self, list_mode: str) -> tuple[str, str]:
        """(URL, text) of the sample page: the first detail page, or the first list page."""
        if list_mode != "inline" and self.detail_sample_url:
            return self.detail_sample_url, self.detail_sample
        return self.list_sample_url, self.list_sample
