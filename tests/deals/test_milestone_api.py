"""Milestone API: scoped CRUD with ``is_overdue``, the deal checked against the caller's "change"
reach (400, never 500), validation as in the UI, ``apply-template/``, export, and the
milestone-template CRUD with nested items."""

import datetime

import pytest
from django.utils import timezone

from ibcloud.deals.models import DealActivity, Milestone, MilestoneTemplate
from tests.conftest import make_org
from tests.deals.factories import DealFactory, MilestoneFactory, MilestoneTemplateFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)
URL = "/api/v1/deals/milestones/"
TEMPLATES = "/api/v1/deals/milestone-templates/"

PERMS = [
    "deals.view_deal",
    "deals.change_deal",
    "deals.view_milestone",
    "deals.add_milestone",
    "deals.change_milestone",
    "deals.delete_milestone",
    "deals.view_milestonetemplate",
]


@pytest.fixture
def org():
    return make_org(PERMS)


@pytest.fixture
def deals(org):
    return {"a": DealFactory(lead=org.dept_user), "b": DealFactory(lead=org.b_user)}


def names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["name"] for row in response.json()["results"]}


def test_the_list_is_scoped_and_says_which_are_overdue(api, org, deals):
    MilestoneFactory(deal=deals["a"], name="甲逾期", due_date=TODAY - DAY)
    MilestoneFactory(deal=deals["b"], name="乙", due_date=TODAY + DAY)

    client = api.as_user(org.dept_user)
    rows = client.get(URL).json()["results"]
    assert [(row["name"], row["is_overdue"]) for row in rows] == [("甲逾期", True)]
    assert names(api.as_user(org.b_user).get(URL)) == {"乙"}
    assert names(api.as_user(org.all_user).get(URL + "?overdue=false")) == {"乙"}


