"""The data-quality API: ingestions and re-processing, the normalization preview, the rules, and
manual merge and split; bad input answers 4xx JSON, records out of reach are refused."""

from __future__ import annotations

import pytest

from ibcloud.audit.models import AuditEntry
from ibcloud.catalog import services
from ibcloud.catalog.models import ExchangeRate, IndustryKeyword, Ingestion, Project, RoundAlias
from ibcloud.core.parameters import set_parameter
from tests.catalog.factories import ProjectFactory
from tests.conftest import make_org
from tests.factories import CrawlSourceFactory, RawItemFactory, RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/catalog"
PERMS = [
    "catalog.view_ingestion",
    "catalog.reprocess_ingestion",
    "catalog.view_project",
    "catalog.change_project",
    "catalog.merge_project",
    "catalog.view_investor",
    "catalog.change_investor",
    "catalog.merge_investor",
    *[
        f"catalog.{action}_{model}"
        for model in ("exchangerate", "industrykeyword", "roundalias")
        for action in ("view", "add", "change", "delete")
    ],
]
SPAM = "加盟代理"


@pytest.fixture
def org():
    return make_org(PERMS)


@pytest.fixture
def source_a(org):
    return CrawlSourceFactory(owner=org.dept_user, department=org.dept_a)


@pytest.fixture
def source_b(org):
    return CrawlSourceFactory(owner=org.b_user, department=org.dept_b)


def ingest(source, **data) -> Ingestion:
    raw = RawItemFactory(source=source, data=data)
    services.ingest_raw_items([raw])
    return Ingestion.objects.get(raw_item=raw)


def assert_error(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    if field:
        assert field in body["details"], body
    return body


# --- Ingestions -----------------------------------------------------------------------------------


def test_ingestions_list_the_quarantine_with_reasons_within_scope(api, org, source_a, source_b):
    set_parameter("catalog.spam_words", SPAM)
    held = ingest(source_a, name=f"云图智能{SPAM}")
    created = ingest(source_a, name="星河智能")
    theirs = ingest(source_b, name=f"远山科技{SPAM}")
    client = api.as_user(org.dept_user)

    body = client.get(f"{BASE}/ingestions/", {"outcome": "quarantined"}).json()
    rows = {row["id"]: row for row in body["results"]}
    assert set(rows) == {held.pk}
    assert rows[held.pk]["reason_code"] == "spam" and SPAM in rows[held.pk]["reason"]
    assert rows[held.pk]["data"] == {"name": f"云图智能{SPAM}"}
    everything = client.get(f"{BASE}/ingestions/").json()["results"]
    assert {row["id"] for row in everything} == {held.pk, created.pk}
    assert_error(client.get(f"{BASE}/ingestions/{theirs.pk}/"), 404)


def test_reprocessing_after_a_rule_fix_through_the_api(api, org, source_a, source_b):
    set_parameter("catalog.spam_words", SPAM)
    held = ingest(source_a, name=f"云图智能{SPAM}")
    other = ingest(source_a, name=f"星河智能{SPAM}")
    theirs = ingest(source_b, name=f"远山科技{SPAM}")
    set_parameter("catalog.spam_words", "博彩")
    client = api.as_user(org.dept_user)

    response = client.post(f"{BASE}/ingestions/{held.pk}/reprocess/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["reprocessed"] == 1 and response.json()["created"] == 1
    held.refresh_from_db()
    assert held.outcome == "created" and held.project is not None
    assert AuditEntry.objects.filter(event="ingestion_reprocess", actor=org.dept_user).exists()

    again = client.post(f"{BASE}/ingestions/{held.pk}/reprocess/", {}, format="json")
    assert_error(again, 409)

    many = client.post(
        f"{BASE}/ingestions/reprocess/", {"ids": [other.pk, theirs.pk]}, format="json"
    )
    assert many.status_code == 200 and many.json()["reprocessed"] == 1
    other.refresh_from_db()
    theirs.refresh_from_db()
    assert (other.outcome, theirs.outcome) == ("created", "quarantined")


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"ids": ["x"]}, {"ids": 5}, {"ids": [0]}])
def test_bulk_reprocess_rejects_bad_input(api, org, body):
    assert_error(
        api.as_user(org.dept_user).post(f"{BASE}/ingestions/reprocess/", body, format="json"),
        400,
        "ids",
    )


