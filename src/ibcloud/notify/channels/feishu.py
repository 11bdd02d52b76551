"""Feishu / Lark group robot (飞书自定义机器人).

Posts ``{"msg_type": "text", "content": {"text": ...}}``. With a signing secret ("签名校验"),
``timestamp`` (seconds, as a string) and ``sign`` go in the body, where
``sign`` = base64(HMAC-SHA256(key="timestamp\\nsecret", message=b"")). Feishu answers ``code`` 0.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from ibcloud.notify.channels.base import (
    Message,
    Result,
    Transport,
    check_errcode,
    post_json,
    register,
)

#: 11232: the robot sends too often.
TRANSIENT_CODES = frozenset({11232, 9499})


def sign(secret: str, timestamp: int) -> str:
    """Feishu's signature: the string to sign is the HMAC *key*, the message is empty."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def payload(message: Message, secret: str = "") -> dict[str, Any]:
    data: dict[str, Any] = {"msg_type": "text", "content": {"text": message.as_text()}}
    if secret:
        timestamp = int(time.time())
        data["timestamp"] = str(timestamp)
        data["sign"] = sign(secret, timestamp)
    return data


@register
class FeishuTransport(Transport):
    kind = "feishu"
    uses_webhook_url = True

    def clean_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {}

    def send(self, delivery, message: Message) -> Result:
        channel = delivery.channel
        failure, response = post_json(channel.webhook_url, payload(message, channel.secret))
        if failure is not None:
            return failure
        return check_errcode(response, "code", "msg", TRANSIENT_CODES)
