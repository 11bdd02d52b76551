"""API clients log in for a token, log out, read and edit their profile, change their password."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from ibcloud.accounts.models import ApiToken, LoginLog
from tests.accounts.auth_support import (
    WRONG,
    api_login,
    captured_sensitive_actions,
    policy_messages,
    results_for,
)
from tests.factories import PASSWORD, DepartmentFactory, RoleFactory, UserFactory, token_for

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "N3w!Secret-pass"


def authed(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_login_returns_a_working_token_and_the_user():
    department = DepartmentFactory(name="投资银行一部")
    role = RoleFactory(name="分析师", perms=["accounts.view_loginlog"])
    user = UserFactory(username="zhang", name="张三", department=department, roles=[role])
    with captured_sensitive_actions() as events:
        response = api_login(APIClient(), "zhang", HTTP_USER_AGENT="ibcloud-app/1.0")
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["username"] == "zhang"
    assert body["user"]["department"] == {"id": department.pk, "name": "投资银行一部"}
    assert body["user"]["roles"] == [{"id": role.pk, "name": "分析师"}]
    assert "accounts.view_loginlog" in body["user"]["permissions"]
    assert body["expires_at"]
    # The key works and is stored only as a hash.
    assert authed(body["token"]).get("/api/v1/auth/me/").json()["username"] == "zhang"
    token = ApiToken.objects.get(user=user)
    assert token.key_hash == ApiToken.hash_key(body["token"]) and body["token"] not in token.name
    row = LoginLog.objects.get(username="zhang")
    assert (row.result, row.channel, row.ip, row.user_agent) == (
        "success",
        "api",
        "127.0.0.1",
        "ibcloud-app/1.0",
    )
    assert [e["event"] for e in events] == ["login"]
    assert body["token"] not in repr(events)
    user.refresh_from_db()
    assert user.last_login is not None


def test_wrong_credentials_answer_400_with_the_error_body():
    UserFactory(username="zhang")
    for username in ("zhang", "nobody"):
        response = api_login(APIClient(), username, WRONG)
        assert response.status_code == 400
        body = response.json()
        assert set(body) == {"code", "message", "details"}
        assert body["code"] == "invalid" and body["message"]
    assert results_for("zhang") == ["bad_password"]
    assert results_for("nobody") == ["unknown_user"]
    assert not ApiToken.objects.exists()


def test_missing_fields_answer_400_with_field_details():
    response = APIClient().post("/api/v1/auth/login/", {"username": "zhang"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["details"]


def test_disabled_account_cannot_log_in():
    UserFactory(username="gone", is_active=False)
    response = api_login(APIClient(), "gone")
    assert response.status_code == 403
    assert response.json()["code"] == "account_disabled"
    assert api_login(APIClient(), "gone", WRONG).status_code == 400
    assert results_for("gone") == ["disabled", "disabled"]
    assert not ApiToken.objects.exists()


def test_login_ignores_a_stale_token_header():
    UserFactory(username="zhang")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-valid-key")
    assert api_login(client, "zhang").status_code == 200


def test_logout_revokes_the_token_used():
    user = UserFactory(username="zhang")
    key = api_login(APIClient(), "zhang").json()["token"]
    other_key = token_for(user)
    client = authed(key)
    with captured_sensitive_actions() as events:
        assert client.post("/api/v1/auth/logout/").status_code == 204
    assert [e["event"] for e in events] == ["logout"]
    assert results_for("zhang") == ["success", "logout"]
    response = client.get("/api/v1/auth/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    # Only that token: the user's other clients stay logged in.
    assert authed(other_key).get("/api/v1/auth/me/").status_code == 200


def test_logout_needs_authentication():
    response = APIClient().post("/api/v1/auth/logout/")
    assert response.status_code in (401, 403)
    assert set(response.json()) == {"code", "message", "details"}


def test_disabled_users_token_answers_401_on_the_next_request():
    user = UserFactory()
    client = authed(token_for(user))
    assert client.get("/api/v1/auth/me/").status_code == 200
    user.is_active = False
    user.save()
    response = client.get("/api/v1/auth/me/")
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == "authentication_failed"


def test_me_edits_contact_details_but_not_organisation(api):
    department = DepartmentFactory()
    other = DepartmentFactory()
    user = UserFactory(department=department)
    client = api.as_user(user)
    response = client.patch(
        "/api/v1/auth/me/",
        {
            "name": "李四",
            "phone": "13800000000",
            "email": "li@example.com",
            "position": "VP",
            "department": {"id": other.pk, "name": "x"},
            "roles": [],
            "username": "hacker",
            "must_change_password": True,
        },
        format="json",
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.name, user.phone, user.email, user.position) == (
        "李四",
        "13800000000",
        "li@example.com",
        "VP",
    )
    assert user.department == department
    assert user.username != "hacker" and not user.must_change_password


def test_me_rejects_a_bad_email(api):
    user = UserFactory()
    response = api.as_user(user).patch("/api/v1/auth/me/", {"email": "nope"}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()["details"]


def test_password_change_applies_the_policy(api):
    user = UserFactory(must_change_password=True)
    client = api.as_user(user)
    wrong_old = client.post(
        "/api/v1/auth/password/",
        {"old_password": WRONG, "new_password": NEW_PASSWORD},
        format="json",
    )
    assert wrong_old.status_code == 400
    assert "old_password" in wrong_old.json()["details"]

    too_simple = client.post(
        "/api/v1/auth/password/", {"old_password": PASSWORD, "new_password": "abc"}, format="json"
    )
    assert too_simple.status_code == 400
    details = too_simple.json()["details"]["new_password"]
    assert len(policy_messages("abc")) == 2
    assert set(policy_messages("abc")) <= set(details)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)

    ok = client.post(
        "/api/v1/auth/password/",
        {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )
    assert ok.status_code == 204
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert user.password_changed_at is not None and not user.must_change_password
    # The token used keeps working.
    assert client.get("/api/v1/auth/me/").status_code == 200


def test_password_change_keeps_the_browser_session(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        "/api/v1/auth/password/",
        {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 204
    assert client.get(reverse("core:home")).status_code == 200
    assert client.get("/api/v1/auth/me/").status_code == 200


def test_me_needs_authentication():
    response = APIClient().get("/api/v1/auth/me/")
    assert response.status_code in (401, 403)
    assert set(response.json()) == {"code", "message", "details"}
