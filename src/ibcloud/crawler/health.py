"""Health rules of crawl sources: small pure functions over plain figures.

Each rule looks at the figures of one run (or a source's schedule) and returns a :class:`Finding`
when something is wrong, else ``None``. A finding explains itself: the rule, the field it is
about, a title and an ``evidence`` dict with the figures before and after, sample URLs and, for a
structure change, a diff of the last good sample page against the new one, plus a ``summary``
in words. :mod:`ibcloud.crawler.alerts` gathers the figures from the database, runs the rules and
turns findings into alerts; nothing here touches the database, so every rule is testable alone.
"""

from __future__ import annotations

import datetime
import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from croniter import croniter
from django.utils import timezone
from django.utils.translation import gettext as _

from ibcloud.crawler.models import CrawlJob, SourceAlert

Rule = SourceAlert.Rule
Status = CrawlJob.Status

#: a field's recent average must be at least this for a drop to count: a field that is usually
#: half empty says little when it is emptier still
MIN_BASELINE_FILL_RATE = 0.5
#: fewer requests than this say too little for an error rate (one robots.txt 404 in a run of
#: three pages is not a sick source); the other rules still judge such runs
MIN_REQUESTS = 10
#: sample URLs kept in the evidence
SAMPLE_URLS = 5
#: the page diff is cut to this many lines and characters so that an alert stays readable
DIFF_MAX_LINES = 200
DIFF_MAX_CHARS = 20_000
DIFF_CONTEXT = 2
#: longest normalised line, and how many lines of a page are compared at most
PAGE_LINE_CHARS = 300
PAGE_MAX_LINES = 6000


@dataclass(frozen=True)
class Finding:
    """What a rule found: the alert's identity (rule, field), its title and the evidence."""

    rule: str
    field: str
    title: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, self.field)


def percent(rate: float | None) -> str:
    """``0.953`` → ``"95.3%"`` (``"–"`` for none)."""
    if rate is None:
        return "–"
    return f"{rate * 100:.1f}%".replace(".0%", "%")


# --- Run rules --------------------------------------------------------------------------------


def job_failed(status: str, message: str = "", pages: int = 0, items: int = 0) -> Finding | None:
    """The run ended *failed* (no items, a crash, its worker died); the message says why."""
    if status != Status.FAILED:
        return None
    reason = message or _("no reason was recorded")
    return Finding(
        rule=Rule.JOB_FAILED,
        field="",
        title=_("The crawl failed"),
        evidence={
            "status": status,
            "message": message,
            "pages": pages,
            "items": items,
            "summary": _("The run failed after %(pages)d page(s) and %(items)d item(s): %(reason)s")
            % {"pages": pages, "items": items, "reason": reason},
        },
    )


def zero_items(status: str, items: int, pages: int = 0, message: str = "") -> Finding | None:
    """A finished run that was not cancelled collected nothing."""
    if status not in (Status.SUCCEEDED, Status.PARTIAL, Status.FAILED) or items > 0:
        return None
    return Finding(
        rule=Rule.ZERO_ITEMS,
        field="",
        title=_("The crawl collected no items"),
        evidence={
            "status": status,
            "pages": pages,
            "items": items,
            "message": message,
            "summary": _("The run fetched %(pages)d page(s) and extracted no item.")
            % {"pages": pages},
        },
    )


def error_rate(
    requests: int,
    errors: int,
    threshold: float,
    by_status: Mapping[str, int] | None = None,
    min_requests: int = MIN_REQUESTS,
) -> Finding | None:
    """The share of failed requests (HTTP 4xx/5xx answers and network errors) is above
    ``threshold`` (0–1), in a run of at least ``min_requests`` requests."""
    if requests <= 0 or requests < min_requests:
        return None
    rate = min(errors / requests, 1.0)
    if rate <= threshold:
        return None
    return Finding(
        rule=Rule.ERROR_RATE,
        field="",
        title=_("%(rate)s of the requests failed") % {"rate": percent(rate)},
        evidence={
            "requests": requests,
            "errors": errors,
            "rate": round(rate, 4),
            "threshold": threshold,
            "by_status": dict(by_status or {}),
            "summary": _(
                "%(errors)d of %(requests)d requests failed (%(rate)s, threshold %(threshold)s)."
            )
            % {
                "errors": errors,
                "requests": requests,
                "rate": percent(rate),
                "threshold": percent(threshold),
            },
        },
    )


# --- Structure change (field fill rates) ------------------------------------------------------


