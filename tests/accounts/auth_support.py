"""Helpers shared by the authentication tests (test_auth_*.py)."""

from __future__ import annotations

import contextlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from ibcloud.accounts import lockout
from ibcloud.accounts.models import LoginLog
from ibcloud.accounts.passwords import PolicyValidator
from ibcloud.core.signals import sensitive_action
from tests.factories import PASSWORD

WRONG = "wrong-Passw0rd!"
LOGIN_URL = "/api/v1/auth/login/"


@contextlib.contextmanager
def captured_sensitive_actions():
    """Collect the sensitive actions announced inside the block (what the audit log stores)."""
    events: list[dict] = []

    def receiver(sender, **kwargs):
        events.append(kwargs)

    sensitive_action.connect(receiver, weak=False)
    try:
        yield events
    finally:
        sensitive_action.disconnect(receiver)


def web_login(client, username: str, password: str = PASSWORD, **extra):
    return client.post(
        reverse("accounts:login"), {"username": username, "password": password}, **extra
    )


def api_login(client, username: str, password: str = PASSWORD, **extra):
    return client.post(
        LOGIN_URL, {"username": username, "password": password}, format="json", **extra
    )


def results_for(username: str) -> list[str]:
    """The login-log results of ``username``, oldest first."""
    return list(
        LoginLog.objects.filter(username=username)
        .order_by("time", "id")
        .values_list("result", flat=True)
    )


def policy_messages(password: str) -> list[str]:
    """What the password policy says about ``password``, in the default UI language."""
    with translation.override(settings.LANGUAGE_CODE):
        try:
            PolicyValidator().validate(password)
        except ValidationError as exc:
            return list(exc.messages)
    return []


def lockout_text() -> str:
    """The lockout message in the default UI language."""
    with translation.override(settings.LANGUAGE_CODE):
        return lockout.lockout_message()


def error_codes(form) -> set[str]:
    return {error.code for errors in form.errors.as_data().values() for error in errors}
