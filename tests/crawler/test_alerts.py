"""Alerts after runs: raised with evidence, grouped, resolved, acknowledged, sent to the right
people; overdue sources; the statistics behind the health pages.

Runs are CrawlJob rows holding the figures a crawl writes (pages, items, stats, field_stats,
sample URLs, the sample page): the monitor reads nothing else.
"""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from ibcloud.audit.models import AuditEntry
from ibcloud.core.parameters import set_parameter
from ibcloud.crawler import alerts
from ibcloud.crawler.models import CrawlJob, SourceAlert
from ibcloud.notify.models import Notification
from tests.conftest import make_org
from tests.factories import (
    CrawlJobFactory,
    CrawlSourceFactory,
    RoleFactory,
    UserFactory,
    permissions,
)

pytestmark = pytest.mark.django_db

FIELDS = [
    {"name": "name", "expr": "h1::text", "required": True},
    {"name": "amount", "label": "融资金额", "expr": ".amount::text"},
]
GOOD_PAGE = '<html><body><h1>{name}</h1><span class="amount">5 亿元</span></body></html>'
CHANGED_PAGE = '<html><body><h1>{name}</h1><span class="money">5 亿元</span></body></html>'


def run(source, status="succeeded", items=10, amount=None, page=GOOD_PAGE, **figures):
    """A finished run of ``source`` as the crawler records it; ``amount`` = items with an amount."""
    amount = items if amount is None else amount
    now = timezone.now()
    values = {
        "status": status,
        "pages": items + 1,
        "items": items,
        "new_items": items,
        "errors": 0,
        "stats": {"requests": items + 1, "responses": {"200": items + 1}},
        "field_stats": {
            "name": {"filled": items, "total": items, "invalid": 0},
            "amount": {"filled": amount, "total": items, "invalid": 0},
        },
        "sample_urls": {
            "amount": [f"http://site.test/p/{i}.html" for i in range(min(items - amount, 5))]
        },
        "sample_page_url": "http://site.test/p/1.html",
        "sample_page": page.format(name="星河科技") if page else "",
        "started_at": now - datetime.timedelta(seconds=30),
        "finished_at": now,
        **figures,
    }
    return CrawlJobFactory(source=source, **values)


def checked(source, **kwargs):
    job = run(source, **kwargs)
    alerts.check_after_job(job)
    return job


def open_alerts(source, rule=None):
    queryset = SourceAlert.objects.filter(source=source).exclude(status="resolved")
    return queryset.filter(rule=rule) if rule else queryset


@pytest.fixture
def org():
    return make_org(["crawler.view_crawlsource", "crawler.change_crawlsource"])


@pytest.fixture
def source(org):
    return CrawlSourceFactory(name="项目库", owner=org.self_user, fields=FIELDS)


# --- Structure change ---------------------------------------------------------------------------


def test_a_field_that_stops_matching_raises_a_structure_change_with_evidence(source):
    good = checked(source)
    checked(source)
    broken = checked(source, amount=0, page=CHANGED_PAGE)

    alert = open_alerts(source).get()
    assert (alert.rule, alert.field, alert.status) == ("structure_change", "amount", "open")
    assert alert.last_job == broken and alert.occurrences == 1
    evidence = alert.evidence
    assert evidence["before_average"] == 1.0 and evidence["before_runs"] == 2
    assert evidence["after_rate"] == 0.0 and evidence["after_total"] == 10
    assert evidence["sample_urls"] == [f"http://site.test/p/{i}.html" for i in range(5)]
    assert evidence["before_job"] != good.pk  # the latest good run, not the oldest
    assert '-<span class="amount">' in evidence["diff"]
    assert '+<span class="money">' in evidence["diff"]
    assert "融资金额" in alert.title


def test_the_alert_reaches_the_owner_and_the_admins_who_reach_the_source(org, source):
    inactive_admin = UserFactory(username="gone", is_superuser=True, is_active=False)
    viewer = UserFactory(username="viewer", department=org.dept_a)
    checked(source)
    checked(source, amount=0)

    alert = open_alerts(source).get()
    notified = Notification.objects.filter(event="crawler.alert")
    recipients = set(notified.values_list("recipient__username", flat=True))
    # Owner, superuser, and the change_crawlsource holders whose scope reaches department A.
    assert recipients == {"self_user", "admin", "all_user", "below_user", "dept_user"}
    assert inactive_admin.username not in recipients and viewer.username not in recipients
    note = notified.first()
    assert note.url == alert.get_absolute_url()
    assert note.title.startswith("项目库: ")
    assert "http://site.test/p/0.html" in note.body
    assert alert.get_absolute_url() in note.body
    assert note.level == "warning"


