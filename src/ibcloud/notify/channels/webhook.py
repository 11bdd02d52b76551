"""Generic JSON webhook for other systems.

Posts ``{"event", "title", "body", "url", "level", "time"}``. With a secret, the header
``X-IBCloud-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`` lets the receiver check the
sender; the ``time`` inside the signed body lets it refuse replays. Any 2xx answer means sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from ibcloud.notify.channels.base import (
    Message,
    Result,
    Transport,
    post_body,
    register,
)

SIGNATURE_HEADER = "X-IBCloud-Signature"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def payload(message: Message) -> dict[str, Any]:
    return {
        "event": message.event,
        "title": message.title,
        "body": message.body,
        "url": message.url,
        "level": message.level,
        "time": message.time,
    }


@register
class WebhookTransport(Transport):
    kind = "webhook"
    uses_webhook_url = True

    def clean_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {}

    def send(self, delivery, message: Message) -> Result:
        channel = delivery.channel
        body = json.dumps(payload(message), ensure_ascii=False).encode("utf-8")
        headers = {"User-Agent": "IBCloud-Webhook/1"}
        if channel.secret:
            headers[SIGNATURE_HEADER] = signature(channel.secret, body)
        failure, response = post_body(channel.webhook_url, body, headers=headers)
        if failure is not None:
            return failure
        return Result.sent(response.status_code, response.text)
