"""User management in the browser: list, detail, create, edit, delete, enable/disable, reset."""

import pytest
from django.contrib.auth import get_user_model
from django.db.models import ProtectedError
from django.urls import reverse
from user_sessions.models import Session

from tests.accounts.factories import (
    STRONG,
    browser,
    events_named,
    export_text,
    lock_out,
    sensitive_actions,
)
from tests.conftest import make_org
from tests.factories import PASSWORD, RoleFactory, UserFactory

User = get_user_model()
pytestmark = pytest.mark.django_db

MANAGE = ["accounts.view_user", "accounts.add_user", "accounts.change_user", "accounts.delete_user"]


def listed_usernames(response) -> set[str]:
    return {row.record.username for row in response.context["table"].page.object_list}


def user_form(user=None, **changes) -> dict:
    """The fields of the user form, from ``user`` when given, with ``changes`` applied."""
    data = {
        "username": "",
        "name": "",
        "phone": "",
        "email": "",
        "department": "",
        "position": "",
        "roles": [],
    }
    if user is not None:
        data.update(
            username=user.username,
            name=user.name,
            phone=user.phone,
            email=user.email,
            department=user.department_id or "",
            position=user.position,
            roles=list(user.roles.values_list("pk", flat=True)),
        )
    data.update(changes)
    return data


# --- List ----------------------------------------------------------------------------------------


def test_the_list_shows_only_users_within_the_data_scope():
    org = make_org(MANAGE)
    url = reverse("accounts:user_list")
    in_a = {"all_user", "below_user", "dept_user", "self_user", "custom_user"}

    assert listed_usernames(browser(org.dept_user).get(url)) == in_a
    assert listed_usernames(browser(org.self_user).get(url)) == {"self_user"}
    assert listed_usernames(browser(org.custom_user).get(url)) == {"b_user"}
    assert "b_user" in listed_usernames(browser(org.all_user).get(url))


def test_without_the_view_permission_the_list_is_forbidden():
    org = make_org([])
    assert browser(org.all_user).get(reverse("accounts:user_list")).status_code == 403


def test_the_list_filters_by_keyword_department_role_and_active():
    org = make_org(MANAGE)
    role = RoleFactory(name="分析师")
    UserFactory(username="li", name="李雷", phone="13800001111", department=org.dept_a1)
    UserFactory(username="han", name="韩梅梅", department=org.dept_a, roles=[role])
    UserFactory(username="gone", department=org.dept_a, is_active=False)
    client = browser(org.admin)
    url = reverse("accounts:user_list")

    assert listed_usernames(client.get(url, {"q": "李"})) == {"li"}
    assert listed_usernames(client.get(url, {"q": "0000111"})) == {"li"}
    assert listed_usernames(client.get(url, {"q": "han@example"})) == {"han"}
    # A department includes its sub-departments.
    in_a = listed_usernames(client.get(url, {"department": org.dept_a.pk}))
    assert {"li", "han", "gone", "dept_user"} <= in_a and "b_user" not in in_a
    assert listed_usernames(client.get(url, {"department": org.dept_a1.pk})) == {"li"}
    assert listed_usernames(client.get(url, {"role": role.pk})) == {"han"}
    assert listed_usernames(client.get(url, {"is_active": "false"})) == {"gone"}


def test_the_department_filter_offers_only_departments_in_reach():
    org = make_org(MANAGE)
    response = browser(org.dept_and_below_user).get(reverse("accounts:user_list"))
    choices = set(response.context["filter_form"].fields["department"].queryset)
    assert choices == {org.dept_a, org.dept_a1}


def test_the_export_holds_only_users_within_the_data_scope():
    org = make_org(MANAGE)
    with sensitive_actions() as events:
        body = export_text(
            browser(org.dept_user).get(reverse("accounts:user_list"), {"export": "csv"})
        )
    assert "dept_user" in body and "below_user" in body
    assert "b_user" not in body
    assert events_named(events, "export")


