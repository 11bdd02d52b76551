"""Channel transports: one module per kind, each registering itself with ``base.register``."""

from ibcloud.notify.channels import dingtalk, email, feishu, webhook, wecom  # noqa: F401
from ibcloud.notify.channels.base import Message, Result, Transport, get_transport

__all__ = ["Message", "Result", "Transport", "get_transport"]
