"""The deal dashboard: every figure equals counts made independently over the deals and
milestones the viewer may see; each chart's drill-down filter lists exactly the deals it counts;
overdue deals are counted and shown in red; the API answers the same figures and refuses bad
filters with a 400."""

from __future__ import annotations

import datetime
import json

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from ibcloud.deals import charts
from ibcloud.deals.charts import ChartFilters
from ibcloud.deals.filters import DealFilterSet
from ibcloud.deals.milestone_filters import MilestoneFilterSet
from ibcloud.deals.models import Deal, Milestone
from tests.conftest import make_org
from tests.deals.factories import DealFactory, MilestoneFactory
from tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

PERMS = ["deals.view_deal", "deals.view_milestone", "deals.export_deal_report"]


def days(n: int) -> datetime.date:
    """``n`` days from today (negative: ago)."""
    return timezone.localdate() + datetime.timedelta(days=n)


@pytest.fixture
def org():
    return make_org(PERMS)


@pytest.fixture
def world(org):
    """Department A: two IPOs (one in software, division 65 of section I, with an overdue
    milestone), an M&A deal closed last month; department B: a bond deal and an IPO opened two
    years ago (outside the default range)."""
    a = org.dept_user
    b = org.b_user
    deals = {
        "ipo_late": DealFactory(lead=a, deal_type="ipo", stage="filing", industry="65"),
        "ipo": DealFactory(lead=a, deal_type="ipo", stage="initiation", industry="I"),
        "ma": DealFactory(
            lead=a,
            deal_type="ma",
            stage="closing",
            industry="C",
            opened_on=days(-70),
            status=Deal.Status.COMPLETED,
            closed_on=days(-35),
            expected_fee=500_000,
        ),
        "bond": DealFactory(lead=b, deal_type="bond", stage="initiation", industry="J"),
        "old": DealFactory(lead=b, deal_type="ipo", opened_on=days(-730), industry="J"),
    }
    MilestoneFactory(deal=deals["ipo_late"], due_date=days(-3), owner=a)
    MilestoneFactory(deal=deals["ipo_late"], due_date=days(-2), owner=a)  # same deal: one deal
    MilestoneFactory(deal=deals["ipo"], due_date=days(-3), status=Milestone.Status.DONE)
    MilestoneFactory(deal=deals["ma"], due_date=days(7))
    MilestoneFactory(deal=deals["bond"], due_date=days(7))
    return deals


def figures(user, **filters):
    return charts.for_user(user, ChartFilters(**filters))


def counts(rows, key="code"):
    return {row[key]: row["count"] for row in rows}


# --- Figures and scope ----------------------------------------------------------------------------


def test_a_department_viewer_counts_only_their_departments_deals(org, world):
    mine = figures(org.dept_user)
    assert counts(mine["by_type"]) == {"ipo": 2, "ma": 1}
    assert counts(mine["by_department"]) == {str(org.dept_a.pk): 3}
    theirs = figures(org.b_user)
    assert counts(theirs["by_type"]) == {"bond": 1}  # the old IPO is outside the range
    everyone = figures(org.all_user)
    assert counts(everyone["by_type"]) == {"ipo": 2, "ma": 1, "bond": 1}


def test_every_data_scope_reaches_the_figures(org, world):
    """Own records, chosen departments and department-and-below, as the lists see them."""
    DealFactory(lead=org.self_user, deal_type="advisory", stage="initiation")
    DealFactory(lead=UserFactory(department=org.dept_a1), deal_type="other", stage="lead")
    assert counts(figures(org.self_user)["by_type"]) == {"advisory": 1}
    assert counts(figures(org.custom_user)["by_type"]) == {"bond": 1}
    below = counts(figures(org.dept_and_below_user)["by_type"])
    assert below == {"ipo": 2, "ma": 1, "advisory": 1, "other": 1}
    assert counts(figures(org.dept_user)["by_type"]) == {"ipo": 2, "ma": 1, "advisory": 1}
    for user in (org.self_user, org.custom_user, org.dept_and_below_user, org.all_user):
        data = figures(user)
        first, last = data["filters"]["series_from"], data["filters"]["series_to"]
        scoped = Deal.objects.restrict(user, "view")
        opened = scoped.filter(opened_on__gte=first, opened_on__lte=last).count()
        assert sum(counts(data["by_type"]).values()) == opened, user


def test_opened_and_closed_are_counted_in_their_month(org, world):
    month = figures(org.all_user)["per_month"]
    assert len(month["months"]) == 12 and month["months"][-1] == days(0).strftime("%Y-%m")
    opened = dict(zip(month["months"], month["opened"], strict=True))
    closed = dict(zip(month["months"], month["closed"], strict=True))
    assert opened[days(0).strftime("%Y-%m")] == 3
    assert opened[days(-70).strftime("%Y-%m")] == 1
    assert sum(month["opened"]) == 4  # the deal opened two years ago is outside the range
    assert closed[days(-35).strftime("%Y-%m")] == 1 and sum(month["closed"]) == 1


