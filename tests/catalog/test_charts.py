"""Dashboard statistics: each chart's figures equal counts made independently, within scope."""

from __future__ import annotations

import datetime
from collections import Counter

import pytest
from django.utils import timezone

from ibcloud.catalog import charts
from ibcloud.catalog.charts import ChartFilters
from ibcloud.catalog.models import Project
from ibcloud.core import charts as core_charts
from tests.catalog.factories import InvestorFactory, ProjectFactory
from tests.conftest import make_org
from tests.factories import CrawlSourceFactory, RawItemFactory

pytestmark = pytest.mark.django_db

PERMS = ["catalog.view_project", "catalog.view_investor", "crawler.view_rawitem"]
TODAY = datetime.date(2026, 11, 25)  # a Wednesday; its week starts on Monday 23 November


def at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def days_ago(n: int, hour: int = 10) -> datetime.datetime:
    return at(TODAY - datetime.timedelta(days=n), hour)


@pytest.fixture
def org():
    return make_org(PERMS)


@pytest.fixture
def catalog(org):
    """Projects in A (owned by dept_user) and B (b_user) across sections, provinces and weeks."""
    rows = [
        # (department, section, division, province code, province, days ago)
        ("a", "I", "65", "440000", "广东省", 0),
        ("a", "I", "65", "440000", "广东省", 2),
        ("a", "I", "64", "110000", "北京市", 9),
        ("a", "C", "35", "440000", "广东省", 9),
        ("a", "C", "27", "310000", "上海市", 30),
        ("a", "", "", "", "", 1),
        ("b", "C", "35", "110000", "北京市", 3),
        ("b", "Q", "84", "310000", "上海市", 16),
        ("b", "I", "65", "440000", "广东省", 400),  # outside the default 26 weeks
    ]
    made = []
    for dept, section, division, code, province, ago in rows:
        owner = org.dept_user if dept == "a" else org.b_user
        made.append(
            ProjectFactory(
                owner=owner,
                department=owner.department,
                industry_section=section,
                industry=division,
                province_code=code,
                province=province,
                first_seen_at=days_ago(ago),
            )
        )
    return made


def expected_weekly(projects, key, weeks) -> dict:
    """Per key, projects per week: counted row by row in Python, not by the database."""
    counts: dict = {}
    for project in projects:
        local = timezone.localtime(project.first_seen_at).date()
        monday = local - datetime.timedelta(days=local.weekday())
        if monday in weeks:
            counts.setdefault(key(project), Counter())[monday] += 1
    return {k: [c[w] for w in weeks] for k, c in counts.items()}


def test_week_buckets_cover_the_default_period_up_to_today():
    first, last = charts.series_period(ChartFilters(), today=TODAY)
    weeks = charts.week_starts(first, last)
    assert len(weeks) == core_charts.DEFAULT_WEEKS
    assert weeks[-1] == datetime.date(2026, 11, 23)
    assert all(week.weekday() == 0 for week in weeks)
    assert last == TODAY


def test_industry_over_time_equals_independent_weekly_counts(org, catalog):
    data = charts.industry_over_time(org.admin, ChartFilters(), today=TODAY)
    weeks = [datetime.date.fromisoformat(w) for w in data["weeks"]]
    expected = expected_weekly(Project.objects.all(), lambda p: p.industry_section, weeks)
    got = {series["key"]: series["data"] for series in data["series"]}
    assert got == expected
    names = {series["key"]: series["name"] for series in data["series"]}
    assert names["I"] == "信息传输、软件和信息技术服务业"
    assert names["C"] == "制造业"
    # The largest section comes first.
    assert data["series"][0]["key"] in {"I", "C"}
    assert sum(data["series"][0]["data"]) == 3


def test_industry_over_time_sums_small_sections_as_other(org, catalog, monkeypatch):
    monkeypatch.setattr(charts, "TOP_SERIES", 1)
    data = charts.industry_over_time(org.admin, ChartFilters(), today=TODAY)
    assert [series["key"] for series in data["series"]] == ["I", None]
    in_period = [p for p in catalog if p.first_seen_at >= days_ago(7 * core_charts.DEFAULT_WEEKS)]
    assert sum(data["series"][0]["data"]) == 3  # I and C tie at 3; names break the tie
    assert sum(data["series"][1]["data"]) == len(in_period) - 3


