"""Authentication logic shared by the login pages, the API and the signal receivers.

Login log, online sessions and tokens, force logout, password change, unlock and API tokens.
Views, viewsets and receivers stay thin and call these functions.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from typing import Any

from axes.models import AccessAttempt
from django.contrib.auth import update_session_auth_hash
from django.db.models import Max, QuerySet, Sum
from django.utils import timezone
from django.utils.functional import empty
from django.utils.translation import gettext_lazy
from user_sessions.models import Session

from ibcloud.accounts import lockout
from ibcloud.accounts.models import ApiToken, LoginLog, User
from ibcloud.core.network import client_ip
from ibcloud.core.parameters import define
from ibcloud.core.scoping import restrict
from ibcloud.core.signals import record_sensitive_action

ONLINE_MINUTES = define(
    "accounts.online_token_minutes",
    default=30,
    kind=int,
    minimum=1,
    maximum=60 * 24,
    label=gettext_lazy("Minutes since last use during which an API token counts as online"),
)
LOGIN_TOKEN_HOURS = define(
    "accounts.login_token_hours",
    default=24 * 7,
    kind=int,
    minimum=1,
    maximum=24 * 365,
    label=gettext_lazy("Hours an API token issued by the login endpoint stays valid"),
)

# Length of the opaque session id shown instead of the session key (80 bits of a SHA-256).
SESSION_ID_LENGTH = 20
USER_AGENT_LENGTH = 300


# --- Login log ------------------------------------------------------------------------------------


def http_request(request: Any) -> Any:
    """The Django ``HttpRequest`` behind a DRF ``Request`` (or the request itself).

    Axes marks the request it was given (``axes_locked_out``) and its middleware reads the Django
    request, so both must be the same object.
    """
    return getattr(request, "_request", request)


def concrete_user(user: Any) -> Any:
    """The model instance behind ``request.user`` (a lazy proxy that ``type()`` sees through)."""
    wrapped = getattr(user, "_wrapped", None)
    if wrapped is not None and wrapped is not empty:
        return wrapped
    return user


def channel_of(request: Any) -> str:
    """``api`` for requests under ``/api/``, else ``web``."""
    path = getattr(request, "path", "") or ""
    return "api" if path.startswith("/api/") else "web"


def user_agent_of(request: Any) -> str:
    if request is None:
        return ""
    return request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_LENGTH]


def record_login_event(
    request: Any,
    result: str,
    user: User | None = None,
    username: str = "",
    *,
    channel: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> LoginLog:
    """Write one login-log row; IP, user agent and channel come from ``request`` unless given."""
    return LoginLog.objects.create(
        user=user,
        username=(username or (user.get_username() if user is not None else ""))[:150],
        ip=ip if ip is not None else (client_ip(request) if request is not None else None),
        user_agent=(user_agent if user_agent is not None else user_agent_of(request))[
            :USER_AGENT_LENGTH
        ],
        channel=channel or (channel_of(request) if request is not None else "web"),
        result=result,
    )


def failure_reason(username: str) -> tuple[str, User | None]:
    """Why a login with ``username`` failed when the lockout did not refuse it."""
    user = User.objects.filter(username=username).first() if username else None
    if user is None:
        return LoginLog.Result.UNKNOWN_USER, None
    if not user.is_active:
        return LoginLog.Result.DISABLED, user
    return LoginLog.Result.BAD_PASSWORD, user


# --- Online users: sessions and tokens ------------------------------------------------------------


def reachable_users(viewer: Any, action: str = "view") -> QuerySet:
    """Users within ``viewer``'s data scope (the one scoping function, applied to users)."""
    return restrict(User.objects.all(), viewer, action)


def session_id(session_key: str) -> str:
    """An opaque, non-reversible id for a session; the key itself is a credential."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:SESSION_ID_LENGTH]


def active_sessions(viewer: Any) -> QuerySet:
    """Unexpired sessions of logged-in users within ``viewer``'s reach, latest activity first."""
    return (
        Session.objects.filter(
            expire_date__gt=timezone.now(),
            user__isnull=False,
            user__in=reachable_users(viewer),
        )
        .select_related("user", "user__department")
        .order_by("-last_activity")
    )


def find_session(viewer: Any, opaque_id: str) -> Session | None:
    """The active session in reach whose opaque id is ``opaque_id`` (None if none)."""
    if not isinstance(opaque_id, str) or len(opaque_id) != SESSION_ID_LENGTH:
        return None
    for session in active_sessions(viewer):
        if session_id(session.session_key) == opaque_id:
            return session
    return None


