"""DingTalk group robot (钉钉自定义机器人).

Posts ``{"msgtype": "text"|"markdown", ...}`` to the robot's webhook URL. With a signing secret
("加签"), ``timestamp`` (ms) and ``sign`` = base64(HMAC-SHA256(secret, "timestamp\\nsecret")) go in
the query string. DingTalk answers HTTP 200 with ``errcode`` 0 on success.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

from ibcloud.notify.channels.base import (
    Message,
    Result,
    Transport,
    check_errcode,
    config_choice,
    post_json,
    register,
)

#: 130101: sending too fast (20 messages a minute per robot) - worth retrying later.
TRANSIENT_CODES = frozenset({130101})


def sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature of ``timestamp_ms`` (base64 of HMAC-SHA256, not yet URL-encoded)."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def payload(message: Message, msgtype: str) -> dict[str, Any]:
    if msgtype == "markdown":
        return {
            "msgtype": "markdown",
            "markdown": {"title": message.title, "text": message.as_markdown()},
        }
    return {"msgtype": "text", "text": {"content": message.as_text()}}


@register
class DingTalkTransport(Transport):
    kind = "dingtalk"
    uses_webhook_url = True

    def clean_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {"msgtype": config_choice(config, "msgtype", ("text", "markdown"))}

    def send(self, delivery, message: Message) -> Result:
        channel = delivery.channel
        url = channel.webhook_url
        if channel.secret:
            timestamp = int(time.time() * 1000)
            query = urlencode({"timestamp": timestamp, "sign": sign(channel.secret, timestamp)})
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        failure, response = post_json(url, payload(message, channel.config.get("msgtype", "text")))
        if failure is not None:
            return failure
        return check_errcode(response, "errcode", "errmsg", TRANSIENT_CODES)