def test_reprocessing_needs_its_permission(api, org, source_a):
    set_parameter("catalog.spam_words", SPAM)
    held = ingest(source_a, name=f"云图智能{SPAM}")
    role = RoleFactory(data_scope="all", perms=["catalog.view_ingestion"])
    client = api.as_user(UserFactory(username="looker", department=org.dept_a, roles=[role]))
    assert client.get(f"{BASE}/ingestions/{held.pk}/").status_code == 200
    assert_error(client.post(f"{BASE}/ingestions/{held.pk}/reprocess/", {}, format="json"), 403)
    assert_error(
        client.post(f"{BASE}/ingestions/reprocess/", {"ids": [held.pk]}, format="json"), 403
    )


# --- Normalization preview ------------------------------------------------------------------------


def test_the_preview_answers_value_and_rule_per_field(api, org):
    response = api.as_user(org.dept_user).post(
        f"{BASE}/normalize/",
        {
            "item_type": "project",
            "data": {"name": "云图智能", "amount": "数千万元", "location": "广东·深圳", "x": 1},
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    fields = {row["field"]: row for row in body["fields"]}
    assert fields["amount"]["value"]["low"] == 10_000_000
    assert fields["amount"]["value"]["high"] == 100_000_000
    assert fields["amount"]["raw"] == "数千万元"
    assert fields["place"]["value"]["city_code"] == "440300"
    assert all(row["rule"] for row in body["fields"])
    assert body["ignored"] == ["x"]
    assert body["verdict"] == {"quarantined": False, "reason_code": "", "reason": ""}
    assert not Project.objects.exists()  # nothing stored


def test_the_preview_tells_the_quarantine_verdict(api, org):
    body = (
        api.as_user(org.dept_user)
        .post(
            f"{BASE}/normalize/", {"item_type": "investor", "data": {"name": "--"}}, format="json"
        )
        .json()
    )
    assert body["verdict"]["quarantined"] is True
    assert body["verdict"]["reason_code"] == "invalid_name"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"item_type": "deal", "data": {"name": "x"}}, "item_type"),
        ({"item_type": "project"}, "data"),
        ({"item_type": "project", "data": ["name", "x"]}, "data"),
        ({"item_type": "project", "data": {}}, "data"),
        ({"item_type": "project", "data": {"name": {"nested": "x"}}}, "data"),
        ({"item_type": "project", "data": {"name": "长" * 20_001}}, "data"),
        ({"item_type": "project", "data": {f"k{i}": "v" for i in range(101)}}, "data"),
    ],
)
def test_the_preview_rejects_bad_input(api, org, body, field):
    response = api.as_user(org.dept_user).post(f"{BASE}/normalize/", body, format="json")
    assert_error(response, 400, field)


def test_the_preview_needs_the_view_project_permission(api, org):
    role = RoleFactory(data_scope="all", perms=["catalog.view_ingestion"])
    client = api.as_user(UserFactory(username="nobody", department=org.dept_a, roles=[role]))
    response = client.post(
        f"{BASE}/normalize/", {"item_type": "project", "data": {"name": "x"}}, format="json"
    )
    assert_error(response, 403)


# --- Rules ----------------------------------------------------------------------------------------