def test_stages_follow_the_pipeline_and_carry_type_and_stage_labels(org, world):
    stages = figures(org.all_user)["by_stage"]
    assert [(r["deal_type"], r["stage"], r["count"]) for r in stages] == [
        ("ipo", "initiation", 1),
        ("ipo", "filing", 1),
        ("ma", "closing", 1),
        ("bond", "initiation", 1),
    ]
    assert stages[1]["name"] == "IPO · 申报"


def test_a_division_counts_in_its_industry_section(org, world):
    industries = counts(figures(org.dept_user)["by_industry"])
    assert industries == {"I": 2, "C": 1}


def test_small_slices_are_summed_as_other(org):
    for i, section in enumerate("ABCDEFGHIJK"):
        DealFactory.create_batch(i + 1, lead=org.dept_user, industry=section)
    rows = figures(org.dept_user)["by_industry"]
    assert len(rows) == charts.TOP_SLICES + 1
    assert rows[0] == {"code": "K", "name": rows[0]["name"], "count": 11}
    assert rows[-1]["code"] is None and rows[-1]["count"] == 1 + 2 + 3


def test_kpis_count_each_overdue_deal_once_and_only_open_milestones(org, world):
    kpis = figures(org.dept_user)["kpis"]
    assert kpis["overdue_deals"] == 1
    assert kpis["overdue_milestones"] == 2  # the done one is not overdue
    assert kpis["active_deals"] == 2
    assert kpis["expected_fee"] == 6_000_000  # the completed deal's fee is not pipeline


def test_the_heatmap_counts_open_milestones_due_per_week_by_department(org, world):
    heat = figures(org.all_user)["milestones_heatmap"]
    names = [d["name"] for d in heat["departments"]]
    assert set(names) == {org.dept_a.name, org.dept_b.name}
    cells = {
        (heat["departments"][row]["code"], heat["weeks"][week]): n for week, row, n in heat["cells"]
    }

    def monday(day):
        return (day - datetime.timedelta(days=day.weekday())).isoformat()

    expected: dict = {}
    # the done milestone of department A (3 days ago) is not counted
    for day, dept in [(-3, "a"), (-2, "a"), (7, "a"), (7, "b")]:
        key = (str(getattr(org, f"dept_{dept}").pk), monday(days(day)))
        expected[key] = expected.get(key, 0) + 1
    assert cells == expected
    assert heat["max"] == max(expected.values())
    # a department's viewer (a narrowed set, counted by another query plan) sees the same
    mine = figures(org.dept_user)["milestones_heatmap"]
    assert sum(cell[2] for cell in mine["cells"]) == 3


def test_filters_narrow_every_figure(org, world):
    only_ma = figures(org.all_user, deal_type="ma")
    assert counts(only_ma["by_type"]) == {"ma": 1}
    assert only_ma["kpis"]["active_deals"] == 0
    only_b = figures(org.all_user, department=org.dept_b.pk)
    assert counts(only_b["by_type"]) == {"bond": 1}
    assert len(only_b["milestones_heatmap"]["cells"]) == 1
    old = figures(org.all_user, date_from=days(-800), date_to=days(-700))
    assert counts(old["by_type"]) == {"ipo": 1}


def test_bad_filters_are_field_errors():
    errors = charts.check_filters(ChartFilters(date_from=days(0), date_to=days(-1)))
    assert "date_to" in errors
    assert "deal_type" in charts.check_filters(ChartFilters(deal_type="nope"))


def test_each_drill_down_filter_lists_exactly_the_deals_a_chart_counts(org, world, rf):
    user = org.all_user
    data = figures(user)
    request = rf.get("/")
    request.user = user
    scoped = Deal.objects.restrict(user, "view")
    opened = {
        "opened_after": data["filters"]["series_from"],
        "opened_before": data["filters"]["series_to"],
    }

    def listed(params):
        filterset = DealFilterSet(params, queryset=scoped, request=request)
        assert filterset.is_valid(), filterset.errors
        return filterset.qs.count()

    for row in data["by_type"]:
        assert listed({**opened, "deal_type": row["code"]}) == row["count"]
    for row in data["by_stage"]:
        params = {**opened, "deal_type": row["deal_type"], "stage": row["stage"]}
        assert listed(params) == row["count"]
    for row in data["by_industry"]:
        assert listed({**opened, "industry": row["code"]}) == row["count"]
    for row in data["by_department"]:
        assert listed({**opened, "department": row["code"]}) == row["count"]
    assert listed({"overdue": "true"}) == data["kpis"]["overdue_deals"]


def test_each_heatmap_cell_links_to_the_milestones_it_counts(org, world, rf):
    user = org.all_user
    # a range starting mid-week: the first column counts only the days from its start
    start = days(-9)
    data = figures(user, date_from=start, date_to=days(20))
    heat = data["milestones_heatmap"]
    scoped = Milestone.objects.restrict(user, "view")
    request = rf.get("/")
    request.user = user

    def listed(params):
        query = QueryDict(urlencode(params, doseq=True))
        filterset = MilestoneFilterSet(query, queryset=scoped, request=request)
        assert filterset.is_valid(), filterset.errors
        return filterset.qs.count()

    assert heat["cells"]
    for week, row, n in heat["cells"]:
        monday = datetime.date.fromisoformat(heat["weeks"][week])
        first = max(monday, start)
        last = min(monday + datetime.timedelta(days=6), days(20))
        params = {
            "status": heat["statuses"],
            "department": heat["departments"][row]["code"],
            "due_after": first.isoformat(),
            "due_before": last.isoformat(),
        }
        assert listed(params) == n
    assert listed({"overdue": "true"}) == data["kpis"]["overdue_milestones"]


