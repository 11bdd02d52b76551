"""Local receivers for the notification tests: an HTTP robot endpoint and an SMTP server."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import factory
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from ibcloud.notify.models import Channel
from tests.factories import UserFactory


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self):
        return json.loads(self.raw)


@dataclass
class Receiver:
    """Records every POST; answers from ``responses`` in turn (the last one repeats)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    responses: list[tuple[int, object]] = field(default_factory=lambda: [(200, {"errcode": 0})])

    def answer(self, *responses: tuple[int, object]) -> None:
        self.responses = list(responses)


@pytest.fixture
def receiver():
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            parts = urlsplit(self.path)
            state.requests.append(
                Received(parts.path, parse_qs(parts.query), dict(self.headers.items()), raw)
            )
            index = min(len(state.requests), len(state.responses)) - 1
            status, body = state.responses[index]
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    subject: str
    body: str


class _Collector:
    def __init__(self) -> None:
        self.messages: list[Mail] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
        message = message_from_bytes(envelope.content)
        payload = message.get_payload(decode=True) or b""
        self.messages.append(
            Mail(
                sender=envelope.mail_from,
                recipients=list(envelope.rcpt_tos),
                subject=str(make_header(decode_header(message["Subject"]))),
                body=payload.decode(message.get_content_charset() or "utf-8"),
            )
        )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 (free port) collecting what it receives."""
    collector = _Collector()
    collector.port = _free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=collector.port)
    controller.start()
    yield collector
    controller.stop()


@pytest.fixture
def smtp_auth_server():
    """An SMTP server that requires a login (user ``robot``, password ``Sup3rSecret``)."""
    collector = _Collector()
    collector.port = _free_port()
    collector.logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        login, password = auth_data.login.decode(), auth_data.password.decode()
        collector.logins.append((login, password))
        return AuthResult(success=(login, password) == ("robot", "Sup3rSecret"), handled=False)

    controller = Controller(
        collector,
        hostname="127.0.0.1",
        port=collector.port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    yield collector
    controller.stop()


@pytest.fixture
def allow_local(settings):
    """Let the SSRF guard reach the local receivers."""
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1"]


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Run the delivery jobs queued inside the block (the test transaction never commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    name = factory.Sequence(lambda n: f"channel-{n}")
    kind = "webhook"
    enabled = True
    config = factory.LazyFunction(dict)
    events = factory.LazyFunction(list)


@pytest.fixture
def email_channel(smtp_server):
    return ChannelFactory(
        name="Mail",
        kind="email",
        config={"host": "127.0.0.1", "port": smtp_server.port, "from_email": "ibcloud@bank.test"},
    )


@pytest.fixture
def person(db):
    return UserFactory(username="zhang", email="zhang@bank.test")
