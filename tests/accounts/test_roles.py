"""Roles in the browser: list, detail, permission matrix, data scope, guards, delete refusal."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from ibcloud.accounts import services
from ibcloud.accounts.models import Role
from tests.accounts.factories import (
    browser,
    events_named,
    export_text,
    sensitive_actions,
)
from tests.conftest import make_org
from tests.factories import RoleFactory, UserFactory, permissions

pytestmark = pytest.mark.django_db

MANAGE = ["accounts.view_role", "accounts.add_role", "accounts.change_role", "accounts.delete_role"]


def perm_ids(*names: str) -> list[int]:
    return [p.pk for p in permissions(*names)]


def role_form(**values) -> dict:
    data = {
        "name": "",
        "code": "",
        "description": "",
        "data_scope": "self",
        "scope_departments": [],
        "is_active": "on",
        "sort_order": "0",
        "permissions": [],
    }
    data.update(values)
    return data


# --- The assignable permissions and the matrix ---------------------------------------------------


def test_only_the_platforms_own_permissions_are_assignable():
    labels = set(
        services.assignable_permissions().values_list("content_type__app_label", flat=True)
    )
    assert {"core", "accounts"} <= labels
    assert labels <= {"core", "accounts", "audit", "notify"} | set(services.own_app_labels())
    assert not labels & {"auth", "contenttypes", "user_sessions", "axes", "auditlog"}


def test_the_matrix_puts_crud_in_columns_and_custom_permissions_aside():
    matrix = {module.app_label: module for module in services.permission_matrix()}
    rows = {row.model: row for row in matrix["accounts"].rows}
    user_row = rows["user"]
    assert [p.codename for p in user_row.actions] == [
        "view_user",
        "add_user",
        "change_user",
        "delete_user",
    ]
    assert {p.codename for p in user_row.custom} == {
        "view_online_users",
        "force_logout",
        "unlock_user",
        "reset_password",
    }


def test_the_edit_page_shows_the_matrix_with_the_roles_permissions_checked():
    org = make_org(MANAGE)
    role = RoleFactory(perms=["accounts.view_user", "accounts.unlock_user"])
    page = browser(org.admin).get(role.get_edit_url()).content.decode()
    assert 'data-module="accounts"' in page
    assert 'data-model="accounts.user"' in page
    tags = [chunk.split(">")[0] for chunk in page.split("<input")[1:]]
    checked = {
        tag.split('data-codename="')[1].split('"')[0]
        for tag in tags
        if 'name="permissions"' in tag and "checked" in tag
    }
    assert checked == {"accounts.view_user", "accounts.unlock_user"}


# --- List and detail -----------------------------------------------------------------------------


def test_the_list_counts_users_and_permissions_and_exports():
    org = make_org(MANAGE)
    role = RoleFactory(name="分析师", code="analyst", perms=["accounts.view_user"])
    UserFactory(roles=[role])
    response = browser(org.admin).get(reverse("accounts:role_list"), {"q": "analyst"})
    rows = list(response.context["table"].page.object_list)
    assert [(r.record.name, r.record.user_count, r.record.permission_count) for r in rows] == [
        ("分析师", 1, 1)
    ]
    body = export_text(browser(org.admin).get(reverse("accounts:role_list"), {"export": "csv"}))
    assert "分析师" in body


def test_roles_need_the_view_permission():
    org = make_org([])
    assert browser(org.all_user).get(reverse("accounts:role_list")).status_code == 403


def test_the_detail_page_shows_permissions_scope_and_holders():
    org = make_org([*MANAGE, "accounts.view_user"])
    role = RoleFactory(
        name="二部观察", data_scope="custom", departments=[org.dept_b], perms=["accounts.view_user"]
    )
    holder = UserFactory(name="持有人", department=org.dept_a, roles=[role])
    response = browser(org.dept_user).get(role.get_absolute_url())
    page = response.content.decode()
    assert 'data-codename="accounts.view_user"' in page
    assert org.dept_b.name in page
    assert list(response.context["holders"]) == [holder]


# --- Create and edit -----------------------------------------------------------------------------


def test_creating_a_role_with_permissions_and_a_scope():
    org = make_org(MANAGE)
    with sensitive_actions() as events:
        response = browser(org.admin).post(
            reverse("accounts:role_add"),
            role_form(
                name="项目经理",
                code="pm",
                data_scope="dept_and_below",
                permissions=perm_ids("accounts.view_user", "accounts.unlock_user"),
            ),
        )
    assert response.status_code == 302, response.context and response.context["form"].errors
    role = Role.objects.get(code="pm")
    assert services.permission_names(role.permissions.all()) == [
        "accounts.unlock_user",
        "accounts.view_user",
    ]
    change = events_named(events, "permission_change")
    assert change[0]["details"] == {
        "before": [],
        "after": ["accounts.unlock_user", "accounts.view_user"],
    }


def test_changing_permissions_is_audited_with_before_and_after():
    org = make_org(MANAGE)
    role = RoleFactory(name="r", code="r", perms=["accounts.view_user"])
    with sensitive_actions() as events:
        browser(org.admin).post(
            role.get_edit_url(),
            role_form(name="r", code="r", permissions=perm_ids("accounts.change_user")),
        )
    change = events_named(events, "permission_change")
    assert change[0]["target"] == role
    assert change[0]["details"] == {
        "before": ["accounts.view_user"],
        "after": ["accounts.change_user"],
    }


def test_saving_without_permission_changes_records_none():
    org = make_org(MANAGE)
    role = RoleFactory(name="r", code="r", perms=["accounts.view_user"])
    with sensitive_actions() as events:
        browser(org.admin).post(
            role.get_edit_url(),
            role_form(name="r2", code="r", permissions=perm_ids("accounts.view_user")),
        )
    role.refresh_from_db()
    assert role.name == "r2"
    assert not events_named(events, "permission_change")


def test_permissions_of_other_apps_cannot_be_posted():
    org = make_org(MANAGE)
    foreign = Permission.objects.get(content_type__app_label="auth", codename="add_group")
    response = browser(org.admin).post(
        reverse("accounts:role_add"), role_form(name="x", code="x", permissions=[foreign.pk])
    )
    assert response.context["form"].errors["permissions"]
    assert not Role.objects.filter(code="x").exists()


def test_chosen_departments_are_required_for_the_custom_scope():
    org = make_org(MANAGE)
    client = browser(org.admin)
    response = client.post(
        reverse("accounts:role_add"), role_form(name="x", code="x", data_scope="custom")
    )
    assert response.context["form"].errors["scope_departments"]
    assert not Role.objects.filter(code="x").exists()

    client.post(
        reverse("accounts:role_add"),
        role_form(name="x", code="x", data_scope="custom", scope_departments=[org.dept_b.pk]),
    )
    assert list(Role.objects.get(code="x").scope_departments.all()) == [org.dept_b]


def test_chosen_departments_are_dropped_for_other_scopes():
    org = make_org(MANAGE)
    browser(org.admin).post(
        reverse("accounts:role_add"),
        role_form(name="x", code="x", data_scope="dept", scope_departments=[org.dept_b.pk]),
    )
    assert not Role.objects.get(code="x").scope_departments.exists()


# --- Escalation guards ---------------------------------------------------------------------------


def test_one_cannot_grant_a_role_permissions_one_lacks():
    org = make_org(MANAGE)
    response = browser(org.all_user).post(
        reverse("accounts:role_add"),
        role_form(name="x", code="x", permissions=perm_ids("accounts.reset_password")),
    )
    assert "accounts.reset_password" in str(response.context["form"].errors["permissions"])
    assert not Role.objects.filter(code="x").exists()

    # Permissions one holds are fine.
    response = browser(org.all_user).post(
        reverse("accounts:role_add"),
        role_form(name="x", code="x", permissions=perm_ids("accounts.view_role")),
    )
    assert response.status_code == 302


def test_one_cannot_widen_ones_own_role_to_all_data():
    org = make_org(MANAGE)
    own = org.dept_user.roles.get()
    response = browser(org.dept_user).post(
        own.get_edit_url(),
        role_form(name=own.name, code=own.code, data_scope="all", permissions=perm_ids(*MANAGE)),
    )
    assert response.context["form"].errors["data_scope"]
    own.refresh_from_db()
    assert own.data_scope == "dept"


def test_chosen_departments_must_lie_within_ones_reach():
    org = make_org(MANAGE)
    response = browser(org.dept_and_below_user).post(
        reverse("accounts:role_add"),
        role_form(name="x", code="x", data_scope="custom", scope_departments=[org.dept_b.pk]),
    )
    assert response.context["form"].errors
    assert not Role.objects.filter(code="x").exists()


# --- Delete --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("english")
def test_a_role_held_by_users_is_not_deleted():
    org = make_org(MANAGE)
    held = org.b_user.roles.get()
    client = browser(org.admin)
    assert "held by 1 user" in client.get(held.get_delete_url()).context["refusal"]
    client.post(held.get_delete_url())
    assert Role.objects.filter(pk=held.pk).exists()

    unused = RoleFactory()
    assert client.post(unused.get_delete_url()).status_code == 302
    assert not Role.objects.filter(pk=unused.pk).exists()


def test_edit_and_delete_buttons_show_only_with_the_permissions():
    org = make_org(["accounts.view_role"])
    role = RoleFactory()
    page = browser(org.all_user).get(reverse("accounts:role_list")).content.decode()
    assert role.get_edit_url() not in page and role.get_delete_url() not in page
    page = browser(org.admin).get(reverse("accounts:role_list")).content.decode()
    assert role.get_edit_url() in page and role.get_delete_url() in page


def test_every_role_page_opens():
    org = make_org(MANAGE)
    role = org.b_user.roles.get()
    client = browser(org.dept_user)
    for url in (
        reverse("accounts:role_list"),
        reverse("accounts:role_add"),
        role.get_absolute_url(),
        role.get_edit_url(),
        role.get_delete_url(),
    ):
        assert client.get(url).status_code == 200, url
