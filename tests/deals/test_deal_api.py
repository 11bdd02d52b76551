"""The deals API: CRUD through the services (stage validated against the type, code and owner
read-only), the list's filters, ``is_overdue``, export, the kanban's move, notes, opening from a
match; every 4xx answers ``{"code", "message", "details"}`` and the data scope holds."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from ibcloud.deals.models import Deal, DealActivity
from ibcloud.matching.models import Match
from tests.deals.factories import DealFactory, MilestoneFactory, deal_user
from tests.factories import DepartmentFactory
from tests.matching.factories import MatchFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/deals/deals/"


@pytest.fixture
def dept():
    return DepartmentFactory(name="投行一部", code="ib1")


@pytest.fixture
def banker(dept):
    return deal_user(dept, username="banker")


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_a_deal_created_through_the_api_starts_at_its_types_first_stage(api, banker, dept):
    response = api.as_user(banker).post(
        BASE,
        {"name": "API科技IPO", "deal_type": "ipo", "deal_size": "120000000.00", "code": "X-1"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["stage"] == "initiation" and body["lead"] == banker.pk
    assert body["owner"] == banker.pk and body["department"] == dept.pk
    assert body["code"].startswith("D") and body["code"] != "X-1"
    assert body["is_overdue"] is False
    deal = Deal.objects.get(pk=body["id"])
    assert deal.activities.filter(kind=DealActivity.Kind.CREATED).exists()


def test_a_stage_of_another_type_answers_400_with_the_field(api, banker, english):
    response = api.as_user(banker).post(
        BASE, {"name": "错", "deal_type": "ipo", "stage": "negotiation"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and "stage" in body["details"]
    assert "not a stage of this deal type" in body["message"]
    unknown = api.post(BASE, {"name": "错", "deal_type": "spaceship"}, format="json")
    assert unknown.status_code == 400 and "deal_type" in unknown.json()["details"]
    assert not Deal.objects.exists()


def test_changing_the_type_checks_the_stage_against_the_new_type(api, banker):
    deal = DealFactory(lead=banker, stage="due_diligence")
    url = f"{BASE}{deal.pk}/"
    refused = api.as_user(banker).patch(url, {"deal_type": "ma", "stage": "filing"}, format="json")
    assert refused.status_code == 400
    moved = api.patch(url, {"deal_type": "ma"}, format="json")
    assert moved.status_code == 200, moved.content
    from ibcloud.deals import services

    assert moved.json()["stage"] == services.first_stage("ma")


def test_closing_a_deal_dates_it_and_code_stays(api, banker):
    deal = DealFactory(lead=banker)
    response = api.as_user(banker).patch(
        f"{BASE}{deal.pk}/", {"status": "completed", "code": "HACK"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["closed_on"] == timezone.localdate().isoformat()
    assert response.json()["code"] == deal.code


def test_the_list_filters_and_marks_overdue_deals(api, banker):
    late = DealFactory(lead=banker, name="迟到")
    MilestoneFactory(deal=late, due_date=timezone.localdate() - datetime.timedelta(days=1))
    fine = DealFactory(lead=banker, name="准时", deal_type="bond", stage="registration")
    api.as_user(banker)
    assert ids(api.get(BASE, {"overdue": "true"})) == {late.pk}
    assert ids(api.get(BASE, {"deal_type": "bond"})) == {fine.pk}
    rows = {row["id"]: row for row in api.get(BASE).json()["results"]}
    assert rows[late.pk]["is_overdue"] is True and rows[fine.pk]["is_overdue"] is False


def test_bad_filter_values_answer_400_not_500(api, banker):
    api.as_user(banker)
    for params in (
        {"deal_type": "zzz"},
        {"opened_after": "yesterday"},
        {"lead": "abc"},
        {"department": "99999999999999999999"},
    ):
        response = api.get(BASE, params)
        assert response.status_code == 400, params
        assert set(response.json()) == {"code", "message", "details"}


def test_the_scope_holds_in_the_api(api, banker):
    outsider = deal_user(DepartmentFactory(name="投行二部", code="ib2"), username="outsider")
    mine = DealFactory(lead=banker)
    theirs = DealFactory(lead=outsider)
    api.as_user(banker)
    assert ids(api.get(BASE)) == {mine.pk}
    assert api.get(f"{BASE}{theirs.pk}/").status_code == 404
    assert api.post(f"{BASE}{theirs.pk}/move/", {"stage": "due_diligence"}).status_code == 404
    assert api.get(f"{BASE}{theirs.pk}/notes/").status_code == 404


def test_move_changes_the_stage_and_refuses_a_foreign_one(api, banker, english):
    deal = DealFactory(lead=banker)
    api.as_user(banker)
    moved = api.post(f"{BASE}{deal.pk}/move/", {"stage": "due_diligence"}, format="json")
    assert moved.status_code == 200 and moved.json()["stage"] == "due_diligence"
    refused = api.post(f"{BASE}{deal.pk}/move/", {"stage": "nowhere"}, format="json")
    assert refused.status_code == 400 and "stage" in refused.json()["details"]
    missing = api.post(f"{BASE}{deal.pk}/move/", {}, format="json")
    assert missing.status_code == 400


def test_move_needs_the_change_permission(api, dept):
    viewer = deal_user(dept, username="viewer", perms=["deals.view_deal"])
    deal = DealFactory(lead=viewer)
    response = api.as_user(viewer).post(f"{BASE}{deal.pk}/move/", {"stage": "due_diligence"})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_notes_are_listed_and_added(api, banker):
    deal = DealFactory(lead=banker)
    api.as_user(banker)
    added = api.post(f"{BASE}{deal.pk}/notes/", {"text": "见了投资经理"}, format="json")
    assert added.status_code == 201 and added.json()["kind"] == "note"
    listed = api.get(f"{BASE}{deal.pk}/notes/").json()["results"]
    assert [row["text"] for row in listed] == ["见了投资经理"]
    assert api.post(f"{BASE}{deal.pk}/notes/", {"text": ""}, format="json").status_code == 400


def test_export_downloads_the_filtered_list(api, banker):
    DealFactory(lead=banker)
    response = api.as_user(banker).get(f"{BASE}export/", {"file_format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert api.get(f"{BASE}export/", {"file_format": "pdf"}).status_code == 400


def test_a_deal_opens_from_an_approved_match(api, banker, dept):
    match = MatchFactory(status=Match.Status.APPROVED, assignee=banker, department=dept)
    response = api.as_user(banker).post(
        f"{BASE}from-match/", {"match": match.pk, "deal_type": "ma"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["match"] == match.pk and body["project"] == match.project_id
    assert body["investors"] == [match.investor_id] and body["deal_type"] == "ma"
    pending = MatchFactory(assignee=banker, department=dept)
    refused = api.post(f"{BASE}from-match/", {"match": pending.pk}, format="json")
    assert refused.status_code == 400 and "match" in refused.json()["details"]
    unseen = MatchFactory(
        status=Match.Status.APPROVED, department=DepartmentFactory(name="二部", code="ib2")
    )
    hidden = api.post(f"{BASE}from-match/", {"match": unseen.pk}, format="json")
    assert hidden.status_code == 400
    assert Deal.objects.count() == 1


def test_no_department_means_the_leads(api, banker, dept):
    response = api.as_user(banker).post(
        BASE, {"name": "无部门", "deal_type": "bond", "department": None}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["department"] == dept.pk


@pytest.mark.parametrize("action", ["notes", "attachments"])
def test_the_schema_describes_the_timeline_and_files_as_pages(action):
    """A client generated from the schema reads ``results`` of a page, as the API answers."""
    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)
    answer = document["paths"][f"{BASE}{{id}}/{action}/"]["get"]["responses"]["200"]
    reference = answer["content"]["application/json"]["schema"]["$ref"]
    page = document["components"]["schemas"][reference.rsplit("/", 1)[-1]]
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    assert page["properties"]["results"]["type"] == "array"
