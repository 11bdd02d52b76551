"""Demo proxies: small HTTP forward proxies with Basic auth, each with its own source address.

The L2 demo site limits requests per client IP. To show a crawler beating that with a proxy pool
on one machine, each demo proxy connects to the target from a different loopback address
(127.0.0.11, 127.0.0.12, ...), so the site sees distinct clients. Where the system cannot bind
such an address (macOS without aliases) the proxy falls back to the default source address.

These proxies are demo peers, not general proxies: they require ``Proxy-Authorization: Basic``
(407 otherwise), speak plain HTTP with absolute-URI requests (GET, POST, HEAD; no CONNECT) and
forward only to loopback targets (403 otherwise).
"""

from __future__ import annotations

import base64
import binascii
import http.client
import ipaddress
import logging
import secrets
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, urlsplit

logger = logging.getLogger(__name__)

#: the proxy i (0-based) connects from 127.0.0.(FIRST_SOURCE_HOST + i)
FIRST_SOURCE_HOST = 11
UPSTREAM_TIMEOUT = 30
MAX_BODY = 10 * 1024 * 1024
# hop-by-hop headers (RFC 9110 7.6.1) and the proxy's own are not forwarded
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


def can_bind(address: str) -> bool:
    """True when this machine can use ``address`` as a source address."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))
        return True
    except OSError:
        return False


def loopback_target(host: str) -> str | None:
    """The address to connect to when ``host`` is a loopback target, else None."""
    if host.lower() == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # host names are not resolved: nothing but loopback literals is reachable
    return str(address) if address.version == 4 and address.is_loopback else None


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyHTTPServer

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        logger.debug("demo proxy %s: " + format, self.server.source_address, *args)

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def do_HEAD(self) -> None:
        self._forward()

    def do_CONNECT(self) -> None:
        self._reply(501, b"CONNECT is not supported by the demo proxy\n")

    def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _authorised(self) -> bool:
        scheme, _, token = self.headers.get("Proxy-Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(given.encode(), self.server.credentials.encode())

    def _forward(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True  # the body cannot be skipped reliably
            self._reply(400 if length < 0 else 413, b"bad or too large request body\n")
            return
        body = self.rfile.read(length) if length else b""
        if not self._authorised():
            self._reply(
                407,
                b"proxy authentication required\n",
                [("Proxy-Authenticate", 'Basic realm="ibcloud demo proxy"')],
            )
            return
        target = urlsplit(self.path)
        if target.scheme != "http" or not target.hostname:
            self._reply(400, b"the demo proxy forwards absolute http:// URLs only\n")
            return
        address = loopback_target(target.hostname)
        if address is None:
            self._reply(403, b"the demo proxy forwards to this machine (loopback) only\n")
            return
        path = target.path or "/"
        if target.query:
            path += "?" + target.query
        headers = {
            name: value
            for name, value in self.headers.items()
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length"
        }
        connection = http.client.HTTPConnection(
            address,
            target.port or 80,
            timeout=UPSTREAM_TIMEOUT,
            source_address=(self.server.source_address, 0),
        )
        try:
            connection.putrequest(self.command, path, skip_host=True, skip_accept_encoding=True)
            if not any(name.lower() == "host" for name in headers):
                connection.putheader("Host", target.netloc)
            for name, value in headers.items():
                connection.putheader(name, value)
            if body or self.command == "POST":
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            upstream = connection.getresponse()
            content = upstream.read()
        except OSError as exc:
            self._reply(502, f"upstream error: {exc}\n".encode())
            return
        finally:
            connection.close()
        self.send_response(upstream.status, upstream.reason)
        for name, value in upstream.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)


class _ProxyHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    credentials: str
    source_address: str


@dataclass
class ProxyServer:
    """A running demo proxy; ``url`` carries its credentials."""

    server: _ProxyHTTPServer
    username: str
    password: str
    source_address: str
    thread: threading.Thread = field(repr=False)

    @property
    def host(self) -> str:
        return self.server.server_address[0]

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def address(self) -> str:
        """``http://127.0.0.1:<port>`` without credentials."""
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """``http://user:pass@127.0.0.1:<port>``."""
        user, password = quote(self.username, safe=""), quote(self.password, safe="")
        return f"http://{user}:{password}@{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_demo_proxies(
    count: int, username: str, password: str, host: str = "127.0.0.1"
) -> list[ProxyServer]:
    """Start ``count`` demo proxies on free ports of ``host``, each in its own thread."""
    proxies = []
    for index in range(count):
        source = f"127.0.0.{FIRST_SOURCE_HOST + index}"
        if not can_bind(source):
            logger.warning("cannot bind %s; demo proxy %d uses the default address", source, index)
            source = "127.0.0.1" if host.startswith("127.") else ""
        server = _ProxyHTTPServer((host, 0), ProxyHandler)
        server.credentials = f"{username}:{password}"
        server.source_address = source
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"demo-proxy-{index}",
            daemon=True,
        )
        thread.start()
        proxies.append(ProxyServer(server, username, password, source, thread))
    return proxies
