"""auditlog's middleware with the platform's client-IP rule and the user agent."""

from __future__ import annotations

from auditlog.middleware import AuditlogMiddleware

from ibcloud.audit.services import client_ip, user_agent


class AuditMiddleware(AuditlogMiddleware):
    """Puts actor, IP and user agent of the request where every audit entry written during it
    reads them.

    auditlog's own IP rule believes any ``X-Forwarded-For`` header, which a client can forge;
    here the header counts only behind a configured trusted proxy (``IBCLOUD_PROXY_COUNT``).
    """

    @staticmethod
    def _get_remote_addr(request):
        return client_ip(request)

    def get_extra_data(self, request):
        context = super().get_extra_data(request)
        context["user_agent"] = user_agent(request)
        return context