def test_items_per_source_counts_raw_items_per_week_in_the_users_reach(org):
    mine = CrawlSourceFactory(name="源甲", owner=org.dept_user)
    theirs = CrawlSourceFactory(name="源乙", owner=org.b_user)
    for ago in (0, 1, 8, 8, 8):
        RawItemFactory(source=mine, fetched_at=days_ago(ago))
    for ago in (0, 15):
        RawItemFactory(source=theirs, fetched_at=days_ago(ago))
    RawItemFactory(source=theirs, item_type="investor", fetched_at=days_ago(1))

    data = charts.items_per_source(org.admin, ChartFilters(), today=TODAY)
    by_name = {series["name"]: series["data"] for series in data["series"]}
    assert by_name["源甲"][-1] == 2 and by_name["源甲"][-2] == 3 and sum(by_name["源甲"]) == 5
    assert by_name["源乙"][-1] == 2 and by_name["源乙"][-3] == 1 and sum(by_name["源乙"]) == 3
    assert data["series"][0]["name"] == "源甲"  # busiest first

    investors_only = charts.items_per_source(
        org.admin, ChartFilters(item_type="investor"), today=TODAY
    )
    assert [(s["name"], sum(s["data"])) for s in investors_only["series"]] == [("源乙", 1)]

    scoped = charts.items_per_source(org.dept_user, ChartFilters(), today=TODAY)
    assert [s["name"] for s in scoped["series"]] == ["源甲"]


def test_industry_counts_with_divisions(org, catalog):
    data = charts.industry_counts(org.admin, ChartFilters())
    expected = Counter(p.industry_section for p in Project.objects.all())
    assert {s["code"]: s["count"] for s in data["sections"]} == dict(expected)
    assert data["total"] == len(catalog)
    assert [s["code"] for s in data["sections"]][:2] == ["I", "C"]  # 4 each, by code on a tie
    section_i = next(s for s in data["sections"] if s["code"] == "I")
    assert section_i["divisions"] == [
        {"code": "65", "name": "软件和信息技术服务业", "count": 3},
        {"code": "64", "name": "互联网和相关服务", "count": 1},
    ]
    unclassified = next(s for s in data["sections"] if s["code"] == "")
    assert unclassified["count"] == 1 and unclassified["name"]


def test_sections_without_a_known_division_count_under_their_stored_section(org):
    ProjectFactory(industry_section="C", industry="")
    ProjectFactory(industry_section="C", industry="35")
    ProjectFactory(industry_section="K", industry="99")  # not a GB/T 4754 division
    data = charts.industry_counts(org.admin, ChartFilters())
    assert {s["code"]: s["count"] for s in data["sections"]} == {"C": 2, "K": 1}
    section_c = data["sections"][0]
    assert {d["code"]: d["count"] for d in section_c["divisions"]} == {"35": 1, "": 1}
    heat = charts.region_industry_heatmap(org.admin, ChartFilters())
    assert [s["code"] for s in heat["sections"]] == ["C", "K"]
    assert heat["cells"] == [[0, 0, 2], [1, 0, 1]]


def test_region_industry_heatmap_cells_equal_independent_counts(org, catalog):
    data = charts.region_industry_heatmap(org.admin, ChartFilters())
    provinces = [p["code"] for p in data["provinces"]]
    sections = [s["code"] for s in data["sections"]]
    got = {(sections[x], provinces[y]): n for x, y, n in data["cells"]}
    expected = Counter((p.industry_section, p.province_code) for p in Project.objects.all())
    assert got == dict(expected)
    assert provinces[0] == "440000"  # 广东: 4 projects, the most
    assert data["provinces"][0]["name"] == "广东省"
    assert data["max"] == max(expected.values())