def fill_rate(stats: Mapping[str, Any] | None) -> float | None:
    """``filled / total`` of one field's statistics, or None when no item was checked."""
    if not isinstance(stats, Mapping):
        return None
    try:
        total = int(stats.get("total") or 0)
        filled = int(stats.get("filled") or 0)
    except (TypeError, ValueError):
        return None
    if total <= 0:
        return None
    return max(0.0, min(filled / total, 1.0))


def is_drop(rate: float, average: float, drop_ratio: float) -> bool:
    """Whether ``rate`` is far below ``average``: below ``drop_ratio`` of an average that was
    itself high enough to mean something."""
    return average >= MIN_BASELINE_FILL_RATE and rate < average * drop_ratio


@dataclass(frozen=True)
class Baseline:
    """A field's recent healthy fill rate: the average over the last good runs."""

    average: float
    #: indexes (into the history given) of the runs averaged, oldest first
    runs: tuple[int, ...]

    @property
    def last(self) -> int:
        """Index of the most recent good run (whose sample page is the "before" of a diff)."""
        return self.runs[-1]


def fill_rate_baseline(
    history: Sequence[float | None], window: int, drop_ratio: float
) -> Baseline | None:
    """The average fill rate of one field over its last ``window`` good runs.

    ``history`` holds the field's fill rate in earlier runs, oldest first (None where the run
    checked no item). A run whose rate was itself a drop against the runs before it is not a
    good run, so a lasting breakage never becomes the new normal: the alert stays until the
    field fills again.
    """
    accepted: list[int] = []
    for index, rate in enumerate(history):
        if rate is None:
            continue
        recent = [history[i] for i in accepted[-window:]]
        if recent and is_drop(rate, sum(recent) / len(recent), drop_ratio):
            continue
        accepted.append(index)
    if not accepted:
        return None
    runs = tuple(accepted[-window:])
    return Baseline(average=sum(history[i] for i in runs) / len(runs), runs=runs)


def structure_change(
    field_name: str,
    filled: int,
    total: int,
    baseline: Baseline | None,
    drop_ratio: float,
    sample_urls: Sequence[str] = (),
    label: str = "",
) -> Finding | None:
    """Field ``field_name`` was filled in ``filled`` of ``total`` items, far below its
    ``baseline`` average: the site most likely changed its pages and the rule no longer
    matches. ``sample_urls`` are pages where the field matched nothing."""
    if total <= 0 or baseline is None:
        return None
    rate = max(0.0, min(filled / total, 1.0))
    if not is_drop(rate, baseline.average, drop_ratio):
        return None
    name = label or field_name
    return Finding(
        rule=Rule.STRUCTURE_CHANGE,
        field=field_name,
        title=_("Field “%(field)s” fill rate fell from %(before)s to %(after)s")
        % {"field": name, "before": percent(baseline.average), "after": percent(rate)},
        evidence={
            "field": field_name,
            "label": label,
            "before_average": round(baseline.average, 4),
            "before_runs": len(baseline.runs),
            "after_rate": round(rate, 4),
            "after_filled": filled,
            "after_total": total,
            "drop_ratio": drop_ratio,
            "sample_urls": [str(url) for url in list(sample_urls)[:SAMPLE_URLS]],
            "summary": _(
                "Field “%(field)s” was filled in %(filled)d of %(total)d items (%(after)s); "
                "over the last %(runs)d good run(s) it averaged %(before)s. The site has "
                "probably changed its pages, so the field's rule no longer matches."
            )
            % {
                "field": name,
                "filled": filled,
                "total": total,
                "after": percent(rate),
                "runs": len(baseline.runs),
                "before": percent(baseline.average),
            },
        },
    )


_TAG = re.compile(r"(<[^>]*>)")


def normalise_page(text: str) -> list[str]:
    """A page as comparable lines: JSON pretty-printed with sorted keys; HTML with every tag on
    its own line and whitespace collapsed, so a diff shows which elements changed."""
    text = (text or "").strip()
    if text[:1] in ("{", "["):
        try:
            lines = json.dumps(
                json.loads(text), indent=1, ensure_ascii=False, sort_keys=True
            ).splitlines()
            return [line[:PAGE_LINE_CHARS] for line in lines[:PAGE_MAX_LINES]]
        except ValueError:
            pass
    lines = []
    for part in _TAG.split(text):
        part = " ".join(part.split())
        if part:
            lines.append(part[:PAGE_LINE_CHARS])
            if len(lines) >= PAGE_MAX_LINES:
                break
    return lines


