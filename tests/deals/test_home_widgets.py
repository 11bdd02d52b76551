"""A banker's home page counts their active deals and the milestones waiting on them; each card
links to the list showing exactly those rows."""

import datetime

import pytest
from django.utils import timezone

from tests.deals.factories import DealFactory, MilestoneFactory, deal_user
from tests.factories import DepartmentFactory
from tests.home_cards import home_cards, rows_listed

pytestmark = pytest.mark.django_db


def test_my_deals_and_milestones_are_counted_and_linked_to_those_rows(client):
    department = DepartmentFactory(name="并购组", code="ma")
    banker = deal_user(department, "banker")
    colleague = deal_user(department, "colleague")
    today = timezone.localdate()
    day = datetime.timedelta(days=1)

    mine = DealFactory(lead=banker, name="我的项目一")
    DealFactory(lead=banker, name="我的项目二")
    DealFactory(lead=banker, name="暂停的项目", status="on_hold")
    theirs = DealFactory(lead=colleague, name="同事的项目")
    MilestoneFactory(deal=mine, owner=banker, name="逾期一", due_date=today - 3 * day)
    MilestoneFactory(deal=mine, owner=banker, name="今天到期", due_date=today)
    MilestoneFactory(deal=mine, owner=banker, name="六天后", due_date=today + 6 * day)
    MilestoneFactory(deal=mine, owner=banker, name="七天后", due_date=today + 7 * day)
    MilestoneFactory(deal=mine, owner=banker, name="已完成", due_date=today, status="done")
    MilestoneFactory(deal=theirs, owner=colleague, name="同事逾期", due_date=today - day)

    client.force_login(banker)
    cards = home_cards(client)
    expected = {
        "deals_mine_active": 2,
        "milestones_mine_overdue": 1,
        "milestones_mine_due_soon": 2,  # today and six days on: seven days in all
    }
    for key, count in expected.items():
        number, link = cards[key]
        assert number == count, key
        assert rows_listed(client, link) == count, (key, link)

    client.force_login(colleague)
    cards = home_cards(client)
    assert cards["deals_mine_active"][0] == 1
    assert cards["milestones_mine_overdue"][0] == 1
    assert cards["milestones_mine_due_soon"][0] == 0


def test_a_closed_deals_open_milestone_is_not_counted_overdue(client):
    department = DepartmentFactory(name="并购组", code="ma")
    banker = deal_user(department, "banker")
    closed = DealFactory(lead=banker, status="completed")
    MilestoneFactory(
        deal=closed, owner=banker, due_date=timezone.localdate() - datetime.timedelta(days=2)
    )
    client.force_login(banker)
    number, link = home_cards(client)["milestones_mine_overdue"]
    assert number == 0
    assert rows_listed(client, link) == 0


def test_the_cards_need_the_permission(client):
    department = DepartmentFactory(name="并购组", code="ma")
    client.force_login(deal_user(department, "no-deals", perms=["matching.view_match"]))
    cards = home_cards(client)
    assert "deals_mine_active" not in cards
    assert "milestones_mine_overdue" not in cards