def test_a_locked_user_shows_a_badge_and_an_unlock_button_to_who_may_unlock():
    org = make_org(MANAGE)
    lock_out(org.self_user)
    url = reverse("accounts:user_list")

    page = browser(org.dept_user).get(url).content.decode()
    assert page.count('data-locked="1"') == 1
    # No unlock permission: no unlock button.
    assert "data-unlock=" not in page

    unlocker = UserFactory(
        department=org.dept_a,
        roles=[RoleFactory(data_scope="dept", perms=[*MANAGE, "accounts.unlock_user"])],
    )
    page = browser(unlocker).get(url).content.decode()
    assert f'data-unlock="{org.self_user.pk}"' in page
    assert page.count("data-unlock=") == 1
    detail = browser(unlocker).get(reverse("accounts:user_detail", args=[org.self_user.pk]))
    assert 'id="unlock-button"' in detail.content.decode()


def test_edit_and_delete_buttons_show_only_with_the_permission():
    org = make_org(["accounts.view_user"])
    page = browser(org.dept_user).get(reverse("accounts:user_list")).content.decode()
    assert "/edit/" not in page and "/delete/" not in page
    page = browser(org.admin).get(reverse("accounts:user_list")).content.decode()
    assert org.dept_user.get_edit_url() in page and org.dept_user.get_delete_url() in page


def test_bulk_disable_and_enable_act_only_on_users_in_reach():
    org = make_org(MANAGE)
    target = UserFactory(department=org.dept_a)
    client = browser(org.dept_user)
    url = reverse("accounts:user_list")
    session_user = browser(target)  # noqa: F841 (a live session that must end)
    assert Session.objects.filter(user=target).exists()

    client.post(url, {"bulk_action": "disable", "pk": [target.pk, org.b_user.pk]})
    target.refresh_from_db()
    org.b_user.refresh_from_db()
    assert not target.is_active
    assert org.b_user.is_active  # out of reach: untouched
    assert not Session.objects.filter(user=target).exists()

    client.post(url, {"bulk_action": "enable", "pk": [target.pk]})
    target.refresh_from_db()
    assert target.is_active


def test_bulk_disable_skips_oneself():
    org = make_org(MANAGE)
    browser(org.dept_user).post(
        reverse("accounts:user_list"), {"bulk_action": "disable", "pk": [org.dept_user.pk]}
    )
    org.dept_user.refresh_from_db()
    assert org.dept_user.is_active


# --- Detail --------------------------------------------------------------------------------------


def test_the_detail_page_answers_404_outside_the_data_scope():
    org = make_org(MANAGE)
    client = browser(org.dept_user)
    assert client.get(reverse("accounts:user_detail", args=[org.b_user.pk])).status_code == 404
    assert client.get(reverse("accounts:user_detail", args=[org.self_user.pk])).status_code == 200


def test_the_detail_page_summarises_roles_and_data_scope():
    org = make_org(MANAGE)
    response = browser(org.admin).get(reverse("accounts:user_detail", args=[org.custom_user.pk]))
    scope = response.context["scope"]
    assert [item.role for item in scope.roles] == list(org.custom_user.roles.all())
    assert scope.departments == [org.dept_b.full_name]
    assert not scope.all
    assert org.dept_b.name in response.content.decode()


def test_recent_logins_show_only_to_who_may_read_the_login_log():
    from ibcloud.accounts.models import LoginLog

    org = make_org(MANAGE)
    LoginLog.objects.create(user=org.self_user, username="self_user", result="success")
    url = reverse("accounts:user_detail", args=[org.self_user.pk])

    page = browser(org.dept_user).get(url).content.decode()
    assert 'id="recent-logins"' not in page

    reader = UserFactory(
        department=org.dept_a,
        roles=[RoleFactory(data_scope="dept", perms=[*MANAGE, "accounts.view_loginlog"])],
    )
    response = browser(reader).get(url)
    assert 'id="recent-logins"' in response.content.decode()
    assert len(response.context["login_logs"]) == 1