def page_diff(
    before: str,
    after: str,
    before_name: str = "before",
    after_name: str = "after",
    max_lines: int = DIFF_MAX_LINES,
    max_chars: int = DIFF_MAX_CHARS,
) -> tuple[str, bool]:
    """Unified diff of two pages after :func:`normalise_page`; returns ``(text, truncated)``."""
    lines = list(
        difflib.unified_diff(
            normalise_page(before),
            normalise_page(after),
            fromfile=before_name,
            tofile=after_name,
            n=DIFF_CONTEXT,
            lineterm="",
        )
    )
    kept: list[str] = []
    size = 0
    for line in lines:
        if len(kept) >= max_lines or size + len(line) + 1 > max_chars:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept), len(kept) < len(lines)


def with_page_diff(
    finding: Finding, before_url: str, before_page: str, after_url: str, after_page: str
) -> Finding:
    """``finding`` with the diff between the last good sample page and this run's added to its
    evidence (unchanged when either page is missing)."""
    if not before_page or not after_page:
        return finding
    text, truncated = page_diff(
        before_page, after_page, before_name=before_url or "before", after_name=after_url or "after"
    )
    evidence = {
        **finding.evidence,
        "before_page_url": before_url,
        "after_page_url": after_url,
        "diff": text,
        "diff_truncated": truncated,
    }
    return replace(finding, evidence=evidence)


# --- Schedule ---------------------------------------------------------------------------------


def overdue(
    schedule: str,
    last_run_at: datetime.datetime | None,
    since: datetime.datetime,
    now: datetime.datetime,
    grace: datetime.timedelta,
) -> Finding | None:
    """A scheduled source has not finished a run for two of its schedule slots plus ``grace``.

    ``last_run_at`` is when its last run finished (or a running one started); ``since`` is when
    the source came to exist, the reference for a source that never ran. The schedule is read in
    the platform's time zone, like the scheduler reads it.
    """
    if not schedule or not schedule.strip():
        return None
    deadline = timezone.localtime(now - grace)
    try:
        slots = croniter(schedule, deadline)
        latest = slots.get_prev(datetime.datetime)
        earlier = slots.get_prev(datetime.datetime)
    except (ValueError, KeyError, TypeError):
        return None  # an invalid schedule is refused on save; nothing to judge here
    reference = last_run_at or since
    if reference >= earlier:
        return None
    minutes = int(grace.total_seconds() // 60)
    if last_run_at is not None:
        summary = _(
            "The schedule “%(schedule)s” expected runs at %(earlier)s and %(latest)s, but the "
            "last run finished at %(last)s. Are the crawl workers running?"
        )
    else:
        summary = _(
            "The schedule “%(schedule)s” expected runs at %(earlier)s and %(latest)s, but the "
            "source has never run. Are the crawl workers running?"
        )
    stamp = "%Y-%m-%d %H:%M"
    return Finding(
        rule=Rule.OVERDUE,
        field="",
        title=_("No run for two scheduled slots"),
        evidence={
            "schedule": schedule,
            "last_run_at": last_run_at.isoformat() if last_run_at else None,
            "missed_slots": [earlier.isoformat(), latest.isoformat()],
            "grace_minutes": minutes,
            "summary": summary
            % {
                "schedule": schedule,
                "earlier": earlier.strftime(stamp),
                "latest": latest.strftime(stamp),
                "last": timezone.localtime(last_run_at).strftime(stamp) if last_run_at else "",
            },
        },
    )


# --- Figures from a run's statistics ----------------------------------------------------------


def request_figures(stats: Mapping[str, Any] | None) -> tuple[int, int, dict[str, int]]:
    """``(requests, errors, answers by status)`` from a run's ``stats``.

    Errors are HTTP answers of 400 and above plus requests that got no answer (network errors,
    timeouts). Reads the crawler's own counters and falls back to Scrapy's names.
    """
    stats = stats if isinstance(stats, Mapping) else {}

    def number(value: Any) -> int:
        try:
            return max(int(value or 0), 0)
        except (TypeError, ValueError):
            return 0

    requests = number(stats.get("requests", stats.get("downloader/request_count")))
    by_status: dict[str, int] = {}
    responses = stats.get("responses")
    if isinstance(responses, Mapping):
        by_status = {str(code): number(count) for code, count in responses.items()}
    else:
        prefix = "downloader/response_status_count/"
        by_status = {
            key[len(prefix) :]: number(value)
            for key, value in stats.items()
            if isinstance(key, str) and key.startswith(prefix)
        }
    if "http_errors" in stats:
        http_errors = number(stats.get("http_errors"))
    else:
        http_errors = sum(
            count for code, count in by_status.items() if code.isdigit() and int(code) >= 400
        )
    network = number(stats.get("network_errors", stats.get("downloader/exception_count")))
    return requests, min(http_errors + network, requests), by_status
