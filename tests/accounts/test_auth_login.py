"""Logging in and out through the browser, and the login log every attempt leaves."""

import pytest
from django.urls import reverse
from django.utils import timezone

from ibcloud.accounts.models import LoginLog
from tests.accounts.auth_support import (
    WRONG,
    captured_sensitive_actions,
    error_codes,
    results_for,
    web_login,
)
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_right_password_logs_in_and_is_logged(client):
    user = UserFactory(username="zhang")
    with captured_sensitive_actions() as events:
        response = web_login(client, "zhang", HTTP_USER_AGENT="Firefox/140")
    assert response.status_code == 302
    assert response.url == reverse("core:home")
    assert client.get(reverse("core:home")).context["user"] == user
    row = LoginLog.objects.get(username="zhang")
    assert (row.result, row.channel, row.ip, row.user_agent) == (
        "success",
        "web",
        "127.0.0.1",
        "Firefox/140",
    )
    assert row.user == user
    assert [(e["event"], e["target"]) for e in events] == [("login", user)]
    user.refresh_from_db()
    assert user.last_login is not None


def test_wrong_password_shows_an_error_and_is_logged(client):
    UserFactory(username="zhang")
    with captured_sensitive_actions() as events:
        response = web_login(client, "zhang", WRONG)
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not response.context["user"].is_authenticated
    assert results_for("zhang") == ["bad_password"]
    assert [e["event"] for e in events] == ["login_failed"]
    # The password is never part of what is audited.
    assert WRONG not in repr(events)


def test_unknown_user_is_logged_without_a_user():
    from django.test import Client

    web_login(Client(), "nobody", WRONG)
    row = LoginLog.objects.get(username="nobody")
    assert (row.result, row.user) == ("unknown_user", None)


def test_disabled_account_is_told_so_only_with_the_right_password(client):
    UserFactory(username="gone", is_active=False)
    with_right = web_login(client, "gone", PASSWORD)
    assert error_codes(with_right.context["form"]) == {"inactive"}
    with_wrong = web_login(client, "gone", WRONG)
    assert error_codes(with_wrong.context["form"]) == {"invalid_login"}
    assert results_for("gone") == ["disabled", "disabled"]


def test_logout_needs_post_and_is_logged(client):
    user = UserFactory(username="zhang")
    client.force_login(user)
    assert client.get(reverse("accounts:logout")).status_code == 405
    with captured_sensitive_actions() as events:
        response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert not client.get(reverse("accounts:login")).context["user"].is_authenticated
    # force_login counts as a login too; the logout follows it.
    assert results_for("zhang") == ["success", "logout"]
    assert [e["event"] for e in events] == ["logout"]


def test_logged_in_user_opening_login_page_goes_home(client):
    client.force_login(UserFactory())
    assert client.get(reverse("accounts:login")).status_code == 302


def test_must_change_password_is_sent_to_password_page_until_changed(client):
    user = UserFactory(username="newbie", must_change_password=True)
    response = web_login(client, "newbie")
    assert response.url == reverse("accounts:password_change")
    # Any other page sends them back to the password page.
    home = client.get(reverse("core:home"))
    assert home.status_code == 302 and home.url == reverse("accounts:password_change")
    page = client.get(reverse("accounts:password_change"))
    assert page.status_code == 200
    assert b"must-change-password" in page.content

    new = "N3w!Secret-pass"
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.must_change_password
    assert user.password_changed_at is not None
    assert user.check_password(new)
    # The same session stays logged in and may now open other pages.
    assert client.get(reverse("core:home")).status_code == 200


def test_disabled_user_session_stops_working_at_once(client):
    user = UserFactory()
    client.force_login(user)
    assert client.get(reverse("core:home")).status_code == 200
    user.is_active = False
    user.save()
    response = client.get(reverse("core:home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_login_log_time_is_now(client):
    UserFactory(username="zhang")
    before = timezone.now()
    web_login(client, "zhang")
    assert LoginLog.objects.get(username="zhang").time >= before
