"""Helpers for the account-management tests (test_users*, test_departments*, test_roles*)."""

from __future__ import annotations

import contextlib

from axes.models import AccessAttempt
from django.test import Client

from ibcloud.accounts import lockout
from ibcloud.core.signals import sensitive_action

BACKEND = "ibcloud.accounts.backends.RoleBackend"
STRONG = "N3w!Secure-Pass"


def browser(user) -> Client:
    """A browser session logged in as ``user``."""
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


@contextlib.contextmanager
def sensitive_actions():
    """Collect the sensitive actions announced inside the block (what the audit log stores)."""
    events: list[dict] = []

    def receiver(sender, **kwargs):
        events.append(kwargs)

    sensitive_action.connect(receiver, weak=False)
    try:
        yield events
    finally:
        sensitive_action.disconnect(receiver)


def events_named(events: list[dict], name: str) -> list[dict]:
    return [event for event in events if event["event"] == name]


def lock_out(user) -> None:
    """Record as many recent failed logins as the lockout limit allows."""
    AccessAttempt.objects.create(
        username=user.username,
        ip_address="10.0.0.9",
        user_agent="test",
        http_accept="*/*",
        path_info="/accounts/login/",
        get_data="",
        post_data="",
        failures_since_start=lockout.LOCKOUT_LIMIT.get(),
    )
    assert lockout.is_locked(user)


def export_text(response) -> str:
    """The CSV export body as text."""
    assert response.status_code == 200, response.content[:300]
    return response.content.decode("utf-8-sig")