def test_creating_on_a_deal_within_change_reach_notes_it(api, org, deals):
    response = api.as_user(org.dept_user).post(
        URL,
        {"deal": deals["a"].pk, "name": "内核", "due_date": (TODAY + 5 * DAY).isoformat()},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["owner"] is None and body["status"] == "pending" and body["is_overdue"] is False
    assert deals["a"].activities.filter(kind=DealActivity.Kind.MILESTONE).exists()


def test_a_deal_out_of_reach_or_unknown_is_a_400_on_the_deal_field(api, org, deals):
    client = api.as_user(org.dept_user)
    for deal_id in (deals["b"].pk, 987654321, 2**62):
        response = client.post(
            URL, {"deal": deal_id, "name": "x", "due_date": TODAY.isoformat()}, format="json"
        )
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "invalid"
        assert "deal" in response.json()["details"]
    assert not Milestone.objects.exists()


def test_moving_a_milestone_to_a_deal_out_of_reach_is_refused(api, org, deals):
    milestone = MilestoneFactory(deal=deals["a"])
    response = api.as_user(org.dept_user).patch(
        f"{URL}{milestone.pk}/", {"deal": deals["b"].pk}, format="json"
    )
    assert response.status_code == 400
    milestone.refresh_from_db()
    assert milestone.deal == deals["a"]


def test_validation_matches_the_ui(api, org, deals):
    client = api.as_user(org.dept_user)
    base = {"deal": deals["a"].pk, "name": "发行"}
    cases = [
        ({}, "due_date"),
        ({"due_date": "2026-02-30"}, "due_date"),
        ({"due_date": TODAY.isoformat(), "start_date": (TODAY + DAY).isoformat()}, "start_date"),
        (
            {
                "due_date": TODAY.isoformat(),
                "status": "done",
                "completed_on": (TODAY + DAY).isoformat(),
            },
            "completed_on",
        ),
        ({"due_date": TODAY.isoformat(), "status": "finished"}, "status"),
        ({"due_date": TODAY.isoformat(), "owner": 2**62}, "owner"),
        ({"due_date": TODAY.isoformat(), "sort_order": -1}, "sort_order"),
    ]
    for extra, field in cases:
        response = client.post(URL, {**base, **extra}, format="json")
        assert response.status_code == 400, (extra, response.content)
        assert field in response.json()["details"], (extra, response.json())


def test_marking_done_fills_the_completion_date(api, org, deals):
    milestone = MilestoneFactory(deal=deals["a"], due_date=TODAY - DAY)
    response = api.as_user(org.dept_user).patch(
        f"{URL}{milestone.pk}/", {"status": "done"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["completed_on"] == TODAY.isoformat()
    assert response.json()["is_overdue"] is False


def test_out_of_scope_ids_answer_404(api, org, deals):
    milestone = MilestoneFactory(deal=deals["b"])
    client = api.as_user(org.dept_user)
    assert client.get(f"{URL}{milestone.pk}/").status_code == 404
    assert client.delete(f"{URL}{milestone.pk}/").status_code == 404
    assert Milestone.objects.filter(pk=milestone.pk).exists()


def test_deleting_leaves_a_line_on_the_timeline(api, org, deals):
    milestone = MilestoneFactory(deal=deals["a"], name="上会")
    assert api.as_user(org.dept_user).delete(f"{URL}{milestone.pk}/").status_code == 204
    assert deals["a"].activities.filter(data__action="deleted").exists()


def test_apply_template_adds_the_missing_milestones(api, org, deals):
    template = MilestoneTemplate.objects.get(deal_type="ipo")
    client = api.as_user(org.dept_user)
    body = {"deal": deals["a"].pk, "template": template.pk, "start": TODAY.isoformat()}

    first = client.post(URL + "apply-template/", body, format="json")
    second = client.post(URL + "apply-template/", body, format="json")

    assert first.status_code == 201 and len(first.json()) == template.items.count()
    assert second.status_code == 201 and second.json() == []


def test_apply_template_refuses_bad_input_with_400(api, org, deals):
    template = MilestoneTemplate.objects.first()
    retired = MilestoneTemplateFactory(name="停用的", is_active=False)
    client = api.as_user(org.dept_user)
    good = {"deal": deals["a"].pk, "template": template.pk, "start": TODAY.isoformat()}
    for change, field in [
        ({"deal": deals["b"].pk}, "deal"),
        ({"template": retired.pk}, "template"),
        ({"template": 10**12}, "template"),
        ({"start": "9999-01-01"}, "start"),
        ({"deal": "abc"}, "deal"),
    ]:
        response = client.post(URL + "apply-template/", {**good, **change}, format="json")
        assert response.status_code == 400, (change, response.content)
        assert field in response.json()["details"]
    assert not deals["a"].milestones.exists()


def test_export_is_scoped(api, org, deals):
    MilestoneFactory(deal=deals["a"], name="甲的")
    MilestoneFactory(deal=deals["b"], name="乙的")
    response = api.as_user(org.b_user).get(URL + "export/?file_format=csv")
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert "乙的" in text and "甲的" not in text


def test_templates_with_nested_items(api, admin_user):
    client = api.as_user(admin_user)
    response = client.post(
        TEMPLATES,
        {
            "name": "精简IPO",
            "deal_type": "ipo",
            "items": [
                {"name": "立项", "offset_days": 0},
                {"name": "申报", "offset_days": 90, "duration_days": 30},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert [i["name"] for i in response.json()["items"]] == ["立项", "申报"]

    response = client.patch(
        f"{TEMPLATES}{pk}/", {"items": [{"name": "发行", "offset_days": 120}]}, format="json"
    )
    assert [i["name"] for i in response.json()["items"]] == ["发行"]


def test_bad_templates_are_400(api, admin_user):
    client = api.as_user(admin_user)
    for body, field in [
        ({"name": "x", "deal_type": "spaceship"}, "deal_type"),
        ({"name": "x", "items": [{"name": "a", "offset_days": 1}] * 2}, "items"),
        ({"name": "x", "items": [{"name": "a", "offset_days": -1}]}, "items"),
        ({"name": "IPO"}, "name"),
        ({"name": "x", "items": "nope"}, "items"),
    ]:
        response = client.post(TEMPLATES, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()["details"]


def test_templates_need_their_permissions(api, org):
    client = api.as_user(org.all_user)  # may view templates only
    assert client.get(TEMPLATES).status_code == 200
    assert client.post(TEMPLATES, {"name": "x"}, format="json").status_code == 403


def test_filters_refuse_departments_and_people_out_of_reach(api, org, deals):
    client = api.as_user(org.dept_user)
    for query in (f"?department={org.dept_b.pk}", f"?owner={org.b_user.pk}", "?status=nope"):
        response = client.get(URL + query)
        assert response.status_code == 400, query
        assert response.json()["code"] == "invalid"
    assert client.get(URL + f"?department={org.dept_a.pk}").status_code == 200
