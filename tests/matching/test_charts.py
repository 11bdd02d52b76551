"""Matching dashboard figures: each chart equals counts made independently over the matches the
viewer may see."""

from __future__ import annotations

import datetime
from collections import Counter

import pytest
from django.utils import timezone

from ibcloud.matching import charts
from ibcloud.matching.charts import ChartFilters
from ibcloud.matching.models import Match
from tests.catalog.factories import ProjectFactory
from tests.conftest import make_org
from tests.matching.factories import MatchFactory, MatchRuleSetFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 25)  # a Wednesday; its week starts on Monday 23 November


def at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def days_ago(n: int) -> datetime.datetime:
    return at(TODAY - datetime.timedelta(days=n))


@pytest.fixture
def org():
    return make_org(["matching.view_match"])


@pytest.fixture
def world(org):
    """Matches of department A's rule set (software in 广东, healthcare in 浙江) and B's."""
    rule_a = MatchRuleSetFactory(name="A规则", department=org.dept_a)
    rule_b = MatchRuleSetFactory(name="B规则", department=org.dept_b)
    software = dict(industry_section="I", industry="65", province_code="440000")
    health = dict(industry_section="Q", industry="84", province_code="330000")
    rows = [
        # (rule set, project, status, proposed days ago, reviewed days ago, converted)
        (rule_a, software, "pending", 1, None, False),
        (rule_a, software, "approved", 2, 1, True),
        (rule_a, health, "approved", 9, 8, False),
        (rule_a, health, "rejected", 9, 8, False),
        (rule_a, software, "rejected", 40, 38, False),
        (rule_b, software, "approved", 3, 2, True),
        (rule_b, health, "pending", 3, None, False),
        (None, health, "approved", 5, 4, False),  # manual, department A
    ]
    for rule_set, project, status, proposed, reviewed, converted in rows:
        MatchFactory(
            rule_set=rule_set,
            department=rule_set.department if rule_set else org.dept_a,
            project=ProjectFactory(**project),
            status=status,
            source="auto" if rule_set else "manual",
            proposed_at=days_ago(proposed),
            reviewed_at=days_ago(reviewed) if reviewed is not None else None,
            converted_at=days_ago(0) if converted else None,
        )
    return {"a": rule_a, "b": rule_b}


def scoped(user):
    return Match.objects.restrict(user, "view")


def test_weekly_series_count_the_visible_matches_by_status(org, world):
    for user in (org.dept_user, org.b_user, org.all_user):
        data = charts.matches_per_week(user, ChartFilters(), today=TODAY)
        totals = {s["key"]: sum(s["data"]) for s in data["series"]}
        expected = Counter(scoped(user).values_list("status", flat=True))
        assert {k: v for k, v in totals.items() if v} == dict(expected)
        assert data["weeks"][-1] == "2026-11-23"


def test_a_match_falls_in_the_week_it_was_proposed(org, world):
    data = charts.matches_per_week(org.dept_user, ChartFilters(), today=TODAY)
    pending = next(s for s in data["series"] if s["key"] == "pending")
    assert pending["data"][-1] == 1  # proposed yesterday, this week
    rejected = next(s for s in data["series"] if s["key"] == "rejected")
    assert rejected["data"][-2] == 1 and sum(rejected["data"]) == 2


def test_approval_rate_per_rule_set(org, world):
    rows = {r["name"]: r for r in charts.approval_rates(org.dept_user, ChartFilters())}
    assert set(rows) == {"A规则", "Manual matches"} or set(rows) == {"A规则", "手动匹配"}
    a = rows["A规则"]
    assert (a["approved"], a["rejected"], a["total"], a["rate"]) == (2, 2, 5, 50.0)
    everyone = {r["name"]: r for r in charts.approval_rates(org.all_user, ChartFilters())}
    assert everyone["B规则"]["rate"] == 100.0


def test_conversion_to_deals_per_month_of_approval(org, world):
    data = charts.conversion_per_month(org.all_user, ChartFilters(), today=TODAY)
    assert data["months"][-1] == "2026-11"
    approved = scoped(org.all_user).filter(
        status="approved", reviewed_at__gte=at(TODAY.replace(day=1))
    )
    assert data["approved"][-1] == approved.count() == 4
    assert data["converted"][-1] == approved.exclude(converted_at=None).count() == 2
    assert data["rate"][-1] == 50.0
    assert data["rate"][0] is None  # no approvals that month


def test_by_industry_and_region_sum_to_the_visible_matches(org, world):
    for user in (org.dept_user, org.b_user, org.self_user):
        visible = scoped(user)
        industries = {
            r["code"]: r["count"] for r in charts.matches_by_industry(user, ChartFilters())
        }
        assert industries == dict(
            Counter(visible.values_list("project__industry_section", flat=True))
        )
        regions = {r["code"]: r["count"] for r in charts.matches_by_region(user, ChartFilters())}
        assert regions == dict(Counter(visible.values_list("project__province_code", flat=True)))
    names = {r["code"]: r["name"] for r in charts.matches_by_region(org.all_user, ChartFilters())}
    assert names["440000"].startswith("广东")


def test_filters_narrow_every_figure(org, world):
    filters = ChartFilters(date_from=TODAY - datetime.timedelta(days=4), rule_set=world["a"].pk)
    stats = charts.dashboard_statistics(org.all_user, filters, today=TODAY)
    expected = scoped(org.all_user).filter(
        rule_set=world["a"], proposed_at__gte=at(filters.date_from, 0)
    )
    assert stats["totals"]["matches"] == expected.count() == 2
    assert sum(r["count"] for r in stats["by_industry"]) == 2
    assert [r["name"] for r in stats["approval_rates"]] == ["A规则"]


def test_bad_filters_are_named():
    assert "date_to" in charts.check_filters(
        ChartFilters(date_from=TODAY, date_to=TODAY - datetime.timedelta(days=1))
    )
    assert "date_from" in charts.check_filters(ChartFilters(date_from=datetime.date(1900, 1, 1)))
    assert charts.check_filters(ChartFilters(date_from=TODAY)) == {}
