"""Writes an audit entry for every sensitive action other apps announce."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from ibcloud.audit import services
from ibcloud.core.signals import sensitive_action


@receiver(sensitive_action, dispatch_uid="audit.record_sensitive_action")
def record_sensitive_action(
    sender: Any,
    request: Any = None,
    event: str = "",
    target: Any = None,
    description: str = "",
    actor: Any = None,
    details: dict | None = None,
    **kwargs: Any,
) -> None:
    services.record_event(
        event,
        target=target,
        actor=actor,
        request=request,
        description=description,
        details=details,
    )
