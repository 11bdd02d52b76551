"""The milestone calendar: a month grid of the milestones of every deal the viewer may see, on
their due dates, overdue ones red; ``?month=YYYY-MM`` navigates, department / owner / deal type
filter; bad parameters fall back rather than fail."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from ibcloud.deals import milestones
from tests.conftest import make_org
from tests.deals.factories import DealFactory, MilestoneFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)
URL = reverse("deals:milestone_calendar")

PERMS = ["deals.view_deal", "deals.view_milestone"]


@pytest.fixture
def org():
    return make_org(PERMS)


def shown(response) -> dict[str, str]:
    """Milestone name → the date of the cell it sits in."""
    assert response.status_code == 200
    return {
        item["milestone"].name: day["date"].isoformat()
        for week in response.context["weeks"]
        for day in week
        for item in day["items"]
    }


def test_milestones_sit_on_their_due_dates_within_reach(client, org):
    first = TODAY.replace(day=1)
    MilestoneFactory(name="甲", deal=DealFactory(lead=org.dept_user), due_date=first + 9 * DAY)
    MilestoneFactory(name="乙", deal=DealFactory(lead=org.b_user), due_date=first + 9 * DAY)

    client.force_login(org.dept_user)
    assert shown(client.get(URL)) == {"甲": (first + 9 * DAY).isoformat()}
    client.force_login(org.b_user)
    assert shown(client.get(URL)) == {"乙": (first + 9 * DAY).isoformat()}


def test_the_month_parameter_navigates_and_bad_values_fall_back(client, admin_user):
    MilestoneFactory(name="春节后", due_date=datetime.date(2027, 2, 20))
    client.force_login(admin_user)

    response = client.get(URL + "?month=2027-02")
    assert shown(response) == {"春节后": "2027-02-20"}
    assert response.context["previous"] == "2027-01" and response.context["next"] == "2027-03"
    for bad in ("2027-13", "abc", "99999-01", "2027-02-01", "١٢٣٤-01"):
        response = client.get(URL + "?month=" + bad)
        assert response.status_code == 200
        assert response.context["month"] == TODAY.replace(day=1)


def test_overdue_milestones_are_red_and_done_ones_are_not(client, admin_user):
    MilestoneFactory(name="逾期", due_date=TODAY - DAY)
    MilestoneFactory(name="已完成", due_date=TODAY - DAY, status="done", completed_on=TODAY)
    client.force_login(admin_user)
    month = (TODAY - DAY).strftime("%Y-%m")
    html = client.get(URL + "?month=" + month).content.decode()
    assert html.count('data-state="overdue"') == 1
    assert 'class="d-block small text-truncate rounded px-1 mb-1 overdue text-danger' in html
    assert "badge bg-danger" in html


def test_filters_by_department_owner_and_deal_type(client, admin_user, org):
    day = TODAY.replace(day=1) + 14 * DAY
    MilestoneFactory(
        name="乙债券",
        deal=DealFactory(lead=org.b_user, deal_type="bond", stage="initiation"),
        owner=org.b_user,
        due_date=day,
    )
    MilestoneFactory(name="甲IPO", deal=DealFactory(lead=org.dept_user), due_date=day)
    client.force_login(admin_user)

    assert set(shown(client.get(URL + f"?department={org.dept_b.pk}"))) == {"乙债券"}
    assert set(shown(client.get(URL + f"?owner={org.b_user.pk}"))) == {"乙债券"}
    assert set(shown(client.get(URL + "?deal_type=ipo"))) == {"甲IPO"}
    # an unknown value is a form error, not a 500; nothing is filtered then
    response = client.get(URL + "?department=999999999999&deal_type=spaceship")
    assert set(shown(response)) == {"乙债券", "甲IPO"}
    assert response.context["form"].errors


def test_the_grid_covers_whole_weeks_monday_first():
    weeks = milestones.month_weeks(datetime.date(2026, 11, 1))
    assert weeks[0][0] == datetime.date(2026, 10, 26)  # a Monday
    assert weeks[-1][-1] == datetime.date(2026, 12, 6)  # a Sunday
    assert all(len(week) == 7 for week in weeks)


def test_a_crowded_day_shows_a_few_and_links_the_rest_to_the_list(client, admin_user):
    day = TODAY.replace(day=1) + 3 * DAY
    for number in range(milestones.CALENDAR_DAY_ITEMS + 2):
        MilestoneFactory(name=f"拥挤{number}", due_date=day)
    client.force_login(admin_user)
    response = client.get(URL + "?deal_type=ipo")
    assert len(shown(response)) == milestones.CALENDAR_DAY_ITEMS
    html = response.content.decode()
    assert 'data-more="2"' in html
    link = f"?due_after={day.isoformat()}&due_before={day.isoformat()}&deal_type=ipo"
    assert link in html
