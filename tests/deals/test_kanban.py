"""The kanban: one column per stage of the chosen type, overdue cards red, a capped column links
to the filtered list; dragging a card posts the new stage, which is audited and goes on the
timeline; a stage outside the type, a viewer without the change permission and a deal outside
the user's reach are refused."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from ibcloud.audit.models import AuditEntry
from ibcloud.deals import services, views
from ibcloud.deals.models import Deal, DealActivity
from tests.catalog.factories import ProjectFactory
from tests.deals.factories import DealFactory, MilestoneFactory, deal_user
from tests.factories import DepartmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dept():
    return DepartmentFactory(name="投行一部", code="ib1")


@pytest.fixture
def banker(dept):
    return deal_user(dept, username="banker")


def test_one_column_per_stage_of_the_type_with_its_cards(client, banker):
    DealFactory(name="甲IPO", lead=banker, stage="due_diligence")
    DealFactory(name="乙并购", lead=banker, deal_type="ma", stage="negotiation")
    client.force_login(banker)
    response = client.get(reverse("deals:deal_kanban"), {"deal_type": "ipo"})
    assert response.status_code == 200
    columns = response.context["columns"]
    assert [c["stage"] for c in columns] == [s for s, _ in services.stage_choices("ipo")]
    by_stage = {c["stage"]: [card["deal"].name for card in c["cards"]] for c in columns}
    assert by_stage["due_diligence"] == ["甲IPO"]
    assert "乙并购" not in response.content.decode()


def test_the_kanban_defaults_to_ipo_and_keeps_the_lists_filters(client, banker):
    DealFactory(name="甲IPO", lead=banker, client="华东电力")
    DealFactory(name="乙IPO", lead=banker, client="西南矿业")
    client.force_login(banker)
    response = client.get(reverse("deals:deal_kanban"), {"q": "华东"})
    assert response.context["deal_type"] == "ipo"
    html = response.content.decode()
    assert "甲IPO" in html and "乙IPO" not in html


def test_an_overdue_deal_shows_red_on_its_card(client, banker):
    late = DealFactory(name="迟到科技", lead=banker)
    MilestoneFactory(deal=late, due_date=timezone.localdate() - datetime.timedelta(days=1))
    DealFactory(name="准时科技", lead=banker)
    client.force_login(banker)
    html = client.get(reverse("deals:deal_kanban")).content.decode()
    card = html.split(f'data-deal="{late.pk}"')[0].rsplit("<div", 1)[1]
    assert "overdue" in card
    body = html.split(f'data-deal="{late.pk}"')[1].split("kanban-card")[0]
    assert "text-danger" in body and "badge bg-danger" in body


def test_a_full_column_links_to_the_rest_in_the_list(client, banker, monkeypatch):
    monkeypatch.setattr(views, "KANBAN_CARDS", 2)
    for _ in range(3):
        DealFactory(lead=banker)
    client.force_login(banker)
    column = client.get(reverse("deals:deal_kanban")).context["columns"][0]
    assert column["count"] == 3 and len(column["cards"]) == 2 and column["more"] == 1
    assert "stage=initiation" in column["more_url"] and "deal_type=ipo" in column["more_url"]


def test_dragging_a_card_moves_the_deal_audited_and_on_the_timeline(client, banker):
    deal = DealFactory(lead=banker)
    client.force_login(banker)
    response = client.post(reverse("deals:deal_move", args=[deal.pk]), {"stage": "due_diligence"})
    assert response.status_code == 200
    assert response.json()["stage"] == "due_diligence"
    deal.refresh_from_db()
    assert deal.stage == "due_diligence" and deal.stage_changed_at is not None
    entry = AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Deal),
        object_pk=str(deal.pk),
        actor=banker,
    ).latest("timestamp")
    assert entry.changes["stage"] == ["initiation", "due_diligence"]
    assert deal.activities.filter(kind=DealActivity.Kind.STAGE).count() == 1


def test_a_stage_outside_the_type_is_refused_with_a_message(client, banker, english):
    deal = DealFactory(lead=banker)
    client.force_login(banker)
    response = client.post(reverse("deals:deal_move", args=[deal.pk]), {"stage": "negotiation"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and "not a stage of this deal type" in body["message"]
    deal.refresh_from_db()
    assert deal.stage == "initiation"


def test_moving_needs_the_change_permission_and_the_deal_in_reach(client, banker, dept):
    viewer = deal_user(dept, username="viewer", perms=["deals.view_deal"])
    deal = DealFactory(lead=banker)
    client.force_login(viewer)
    url = reverse("deals:deal_move", args=[deal.pk])
    assert client.post(url, {"stage": "due_diligence"}).status_code == 403
    outsider = deal_user(DepartmentFactory(name="投行二部", code="ib2"), username="outsider")
    client.force_login(outsider)
    assert client.post(url, {"stage": "due_diligence"}).status_code == 404
    deal.refresh_from_db()
    assert deal.stage == "initiation"


def test_a_viewer_sees_cards_they_cannot_drag(client, banker, dept):
    viewer = deal_user(dept, username="viewer", perms=["deals.view_deal"])
    deal = DealFactory(lead=banker)
    client.force_login(viewer)
    html = client.get(reverse("deals:deal_kanban")).content.decode()
    assert f'data-deal="{deal.pk}"' in html
    assert reverse("deals:deal_move", args=[deal.pk]) not in html


def test_the_hidden_record_filters_carry_over_without_a_label(client, banker):
    """The list's links from a project or investor page pass ``project`` / ``investor``: the
    kanban keeps them as hidden fields, with no empty labelled box in its filter bar."""
    mine = DealFactory(
        name="甲IPO", lead=banker, project=ProjectFactory(department=banker.department)
    )
    DealFactory(name="乙IPO", lead=banker)
    client.force_login(banker)
    response = client.get(reverse("deals:deal_kanban"), {"project": mine.project_id})
    html = response.content.decode()
    assert "甲IPO" in html and "乙IPO" not in html
    assert f'type="hidden" name="project" value="{mine.project_id}"' in html
    assert 'for="id_project"' not in html and 'for="id_investor"' not in html
