"""API token authentication: ``Authorization: Token <key>`` (or ``Bearer <key>``)."""

from __future__ import annotations

import datetime

from auditlog.context import auditlog_value
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from ibcloud.accounts.models import ApiToken
from ibcloud.core.network import client_ip

# Writing last-use on every request would make every API read a write; once a minute is enough
# for the online-users page.
TOUCH_INTERVAL = datetime.timedelta(seconds=60)


class ApiTokenAuthentication(BaseAuthentication):
    keywords = (b"token", b"bearer")

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(_("Invalid token header."))
        try:
            key = parts[1].decode()
        except UnicodeError as exc:
            raise AuthenticationFailed(_("Invalid token header.")) from exc
        token = (
            ApiToken.objects.select_related("user", "user__department")
            .filter(key_hash=ApiToken.hash_key(key))
            .first()
        )
        if token is None or token.is_expired:
            raise AuthenticationFailed(_("Invalid or expired token."))
        if not token.user.is_active:
            raise AuthenticationFailed(_("User account is disabled."))
        self._touch(token, request)
        # The audit middleware ran before DRF authenticated the request; tell it who acts.
        try:
            auditlog_value.get()["actor"] = token.user
        except LookupError:
            pass
        return token.user, token

    def authenticate_header(self, request) -> str:
        return "Token"

    @staticmethod
    def _touch(token: ApiToken, request) -> None:
        now = timezone.now()
        if token.last_used_at and now - token.last_used_at < TOUCH_INTERVAL:
            return
        ApiToken.objects.filter(pk=token.pk).update(
            last_used_at=now,
            last_ip=client_ip(request),
            last_user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        )


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Tells drf-spectacular (and Swagger UI) how to send the token."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`: get a key from POST /api/v1/auth/login/ or the profile.",
        }
