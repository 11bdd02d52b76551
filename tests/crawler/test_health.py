"""The health rules, one pure function each: when they fire, and the evidence they give."""

from __future__ import annotations

import datetime

from django.utils import timezone

from ibcloud.crawler import health

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)


# --- Job failed, zero items, error rate --------------------------------------------------------


def test_job_failed_fires_only_for_failed_runs_and_says_why():
    assert health.job_failed("succeeded", "") is None
    assert health.job_failed("partial", "3 pages failed") is None
    assert health.job_failed("cancelled", "") is None
    finding = health.job_failed("failed", "worker stopped", pages=4, items=0)
    assert finding.rule == "job_failed" and finding.field == ""
    assert finding.evidence["message"] == "worker stopped"
    assert finding.evidence["pages"] == 4
    assert "worker stopped" in finding.evidence["summary"]


def test_zero_items_fires_for_finished_runs_that_collected_nothing():
    assert health.zero_items("succeeded", items=3, pages=2) is None
    assert health.zero_items("cancelled", items=0) is None  # someone stopped it: no verdict
    assert health.zero_items("running", items=0) is None
    for status in ("succeeded", "partial", "failed"):
        finding = health.zero_items(status, items=0, pages=7)
        assert finding.rule == "zero_items"
        assert finding.evidence["pages"] == 7 and finding.evidence["items"] == 0


def test_error_rate_fires_above_the_threshold_with_the_figures():
    assert health.error_rate(requests=0, errors=0, threshold=0.2) is None
    assert health.error_rate(requests=10, errors=2, threshold=0.2) is None  # at the threshold
    # A handful of requests says too little: one robots.txt 404 in a three-page run.
    assert health.error_rate(requests=4, errors=1, threshold=0.2) is None
    assert health.error_rate(requests=4, errors=1, threshold=0.2, min_requests=1) is not None
    finding = health.error_rate(requests=36, errors=24, threshold=0.2, by_status={"429": 24})
    assert finding.rule == "error_rate"
    assert finding.evidence["requests"] == 36 and finding.evidence["errors"] == 24
    assert finding.evidence["rate"] == round(24 / 36, 4)
    assert finding.evidence["by_status"] == {"429": 24}
    assert "24" in finding.evidence["summary"] and "36" in finding.evidence["summary"]


def test_request_figures_read_the_crawler_counters_and_scrapy_names():
    ours = {"requests": 40, "responses": {"200": 30, "404": 4, "503": 2}, "network_errors": 3}
    assert health.request_figures(ours) == (40, 9, {"200": 30, "404": 4, "503": 2})
    scrapy = {
        "downloader/request_count": 10,
        "downloader/response_status_count/200": 7,
        "downloader/response_status_count/429": 3,
    }
    assert health.request_figures(scrapy) == (10, 3, {"200": 7, "429": 3})
    assert health.request_figures({}) == (0, 0, {})
    assert health.request_figures(None) == (0, 0, {})
    # Errors never exceed requests, whatever the counters say.
    assert health.request_figures({"requests": 2, "http_errors": 5})[1] == 2


# --- Structure change ---------------------------------------------------------------------------


def test_fill_rate_of_field_statistics():
    assert health.fill_rate({"filled": 9, "total": 10, "invalid": 0}) == 0.9
    assert health.fill_rate({"filled": 0, "total": 0}) is None
    assert health.fill_rate(None) is None
    assert health.fill_rate({"filled": "x", "total": 3}) is None


def test_baseline_averages_the_last_good_runs():
    baseline = health.fill_rate_baseline([0.2, 1.0, 0.9, 1.0, None, 0.8], window=3, drop_ratio=0.5)
    assert baseline.runs == (2, 3, 5)
    assert baseline.average == (0.9 + 1.0 + 0.8) / 3
    assert baseline.last == 5
    assert health.fill_rate_baseline([None, None], window=5, drop_ratio=0.5) is None
    assert health.fill_rate_baseline([], window=5, drop_ratio=0.5) is None


def test_broken_runs_never_become_the_baseline():
    # The field broke two runs ago and stayed broken: the average still remembers it full.
    baseline = health.fill_rate_baseline([1.0, 1.0, 1.0, 0.0, 0.0], window=5, drop_ratio=0.5)
    assert baseline.runs == (0, 1, 2)
    assert baseline.average == 1.0


def test_structure_change_fires_when_a_field_falls_far_below_its_average():
    baseline = health.Baseline(average=0.96, runs=(0, 1, 2))
    urls = [f"http://site.test/p/{i}.html" for i in range(8)]
    finding = health.structure_change(
        "amount",
        filled=0,
        total=12,
        baseline=baseline,
        drop_ratio=0.5,
        sample_urls=urls,
        label="融资金额",
    )
    assert finding.rule == "structure_change" and finding.field == "amount"
    evidence = finding.evidence
    assert evidence["field"] == "amount"
    assert evidence["before_average"] == 0.96 and evidence["before_runs"] == 3
    assert evidence["after_rate"] == 0.0
    assert (evidence["after_filled"], evidence["after_total"]) == (0, 12)
    assert evidence["sample_urls"] == urls[:5]
    assert "融资金额" in finding.title and "96%" in finding.title and "0%" in finding.title