def test_exchange_rate_crud_validates_codes_and_rates(api, org):
    client = api.as_user(org.dept_user)
    ExchangeRate.objects.filter(currency="SGD").delete()
    for body, field in (
        ({"currency": "USB", "rate_to_cny": "7.1"}, "currency"),
        ({"currency": "CNY", "rate_to_cny": "1"}, "currency"),
        ({"currency": "SGD", "rate_to_cny": "0"}, "rate_to_cny"),
        ({"currency": "SGD", "rate_to_cny": "-2"}, "rate_to_cny"),
        ({"currency": "SGD", "rate_to_cny": "1e20"}, "rate_to_cny"),
    ):
        assert_error(client.post(f"{BASE}/exchange-rates/", body, format="json"), 400, field)

    created = client.post(
        f"{BASE}/exchange-rates/", {"currency": "sgd", "rate_to_cny": "5.3"}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["currency"] == "SGD"
    duplicate = client.post(
        f"{BASE}/exchange-rates/", {"currency": "SGD", "rate_to_cny": "5"}, format="json"
    )
    assert_error(duplicate, 400, "currency")
    pk = created.json()["id"]
    patched = client.patch(f"{BASE}/exchange-rates/{pk}/", {"rate_to_cny": "5.4"}, format="json")
    assert patched.status_code == 200
    assert str(ExchangeRate.objects.get(pk=pk).rate_to_cny).startswith("5.4")
    assert AuditEntry.objects.filter(object_pk=str(pk), actor=org.dept_user).count() >= 2
    assert client.delete(f"{BASE}/exchange-rates/{pk}/").status_code == 204


def test_industry_keywords_take_divisions_only(api, org):
    client = api.as_user(org.dept_user)
    bad = client.post(
        f"{BASE}/industry-keywords/", {"keyword": "视觉质检", "industry": "I"}, format="json"
    )
    assert_error(bad, 400, "industry")
    good = client.post(
        f"{BASE}/industry-keywords/",
        {"keyword": " 视觉  质检 ", "industry": "65", "priority": 3},
        format="json",
    )
    assert good.status_code == 201, good.content
    assert good.json()["keyword"] == "视觉 质检"
    assert good.json()["industry_label"].startswith("I65 ")
    clash = client.post(
        f"{BASE}/industry-keywords/", {"keyword": "视觉 质检", "industry": "65"}, format="json"
    )
    assert_error(clash, 400, "keyword")
    assert IndustryKeyword.objects.filter(keyword="视觉 质检").count() == 1


def test_round_aliases_take_dictionary_rounds_and_change_the_preview(api, org):
    client = api.as_user(org.dept_user)
    assert_error(
        client.post(f"{BASE}/round-aliases/", {"alias": "X7轮", "round": "zz"}, format="json"),
        400,
        "round",
    )
    created = client.post(
        f"{BASE}/round-aliases/", {"alias": "X7轮", "round": "pre_a"}, format="json"
    )
    assert created.status_code == 201
    preview = client.post(
        f"{BASE}/normalize/",
        {"item_type": "project", "data": {"name": "云图", "round": "X7轮"}},
        format="json",
    ).json()
    assert {row["field"]: row["value"] for row in preview["fields"]}["round"] == "pre_a"
    assert RoundAlias.objects.filter(alias="X7轮").exists()


def test_rule_writes_need_model_permissions(api, org):
    role = RoleFactory(data_scope="all", perms=["catalog.view_roundalias"])
    client = api.as_user(UserFactory(username="reader", department=org.dept_a, roles=[role]))
    assert client.get(f"{BASE}/round-aliases/").status_code == 200
    denied = client.post(f"{BASE}/round-aliases/", {"alias": "X8轮", "round": "a"}, format="json")
    assert_error(denied, 403)


# --- Merge and split ------------------------------------------------------------------------------


def test_merging_projects_through_the_api(api, org, source_a):
    first = ingest(source_a, name="云图智能", full_name="深圳市云图智能科技有限公司")
    second = ingest(source_a, name="云图视觉", amount="5000万元")
    target, other = first.project, second.project
    client = api.as_user(org.dept_user)

    response = client.post(
        f"{BASE}/project-merges/", {"target": target.pk, "others": [other.pk]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["id"] == target.pk
    assert sorted(response.json()["ingestions"]) == sorted([first.pk, second.pk])
    assert not Project.objects.filter(pk=other.pk).exists()
    entry = AuditEntry.objects.get(event="project_merge")
    assert entry.actor == org.dept_user


def test_splitting_a_project_through_the_api(api, org, source_a):
    other_source = CrawlSourceFactory(owner=org.dept_user, department=org.dept_a)
    first = ingest(source_a, name="云图智能", full_name="深圳市云图智能科技有限公司")
    second = ingest(other_source, name="云图智能", amount="5000万元")
    project = first.project
    assert second.project_id == project.pk
    client = api.as_user(org.dept_user)

    everything = client.post(
        f"{BASE}/project-splits/",
        {"project": project.pk, "ingestions": [first.pk, second.pk]},
        format="json",
    )
    assert_error(everything, 400, "ingestions")
    response = client.post(
        f"{BASE}/project-splits/", {"project": project.pk, "ingestions": [second.pk]}, format="json"
    )
    assert response.status_code == 201, response.content
    new_id = response.json()["id"]
    assert new_id != project.pk and response.json()["ingestions"] == [second.pk]
    assert AuditEntry.objects.filter(event="project_split", actor=org.dept_user).exists()


def test_merging_investors_through_the_api(api, org):
    source = CrawlSourceFactory(owner=org.dept_user, department=org.dept_a, item_type="investor")
    first = ingest(source, name="鼎盛资本", investor_type="VC")
    second = ingest(source, name="远山投资", investor_type="PE")
    response = api.as_user(org.dept_user).post(
        f"{BASE}/investor-merges/",
        {"target": first.investor_id, "others": [second.investor_id]},
        format="json",
    )
    assert response.status_code == 201, response.content
    second.refresh_from_db()
    assert second.investor_id == first.investor_id


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "target"),
        ({"target": "x", "others": [1]}, "target"),
        ({"target": True, "others": [1]}, "target"),
        ({"target": 10**30, "others": [1]}, "target"),
        ({"target": "SELF", "others": []}, "others"),
        ({"target": "SELF", "others": ["SELF"]}, "others"),
        ({"target": "SELF", "others": [999999]}, "others"),
    ],
)
def test_merge_rejects_bad_input(api, org, body, field):
    project = ProjectFactory(department=org.dept_a)
    body = {
        k: (
            project.pk
            if v == "SELF"
            else [project.pk if x == "SELF" else x for x in v]
            if isinstance(v, list)
            else v
        )
        for k, v in body.items()
    }
    response = api.as_user(org.dept_user).post(f"{BASE}/project-merges/", body, format="json")
    assert_error(response, 400, field)


