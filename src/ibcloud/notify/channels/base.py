"""The one interface every channel implements, the registry of kinds, and the HTTP helper.

A transport is a small class: ``clean_config(config)`` validates what an admin enters (robots
also declare ``uses_webhook_url``: their URL lives in the encrypted ``Channel.webhook_url``, not in
``config``), and ``send(delivery, message)`` sends one message and answers a :class:`Result` that
says whether a failure is worth retrying. Adding a channel kind means adding one module that
registers its class.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import requests
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from ibcloud.core.ssrf import SSRFBlocked, check_url, fetch

if TYPE_CHECKING:
    from ibcloud.notify.models import Delivery

logger = logging.getLogger(__name__)

HTTP_TIMEOUT = 10
EXCERPT_LENGTH = 500


@dataclass(frozen=True)
class Message:
    """What is sent: the same content whatever the channel."""

    event: str
    title: str
    body: str
    url: str  # absolute, or ""
    level: str
    time: str  # ISO 8601 with offset

    def as_text(self) -> str:
        parts = [self.title]
        if self.body:
            parts.append(self.body)
        if self.url:
            parts.append(self.url)
        return "\n".join(parts)

    def as_markdown(self) -> str:
        lines = [f"**{self.title}**"]
        if self.body:
            lines.append(self.body)
        if self.url:
            lines.append(f"[{_('Open')}]({self.url})")
        return "\n\n".join(lines)


@dataclass(frozen=True)
class Result:
    """Outcome of one send. ``permanent`` failures are not retried (bad config, 4xx, refused)."""

    ok: bool
    error: str = ""
    permanent: bool = False
    response_code: int | None = None
    response_excerpt: str = ""

    @classmethod
    def sent(cls, code: int | None = None, excerpt: str = "") -> Result:
        return cls(ok=True, response_code=code, response_excerpt=excerpt[:EXCERPT_LENGTH])

    @classmethod
    def failed(
        cls, error: str, permanent: bool, code: int | None = None, excerpt: str = ""
    ) -> Result:
        return cls(
            ok=False,
            error=error,
            permanent=permanent,
            response_code=code,
            response_excerpt=excerpt[:EXCERPT_LENGTH],
        )


class Transport:
    """Base class of a channel kind."""

    kind: ClassVar[str]
    #: Whether the channel posts to ``Channel.webhook_url`` (robots and webhooks).
    uses_webhook_url: ClassVar[bool] = False

    def clean_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """The normalised configuration, or ``ValidationError({field: message})``."""
        return dict(config)

    def send(self, delivery: Delivery, message: Message) -> Result:
        raise NotImplementedError


_TRANSPORTS: dict[str, Transport] = {}


def register(cls: type[Transport]) -> type[Transport]:
    """Class decorator: make ``cls`` the transport of ``cls.kind``."""
    _TRANSPORTS[cls.kind] = cls()
    return cls


def get_transport(kind: str) -> Transport:
    try:
        return _TRANSPORTS[kind]
    except KeyError as exc:
        raise ValueError(f"No transport for channel kind {kind!r}") from exc


# --- Helpers shared by the HTTP transports ----------------------------------------------------


def url_hint(url: str) -> str:
    """Scheme and host of ``url`` followed by ``/…``, so admins can tell robots apart.

    Robot URLs carry their credential in the query (DingTalk ``access_token``, WeCom ``key``) or
    in the path (Feishu ``/hook/<token>``), so neither is shown; user info is dropped too.
    """
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "…"
    if not parts.scheme or not host:
        return "…"
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    if port:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}/…"


def clean_robot_url(url: str | None) -> str:
    """Validate a robot's webhook URL: present, http(s), not refused by the SSRF guard.

    Errors are keyed ``webhook_url`` (the model, form and API field).
    """
    url = str(url or "").strip()
    if not url:
        raise ValidationError({"webhook_url": _("Enter the robot's webhook URL.")})
    try:
        check_url(url, resolve=False)
    except SSRFBlocked as exc:
        raise ValidationError(
            {"webhook_url": _("This URL is not allowed: %(reason)s") % {"reason": exc.reason}}
        ) from exc
    return url


def post_json(
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> tuple[Result | None, requests.Response | None]:
    """POST ``payload`` as UTF-8 JSON through the SSRF guard.

    Answers ``(failure, None)`` for refusals, network errors and non-2xx statuses (5xx and 429
    transient, other 4xx permanent), else ``(None, response)`` for the caller to read.
    """
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return post_body(url, body, headers=headers)


def post_body(
    url: str,
    body: bytes,
    headers: dict[str, str] | None = None,
) -> tuple[Result | None, requests.Response | None]:
    """Like :func:`post_json` with an already encoded body (signatures cover exact bytes)."""
    if not url:
        return Result.failed(_("The channel has no webhook URL; enter it again."), True), None
    all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    try:
        response = fetch("POST", url, data=body, headers=all_headers, timeout=HTTP_TIMEOUT)
    except SSRFBlocked as exc:
        return Result.failed(_("Refused by the SSRF guard: %(r)s") % {"r": exc.reason}, True), None
    except requests.TooManyRedirects:
        return Result.failed(_("Too many redirects."), True), None
    except (requests.ConnectionError, requests.Timeout) as exc:
        # The exception text can contain the URL with its token: name the class only.
        return Result.failed(
            _("Network error: %(error)s") % {"error": exc.__class__.__name__}, False
        ), None
    except requests.RequestException as exc:
        return Result.failed(
            _("Request error: %(error)s") % {"error": exc.__class__.__name__}, True
        ), None
    excerpt = response.text[:EXCERPT_LENGTH]
    status = response.status_code
    if status == 429 or status >= 500:
        return Result.failed(
            _("HTTP %(status)s") % {"status": status}, False, status, excerpt
        ), None
    if status >= 300:
        return Result.failed(_("HTTP %(status)s") % {"status": status}, True, status, excerpt), None
    return None, response


def response_json(response: requests.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def check_errcode(
    response: requests.Response,
    field: str,
    message_field: str,
    transient_codes: frozenset[int] = frozenset(),
) -> Result:
    """Robots answer HTTP 200 with an error code in the JSON body: 0 means sent."""
    excerpt = response.text[:EXCERPT_LENGTH]
    data = response_json(response)
    if data is None:
        return Result.failed(
            _("The robot's answer is not JSON."), False, response.status_code, excerpt
        )
    code = data.get(field, data.get("StatusCode", 0))
    if code in (0, "0", None):
        return Result.sent(response.status_code, excerpt)
    message = str(data.get(message_field) or data.get("msg") or "")[:200]
    try:
        transient = int(code) in transient_codes
    except (TypeError, ValueError):
        transient = False
    return Result.failed(
        _("Robot error %(code)s: %(message)s") % {"code": code, "message": message},
        not transient,
        response.status_code,
        excerpt,
    )


def config_choice(config: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = str(config.get(key) or allowed[0])
    if value not in allowed:
        raise ValidationError({key: _("Choose one of: %(c)s.") % {"c": ", ".join(allowed)}})
    return value