def online_since() -> datetime.datetime:
    return timezone.now() - datetime.timedelta(minutes=ONLINE_MINUTES.get())


def active_tokens(viewer: Any) -> QuerySet:
    """Unexpired API tokens used recently by users within ``viewer``'s reach."""
    now = timezone.now()
    return (
        ApiToken.objects.filter(last_used_at__gte=online_since(), user__in=reachable_users(viewer))
        .exclude(expires_at__lte=now)
        .select_related("user", "user__department")
        .order_by("-last_used_at")
    )


def force_logout_session(request: Any, session: Session) -> None:
    """End ``session`` now: the user's next request is anonymous. Logged and audited."""
    user = session.user
    ip, agent = session.ip, session.user_agent or ""
    opaque = session_id(session.session_key)
    session.delete()
    if user is not None:
        record_login_event(
            request,
            LoginLog.Result.FORCED_LOGOUT,
            user=user,
            channel="web",
            ip=ip,
            user_agent=agent,
        )
    record_sensitive_action(
        request,
        "force_logout",
        target=user,
        description=f"session of {user}",
        kind="session",
        session=opaque,
    )


def revoke_token(request: Any, token: ApiToken, *, forced: bool) -> None:
    """Delete ``token``; ``forced`` when someone else's token is revoked (logged and audited)."""
    user = token.user
    prefix = token.prefix
    token.delete()
    if forced:
        record_login_event(
            request,
            LoginLog.Result.FORCED_LOGOUT,
            user=user,
            channel="api",
            ip=token.last_ip,
            user_agent=token.last_user_agent,
        )
        record_sensitive_action(
            request,
            "force_logout",
            target=user,
            description=f"API token {prefix}… of {user}",
            kind="token",
            token_prefix=prefix,
        )


# --- API tokens of one's own ----------------------------------------------------------------------


def issue_login_token(user: User, request: Any) -> tuple[ApiToken, str]:
    """A token for an API login; it expires after the ``accounts.login_token_hours`` parameter."""
    expires = timezone.now() + datetime.timedelta(hours=LOGIN_TOKEN_HOURS.get())
    name = f"login {user_agent_of(request)}".strip()[:100]
    return ApiToken.issue(user, name=name, expires_at=expires)


def own_tokens(user: User) -> QuerySet:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


# --- Passwords ------------------------------------------------------------------------------------


def change_password(request: Any, user: User, new_password: str) -> None:
    """Set ``user``'s password (already validated); the current session stays logged in."""
    user = concrete_user(user)
    user.set_password(new_password)
    user.password_changed_at = timezone.now()
    user.must_change_password = False
    user.save()
    session = getattr(http_request(request), "session", None)
    if session is not None and getattr(request, "user", None) == user:
        update_session_auth_hash(http_request(request), user)
    record_sensitive_action(request, "password_change", target=user, actor=user)


# --- Lockout --------------------------------------------------------------------------------------


@dataclass
class LockedAccount:
    user: User
    failures: int
    last_failure: datetime.datetime

    @property
    def unlocks_at(self) -> datetime.datetime:
        return self.last_failure + lockout.cooloff_time()


def locked_accounts(viewer: Any, action: str = "view") -> list[LockedAccount]:
    """Accounts locked now (failures within the cool-down reached the limit), within reach."""
    since = timezone.now() - lockout.cooloff_time()
    rows = (
        AccessAttempt.objects.filter(attempt_time__gte=since, username__isnull=False)
        .values("username")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        .filter(failures__gte=lockout.LOCKOUT_LIMIT.get())
    )
    by_username = {row["username"]: row for row in rows}
    if not by_username:
        return []
    users = (
        reachable_users(viewer, action)
        .filter(username__in=by_username)
        .select_related("department")
    )
    return [
        LockedAccount(
            user=user,
            failures=by_username[user.username]["failures"],
            last_failure=by_username[user.username]["last"],
        )
        for user in users.order_by("username")
    ]


def unlock_user(request: Any, user: User) -> bool:
    """Lift ``user``'s lockout; returns whether the account was locked. Audited as ``unlock``."""
    was_locked = lockout.is_locked(user)
    lockout.unlock(user)
    record_sensitive_action(
        request, "unlock", target=user, description=str(user), was_locked=was_locked
    )
    return was_locked
