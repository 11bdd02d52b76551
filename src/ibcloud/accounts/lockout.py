"""Lockout after repeated failed logins (django-axes), configured by system parameters."""

from __future__ import annotations

import datetime

from axes.models import AccessAttempt
from axes.utils import reset
from django.db.models import Sum
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.core.parameters import define

LOCKOUT_LIMIT = define(
    "accounts.lockout_limit",
    default=5,
    kind=int,
    minimum=1,
    maximum=100,
    label=gettext_lazy("Failed logins before the account is locked"),
)
LOCKOUT_MINUTES = define(
    "accounts.lockout_minutes",
    default=30,
    kind=int,
    minimum=1,
    maximum=60 * 24 * 30,
    label=gettext_lazy("Minutes a locked account waits before it unlocks by itself"),
)


def failure_limit(request, credentials) -> int:
    return LOCKOUT_LIMIT.get()


def cooloff_time(request=None) -> datetime.timedelta:
    return datetime.timedelta(minutes=LOCKOUT_MINUTES.get())


def lockout_message() -> str:
    return _(
        "This account is locked after too many failed logins. Ask an administrator to unlock it, "
        "or try again in %(minutes)d minutes."
    ) % {"minutes": LOCKOUT_MINUTES.get()}


def lockout_response(request, original_response=None, credentials=None):
    """Axes calls this when a locked username tries to log in."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "account_locked", "message": lockout_message(), "details": {}}, status=403
        )
    from ibcloud.accounts.auth_forms import LoginForm

    # An unbound form: binding and validating it would call authenticate() a second time and
    # count (and log) one more failure.
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = LoginForm(request, initial={"username": username})
    return render(
        request,
        "accounts/login.html",
        {"form": form, "error_message": lockout_message()},
        status=403,
    )


def failures(user) -> int:
    """Failed logins of ``user`` within the cool-down.

    Axes keeps one row per (username, IP, user agent) and, locking on the username, sums them;
    so does this.
    """
    since = timezone.now() - cooloff_time()
    total = AccessAttempt.objects.filter(
        username=user.get_username(), attempt_time__gte=since
    ).aggregate(total=Sum("failures_since_start"))["total"]
    return total or 0


def is_locked(user) -> bool:
    """Whether ``user``'s username is locked out now (cool-down not yet over)."""
    return failures(user) >= LOCKOUT_LIMIT.get()


def unlock(user) -> int:
    """Lift the lockout of ``user`` (and forget their failed attempts); returns rows removed."""
    return reset(username=user.get_username())
