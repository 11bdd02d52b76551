"""Where a request comes from (login log, token use, audit entries share this rule)."""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    """The client address: REMOTE_ADDR, or the proxy-reported one when behind a trusted proxy.

    X-Forwarded-For is believed only when a proxy count N is configured, and then only its Nth
    entry from the right: each trusted proxy appends the address it saw, while everything to
    the left of that came from the client and can be forged.
    """
    address = getattr(request, "META", {}).get("REMOTE_ADDR", "")
    proxies = getattr(settings, "AXES_IPWARE_PROXY_COUNT", None) or 0
    if proxies:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if len(hops) >= proxies:
            address = hops[-proxies]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
