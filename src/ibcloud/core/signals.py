"""Signals lower apps send so higher ones (audit, notify) can react without being imported."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def acting_as(actor: Any) -> Iterator[None]:
    """Attribute the change-log entries written inside to ``actor``, keeping a request's IP.

    Inside a request the audit middleware already names the actor; jobs, commands and tests
    have no request, so services that change records for a person name them here.
    """
    from auditlog.context import auditlog_value, set_extra_data

    if actor is None:
        yield
        return
    previous = auditlog_value.get(None)
    data = {k: v for k, v in (previous or {}).items() if k != "signal_duid"}
    data["actor"] = getattr(actor, "_wrapped", actor)
    with set_extra_data(context_data=data):
        yield
    if previous is not None:
        # auditlog leaves its context variable set; give the request's context back.
        auditlog_value.set(previous)
