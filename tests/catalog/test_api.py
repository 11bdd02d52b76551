"""The catalog API: projects, investors and saved queries, with the list page's filters, keyword
search, scope, manual provenance and 4xx JSON errors."""

from __future__ import annotations

import pytest

from ibcloud.catalog.models import Investor, Project, SavedQuery
from ibcloud.catalog.segmentation import search_text
from tests.catalog.factories import InvestorFactory, ProjectFactory, SavedQueryFactory
from tests.conftest import make_org

pytestmark = pytest.mark.django_db

PERMS = [
    "catalog.view_project",
    "catalog.add_project",
    "catalog.change_project",
    "catalog.delete_project",
    "catalog.view_investor",
    "catalog.add_investor",
    "catalog.change_investor",
]
PROJECTS = "/api/v1/catalog/projects/"
INVESTORS = "/api/v1/catalog/investors/"
SAVED = "/api/v1/catalog/saved-queries/"


@pytest.fixture
def org():
    return make_org(PERMS)


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_list_carries_codes_and_readable_labels(org, api):
    ProjectFactory(name="云图智能", amount_low=10_000_000, amount_high=100_000_000)
    (row,) = rows(api.as_user(org.all_user).get(PROJECTS))
    assert row["name"] == "云图智能"
    assert row["amount_low"] == 10_000_000
    assert row["amount_display"] == "1,000万–1亿"
    assert row["region"] == "广东·深圳"
    assert row["industry_label"] == "I65 软件和信息技术服务业"
    assert row["round_label"] == "A"


def test_filters_and_keywords(org, api):
    first = ProjectFactory(name="云图智能", summary="工业视觉质检", round="a")
    second = ProjectFactory(
        name="康瑞医疗", summary="医疗器械", round="b", amount_low=300_000_000, amount_high=None
    )
    for project in (first, second):
        project.search_text = search_text(project.name, project.summary)
        project.save()
    client = api.as_user(org.all_user)
    assert [r["name"] for r in rows(client.get(PROJECTS, {"round": "b"}))] == ["康瑞医疗"]
    in_cny = client.get(PROJECTS, {"amount_min": 100_000_000})
    assert [r["name"] for r in rows(in_cny)] == ["康瑞医疗"]
    assert [r["name"] for r in rows(client.get(PROJECTS, {"q": "视觉 OR 质检"}))] == ["云图智能"]
    assert [r["name"] for r in rows(client.get(PROJECTS, {"q": "NOT 视觉"}))] == ["康瑞医疗"]