# --- Create and edit -----------------------------------------------------------------------------


def test_creating_a_user_sets_an_initial_password_they_must_change():
    org = make_org(MANAGE)
    role = org.dept_user.roles.get()
    with sensitive_actions() as events:
        response = browser(org.dept_user).post(
            reverse("accounts:user_add"),
            user_form(
                username="wang",
                name="王五",
                department=org.dept_a.pk,
                roles=[role.pk],
                password1=STRONG,
                password2=STRONG,
            ),
        )
    assert response.status_code == 302, response.context and response.context["form"].errors
    user = User.objects.get(username="wang")
    assert user.check_password(STRONG)
    assert user.must_change_password
    assert user.department == org.dept_a
    assert list(user.roles.all()) == [role]
    assert events_named(events, "role_change")[0]["details"]["after"] == [role.name]


def test_the_initial_password_must_follow_the_policy():
    org = make_org(MANAGE)
    response = browser(org.admin).post(
        reverse("accounts:user_add"),
        user_form(username="wang", password1="abc", password2="abc"),
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    assert not User.objects.filter(username="wang").exists()


def test_the_two_passwords_must_match():
    org = make_org(MANAGE)
    response = browser(org.admin).post(
        reverse("accounts:user_add"),
        user_form(username="wang", password1=STRONG, password2=STRONG + "x"),
    )
    assert response.context["form"].errors["password2"]


def test_editing_roles_is_audited_with_before_and_after_names():
    org = make_org(MANAGE)
    extra = RoleFactory(name="观察员", perms=["accounts.view_user"])
    target = UserFactory(department=org.dept_a, roles=[RoleFactory(name="旧角色")])
    with sensitive_actions() as events:
        response = browser(org.admin).post(
            target.get_edit_url(), user_form(target, roles=[extra.pk], position="经理")
        )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.position == "经理"
    change = events_named(events, "role_change")
    assert len(change) == 1
    assert change[0]["target"] == target
    assert change[0]["details"] == {"before": ["旧角色"], "after": ["观察员"]}


def test_editing_without_a_role_change_records_no_role_change():
    org = make_org(MANAGE)
    with sensitive_actions() as events:
        browser(org.admin).post(
            org.dept_user.get_edit_url(), user_form(org.dept_user, position="分析师")
        )
    assert not events_named(events, "role_change")


def test_users_outside_the_data_scope_cannot_be_edited_or_deleted():
    org = make_org(MANAGE)
    client = browser(org.dept_user)
    assert client.get(org.b_user.get_edit_url()).status_code == 404
    assert (
        client.post(org.b_user.get_edit_url(), user_form(org.b_user, name="x")).status_code == 404
    )
    assert client.post(org.b_user.get_delete_url()).status_code == 404
    org.b_user.refresh_from_db()
    assert org.b_user.name != "x"


def test_a_user_cannot_be_moved_into_a_department_out_of_reach():
    org = make_org(MANAGE)
    target = UserFactory(department=org.dept_a)
    response = browser(org.dept_user).post(
        target.get_edit_url(), user_form(target, department=org.dept_b.pk)
    )
    assert response.status_code == 200
    assert response.context["form"].errors
    target.refresh_from_db()
    assert target.department == org.dept_a


def test_a_saved_user_must_stay_within_reach():
    """The generic re-check: a self-scope admin's new user (in their department) is not theirs."""
    org = make_org(MANAGE)
    response = browser(org.self_user).post(
        reverse("accounts:user_add"),
        user_form(username="ghost", password1=STRONG, password2=STRONG),
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not User.objects.filter(username="ghost").exists()


# --- Escalation guards ---------------------------------------------------------------------------


def test_only_a_superuser_can_make_a_superuser():
    org = make_org(MANAGE)
    target = UserFactory(department=org.dept_a)
    client = browser(org.all_user)
    assert "is_superuser" not in client.get(target.get_edit_url()).context["form"].fields
    client.post(target.get_edit_url(), user_form(target, is_superuser="on"))
    target.refresh_from_db()
    assert not target.is_superuser

    browser(org.admin).post(target.get_edit_url(), user_form(target, is_superuser="on"))
    target.refresh_from_db()
    assert target.is_superuser


def test_a_role_holding_permissions_one_lacks_cannot_be_assigned():
    org = make_org(MANAGE)
    powerful = RoleFactory(name="重置密码", data_scope="self", perms=["accounts.reset_password"])
    target = UserFactory(department=org.dept_a)
    response = browser(org.all_user).post(
        target.get_edit_url(), user_form(target, roles=[powerful.pk])
    )
    assert response.status_code == 200
    assert "accounts.reset_password" in str(response.context["form"].errors["roles"])
    assert not target.roles.exists()


def test_a_role_reaching_beyond_ones_scope_cannot_be_assigned():
    org = make_org(MANAGE)
    everything = RoleFactory(name="全行", data_scope="all", perms=["accounts.view_user"])
    target = UserFactory(department=org.dept_a)
    response = browser(org.dept_and_below_user).post(
        target.get_edit_url(), user_form(target, roles=[everything.pk])
    )
    assert response.context["form"].errors["roles"]
    assert not target.roles.exists()
    # The same role is fine for someone who sees all data and holds its permissions.
    browser(org.all_user).post(target.get_edit_url(), user_form(target, roles=[everything.pk]))
    assert list(target.roles.all()) == [everything]


def test_a_non_superuser_cannot_change_a_superuser():
    org = make_org(MANAGE)
    boss = UserFactory(username="boss", is_superuser=True, department=org.dept_a)
    client = browser(org.all_user)
    assert client.get(boss.get_edit_url()).status_code == 403
    assert client.post(reverse("accounts:user_toggle_active", args=[boss.pk])).status_code == 403
    boss.refresh_from_db()
    assert boss.is_active


# --- Delete --------------------------------------------------------------------------------------


def test_deleting_a_user():
    org = make_org(MANAGE)
    target = UserFactory(department=org.dept_a)
    response = browser(org.dept_user).post(target.get_delete_url())
    assert response.status_code == 302
    assert not User.objects.filter(pk=target.pk).exists()


def test_one_cannot_delete_oneself():
    org = make_org(MANAGE)
    client = browser(org.dept_user)
    assert client.get(org.dept_user.get_delete_url()).context["refusal"]
    client.post(org.dept_user.get_delete_url())
    assert User.objects.filter(pk=org.dept_user.pk).exists()


def test_a_user_still_referenced_is_not_deleted_and_the_page_says_why(monkeypatch):
    org = make_org(MANAGE)
    target = UserFactory(department=org.dept_a)

    def protected(self, *args, **kwargs):
        raise ProtectedError("referenced", set())

    monkeypatch.setattr(User, "delete", protected)
    response = browser(org.dept_user).post(target.get_delete_url(), follow=True)
    assert User.objects.filter(pk=target.pk).exists()
    messages = [str(m) for m in response.context["messages"]]
    assert any(str(target) in m for m in messages)


# --- Enable / disable ----------------------------------------------------------------------------


def test_disabling_a_user_ends_their_sessions_at_once():
    org = make_org(MANAGE)
    target = UserFactory(department=org.dept_a)
    their_browser = browser(target)
    assert their_browser.get(reverse("core:home")).status_code == 200

    with sensitive_actions() as events:
        browser(org.dept_user).post(reverse("accounts:user_toggle_active", args=[target.pk]))
    target.refresh_from_db()
    assert not target.is_active
    assert not Session.objects.filter(user=target).exists()
    assert their_browser.get(reverse("core:home")).status_code == 302  # back to the login page
    assert events_named(events, "account_disable")[0]["target"] == target

    with sensitive_actions() as events:
        browser(org.dept_user).post(reverse("accounts:user_toggle_active", args=[target.pk]))
    target.refresh_from_db()
    assert target.is_active
    assert events_named(events, "account_enable")


def test_one_cannot_disable_oneself():
    org = make_org(MANAGE)
    browser(org.dept_user).post(reverse("accounts:user_toggle_active", args=[org.dept_user.pk]))
    org.dept_user.refresh_from_db()
    assert org.dept_user.is_active


def test_toggling_needs_the_change_permission_and_reach():
    org = make_org(MANAGE)
    viewer = UserFactory(
        department=org.dept_a,
        roles=[RoleFactory(data_scope="dept", perms=["accounts.view_user"])],
    )
    toggle = reverse("accounts:user_toggle_active", args=[org.self_user.pk])
    assert browser(viewer).post(toggle).status_code == 403
    out_of_reach = reverse("accounts:user_toggle_active", args=[org.b_user.pk])
    assert browser(org.dept_user).post(out_of_reach).status_code == 404
    org.self_user.refresh_from_db()
    org.b_user.refresh_from_db()
    assert org.self_user.is_active and org.b_user.is_active


# --- Reset password ------------------------------------------------------------------------------


def test_an_admin_resets_a_password_and_the_user_must_change_it():
    org = make_org([*MANAGE, "accounts.reset_password"])
    target = org.self_user
    their_browser = browser(target)
    url = reverse("accounts:user_reset_password", args=[target.pk])
    with sensitive_actions() as events:
        response = browser(org.dept_user).post(url, {"password1": STRONG, "password2": STRONG})
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.check_password(STRONG)
    assert target.must_change_password
    assert not Session.objects.filter(user=target).exists()
    assert their_browser.get(reverse("core:home")).status_code == 302
    reset = events_named(events, "password_reset")
    assert reset and reset[0]["target"] == target
    assert STRONG not in str(reset[0])


def test_a_reset_password_must_follow_the_policy():
    org = make_org([*MANAGE, "accounts.reset_password"])
    url = reverse("accounts:user_reset_password", args=[org.self_user.pk])
    response = browser(org.dept_user).post(url, {"password1": "short", "password2": "short"})
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    org.self_user.refresh_from_db()
    assert org.self_user.check_password(PASSWORD)


def test_resetting_needs_the_permission_and_reach():
    org = make_org(MANAGE)
    url = reverse("accounts:user_reset_password", args=[org.self_user.pk])
    assert browser(org.dept_user).get(url).status_code == 403

    resetter = UserFactory(
        department=org.dept_a,
        roles=[RoleFactory(data_scope="dept", perms=["accounts.reset_password"])],
    )
    assert browser(resetter).get(url).status_code == 200
    out_of_reach = reverse("accounts:user_reset_password", args=[org.b_user.pk])
    assert (
        browser(resetter).post(out_of_reach, {"password1": STRONG, "password2": STRONG}).status_code
        == 404
    )
    org.b_user.refresh_from_db()
    assert not org.b_user.must_change_password


def test_a_superuser_cannot_revoke_their_own_superuser_status():
    org = make_org(MANAGE)
    response = browser(org.admin).post(org.admin.get_edit_url(), user_form(org.admin))
    assert response.context["form"].errors["is_superuser"]
    org.admin.refresh_from_db()
    assert org.admin.is_superuser


def test_every_user_page_opens():
    org = make_org([*MANAGE, "accounts.reset_password", "accounts.view_loginlog"])
    client = browser(org.dept_user)
    target = org.self_user
    for url in (
        reverse("accounts:user_list"),
        reverse("accounts:user_add"),
        target.get_absolute_url(),
        target.get_edit_url(),
        target.get_delete_url(),
        reverse("accounts:user_reset_password", args=[target.pk]),
    ):
        assert client.get(url).status_code == 200, url
