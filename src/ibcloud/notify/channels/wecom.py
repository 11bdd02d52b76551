"""WeCom group robot (企业微信群机器人).

Posts ``{"msgtype": "text"|"markdown", ...}`` to ``.../cgi-bin/webhook/send?key=...``; the key in
the URL is the only credential (no signature). WeCom answers ``errcode`` 0 on success.
"""

from __future__ import annotations

from typing import Any

from ibcloud.notify.channels.base import (
    Message,
    Result,
    Transport,
    check_errcode,
    config_choice,
    post_json,
    register,
)

#: 45009: API frequency limit (20 messages a minute per robot).
TRANSIENT_CODES = frozenset({45009})


def payload(message: Message, msgtype: str) -> dict[str, Any]:
    if msgtype == "markdown":
        return {"msgtype": "markdown", "markdown": {"content": message.as_markdown()}}
    return {"msgtype": "text", "text": {"content": message.as_text()}}


@register
class WeComTransport(Transport):
    kind = "wecom"
    uses_webhook_url = True

    def clean_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {"msgtype": config_choice(config, "msgtype", ("text", "markdown"))}

    def send(self, delivery, message: Message) -> Result:
        channel = delivery.channel
        failure, response = post_json(
            channel.webhook_url, payload(message, channel.config.get("msgtype", "text"))
        )
        if failure is not None:
            return failure
        return check_errcode(response, "errcode", "errmsg", TRANSIENT_CODES)