def test_a_lasting_problem_is_grouped_without_a_second_notification(source):
    checked(source)
    first = checked(source, amount=0)
    second = checked(source, amount=1)

    alert = open_alerts(source).get()
    assert alert.occurrences == 2
    assert alert.last_job == second
    assert alert.evidence["after_filled"] == 1
    assert alert.last_seen_at >= alert.first_seen_at
    assert alert.first_seen_at <= first.finished_at + datetime.timedelta(seconds=5)
    assert Notification.objects.filter(recipient=source.owner, event="crawler.alert").count() == 1


def test_checking_the_same_run_twice_changes_nothing(source):
    checked(source)
    broken = checked(source, amount=0)
    alerts.check_after_job(broken)
    assert open_alerts(source).get().occurrences == 1
    assert Notification.objects.filter(recipient=source.owner).count() == 1


def test_a_healthy_run_resolves_the_alert_and_says_so(source):
    checked(source)
    checked(source, amount=0)
    checked(source, amount=0)
    checked(source)  # the selector was fixed

    alert = SourceAlert.objects.get(source=source)
    assert alert.status == "resolved" and alert.resolved_at is not None
    notes = list(
        Notification.objects.filter(recipient=source.owner)
        .order_by("pk")
        .values_list("level", flat=True)
    )
    assert notes == ["warning", "success"]

    checked(source, amount=0)  # breaks again: a new alert, a new notification
    assert open_alerts(source).count() == 1
    assert SourceAlert.objects.filter(source=source).count() == 2
    assert Notification.objects.filter(recipient=source.owner).count() == 3


def test_a_new_field_and_a_normally_sparse_field_raise_nothing(source):
    checked(source, amount=3)
    checked(source, amount=0)  # averaged 30%: too sparse to judge
    assert not open_alerts(source).exists()


def test_removing_a_broken_field_from_the_source_resolves_its_alert(source):
    checked(source)
    checked(source, amount=0)
    source.fields = [FIELDS[0]]
    source.save()
    checked(source, amount=0)
    assert not open_alerts(source).exists()


# --- Failed runs, zero items, error rate ----------------------------------------------------------


def test_a_failed_run_raises_job_failed_and_zero_items(source):
    job = checked(
        source,
        status="failed",
        items=0,
        page="",
        pages=0,
        stats={},
        message="worker stopped",
        field_stats={},
    )
    rules = dict(open_alerts(source).values_list("rule", "last_job"))
    assert rules == {"job_failed": job.pk, "zero_items": job.pk}
    failed = open_alerts(source, "job_failed").get()
    assert failed.evidence["message"] == "worker stopped"
    assert "worker stopped" in failed.evidence["summary"]
    assert Notification.objects.filter(recipient=source.owner, level="error").count() == 1

    checked(source)
    assert not open_alerts(source).exists()


def test_a_cancelled_run_neither_raises_nor_resolves(source):
    checked(source, status="failed", items=0, stats={}, field_stats={})
    checked(source, status="cancelled", items=0, stats={}, field_stats={})
    assert set(open_alerts(source).values_list("rule", flat=True)) == {"job_failed", "zero_items"}
    assert open_alerts(source, "job_failed").get().occurrences == 1


def test_error_rate_above_the_system_parameter_raises_an_alert(source):
    stats = {"requests": 36, "responses": {"200": 12, "429": 24}}
    checked(source, status="partial", stats=stats)
    alert = open_alerts(source, "error_rate").get()
    assert alert.evidence["errors"] == 24 and alert.evidence["requests"] == 36
    assert alert.evidence["by_status"] == {"200": 12, "429": 24}

    set_parameter("crawler.error_rate_threshold", 0.8)
    checked(source, status="partial", stats=stats)
    assert not open_alerts(source, "error_rate").exists()


# --- Acknowledging ------------------------------------------------------------------------------


