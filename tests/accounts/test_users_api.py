"""User management through the API: the same scope, guards and side effects as the UI."""

import pytest
from django.contrib.auth import get_user_model
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
from tests.factories import RoleFactory, UserFactory, token_for

User = get_user_model()
pytestmark = pytest.mark.django_db

MANAGE = ["accounts.view_user", "accounts.add_user", "accounts.change_user", "accounts.delete_user"]
URL = "/api/v1/accounts/users/"


def usernames(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["username"] for row in response.json()["results"]}


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["message"]
    return body


def test_the_list_holds_only_users_within_the_data_scope(api):
    org = make_org(MANAGE)
    in_a = {"all_user", "below_user", "dept_user", "self_user", "custom_user"}
    assert usernames(api.as_user(org.dept_user).get(URL)) == in_a
    assert usernames(api.as_user(org.self_user).get(URL)) == {"self_user"}
    assert usernames(api.as_user(org.custom_user).get(URL)) == {"b_user"}
    assert usernames(api.as_user(org.b_user).get(URL)) == {"b_user"}
    assert "b_user" in usernames(api.as_user(org.admin).get(URL))


def test_the_list_filters_like_the_page(api):
    org = make_org(MANAGE)
    UserFactory(username="li", name="李雷", department=org.dept_a1)
    client = api.as_user(org.admin)
    assert usernames(client.get(URL, {"q": "李"})) == {"li"}
    assert usernames(client.get(URL, {"department": org.dept_a1.pk})) == {"li"}
    assert "li" in usernames(client.get(URL, {"department": org.dept_a.pk}))
    bad = client.get(URL, {"department": 10**12})
    assert_error(bad, 400)


def test_a_user_outside_the_data_scope_answers_404(api):
    org = make_org(MANAGE)
    client = api.as_user(org.dept_user)
    assert_error(client.get(f"{URL}{org.b_user.pk}/"), 404)
    assert_error(client.patch(f"{URL}{org.b_user.pk}/", {"name": "x"}, format="json"), 404)
    assert_error(client.delete(f"{URL}{org.b_user.pk}/"), 404)
    assert client.get(f"{URL}{org.self_user.pk}/").status_code == 200


def test_the_export_holds_only_users_within_the_data_scope(api):
    org = make_org(MANAGE)
    body = export_text(api.as_user(org.dept_user).get(f"{URL}export/", {"file_format": "csv"}))
    assert "dept_user" in body and "b_user" not in body


def test_the_lock_state_is_part_of_a_user(api):
    org = make_org(MANAGE)
    lock_out(org.self_user)
    rows = api.as_user(org.dept_user).get(URL).json()["results"]
    assert {row["username"]: row["is_locked"] for row in rows}["self_user"] is True
    assert {row["username"]: row["is_locked"] for row in rows}["dept_user"] is False


