"""SSRF guard: every outgoing request the platform makes on someone's behalf passes through here.

Admins configure URLs (webhook robots now, crawl sources later); without a guard such a URL could
reach the cloud metadata service (credentials), the database port or an intranet admin page.

Policy, for each URL and for every redirect hop:

* only ``http`` and ``https``;
* the host is resolved and **every** address it resolves to is checked;
* link-local (``169.254.0.0/16``, ``fe80::/10``) and cloud metadata addresses and host names are
  refused **always**, even when allowlisted;
* loopback, private, shared, reserved, multicast and unspecified addresses are refused unless the
  host name or a network containing the address is in ``settings.IBCLOUD_SSRF_ALLOWLIST``
  (entries: ``intranet.example``, ``.example`` for a domain and its sub-domains, ``10.0.0.0/8``,
  ``127.0.0.1``).

:func:`fetch` connects to the address that was checked (the host name is kept for the ``Host``
header, TLS SNI and certificate checks), so a DNS answer that changes between the check and the
connection (DNS rebinding) cannot redirect the request. Proxies from the environment are ignored
for the same reason.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
DEFAULT_TIMEOUT = 10
MAX_REDIRECTS = 5

#: Never reachable, whatever the allowlist says.
ALWAYS_BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "169.254.0.0/16",  # IPv4 link-local: AWS/Azure/GCP/Huawei/Tencent metadata live here
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "192.0.0.192/32",  # Oracle Cloud metadata
    )
)
ALWAYS_BLOCKED_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "metadata.tencentyun.com",
        "instance-data",
        "instance-data.ec2.internal",
    }
)


class SSRFBlocked(Exception):
    """The URL may not be fetched; ``reason`` says why (safe to show: holds no secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnresolvableHost(ConnectionError):
    """The host name does not resolve (a network problem, possibly temporary; not a refusal)."""


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed the guard, with the addresses it may be fetched from."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def _normalise_host(host: str) -> str:
    return host.strip().rstrip(".").lower()


def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address hidden in an IPv4-mapped or 6to4 IPv6 address, else ``ip``."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
    return ip


def _allowlist() -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    hosts: set[str] = set()
    networks = []
    for entry in getattr(settings, "IBCLOUD_SSRF_ALLOWLIST", ()) or ():
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            hosts.add(_normalise_host(entry.removeprefix("*")))
    return hosts, networks


def _host_allowlisted(host: str, hosts: set[str]) -> bool:
    if host in hosts:
        return True
    return any(
        entry.startswith(".") and (host.endswith(entry) or host == entry[1:]) for entry in hosts
    )


def check_address(address: str | IPAddress, host: str = "") -> None:
    """Raise :class:`SSRFBlocked` unless ``address`` (reached as ``host``) may be contacted."""
    ip = _unwrap(ipaddress.ip_address(str(address).split("%", 1)[0]))
    if ip.is_link_local or any(ip in net for net in ALWAYS_BLOCKED_NETWORKS):
        raise SSRFBlocked(f"{ip} is a link-local or cloud metadata address")
    internal = (
        ip.is_loopback
        or ip.is_private
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )
    if not internal:
        return
    hosts, networks = _allowlist()
    if _host_allowlisted(_normalise_host(host), hosts) or any(ip in net for net in networks):
        return
    raise SSRFBlocked(
        f"{ip} is an internal address; add the host or network to IBCLOUD_SSRF_ALLOWLIST"
    )


def _resolve(host: str, port: int) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"cannot resolve {host}") from exc
    addresses: list[str] = []
    for info in infos:
        address = info[4][0]
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnresolvableHost(f"cannot resolve {host}")
    return tuple(addresses)


def check_url(url: str, resolve: bool = True) -> CheckedURL:
    """Check ``url`` against the policy; raise :class:`SSRFBlocked` if it may not be fetched.

    With ``resolve=False`` (form validation) only the scheme, the host name and a literal IP are
    checked; the fetch itself always resolves and checks again. A host that does not resolve
    raises :class:`UnresolvableHost`.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise SSRFBlocked("malformed URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise SSRFBlocked("only http and https URLs are allowed")
    host = _normalise_host(parts.hostname or "")
    if not host:
        raise SSRFBlocked("the URL has no host")
    if host in ALWAYS_BLOCKED_HOSTS:
        raise SSRFBlocked(f"{host} is a cloud metadata host")
    port = port or DEFAULT_PORTS[scheme]
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        check_address(literal, host)
        return CheckedURL(url, scheme, host, port, (str(literal),))
    if not resolve:
        return CheckedURL(url, scheme, host, port, ())
    addresses = _resolve(host, port)
    for address in addresses:
        check_address(address, host)
    return CheckedURL(url, scheme, host, port, addresses)


class PinnedAddressAdapter(HTTPAdapter):
    """Connects to a checked IP address while the request keeps its host name.

    The host name still goes into the ``Host`` header, the TLS SNI and the certificate check, so
    HTTPS works as usual; only the DNS lookup is replaced by the answer the guard checked.
    """

    def __init__(self, address: str, host: str, **kwargs: Any) -> None:
        self.pinned_address = address
        self.pinned_host = host
        super().__init__(max_retries=0, **kwargs)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        host_params["host"] = self.pinned_address
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = self.pinned_host
            pool_kwargs["assert_hostname"] = self.pinned_host
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)


def _redirect_method(status: int, method: str) -> str:
    # What browsers (and requests) do: 303 always becomes GET; 301/302 turn POST into GET.
    if status == 303 and method != "HEAD":
        return "GET"
    if status in (301, 302) and method == "POST":
        return "GET"
    return method


def fetch(
    method: str, url: str, *, max_redirects: int = MAX_REDIRECTS, **kwargs: Any
) -> requests.Response:
    """``requests.request`` through the guard: every hop checked, connections pinned.

    Redirects are followed here (up to ``max_redirects``), each target checked before it is
    contacted; a refused hop raises :class:`SSRFBlocked`, too many raise
    ``requests.TooManyRedirects``. A host that does not resolve raises
    ``requests.ConnectionError``. ``timeout`` defaults to :data:`DEFAULT_TIMEOUT` seconds.
    """
    kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
    kwargs.pop("allow_redirects", None)
    headers = dict(kwargs.pop("headers", None) or {})
    method = method.upper()
    session = requests.Session()
    session.trust_env = False  # an environment proxy would bypass the pinned address
    try:
        for _hop in range(max_redirects + 1):
            try:
                checked = check_url(url)
            except UnresolvableHost as exc:
                raise requests.ConnectionError(str(exc)) from exc
            adapter = PinnedAddressAdapter(checked.addresses[0], checked.host)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            netloc = urlsplit(url).netloc.rsplit("@", 1)[-1]
            response = session.request(
                method,
                url,
                headers={**headers, "Host": netloc},
                allow_redirects=False,
                **kwargs,
            )
            location = response.headers.get("Location")
            if not response.is_redirect or not location:
                return response
            response.close()
            next_url = urljoin(url, location)
            if urlsplit(next_url).hostname != urlsplit(url).hostname:
                # Credentials meant for one host are not handed to another.
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            new_method = _redirect_method(response.status_code, method)
            if new_method != method:
                kwargs.pop("data", None)
                kwargs.pop("json", None)
                kwargs.pop("files", None)
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            method, url = new_method, next_url
    finally:
        if not kwargs.get("stream"):
            # A streamed body still needs its connection; otherwise free the pool now.
            session.close()
    raise requests.TooManyRedirects(f"more than {max_redirects} redirects")
