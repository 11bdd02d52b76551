"""Repeated failed logins lock the account; an admin or the cool-down lifts the lock."""

import datetime

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from ibcloud.accounts import lockout
from ibcloud.accounts.models import LoginLog
from ibcloud.core.parameters import set_parameter
from tests.accounts.auth_support import (
    WRONG,
    api_login,
    captured_sensitive_actions,
    lockout_text,
    results_for,
    web_login,
)
from tests.conftest import make_org
from tests.factories import PASSWORD, RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

UNLOCKER = ["accounts.view_user", "accounts.change_user", "accounts.unlock_user"]


def fail_web(username: str, times: int = 5):
    client = Client()
    return [web_login(client, username, WRONG) for _ in range(times)]


def fail_api(username: str, times: int = 5):
    client = APIClient()
    return [api_login(client, username, WRONG) for _ in range(times)]


def test_five_wrong_passwords_lock_the_account_in_the_browser():
    user = UserFactory(username="zhang")
    responses = fail_web("zhang")
    assert [r.status_code for r in responses[:4]] == [200] * 4
    # The fifth failure locks: the page says so.
    assert responses[4].status_code == 403
    assert lockout_text() in responses[4].content.decode()
    assert lockout.is_locked(user)

    # The sixth try with the RIGHT password is refused too.
    client = Client()
    sixth = web_login(client, "zhang", PASSWORD)
    assert sixth.status_code == 403
    assert lockout_text() in sixth.content.decode()
    assert not client.get(reverse("accounts:login")).context["user"].is_authenticated

    # Every attempt is in the login log with its reason.
    assert results_for("zhang") == ["bad_password"] * 5 + ["locked", "locked"]


def test_five_wrong_passwords_lock_the_account_in_the_api():
    UserFactory(username="zhang")
    responses = fail_api("zhang")
    assert [r.status_code for r in responses[:4]] == [400] * 4
    assert responses[0].json()["code"] == "invalid"
    assert responses[4].status_code == 403
    assert responses[4].json()["code"] == "account_locked"

    sixth = api_login(APIClient(), "zhang", PASSWORD)
    assert sixth.status_code == 403
    body = sixth.json()
    assert body["code"] == "account_locked" and body["message"] and "details" in body
    assert "token" not in body
    assert results_for("zhang") == ["bad_password"] * 5 + ["locked", "locked"]
    assert set(LoginLog.objects.filter(username="zhang").values_list("channel", flat=True)) == {
        "api"
    }


def test_failures_from_browser_and_api_add_up():
    user = UserFactory(username="zhang")
    fail_web("zhang", 3)
    fail_api("zhang", 2)
    assert lockout.is_locked(user)
    assert api_login(APIClient(), "zhang", PASSWORD).status_code == 403


def test_a_success_before_the_limit_resets_the_count():
    user = UserFactory(username="zhang")
    fail_web("zhang", 4)
    assert web_login(Client(), "zhang", PASSWORD).status_code == 302
    fail_web("zhang", 4)
    assert not lockout.is_locked(user)


def test_the_limit_is_a_system_parameter():
    user = UserFactory(username="zhang")
    set_parameter("accounts.lockout_limit", 2)
    fail_web("zhang", 2)
    assert lockout.is_locked(user)
    assert web_login(Client(), "zhang", PASSWORD).status_code == 403


def test_cool_down_lifts_the_lock():
    user = UserFactory(username="zhang")
    set_parameter("accounts.lockout_minutes", 10)
    fail_web("zhang")
    assert web_login(Client(), "zhang", PASSWORD).status_code == 403
    # Time travel: the failures happened eleven minutes ago.
    AccessAttempt.objects.filter(username="zhang").update(
        attempt_time=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=11)
    )
    assert not lockout.is_locked(user)
    assert web_login(Client(), "zhang", PASSWORD).status_code == 302


def test_admin_unlocks_in_the_browser():
    org = make_org(UNLOCKER)
    fail_web("dept_user")
    assert lockout.is_locked(org.dept_user)
    client = Client()
    client.force_login(org.all_user)
    with captured_sensitive_actions() as events:
        response = client.post(
            reverse("accounts:user_unlock", args=[org.dept_user.pk]),
            HTTP_REFERER="http://testserver/accounts/users/",
        )
    assert response.status_code == 302
    assert not lockout.is_locked(org.dept_user)
    assert [(e["event"], e["target"]) for e in events] == [("unlock", org.dept_user)]
    assert web_login(Client(), "dept_user", PASSWORD).status_code == 302


def test_unlock_needs_the_permission_and_a_user_within_reach():
    org = make_org(["accounts.view_user", "accounts.change_user"])
    fail_web("b_user")
    client = Client()
    client.force_login(org.all_user)
    url = reverse("accounts:user_unlock", args=[org.b_user.pk])
    assert client.post(url).status_code == 403
    assert lockout.is_locked(org.b_user)

    unlocker = UserFactory(
        department=org.dept_a, roles=[RoleFactory(data_scope="dept", perms=UNLOCKER)]
    )
    client.force_login(unlocker)
    assert client.post(url).status_code == 404
    assert lockout.is_locked(org.b_user)
    # GET does not unlock.
    client.force_login(org.admin)
    assert client.get(url).status_code == 405
    assert lockout.is_locked(org.b_user)


def test_admin_unlocks_through_the_api(api):
    org = make_org(UNLOCKER)
    fail_api("dept_user")
    fail_api("b_user")
    client = api.as_user(org.dept_and_below_user)
    listed = client.get("/api/v1/accounts/lockouts/")
    assert listed.status_code == 200
    # Only locked users within reach are listed.
    assert [row["username"] for row in listed.json()] == ["dept_user"]
    assert listed.json()[0]["failures"] == 5

    assert client.post(f"/api/v1/accounts/lockouts/{org.b_user.pk}/unlock/").status_code == 404
    assert client.post("/api/v1/accounts/lockouts/99999999999999999999/unlock/").status_code == 404
    with captured_sensitive_actions() as events:
        response = client.post(f"/api/v1/accounts/lockouts/{org.dept_user.pk}/unlock/")
    assert response.status_code == 200
    assert response.json() == {
        "user": org.dept_user.pk,
        "username": "dept_user",
        "was_locked": True,
    }
    assert [e["event"] for e in events] == ["unlock"]
    assert client.get("/api/v1/accounts/lockouts/").json() == []
    assert api_login(APIClient(), "dept_user", PASSWORD).status_code == 200
    assert lockout.is_locked(org.b_user)


def test_lockout_api_needs_the_unlock_permission(api):
    org = make_org(["accounts.view_user", "accounts.change_user"])
    client = api.as_user(org.all_user)
    response = client.get("/api/v1/accounts/lockouts/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert client.post(f"/api/v1/accounts/lockouts/{org.b_user.pk}/unlock/").status_code == 403
