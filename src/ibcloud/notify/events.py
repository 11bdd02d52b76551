"""The registry of event codes people can be notified about.

Each module registers the events it sends, at import time (e.g. in its ``apps.ready``)::

    from ibcloud.notify import events
    events.register("crawler.alert", _("Crawl source alert"))

Preferences and robot subscriptions offer the registered events; :func:`notify` refuses an
unknown code, so a typo fails in tests rather than going unnoticed.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

#: The code that stands for "every event" in preferences.
ALL_EVENTS = "*"

_REGISTRY: dict[str, str | Promise] = {}


def register(code: str, label: str | Promise) -> None:
    """Declare event ``code`` (idempotent; a later label replaces an earlier one)."""
    if not code or code == ALL_EVENTS or len(code) > 64:
        raise ValueError(f"Invalid event code {code!r}")
    _REGISTRY[code] = label


def is_registered(code: str) -> bool:
    return code in _REGISTRY


def label(code: str) -> str:
    """The human-readable name of ``code`` (the code itself when unknown)."""
    if code == ALL_EVENTS:
        return str(_("All events"))
    return str(_REGISTRY.get(code, code))


def choices() -> list[tuple[str, str]]:
    """``(code, label)`` of every registered event, sorted by code."""
    return [(code, str(_REGISTRY[code])) for code in sorted(_REGISTRY)]


GENERAL = "general"
CHANNEL_TEST = "notify.test"

register(GENERAL, _("General"))
register(CHANNEL_TEST, _("Channel test message"))