def test_merge_and_split_refuse_records_out_of_reach(api, org, source_b):
    mine = ProjectFactory(department=org.dept_a)
    theirs_ingestion = ingest(source_b, name="远山科技")
    theirs = theirs_ingestion.project
    client = api.as_user(org.dept_user)

    response = client.post(
        f"{BASE}/project-merges/", {"target": mine.pk, "others": [theirs.pk]}, format="json"
    )
    assert_error(response, 400, "others")
    response = client.post(
        f"{BASE}/project-splits/",
        {"project": theirs.pk, "ingestions": [theirs_ingestion.pk]},
        format="json",
    )
    assert_error(response, 400, "project")
    assert Project.objects.filter(pk=theirs.pk).exists()


def test_merge_needs_the_merge_permission(api, org):
    target, other = ProjectFactory(), ProjectFactory()
    role = RoleFactory(data_scope="all", perms=["catalog.view_project", "catalog.change_project"])
    client = api.as_user(UserFactory(username="editor", department=org.dept_a, roles=[role]))
    response = client.post(
        f"{BASE}/project-merges/", {"target": target.pk, "others": [other.pk]}, format="json"
    )
    assert_error(response, 403)
    assert Project.objects.filter(pk=other.pk).exists()


def test_the_ingestion_export_is_scoped(api, org, source_a, source_b):
    set_parameter("catalog.spam_words", SPAM)
    ingest(source_a, name=f"云图智能{SPAM}")
    ingest(source_b, name=f"远山科技{SPAM}")
    response = api.as_user(org.dept_user).get(
        f"{BASE}/ingestions/export/", {"file_format": "csv", "outcome": "quarantined"}
    )
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert "云图智能" in text and "远山科技" not in text