def test_structure_change_stays_quiet_for_small_drops_and_weak_baselines():
    steady = health.Baseline(average=0.9, runs=(0,))
    assert health.structure_change("a", 6, 10, steady, drop_ratio=0.5) is None  # 60% vs 90%
    assert health.structure_change("a", 4, 10, steady, drop_ratio=0.5) is not None  # 40%
    sparse = health.Baseline(average=0.3, runs=(0,))  # usually empty anyway
    assert health.structure_change("a", 0, 10, sparse, drop_ratio=0.5) is None
    assert health.structure_change("a", 0, 0, steady, drop_ratio=0.5) is None  # nothing checked
    assert health.structure_change("a", 0, 10, None, drop_ratio=0.5) is None  # no history


def test_normalise_page_puts_tags_on_their_own_lines():
    lines = health.normalise_page('<div class="a">  Amount:\n  <b>5</b></div>')
    assert lines == ['<div class="a">', "Amount:", "<b>", "5", "</b>", "</div>"]
    assert health.normalise_page('{"b": 1, "a": [2]}') == [
        "{",
        ' "a": [',
        "  2",
        " ],",
        ' "b": 1',
        "}",
    ]


def test_page_diff_shows_the_changed_elements():
    before = '<html><body><h1>Acme</h1><span class="amount">5 亿</span><p>x</p></body></html>'
    after = '<html><body><h1>Acme</h1><span class="money">5 亿</span><p>x</p></body></html>'
    text, truncated = health.page_diff(before, after, "good.html", "new.html")
    assert not truncated
    lines = text.splitlines()
    assert lines[0] == "--- good.html" and lines[1] == "+++ new.html"
    assert '-<span class="amount">' in lines
    assert '+<span class="money">' in lines
    assert " 5 亿" in lines  # context around the change


def test_page_diff_is_trimmed_to_a_readable_size():
    before = "".join(f"<p>line {i}</p>" for i in range(2000))
    after = "".join(f"<p>row {i}</p>" for i in range(2000))
    text, truncated = health.page_diff(before, after, max_lines=50)
    assert truncated and len(text.splitlines()) == 50
    text, truncated = health.page_diff(before, after, max_chars=1000)
    assert truncated and len(text) <= 1000


def test_with_page_diff_adds_the_diff_to_the_evidence():
    finding = health.structure_change(
        "amount", 0, 5, health.Baseline(1.0, (0,)), drop_ratio=0.5, sample_urls=["http://s/1"]
    )
    enriched = health.with_page_diff(
        finding, "http://s/old", "<i>5</i>", "http://s/new", "<b>5</b>"
    )
    assert enriched.evidence["before_page_url"] == "http://s/old"
    assert enriched.evidence["after_page_url"] == "http://s/new"
    assert "-<i>" in enriched.evidence["diff"] and "+<b>" in enriched.evidence["diff"]
    assert enriched.evidence["sample_urls"] == ["http://s/1"]
    assert health.with_page_diff(finding, "", "", "http://s/new", "<b>5</b>") is finding


# --- Overdue ------------------------------------------------------------------------------------


def test_overdue_after_two_missed_slots_and_the_grace():
    grace = datetime.timedelta(minutes=30)
    hourly = "0 * * * *"
    last = at(2, 10, 5)  # the 10:00 run finished at 10:05
    # 11:00 missed, 12:00 not yet past its grace: not overdue.
    assert health.overdue(hourly, last, at(1, 0), at(2, 12, 20), grace) is None
    finding = health.overdue(hourly, last, at(1, 0), at(2, 12, 40), grace)
    assert finding.rule == "overdue"
    assert finding.evidence["schedule"] == hourly
    assert finding.evidence["missed_slots"] == [at(2, 11).isoformat(), at(2, 12).isoformat()]
    assert finding.evidence["last_run_at"] == last.isoformat()
    assert finding.evidence["grace_minutes"] == 30


def test_overdue_for_a_source_that_never_ran_counts_from_its_creation():
    grace = datetime.timedelta(minutes=10)
    daily = "0 2 * * *"
    created = at(2, 9)
    assert health.overdue(daily, None, created, at(3, 12), grace) is None  # one slot missed
    finding = health.overdue(daily, None, created, at(4, 3), grace)
    assert finding is not None and finding.evidence["last_run_at"] is None


def test_overdue_ignores_sources_without_a_valid_schedule():
    now = timezone.now()
    week = datetime.timedelta(days=7)
    assert health.overdue("", None, now - week, now, datetime.timedelta()) is None
    assert health.overdue("not cron", None, now - week, now, datetime.timedelta()) is None