def test_date_range_limits_every_chart(org, catalog):
    filters = ChartFilters(
        date_from=TODAY - datetime.timedelta(days=9), date_to=TODAY - datetime.timedelta(days=1)
    )
    in_range = [
        p
        for p in catalog
        if filters.date_from <= timezone.localtime(p.first_seen_at).date() <= filters.date_to
    ]
    assert charts.industry_counts(org.admin, filters)["total"] == len(in_range) == 5
    heat = charts.region_industry_heatmap(org.admin, filters)
    assert sum(cell[2] for cell in heat["cells"]) == len(in_range)
    series = charts.industry_over_time(org.admin, filters, today=TODAY)
    assert sum(sum(s["data"]) for s in series["series"]) == len(in_range)
    assert series["weeks"][0] == "2026-11-16"
    assert charts.totals(org.admin, filters)["projects"] == len(in_range)


def test_every_figure_counts_only_what_the_user_may_see(org, catalog):
    InvestorFactory(owner=org.b_user, department=org.dept_b, first_seen_at=days_ago(1))
    for user, dept in ((org.dept_user, org.dept_a), (org.b_user, org.dept_b)):
        visible = [p for p in catalog if p.department_id == dept.pk]
        stats = charts.dashboard_statistics(user, ChartFilters(), today=TODAY)
        assert stats["totals"]["projects"] == len(visible)
        assert stats["industry_counts"]["total"] == len(visible)
        assert sum(c[2] for c in stats["region_industry"]["cells"]) == len(visible)
        weeks = [datetime.date.fromisoformat(w) for w in stats["industry_over_time"]["weeks"]]
        expected = expected_weekly(visible, lambda p: p.industry_section, weeks)
        got = {s["key"]: s["data"] for s in stats["industry_over_time"]["series"]}
        assert got == expected
    assert charts.dashboard_statistics(org.dept_user)["totals"]["investors"] == 0
    assert charts.dashboard_statistics(org.b_user)["totals"]["investors"] == 1


def test_self_scope_sees_only_own_projects(org, catalog):
    ProjectFactory(owner=org.self_user, department=org.dept_a, first_seen_at=days_ago(1))
    stats = charts.dashboard_statistics(org.self_user, ChartFilters(), today=TODAY)
    assert stats["totals"]["projects"] == 1
    assert stats["industry_counts"]["total"] == 1


def test_without_permission_nothing_is_counted(catalog):
    from tests.factories import UserFactory

    stranger = UserFactory(username="stranger")
    stats = charts.dashboard_statistics(stranger, ChartFilters(), today=TODAY)
    assert stats["totals"] == {"projects": 0, "investors": 0, "raw_items": 0}
    assert stats["industry_counts"]["sections"] == []
    assert stats["region_industry"]["cells"] == []


def test_item_type_leaves_out_the_other_types_charts(org, catalog):
    InvestorFactory(investor_type="pe", first_seen_at=days_ago(1))
    InvestorFactory(investor_type="vc", province_code="440000", province="广东省")
    InvestorFactory(investor_type="vc")
    investors = charts.dashboard_statistics(org.admin, ChartFilters(item_type="investor"))
    assert investors["industry_counts"] is None and investors["region_industry"] is None
    assert investors["totals"]["projects"] is None
    assert investors["investors"]["by_type"][0]["code"] == "vc"
    assert investors["investors"]["by_type"][0]["count"] == 2
    assert {r["code"]: r["count"] for r in investors["investors"]["by_region"]} == {
        "110000": 2,
        "440000": 1,
    }
    projects = charts.dashboard_statistics(org.admin, ChartFilters(item_type="project"))
    assert projects["investors"] is None and projects["totals"]["investors"] is None


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        (ChartFilters(date_from=TODAY, date_to=TODAY - datetime.timedelta(days=1)), "date_to"),
        (ChartFilters(date_from=datetime.date(1, 1, 1)), "date_from"),
        (ChartFilters(date_from=TODAY - datetime.timedelta(days=4000), date_to=TODAY), "date_to"),
        (ChartFilters(item_type="deal"), "item_type"),
    ],
)
def test_bad_filters_are_refused(filters, field):
    assert field in charts.check_filters(filters)


def test_good_filters_pass():
    assert charts.check_filters(ChartFilters(date_from=TODAY, item_type="project")) == {}
