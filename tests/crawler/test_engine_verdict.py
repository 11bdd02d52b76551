"""How a run's figures become its final status and a message the user can act on."""

import logging

import pytest

from ibcloud.crawler.extensions import JobLogHandler, conclude
from ibcloud.crawler.spiders.recorder import RunRecorder

pytestmark = pytest.mark.usefixtures("english")


def verdict(reason="finished", *, pages=10, items=10, new_items=10, errors=0, level=1, **stats):
    stats.setdefault("requests", pages)
    return conclude(
        reason,
        pages=pages,
        items=items,
        new_items=new_items,
        errors=errors,
        stats=stats,
        fetch_level=level,
        time_limit=600,
        max_pages=500,
        block_marker="访问过于频繁",
        sample_url="http://site.example/1.html",
    )


def test_a_clean_run_succeeds_and_says_what_it_collected():
    status, message = verdict(pages=12, items=10, new_items=3)
    assert status == "succeeded"
    assert message == "Collected 10 items (3 new) from 12 pages."


def test_rate_limiting_names_the_figures_and_the_remedy():
    status, message = verdict(
        pages=36,
        items=12,
        errors=24,
        requests=36,
        responses={"200": 12, "429": 24},
        problems={"http_429": 24},
    )
    assert status == "partial"
    assert "24 of 36 requests were answered 429 Too Many Requests" in message
    assert "use fetch level L2 with proxies" in message


def test_a_refusing_site_without_any_item_fails_and_points_to_the_next_level():
    status, message = verdict(
        level=0,
        pages=1,
        items=0,
        errors=1,
        requests=2,
        responses={"200": 1, "403": 1},
        problems={"http_403": 1},
    )
    assert status == "failed"
    assert "403 Forbidden" in message and "fetch level L1" in message
    status, message = verdict(
        level=1, items=0, errors=1, responses={"403": 1}, problems={"http_403": 1}
    )
    assert "L2 with proxies" in message


def test_bans_the_proxies_absorbed_do_not_spoil_the_run():
    status, message = verdict(bans=3, responses={"200": 10, "429": 3}, level=2)
    assert status == "succeeded"
    assert "3 answers were bans" in message


def test_bans_that_were_given_up_make_the_run_partial():
    status, message = verdict(
        level=2, errors=2, bans=6, ban_gave_up=2, block_marker=2, problems={"banned": 2}
    )
    assert status == "partial"
    assert "every proxy tried was banned" in message and "访问过于频繁" in message


def test_ssrf_refusals_quote_the_address_and_the_allowlist():
    status, message = verdict(
        items=0,
        pages=0,
        errors=1,
        ssrf_refused=1,
        ssrf_examples=["http://169.254.169.254/ — link-local or cloud metadata address"],
    )
    assert status == "failed"
    assert "169.254.169.254" in message and "IBCLOUD_SSRF_ALLOWLIST" in message


def test_robots_refusals_are_reported_but_are_not_errors():
    status, message = verdict(robots_forbidden=2, examples={"robots": ["http://s/private/"]})
    assert status == "succeeded"
    assert "robots.txt forbids" in message and "http://s/private/" in message


def test_a_login_form_instead_of_the_list_asks_for_level_l3():
    status, message = verdict(items=0, pages=1, login_pages=1)
    assert status == "failed"
    assert "needs a login" in message and "L3" in message


def test_pages_built_by_javascript_suggest_rendering():
    status, message = verdict(items=0, pages=3, js_pages=3, level=2)
    assert status == "failed" and "render JavaScript" in message


def test_nothing_found_points_to_the_selectors_and_the_sample_page():
    status, message = verdict(items=0, pages=3)
    assert status == "failed"
    assert "check the selectors" in message and "http://site.example/1.html" in message


def test_time_limit_page_limit_cancel_and_a_lost_worker():
    assert verdict("closespider_timeout", items=5)[0] == "partial"
    assert "time limit of 600 s" in verdict("closespider_timeout", items=5)[1]
    status, message = verdict(page_limit_dropped=40)
    assert status == "succeeded" and "limit of 500 pages" in message
    assert verdict("cancelled", items=4, new_items=1) == (
        "cancelled",
        "Cancelled after 10 pages and 4 items (1 new).",
    )
    status, message = verdict("worker_lost", items=4)
    assert status == "failed" and "worker process stopped" in message


def test_the_message_fits_the_field():
    status, message = verdict(
        items=0,
        errors=50,
        ssrf_refused=1,
        ssrf_examples=["http://x/" + "a" * 600],
        login_failed=True,
        login_pages=3,
        robots_forbidden=9,
        problems={"network": 50, "http_500": 3},
        examples={"network": ["http://y/" + "b" * 600]},
    )
    assert status == "failed" and len(message) <= 1000


def test_fill_rates_and_sample_urls():
    recorder = RunRecorder(["name", "amount"])
    recorder.record_item("u1", {"name": "A", "amount": "x"}, [], {"amount": "expected a number"})
    recorder.record_item("u2", {"name": "B"}, ["amount"], {})
    recorder.record_item("u3", {}, ["name", "amount"], {"name": "missing"})
    assert recorder.field_stats == {
        "name": {"filled": 2, "total": 3, "invalid": 0},
        "amount": {"filled": 1, "total": 3, "invalid": 1},
    }
    assert recorder.sample_urls == {"amount": ["u2", "u3"], "name": ["u3"]}
    assert (recorder.items, recorder.empty_records) == (2, 1)


def test_the_job_log_keeps_its_start_and_its_end():
    handler = JobLogHandler()
    log = logging.getLogger("test.joblog")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        log.debug("not kept")
        for number in range(6000):
            log.info("line %05d %s", number, "x" * 40)
    finally:
        log.removeHandler(handler)
    text = handler.text()
    assert len(text) <= 210_000
    assert "line 00000" in text and "line 05999" in text and "lines left out" in text
    assert "not kept" not in text