@pytest.mark.parametrize(
    "params",
    [
        {"q": '"unbalanced'},
        {"q": "(视觉"},
        {"round": "z-round"},
        {"amount_min": "-5"},
        {"amount_min": "abc"},
        {"published_after": "yesterday"},
        {"industry": "ZZ"},
    ],
)
def test_bad_filters_answer_400_json(org, api, params):
    response = api.as_user(org.all_user).get(PROJECTS, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and body["message"] and body["details"]


def test_create_marks_the_fields_sent_as_manual(org, api):
    user = org.dept_user
    response = api.as_user(user).post(
        PROJECTS,
        {
            "name": "星河智能",
            "full_name": "深圳市星河智能科技有限公司",
            "city_code": "440300",
            "industry": "I",
            "round": "a",
            "amount_low": 30_000_000,
            "amount_high": 50_000_000,
            "summary": "工业视觉质检",
            "tags": ["专精特新"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    project = Project.objects.get(pk=body["id"])
    assert (project.province_code, project.province, project.city) == ("440000", "广东省", "深圳市")
    assert (project.industry_section, project.industry) == ("I", "")
    assert project.owner == user and project.department == user.department
    assert body["tags"] == ["专精特新"]
    assert project.provenance["amount"]["kind"] == "manual"
    assert project.provenance["place"]["kind"] == "manual"
    assert project.provenance["summary"]["username"] == user.username
    assert project.name_key and "视觉" in project.search_text


def test_partial_update_marks_only_what_was_sent(org, api):
    project = ProjectFactory(department=org.dept_a, owner=org.dept_user)
    response = api.as_user(org.dept_user).patch(
        f"{PROJECTS}{project.pk}/", {"summary": "新简介"}, format="json"
    )
    assert response.status_code == 200, response.content
    project.refresh_from_db()
    assert project.summary == "新简介"
    assert set(project.provenance) == {"summary"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "amount_low": 5, "amount_high": 1}, "amount_high"),
        ({"name": "x", "amount_low": -1}, "amount_low"),
        ({"name": "x", "amount_low": 10**30}, "amount_low"),
        ({"name": "x", "credit_code": "123"}, "credit_code"),
        ({"name": "x", "province_code": "330000", "city_code": "440300"}, "city_code"),
        ({"name": "x", "province_code": "999999"}, "province_code"),
        ({"name": "x", "industry": "99"}, "industry"),
        ({"name": "x", "round": "zz"}, "round"),
        ({"name": "x", "share_offered": "101"}, "share_offered"),
        ({"name": "x", "tags": "not a list"}, "tags"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_project_bodies_answer_400_with_the_field(org, api, body, field):
    response = api.as_user(org.all_user).post(PROJECTS, body, format="json")
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "invalid"
    assert field in payload["details"]
    assert not Project.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "preferred_industries": ["I", "ZZ"]}, "preferred_industries"),
        ({"name": "x", "preferred_rounds": ["a", "nope"]}, "preferred_rounds"),
        ({"name": "x", "preferred_regions": ["12"]}, "preferred_regions"),
        ({"name": "x", "investor_type": "hedge"}, "investor_type"),
        ({"name": "x", "capital_type": "eur"}, "capital_type"),
        ({"name": "x", "ticket_min": 9, "ticket_max": 1}, "ticket_max"),
        ({"name": "x", "coverage_banker": 999999}, "coverage_banker"),
    ],
)
def test_bad_investor_bodies_answer_400_with_the_field(org, api, body, field):
    response = api.as_user(org.all_user).post(INVESTORS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["details"]


def test_investor_create(org, api):
    response = api.as_user(org.all_user).post(
        INVESTORS,
        {
            "name": "鼎盛资本",
            "aliases": ["鼎盛", "鼎盛"],
            "investor_type": "vc",
            "capital_type": "dual",
            "preferred_industries": ["65", "C"],
            "preferred_rounds": ["a"],
            "preferred_regions": ["440000"],
            "ticket_min": 10_000_000,
            "ticket_max": 100_000_000,
            "coverage_banker": org.dept_user.pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    investor = Investor.objects.get()
    assert investor.aliases == ["鼎盛"]
    assert investor.coverage_banker == org.dept_user
    assert response.json()["ticket_display"] == "1,000万–1亿"
    assert investor.provenance["preferred_industries"]["kind"] == "manual"


def test_scope_holds_in_the_api(org, api):
    mine = ProjectFactory(department=org.dept_a, owner=org.dept_user)
    other = ProjectFactory(department=org.dept_b, owner=org.b_user)
    client = api.as_user(org.dept_user)
    assert [r["id"] for r in rows(client.get(PROJECTS))] == [mine.pk]
    assert client.get(f"{PROJECTS}{other.pk}/").status_code == 404
    assert client.patch(f"{PROJECTS}{other.pk}/", {"name": "x"}, format="json").status_code == 404
    assert client.delete(f"{PROJECTS}{other.pk}/").status_code == 404
    export = client.get(f"{PROJECTS}export/", {"file_format": "csv"})
    assert other.name not in export.content.decode("utf-8-sig")
    # nor may a record be moved into a department out of reach
    moved = client.patch(f"{PROJECTS}{mine.pk}/", {"department": org.dept_b.pk}, format="json")
    assert moved.status_code == 400
    mine.refresh_from_db()
    assert mine.department == org.dept_a


def test_investor_detail_shows_revealed_preferences(org, api):
    investor = InvestorFactory(revealed_preferences={"deal_count": 2, "industries": {"65": 2}})
    body = api.as_user(org.all_user).get(f"{INVESTORS}{investor.pk}/").json()
    assert body["revealed_preferences"]["deal_count"] == 2
    assert body["preferred_industries"] == ["65"]


# --- Saved queries --------------------------------------------------------------------------------


def test_saved_queries_own_and_shared(org, api):
    SavedQueryFactory(name="我的", owner=org.dept_user)
    shared = SavedQueryFactory(name="共享", owner=org.b_user, shared=True)
    SavedQueryFactory(name="私有", owner=org.b_user)
    client = api.as_user(org.dept_user)
    assert {r["name"] for r in rows(client.get(SAVED))} == {"我的", "共享"}
    assert client.patch(f"{SAVED}{shared.pk}/", {"name": "改"}, format="json").status_code == 404
    assert client.delete(f"{SAVED}{shared.pk}/").status_code == 404
    created = client.post(
        SAVED,
        {"name": "新", "kind": "investor", "query_string": "?investor_type=vc&page=2"},
        format="json",
    )
    assert created.status_code == 201, created.content
    saved = SavedQuery.objects.get(name="新")
    assert saved.owner == org.dept_user and saved.query_string == "investor_type=vc"


def test_saved_query_for_a_list_one_may_not_open_is_refused(api):
    only_projects = make_org(["catalog.view_project"]).all_user
    response = api.as_user(only_projects).post(
        SAVED, {"name": "x", "kind": "investor", "query_string": ""}, format="json"
    )
    assert response.status_code == 400
    assert "kind" in response.json()["details"]
