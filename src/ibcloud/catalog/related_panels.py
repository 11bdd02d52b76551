"""Panels other apps add to the project and investor pages ("what else concerns this record").

The catalog does not import the apps built on it (matching, deals); they register a panel from
their ``AppConfig.ready``, as apps register home page cards::

    related_panels.register(RelatedPanel(
        key="matches", model_name="project", order=10,
        template="matching/includes/related_matches.html",
        context=lambda user, project: {...} or None,
    ))

``context`` must scope every row it lists through :func:`~ibcloud.core.scoping.restrict`; it
returns None when the user may not see that kind of row at all (the panel is left out).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelatedPanel:
    key: str
    #: "project" or "investor": the page the panel appears on
    model_name: str
    template: str
    context: Callable[[Any, Any], dict | None]
    order: int = 100


PANELS: dict[str, RelatedPanel] = {}


def register(panel: RelatedPanel) -> None:
    """Add (or replace, by key and page) a panel of the project or investor page."""
    PANELS[f"{panel.model_name}:{panel.key}"] = panel


def panels_for(user: Any, obj: Any) -> list[dict]:
    """The panels of ``obj``'s page ``user`` may see: ``{"key", "template", "context"}``."""
    model_name = obj._meta.model_name
    shown = []
    for panel in sorted(PANELS.values(), key=lambda p: (p.order, p.key)):
        if panel.model_name != model_name:
            continue
        try:
            context = panel.context(user, obj)
        except Exception:  # noqa: BLE001 - one broken panel must not take the page down
            logger.exception("related panel %s failed", panel.key)
            continue
        if context is not None:
            shown.append({"key": panel.key, "template": panel.template, "context": context})
    return shown
