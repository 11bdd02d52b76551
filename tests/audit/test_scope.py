"""A viewer sees the entries of the actors within their data scope: list, detail, export, API."""

import csv
import io

import pytest

from ibcloud.audit.models import AuditEntry
from tests.audit.conftest import make_entry
from tests.factories import UserFactory


@pytest.fixture
def entries(org):
    """One entry by an actor of each department: A, its sub-department A1, and B."""
    a1_actor = UserFactory(username="a1_actor", department=org.dept_a1)
    return {
        "a": make_entry(actor=org.dept_user, event="update", object_repr="甲部记录"),
        "a1": make_entry(actor=a1_actor, event="update", object_repr="并购组记录"),
        "b": make_entry(actor=org.b_user, event="update", object_repr="乙部记录"),
    }


def csv_rows(response) -> list[list[str]]:
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_own_department_viewer_lists_only_entries_of_their_department(org, client, entries):
    client.force_login(org.dept_user)
    page = client.get("/audit/").content.decode()
    assert "甲部记录" in page
    assert "并购组记录" not in page
    assert "乙部记录" not in page


def test_department_and_below_viewer_also_sees_sub_departments(org, client, entries):
    client.force_login(org.dept_and_below_user)
    page = client.get("/audit/").content.decode()
    assert "甲部记录" in page and "并购组记录" in page
    assert "乙部记录" not in page


def test_self_scope_viewer_sees_only_own_actions(org, client, entries):
    make_entry(actor=org.self_user, event="update", object_repr="自己的记录")
    client.force_login(org.self_user)
    page = client.get("/audit/").content.decode()
    assert "自己的记录" in page
    assert "甲部记录" not in page


def test_detail_outside_scope_answers_404(org, client, entries):
    client.force_login(org.dept_user)
    assert client.get(f"/audit/{entries['a'].pk}/").status_code == 200
    assert client.get(f"/audit/{entries['b'].pk}/").status_code == 404
    assert client.get(f"/audit/{entries['a1'].pk}/").status_code == 404


def test_export_contains_only_entries_in_scope(org, client, entries):
    client.force_login(org.dept_user)
    response = client.get("/audit/?export=csv")
    assert response.status_code == 200
    text = " ".join(" ".join(row) for row in csv_rows(response))
    assert "甲部记录" in text
    assert "乙部记录" not in text and "并购组记录" not in text


def test_api_list_detail_and_export_are_scoped(org, api, entries):
    client = api.as_user(org.dept_user)
    listed = client.get("/api/v1/audit/entries/").json()
    ids = {row["id"] for row in listed["results"]}
    assert entries["a"].pk in ids
    assert entries["b"].pk not in ids and entries["a1"].pk not in ids
    assert client.get(f"/api/v1/audit/entries/{entries['a'].pk}/").status_code == 200
    missing = client.get(f"/api/v1/audit/entries/{entries['b'].pk}/")
    assert missing.status_code == 404
    assert set(missing.json()) == {"code", "message", "details"}
    export = client.get("/api/v1/audit/entries/export/?file_format=csv")
    text = " ".join(" ".join(row) for row in csv_rows(export))
    assert "甲部记录" in text and "乙部记录" not in text


def test_entry_stays_with_the_department_the_actor_had(org, client, entries):
    org.b_user.department = org.dept_a
    org.b_user.save()
    client.force_login(org.dept_user)
    assert client.get(f"/audit/{entries['b'].pk}/").status_code == 404


def test_users_without_the_permission_see_nothing(db, client, api, org, entries):
    outsider = UserFactory(username="outsider", department=org.dept_a)
    client.force_login(outsider)
    assert client.get("/audit/").status_code == 403
    assert client.get(f"/audit/{entries['a'].pk}/").status_code == 403
    response = api.as_user(outsider).get("/api/v1/audit/entries/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_filter_choices_offer_only_actors_in_scope(org, client, entries):
    client.force_login(org.dept_user)
    page = client.get("/audit/").content.decode()
    assert f'value="{org.dept_user.pk}"' in page
    assert str(org.b_user) not in page


def test_superuser_sees_everything(org, api, entries):
    listed = api.as_user(org.admin).get("/api/v1/audit/entries/?page_size=500").json()
    ids = {row["id"] for row in listed["results"]}
    assert {e.pk for e in entries.values()} <= ids
    assert listed["count"] == AuditEntry.objects.count()
