"""Roles and the permission catalogue through the API."""

import pytest

from ibcloud.accounts import services
from ibcloud.accounts.models import Role
from tests.accounts.factories import (
    events_named,
    export_text,
    sensitive_actions,
)
from tests.conftest import make_org
from tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

MANAGE = ["accounts.view_role", "accounts.add_role", "accounts.change_role", "accounts.delete_role"]
URL = "/api/v1/accounts/roles/"


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["message"]
    return body


def test_creating_a_role_with_named_permissions(api):
    org = make_org(MANAGE)
    with sensitive_actions() as events:
        response = api.as_user(org.admin).post(
            URL,
            {
                "name": "项目经理",
                "code": "pm",
                "permissions": ["accounts.view_user", "accounts.unlock_user"],
                "data_scope": "custom",
                "scope_departments": [org.dept_b.pk],
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["permissions"] == ["accounts.unlock_user", "accounts.view_user"]
    assert body["scope_departments"] == [org.dept_b.pk]
    assert events_named(events, "permission_change")[0]["details"]["before"] == []


@pytest.mark.parametrize("name", ["auth.add_group", "accounts.no_such_thing", "nodot", ""])
def test_unknown_or_foreign_permissions_are_refused(api, name):
    org = make_org(MANAGE)
    body = assert_error(
        api.as_user(org.admin).post(
            URL, {"name": "x", "code": "x", "permissions": [name]}, format="json"
        ),
        400,
    )
    assert "permissions" in body["details"]
    assert not Role.objects.filter(code="x").exists()


def test_bad_scopes_are_refused(api):
    org = make_org(MANAGE)
    client = api.as_user(org.admin)
    body = assert_error(
        client.post(URL, {"name": "x", "code": "x", "data_scope": "custom"}, format="json"), 400
    )
    assert "scope_departments" in body["details"]
    assert_error(
        client.post(URL, {"name": "x", "code": "x", "data_scope": "galaxy"}, format="json"), 400
    )
    assert_error(
        client.post(
            URL,
            {"name": "x", "code": "x", "data_scope": "custom", "scope_departments": [10**12]},
            format="json",
        ),
        400,
    )


def test_updating_permissions_is_audited(api):
    org = make_org(MANAGE)
    role = RoleFactory(perms=["accounts.view_user"])
    with sensitive_actions() as events:
        response = api.as_user(org.admin).patch(
            f"{URL}{role.pk}/", {"permissions": ["accounts.change_user"]}, format="json"
        )
    assert response.status_code == 200, response.content
    assert events_named(events, "permission_change")[0]["details"] == {
        "before": ["accounts.view_user"],
        "after": ["accounts.change_user"],
    }
    # A patch without permissions leaves them alone.
    api.as_user(org.admin).patch(f"{URL}{role.pk}/", {"description": "说明"}, format="json")
    assert services.permission_names(role.permissions.all()) == ["accounts.change_user"]


def test_one_cannot_grant_permissions_or_scope_one_lacks(api):
    org = make_org(MANAGE)
    client = api.as_user(org.dept_user)
    body = assert_error(
        client.post(
            URL,
            {"name": "x", "code": "x", "permissions": ["accounts.reset_password"]},
            format="json",
        ),
        400,
    )
    assert "accounts.reset_password" in body["message"]
    own = org.dept_user.roles.get()
    assert_error(client.patch(f"{URL}{own.pk}/", {"data_scope": "all"}, format="json"), 400)
    own.refresh_from_db()
    assert own.data_scope == "dept"


def test_a_role_held_by_users_is_not_deleted(api):
    org = make_org(MANAGE)
    held = org.b_user.roles.get()
    client = api.as_user(org.admin)
    assert_error(client.delete(f"{URL}{held.pk}/"), 409)
    assert Role.objects.filter(pk=held.pk).exists()
    unused = RoleFactory()
    assert client.delete(f"{URL}{unused.pk}/").status_code == 204


def test_list_filter_and_export(api):
    org = make_org(MANAGE)
    role = RoleFactory(name="分析师", code="analyst", data_scope="all")
    UserFactory(roles=[role], department=org.dept_a)
    UserFactory(roles=[role], department=org.dept_b)  # outside the viewer's reach: not counted
    client = api.as_user(org.dept_user)
    rows = client.get(URL, {"q": "analyst"}).json()["results"]
    assert [(r["code"], r["user_count"]) for r in rows] == [("analyst", 1)]
    assert {r["code"] for r in client.get(URL, {"data_scope": "all"}).json()["results"]} == {
        "analyst",
        "role-all_user",
    }
    assert "分析师" in export_text(client.get(f"{URL}export/", {"file_format": "csv"}))


def test_the_permission_catalogue_is_grouped_by_module(api):
    org = make_org(["accounts.view_role"])
    response = api.as_user(org.dept_user).get("/api/v1/accounts/permissions/")
    assert response.status_code == 200
    modules = {module["app_label"]: module for module in response.json()}
    assert "auth" not in modules and "accounts" in modules
    user_model = next(m for m in modules["accounts"]["models"] if m["model"] == "user")
    actions = {p["name"]: p["action"] for p in user_model["permissions"]}
    assert actions["accounts.view_user"] == "view"
    assert actions["accounts.delete_user"] == "delete"
    assert actions["accounts.unlock_user"] == ""


def test_the_permission_catalogue_needs_the_view_role_permission(api):
    org = make_org(["accounts.view_user"])
    assert_error(api.as_user(org.dept_user).get("/api/v1/accounts/permissions/"), 403)
