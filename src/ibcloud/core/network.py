"""Where a request comes from (login log, token use, audit entries share this rule)."""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    """The client address: REMOTE_ADDR, or the proxy-reported one when behind a trusted proxy.

    X-Forwarded-For is believed only when a proxy count is configured: clients can forge it.
    """
    address = getattr(request, "META", {}).get("REMOTE_ADDR", "")
    if getattr(settings, "AXES_IPWARE_PROXY_COUNT", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            address = forwarded.split(",")[0].strip()
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