def test_creating_a_user_through_the_api(api):
    org = make_org(MANAGE)
    role = org.dept_user.roles.get()
    with sensitive_actions() as events:
        response = api.as_user(org.dept_user).post(
            URL,
            {
                "username": "wang",
                "name": "王五",
                "department": org.dept_a.pk,
                "roles": [role.pk],
                "password": STRONG,
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    assert "password" not in response.json()
    user = User.objects.get(username="wang")
    assert user.check_password(STRONG) and user.must_change_password
    assert events_named(events, "role_change")[0]["details"]["after"] == [role.name]


def test_creating_needs_a_password_that_follows_the_policy(api):
    org = make_org(MANAGE)
    client = api.as_user(org.admin)
    body = assert_error(client.post(URL, {"username": "wang"}, format="json"), 400)
    assert "password" in body["details"]
    body = assert_error(
        client.post(URL, {"username": "wang", "password": "abc"}, format="json"), 400
    )
    assert "password" in body["details"]
    assert not User.objects.filter(username="wang").exists()


def test_a_user_cannot_be_put_in_a_department_out_of_reach(api):
    org = make_org(MANAGE)
    client = api.as_user(org.dept_user)
    body = assert_error(
        client.patch(f"{URL}{org.self_user.pk}/", {"department": org.dept_b.pk}, format="json"),
        400,
    )
    assert "department" in body["details"]
    org.self_user.refresh_from_db()
    assert org.self_user.department == org.dept_a


def test_only_a_superuser_can_grant_superuser(api):
    org = make_org(MANAGE)
    url = f"{URL}{org.self_user.pk}/"
    assert_error(api.as_user(org.all_user).patch(url, {"is_superuser": True}, format="json"), 400)
    org.self_user.refresh_from_db()
    assert not org.self_user.is_superuser
    assert (
        api.as_user(org.admin).patch(url, {"is_superuser": True}, format="json").status_code == 200
    )
    org.self_user.refresh_from_db()
    assert org.self_user.is_superuser


def test_roles_with_permissions_one_lacks_cannot_be_assigned(api):
    org = make_org(MANAGE)
    powerful = RoleFactory(data_scope="self", perms=["accounts.reset_password"])
    url = f"{URL}{org.self_user.pk}/"
    body = assert_error(
        api.as_user(org.all_user).patch(url, {"roles": [powerful.pk]}, format="json"), 400
    )
    assert "roles" in body["details"]
    assert powerful not in org.self_user.roles.all()


def test_changing_roles_is_audited(api):
    org = make_org(MANAGE)
    role = RoleFactory(name="观察员", perms=["accounts.view_user"])
    before = [r.name for r in org.self_user.roles.all()]
    with sensitive_actions() as events:
        response = api.as_user(org.admin).patch(
            f"{URL}{org.self_user.pk}/", {"roles": [role.pk]}, format="json"
        )
    assert response.status_code == 200
    change = events_named(events, "role_change")
    assert change[0]["details"] == {"before": before, "after": ["观察员"]}


def test_disabling_through_the_api_ends_sessions_and_refuses_tokens(api):
    org = make_org(MANAGE)
    target = UserFactory(department=org.dept_a)
    key = token_for(target)
    browser(target)
    assert Session.objects.filter(user=target).exists()

    with sensitive_actions() as events:
        response = api.as_user(org.dept_user).post(f"{URL}{target.pk}/disable/")
    assert response.status_code == 200, response.content
    assert response.json()["is_active"] is False
    assert not Session.objects.filter(user=target).exists()
    assert events_named(events, "account_disable")

    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get(URL).status_code == 401

    response = api.as_user(org.dept_user).post(f"{URL}{target.pk}/enable/")
    assert response.json()["is_active"] is True


def test_disable_needs_the_change_permission_and_reach(api):
    org = make_org(["accounts.view_user", "accounts.add_user"])
    assert_error(api.as_user(org.dept_user).post(f"{URL}{org.self_user.pk}/disable/"), 403)
    other = make_managers(org)
    assert_error(api.as_user(other).post(f"{URL}{org.b_user.pk}/disable/"), 404)
    assert_error(api.as_user(other).post(f"{URL}{other.pk}/disable/"), 400)
    org.b_user.refresh_from_db()
    assert org.b_user.is_active


def make_managers(org):
    return UserFactory(department=org.dept_a, roles=[RoleFactory(data_scope="dept", perms=MANAGE)])


def test_reset_password_through_the_api(api):
    org = make_org([*MANAGE, "accounts.reset_password"])
    url = f"{URL}{org.self_user.pk}/reset-password/"
    client = api.as_user(org.dept_user)
    body = assert_error(client.post(url, {"password": "weak"}, format="json"), 400)
    assert "password" in body["details"]
    response = client.post(url, {"password": STRONG}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["must_change_password"] is True
    org.self_user.refresh_from_db()
    assert org.self_user.check_password(STRONG)
    assert_error(client.post(f"{URL}{org.b_user.pk}/reset-password/", {"password": STRONG}), 404)


def test_reset_password_needs_its_permission(api):
    org = make_org(MANAGE)
    url = f"{URL}{org.self_user.pk}/reset-password/"
    assert_error(api.as_user(org.dept_user).post(url, {"password": STRONG}, format="json"), 403)


def test_delete_refusals(api):
    org = make_org(MANAGE)
    boss = UserFactory(is_superuser=True, department=org.dept_a)
    client = api.as_user(org.dept_user)
    assert_error(client.delete(f"{URL}{org.dept_user.pk}/"), 409)
    assert_error(client.delete(f"{URL}{boss.pk}/"), 403)
    assert User.objects.filter(pk__in=[org.dept_user.pk, boss.pk]).count() == 2
    assert client.delete(f"{URL}{org.self_user.pk}/").status_code == 204
    assert not User.objects.filter(pk=org.self_user.pk).exists()


def test_a_superuser_cannot_revoke_their_own_superuser_status(api):
    org = make_org(MANAGE)
    url = f"{URL}{org.admin.pk}/"
    assert_error(api.as_user(org.admin).patch(url, {"is_superuser": False}, format="json"), 400)
    org.admin.refresh_from_db()
    assert org.admin.is_superuser