def test_acknowledging_is_audited_and_the_alert_still_groups_and_resolves(org, source):
    org.dept_user.roles.first().permissions.add(
        *permissions("crawler.view_sourcealert", "crawler.acknowledge_sourcealert")
    )
    checked(source)
    checked(source, amount=0)
    alert = open_alerts(source).get()

    alerts.acknowledge(alert, org.dept_user)
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    assert alert.acknowledged_by == org.dept_user and alert.acknowledged_at is not None
    entry = AuditEntry.objects.get(event="alert_acknowledge")
    assert entry.actor == org.dept_user and entry.object_id == alert.pk

    alerts.acknowledge(alert, org.dept_user)  # again: nothing changes
    assert AuditEntry.objects.filter(event="alert_acknowledge").count() == 1

    notes = Notification.objects.filter(recipient=source.owner).count()
    checked(source, amount=0)
    alert.refresh_from_db()
    assert (alert.status, alert.occurrences) == ("acknowledged", 2)
    assert Notification.objects.filter(recipient=source.owner).count() == notes

    checked(source)
    alert.refresh_from_db()
    assert alert.status == "resolved"
    with pytest.raises(ValidationError):
        alerts.acknowledge(alert, org.dept_user)


def test_acknowledging_needs_the_permission_and_the_scope(org, source):
    checked(source)
    checked(source, amount=0)
    alert = open_alerts(source).get()
    with pytest.raises(PermissionDenied):
        alerts.acknowledge(alert, org.all_user)  # may change sources, not acknowledge alerts
    outsider = make_outsider(org)
    with pytest.raises(PermissionDenied):
        alerts.acknowledge(alert, outsider)
    alerts.acknowledge(alert, org.admin)
    assert SourceAlert.objects.get(pk=alert.pk).status == "acknowledged"


def make_outsider(org):
    role = RoleFactory(
        data_scope="dept",
        perms=["crawler.view_sourcealert", "crawler.acknowledge_sourcealert"],
    )
    return UserFactory(username="outsider", department=org.dept_b, roles=[role])


# --- Overdue ------------------------------------------------------------------------------------


def test_a_scheduled_source_that_stopped_running_is_overdue_until_it_runs(source):
    source.schedule = "0 * * * *"
    source.save()
    # 40 minutes past the hour: the checks 5 minutes later see the same slots (grace 30 min).
    now = timezone.now().replace(minute=40, second=0, microsecond=0)
    old = run(source, finished_at=now - datetime.timedelta(hours=5))
    CrawlJob.objects.filter(pk=old.pk).update(created_at=now - datetime.timedelta(hours=5))

    alerts.check_overdue(now=now)
    alert = open_alerts(source, "overdue").get()
    assert alert.evidence["schedule"] == "0 * * * *"
    assert alert.evidence["last_run_at"] == old.finished_at.isoformat()
    assert Notification.objects.filter(recipient=source.owner, event="crawler.alert").count() == 1

    alerts.check_overdue(now=now + datetime.timedelta(minutes=5))  # the next check: same slots
    alert.refresh_from_db()
    assert alert.occurrences == 1
    alerts.check_overdue(now=now + datetime.timedelta(hours=1))  # another slot missed
    alert.refresh_from_db()
    assert alert.occurrences == 2
    assert Notification.objects.filter(recipient=source.owner, event="crawler.alert").count() == 1

    checked(source)  # the workers are back
    assert not open_alerts(source, "overdue").exists()


def test_sources_without_schedule_or_disabled_or_recently_run_are_not_overdue(source):
    now = timezone.now()
    unscheduled = CrawlSourceFactory(schedule="")
    disabled = CrawlSourceFactory(schedule="*/5 * * * *", enabled=False)
    fresh = CrawlSourceFactory(schedule="*/5 * * * *")
    run(fresh, finished_at=now - datetime.timedelta(minutes=3))
    for old in (unscheduled, disabled):
        run(old, finished_at=now - datetime.timedelta(days=3))
    assert alerts.check_overdue(now=now) == []

    fresh.enabled = False  # an overdue alert of a source that gets disabled resolves
    fresh.schedule = "0 3 * * *"
    fresh.save()
    SourceAlert.objects.create(source=fresh, rule="overdue", title="x")
    alerts.check_overdue(now=now)
    assert not open_alerts(fresh).exists()


def test_the_overdue_check_is_a_periodic_job():
    assert alerts.check_overdue_sources.job_name.endswith("check_overdue_sources")


# --- Statistics -----------------------------------------------------------------------------------


