"""Login log and audit of authentication events.

Django sends ``user_logged_in`` / ``user_login_failed`` / ``user_logged_out`` for the login page;
the API login and logout send the same signals, so one set of receivers logs both channels.
Axes' receivers are connected first (``axes`` precedes this app in INSTALLED_APPS), so when ours
run the request already says whether axes refused the attempt or has just locked the account.
"""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from ibcloud.accounts.auth_services import concrete_user, failure_reason, record_login_event
from ibcloud.accounts.models import LoginLog, User
from ibcloud.core.signals import record_sensitive_action

# Attribute our lockout receiver sets on the request; the failure receiver that follows reads it.
LOCKED_FLAG = "ibcloud_locked_out"


@receiver(user_logged_in, dispatch_uid="accounts.log_login")
def log_login(sender, request, user, **kwargs) -> None:
    record_login_event(request, LoginLog.Result.SUCCESS, user=user)
    record_sensitive_action(request, "login", target=user, actor=user, description=str(user))


@receiver(user_logged_out, dispatch_uid="accounts.log_logout")
def log_logout(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    # logout() passes request.user, a lazy proxy; receivers downstream want the model instance.
    user = concrete_user(user)
    record_login_event(request, LoginLog.Result.LOGOUT, user=user)
    record_sensitive_action(request, "logout", target=user, actor=user, description=str(user))


@receiver(user_locked_out, dispatch_uid="accounts.mark_lockout")
def mark_lockout(sender, request=None, username=None, **kwargs) -> None:
    """Axes sends this from inside its own ``user_login_failed`` receiver; remember it."""
    if request is not None:
        setattr(request, LOCKED_FLAG, True)


def refused_by_lockout(request) -> bool:
    """Axes refused the attempt because the account was already locked (password not checked).

    Axes sets ``axes_locked_out`` both when it refuses and when this failure reaches the limit;
    only in the latter does it count the failure (``axes_failures_since_start``).
    """
    return bool(getattr(request, "axes_locked_out", False)) and (
        getattr(request, "axes_failures_since_start", None) is None
    )


@receiver(user_login_failed, dispatch_uid="accounts.log_login_failed")
def log_login_failed(sender, credentials, request=None, **kwargs) -> None:
    username = str((credentials or {}).get("username") or "")
    if request is not None and refused_by_lockout(request):
        user = User.objects.filter(username=username).first() if username else None
        reason = LoginLog.Result.LOCKED
    else:
        reason, user = failure_reason(username)
    record_login_event(request, reason, user=user, username=username)
    record_sensitive_action(
        request,
        "login_failed",
        target=user,
        actor=None,
        description=username,
        username=username,
        reason=str(reason),
    )
    if reason != LoginLog.Result.LOCKED and getattr(request, LOCKED_FLAG, False):
        # This failure reached the limit: the account is locked from now on.
        record_login_event(request, LoginLog.Result.LOCKED, user=user, username=username)