# --- The page -------------------------------------------------------------------------------------


def test_the_page_shows_the_overdue_count_in_red_linking_to_the_list(org, world, client):
    client.force_login(org.dept_user)
    response = client.get(reverse("deals:dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="overdue-card"' in html and "card card-sm overdue" in html
    link = reverse("deals:deal_list") + "?overdue=true"
    assert f'href="{reverse("deals:milestone_list")}?overdue=true"' in html
    assert f'class="h2 mb-0 d-block text-danger" href="{link}" data-card="overdue_deals">1<' in html
    assert "badge bg-danger" in html
    data = json.loads(
        html.split('id="deals-dashboard-data" type="application/json">')[1].split("<")[0]
    )
    assert data["by_type"] == figures(org.dept_user)["by_type"]
    assert data["deal_list_url"] == reverse("deals:deal_list")


def test_the_page_keeps_crawled_names_inert(org, client):
    DealFactory(lead=org.dept_user, name="<script>alert(1)</script>")
    department = org.dept_a
    department.name = "<img src=x onerror=alert(1)>"
    department.save()
    client.force_login(org.dept_user)
    html = client.get(reverse("deals:dashboard")).content.decode()
    assert "<img src=x" not in html


def test_the_cards_links_keep_the_department_and_type_filters(org, world, client):
    client.force_login(org.all_user)
    html = client.get(
        reverse("deals:dashboard"), {"department": org.dept_a.pk, "deal_type": "ipo"}
    ).content.decode()
    query = f"department={org.dept_a.pk}&amp;deal_type=ipo&amp;overdue=true"
    assert f'href="{reverse("deals:deal_list")}?{query}"' in html
    assert f'href="{reverse("deals:milestone_list")}?{query}"' in html


def test_a_bad_date_range_is_a_field_error_on_the_page(org, client, english):
    client.force_login(org.dept_user)
    response = client.get(
        reverse("deals:dashboard"), {"date_from": "2026-05-01", "date_to": "2026-01-01"}
    )
    assert response.status_code == 200
    assert "The end date must not be before the start date." in response.content.decode()


def test_the_page_needs_the_view_permission(org, client):
    outsider = UserFactory(roles=[RoleFactory(data_scope="all", perms=["deals.view_milestone"])])
    client.force_login(outsider)
    assert client.get(reverse("deals:dashboard")).status_code == 403
    client.logout()
    assert client.get(reverse("deals:dashboard")).status_code == 302


def test_the_report_buttons_show_only_with_the_report_permission(org, client):
    viewer = UserFactory(roles=[RoleFactory(data_scope="all", perms=PERMS[:2])])
    client.force_login(viewer)
    assert 'id="dashboard-pptx"' not in client.get(reverse("deals:dashboard")).content.decode()
    client.force_login(org.dept_user)
    assert 'id="dashboard-pptx"' in client.get(reverse("deals:dashboard")).content.decode()


# --- The API --------------------------------------------------------------------------------------


def test_the_api_answers_the_pages_figures_for_the_callers_scope(org, world, api):
    response = api.as_user(org.b_user).get("/api/v1/deals/dashboard/")
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(figures(org.b_user)))
    assert counts(response.json()["by_type"]) == {"bond": 1}


def test_the_api_takes_the_filters(org, world, api):
    response = api.as_user(org.all_user).get(
        "/api/v1/deals/dashboard/", {"deal_type": "ma", "department": org.dept_a.pk}
    )
    assert counts(response.json()["by_type"]) == {"ma": 1}


def test_the_api_refuses_a_department_outside_the_callers_reach(org, world, api):
    """As the page's form does: the deck's title would otherwise name any department."""
    api.as_user(org.b_user)
    for path in ("/api/v1/deals/dashboard/", "/api/v1/deals/dashboard/pptx/"):
        response = api.get(path, {"department": org.dept_a.pk})
        assert response.status_code == 400, path
        assert "department" in response.json()["details"]


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "yesterday"},
        {"date_from": "2026-05-01", "date_to": "2026-01-01"},
        {"date_from": "1900-01-01"},
        {"department": "abc"},
        {"department": "0"},
        {"department": str(2**40)},
        {"deal_type": "nope"},
    ],
)
def test_bad_filters_answer_400_in_the_error_format(org, api, query):
    response = api.as_user(org.all_user).get("/api/v1/deals/dashboard/", query)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "details"}


def test_the_api_needs_the_view_permission(api):
    outsider = UserFactory(roles=[RoleFactory(data_scope="all", perms=["deals.view_milestone"])])
    assert api.as_user(outsider).get("/api/v1/deals/dashboard/").status_code == 403