def test_source_statistics_sum_the_runs_of_the_period(source):
    checked(source, items=10)
    checked(
        source,
        items=4,
        amount=2,
        errors=3,
        stats={"requests": 10, "responses": {"200": 7, "500": 3}},
    )
    old = run(source, items=99)
    CrawlJob.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=40)
    )

    stats = alerts.source_statistics(source, days=30)
    assert stats["runs"] == 2
    assert stats["items"] == 14 and stats["pages"] == 16 and stats["errors"] == 3
    assert stats["by_status"] == {"succeeded": 2}
    assert stats["requests"] == 21 and stats["error_rate"] == round(3 / 21, 4)
    assert stats["average_duration"] == 30.0
    assert [f["name"] for f in stats["fields"]] == ["name", "amount"]
    assert [r["items"] for r in stats["series"]] == [10, 4]
    assert [r["fill_rates"]["amount"] for r in stats["series"]] == [1.0, 0.5]
    assert stats["last_run"]["items"] == 4
    assert stats["open_alerts"] == 1  # 3 of 10 requests failed: error rate


def test_dashboard_statistics_only_count_sources_the_user_may_see(org, source):
    other = CrawlSourceFactory(name="投资人库", owner=org.b_user)
    checked(source, items=10)
    checked(other, items=7, status="failed", stats={}, field_stats={})

    mine = alerts.dashboard_statistics(org.dept_user)
    assert mine["sources"] == 1 and mine["runs_today"] == 1 and mine["items_today"] == 10
    assert [row["name"] for row in mine["table"]] == ["项目库"]
    assert mine["items_per_day"]["series"][0]["data"][-1] == 10
    assert len(mine["items_per_day"]["days"]) == 14
    assert [(row["status"], row["count"]) for row in mine["jobs_by_status"]] == [("succeeded", 1)]

    everything = alerts.dashboard_statistics(org.admin)
    assert everything["sources"] == 2 and everything["items_today"] == 17
    assert everything["open_alerts"] == 1  # the failed run (it did collect items)
    row = {r["name"]: r for r in everything["table"]}["投资人库"]
    assert row["last_status"] == "failed" and row["last_items"] == 7

    assert alerts.dashboard_statistics(UserFactory())["sources"] == 0


def test_a_straggler_that_ends_after_a_later_run_is_not_judged(source):
    straggler = run(source, status="running", items=0, stats={}, field_stats={}, finished_at=None)
    checked(source)
    CrawlJob.objects.filter(pk=straggler.pk).update(
        status="failed", finished_at=timezone.now(), message="worker stopped"
    )
    assert alerts.check_after_job(straggler) == []
    assert not open_alerts(source).exists()


# --- A real crawl -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_site_redesign_alerts_the_owner_and_the_fix_resolves_it(settings, child_env):
    """Acceptance: the demo site moves the amount into other markup; the next run raises a
    structure change naming the field, delivered to the owner; putting it back resolves it."""
    from ibcloud.crawler import runner
    from ibcloud.demo.sites import start_demo_sites

    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1", "localhost"]
    child_env["IBCLOUD_SSRF_ALLOWLIST"] = "127.0.0.1,localhost"
    sites = start_demo_sites(projects=12, investors=5, proxies=0)
    try:
        owner = UserFactory(username="owner")
        source = CrawlSourceFactory(
            owner=owner,
            start_urls=[f"{sites.base_url}/projects/"],
            pagination="next_link",
            next_selector="a.next",
            fields=[
                {"name": "name", "by": "css", "expr": "h1.project-name", "required": True},
                {"name": "amount", "label": "融资金额", "by": "css", "expr": "dd.amount"},
            ],
        )

        def crawl_and_check():
            job = CrawlJobFactory(source=source)
            assert runner.spawn_crawl(job.pk, env=child_env).wait(timeout=60) == 0
            job.refresh_from_db()
            assert job.items == 12, job.message
            alerts.check_after_job(job)
            return job

        crawl_and_check()
        assert not open_alerts(source).exists()

        sites.state.project_layout = "v2"
        broken = crawl_and_check()
        alert = open_alerts(source).get()
        assert (alert.rule, alert.field, alert.last_job) == ("structure_change", "amount", broken)
        assert alert.evidence["after_rate"] == 0.0 and alert.evidence["before_average"] == 1.0
        assert alert.evidence["sample_urls"][0].startswith(f"{sites.base_url}/projects/")
        assert "financing-size" in alert.evidence["diff"]
        note = Notification.objects.get(recipient=owner, event="crawler.alert")
        assert "融资金额" in note.title and note.url == alert.get_absolute_url()

        sites.state.project_layout = "v1"
        crawl_and_check()
        alert.refresh_from_db()
        assert alert.status == "resolved"
    finally:
        sites.stop()
