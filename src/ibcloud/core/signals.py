"""Signals lower apps send so higher ones (audit, notify) can react without being imported."""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

#: A sensitive action by a person (login, export, unlock, force logout, ...). The audit app
#: records it. kwargs: ``request``, ``event`` (short code), ``target`` (model instance or None),
#: ``description`` (human-readable), ``details`` (JSON-serializable dict), ``actor`` (user or None).
sensitive_action = Signal()


def record_sensitive_action(
    request: Any,
    event: str,
    target: Any = None,
    description: str = "",
    actor: Any = None,
    **details: Any,
) -> None:
    """Announce a sensitive action; the audit log stores it."""
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
        # request.user is a lazy proxy; receivers need the model instance (type(), ContentType).
        actor = getattr(actor, "_wrapped", actor)
    sensitive_action.send(
        sender=None,
        request=request,
        event=event,
        target=target,
        description=description,
        actor=actor,
        details=details,
    )


#: Ask the notification centre to notify people, from apps that may not import ``notify``.
#: kwargs: ``users`` (iterable of users), ``title``, ``body``, ``url``, ``level``, ``event``.
notification_requested = Signal()
