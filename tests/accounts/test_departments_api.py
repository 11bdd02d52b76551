"""The department tree through the API: CRUD, move, nested tree and export, all scoped."""

import pytest

from ibcloud.accounts.models import Department
from tests.accounts.factories import export_text
from tests.conftest import make_org
from tests.factories import DepartmentFactory, RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

MANAGE = [
    "accounts.view_department",
    "accounts.add_department",
    "accounts.change_department",
    "accounts.delete_department",
]
URL = "/api/v1/accounts/departments/"


def codes(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["code"] for row in response.json()["results"]]


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["message"]
    return body


def parent_of(department: Department) -> Department | None:
    return Department.objects.get_parent(Department.objects.get(pk=department.pk))


def test_the_list_holds_only_departments_in_reach(api):
    org = make_org(MANAGE)
    assert codes(api.as_user(org.admin).get(URL)) == ["a", "a1", "b"]
    assert codes(api.as_user(org.dept_and_below_user).get(URL)) == ["a", "a1"]
    assert codes(api.as_user(org.dept_user).get(URL)) == ["a"]
    assert codes(api.as_user(org.custom_user).get(URL)) == ["b"]
    assert codes(api.as_user(org.self_user).get(URL)) == []


def test_a_department_out_of_reach_answers_404(api):
    org = make_org(MANAGE)
    client = api.as_user(org.dept_user)
    assert_error(client.get(f"{URL}{org.dept_b.pk}/"), 404)
    assert_error(client.patch(f"{URL}{org.dept_b.pk}/", {"name": "x"}, format="json"), 404)
    assert_error(client.post(f"{URL}{org.dept_b.pk}/move/", {"parent": None}, format="json"), 404)
    assert_error(client.delete(f"{URL}{org.dept_b.pk}/"), 404)
    row = client.get(f"{URL}{org.dept_a.pk}/").json()
    assert row["member_count"] == 5 and row["parent"] is None


def test_the_export_holds_only_departments_in_reach(api):
    org = make_org(MANAGE)
    body = export_text(
        api.as_user(org.dept_and_below_user).get(f"{URL}export/", {"file_format": "csv"})
    )
    assert org.dept_a1.full_name in body and org.dept_b.name not in body


def test_the_tree_is_nested_and_scoped(api):
    org = make_org(MANAGE)
    boss = UserFactory(name="赵经理", department=org.dept_a1)
    org.dept_a1.managers.add(boss)
    tree = api.as_user(org.admin).get(f"{URL}tree/").json()
    assert [node["code"] for node in tree] == ["a", "b"]
    child = tree[0]["children"][0]
    assert child["code"] == "a1" and child["children"] == []
    assert child["managers"] == [{"id": boss.pk, "name": "赵经理"}]
    assert child["member_count"] == 1

    # Only A1 in reach (not its parent): it becomes a root of the caller's tree.
    a1_only = UserFactory(
        roles=[RoleFactory(data_scope="custom", perms=MANAGE, departments=[org.dept_a1])]
    )
    assert [n["code"] for n in api.as_user(a1_only).get(f"{URL}tree/").json()] == ["a1"]


def test_creating_under_a_parent_and_at_the_top(api):
    org = make_org(MANAGE)
    client = api.as_user(org.dept_and_below_user)
    response = client.post(
        URL, {"name": "资本市场组", "code": "a2", "parent": org.dept_a.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["parent"] == org.dept_a.pk
    assert parent_of(Department.objects.get(code="a2")) == org.dept_a

    # A top-level department lies outside "A and below": refused, nothing saved.
    assert_error(client.post(URL, {"name": "新部门", "code": "new"}, format="json"), 403)
    assert not Department.objects.filter(code="new").exists()
    # Out-of-reach parent: refused as if it did not exist.
    body = assert_error(
        client.post(URL, {"name": "越权", "code": "x", "parent": org.dept_b.pk}, format="json"),
        400,
    )
    assert "parent" in body["details"]


def test_the_parent_changes_only_through_move(api):
    org = make_org(MANAGE)
    response = api.as_user(org.admin).patch(
        f"{URL}{org.dept_a1.pk}/", {"parent": org.dept_b.pk}, format="json"
    )
    assert_error(response, 400)
    assert parent_of(org.dept_a1) == org.dept_a


def test_move_and_its_refusals(api):
    org = make_org(MANAGE)
    client = api.as_user(org.admin)
    body = assert_error(
        client.post(f"{URL}{org.dept_a.pk}/move/", {"parent": org.dept_a1.pk}, format="json"), 400
    )
    assert "parent" in body["details"]
    assert_error(
        client.post(f"{URL}{org.dept_a.pk}/move/", {"parent": org.dept_a.pk}, format="json"), 400
    )
    assert_error(client.post(f"{URL}{org.dept_a.pk}/move/", {"parent": "x"}, format="json"), 400)

    response = client.post(f"{URL}{org.dept_a1.pk}/move/", {"parent": org.dept_b.pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["parent"] == org.dept_b.pk
    assert response.json()["full_name"] == f"{org.dept_b.name} / {org.dept_a1.name}"

    response = client.post(f"{URL}{org.dept_a1.pk}/move/", {"parent": None}, format="json")
    assert response.json()["parent"] is None


def test_move_needs_the_change_permission(api):
    org = make_org(["accounts.view_department", "accounts.add_department"])
    assert_error(
        api.as_user(org.all_user).post(
            f"{URL}{org.dept_a1.pk}/move/", {"parent": None}, format="json"
        ),
        403,
    )
    assert parent_of(org.dept_a1) == org.dept_a


def test_delete_refusals(api):
    org = make_org(MANAGE)
    client = api.as_user(org.admin)
    assert_error(client.delete(f"{URL}{org.dept_b.pk}/"), 409)  # has a member
    empty = DepartmentFactory(name="空", code="empty")
    DepartmentFactory(name="子", code="child", parent=empty)
    assert_error(client.delete(f"{URL}{empty.pk}/"), 409)  # has a sub-department
    child = Department.objects.get(code="child")
    assert client.delete(f"{URL}{child.pk}/").status_code == 204
    assert client.delete(f"{URL}{empty.pk}/").status_code == 204
    assert not Department.objects.filter(code__in=["empty", "child"]).exists()


def test_renaming_does_not_break_later_adds_and_moves(api):
    """Siblings keep their order when renamed; later inserts and moves still find free paths."""
    org = make_org(MANAGE)
    client = api.as_user(org.admin)
    for name, code in [("b", "s1"), ("c", "s2"), ("d", "s3")]:
        client.post(URL, {"name": name, "code": code, "parent": org.dept_b.pk}, format="json")
    first = Department.objects.get(code="s1")
    assert client.patch(f"{URL}{first.pk}/", {"name": "z"}, format="json").status_code == 200
    response = client.post(URL, {"name": "a", "code": "s4", "parent": org.dept_b.pk}, format="json")
    assert response.status_code == 201, response.content
    response = client.post(f"{URL}{org.dept_a1.pk}/move/", {"parent": org.dept_b.pk}, format="json")
    assert response.status_code == 200, response.content
    children = Department.objects.get_children(Department.objects.get(pk=org.dept_b.pk))
    assert [d.code for d in children] == ["s1", "s2", "s3", "s4", "a1"]
    assert Department.objects.find_problems() == ([], [], [], [], [])
