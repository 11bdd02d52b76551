"""Operation-log logic: recording sensitive actions, redaction, display helpers and retention."""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.encoding import smart_str
from django.utils.translation import gettext as _

from ibcloud.audit.models import AuditEntry
from ibcloud.core.network import client_ip
from ibcloud.core.scoping import restrict

MASK = "******"
# Field and detail names whose values are secrets. Matched on whole words of a snake_case name so
# that e.g. ``must_change_password`` (a flag) is still masked only when it holds a string.
SECRET_NAME = re.compile(
    r"(^|_)(password|passwd|secret|token|key_hash|api_key|private_key|cookie|cookies|credentials?)($|_)",
    re.IGNORECASE,
)
PLAIN_VALUES = {"", "True", "False", "None", "true", "false", "null"}
PURGE_BATCH = 5000


# --- Writing ----------------------------------------------------------------------------------


class _LenientEncoder(DjangoJSONEncoder):
    """JSON for details: Django's types, sets as lists, anything else as its text."""

    def default(self, o: Any) -> Any:
        if isinstance(o, set | frozenset | tuple):
            return sorted(o, key=str) if isinstance(o, set | frozenset) else list(o)
        if isinstance(o, models.Model):
            return smart_str(o)
        try:
            return super().default(o)
        except TypeError:
            return smart_str(o)


def to_json(value: Any) -> Any:
    """``value`` made JSON-safe, so a detail a caller passes can never fail the write."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=_LenientEncoder, ensure_ascii=False))


def _mask_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_mask_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _mask_value(item) for key, item in value.items()}
    if isinstance(value, str) and value not in PLAIN_VALUES:
        return MASK
    return value


def redact(data: Any) -> Any:
    """Replace the values of secret-named keys (passwords, tokens, cookies) at any depth."""
    if isinstance(data, dict):
        return {
            key: _mask_value(value) if SECRET_NAME.search(str(key)) else redact(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [redact(item) for item in data]
    return data


def drop_reverse_relations(model: type[models.Model] | None, changes: Any) -> Any:
    """Remove reverse relations from a change set.

    auditlog lists them on create and delete with placeholder values such as
    ``accounts.ApiToken.None``, which say nothing about the object.
    """
    if model is None or not isinstance(changes, dict):
        return changes
    kept = {}
    for name, value in changes.items():
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            kept[name] = value
            continue
        if field.is_relation and field.auto_created and not field.concrete:
            continue
        kept[name] = value
    return kept


def changes_as_text(changes: Any) -> str:
    """The changes as plain text (non-ASCII kept), the column the keyword search reads."""
    if not changes:
        return ""
    return json.dumps(changes, ensure_ascii=False, cls=_LenientEncoder)


def user_agent(request: Any) -> str:
    return str(getattr(request, "META", {}).get("HTTP_USER_AGENT", ""))[:300]


def record_event(
    event: str,
    *,
    target: models.Model | None = None,
    actor: Any = None,
    request: Any = None,
    description: str = "",
    details: dict | None = None,
) -> AuditEntry:
    """Write the entry of a sensitive action (not a model change).

    The object is ``target``; without one it is the actor (or, for an anonymous action such as
    a failed login, the user model with no id). IP and user agent come from ``request``.
    """
    user_model = get_user_model()
    if actor is not None and not (isinstance(actor, user_model) and actor.is_authenticated):
        actor = None
    subject = target if isinstance(target, models.Model) else actor
    content_type = ContentType.objects.get_for_model(
        type(subject) if subject is not None else user_model
    )
    object_pk = smart_str(subject.pk) if subject is not None and subject.pk is not None else ""
    if isinstance(target, models.Model):
        object_repr = smart_str(target)
    else:
        object_repr = description or (smart_str(actor) if actor is not None else event)
    entry = AuditEntry(
        action=AuditEntry.Action.EVENT,
        event=str(event)[:50],
        content_type=content_type,
        object_pk=object_pk[:255],
        object_id=subject.pk if subject is not None and isinstance(subject.pk, int) else None,
        object_repr=object_repr,
        description=str(description),
        additional_data=to_json(details or {}),
        actor=actor,
        actor_email=getattr(actor, "email", None),
    )
    if request is not None:
        entry.remote_addr = client_ip(request)
        entry.user_agent = user_agent(request)
    entry.changes_text = changes_as_text(entry.additional_data)
    entry.save()
    return entry


# --- Reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeRow:
    """One changed field for display: its label and the value before and after."""

    field: str
    label: str
    before: Any
    after: Any


def _field_of(entry: AuditEntry, name: str):
    model = entry.content_type.model_class()
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _display(field: Any, value: Any, viewer: Any) -> Any:
    """A stored value shown as a person reads it: choice labels, related objects' names (only of
    records within ``viewer``'s reach; others show as ``#id``)."""
    if value is None or value == "None":
        return None
    if field is None:
        return value
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        # auditlog stores datetimes as naive UTC text.
        moment = parse_datetime(value)
        if moment is not None:
            if timezone.is_naive(moment):
                moment = moment.replace(tzinfo=datetime.UTC)
            return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")
        return value
    choices = dict(getattr(field, "flatchoices", None) or [])
    if choices:
        for key, label in choices.items():
            if smart_str(key) == smart_str(value):
                return f"{label}"
        return value
    related = getattr(field, "related_model", None)
    if related is not None and (field.many_to_one or field.one_to_one):
        try:
            obj = restrict(related._default_manager.filter(pk=value), viewer).first()
        except (ValueError, TypeError):
            obj = None
        return f"{obj} (#{value})" if obj is not None else f"#{value}"
    return value


def _in_field_order(entry: AuditEntry, changes: dict) -> list[tuple[str, Any]]:
    model = entry.content_type.model_class()
    order = {f.name: i for i, f in enumerate(model._meta.get_fields())} if model else {}
    return sorted(changes.items(), key=lambda item: order.get(item[0], len(order)))


def change_rows(entry: AuditEntry, viewer: Any) -> list[ChangeRow]:
    """Before/after of each field the entry changed, in the model's field order; many-to-many
    changes as added/removed. A created or deleted object's empty fields are left out."""
    rows = []
    for name, value in _in_field_order(entry, entry.changes or {}):
        field = _field_of(entry, name)
        label = str(getattr(field, "verbose_name", name)) if field is not None else name
        if isinstance(value, dict) and value.get("type") == "m2m":
            objects = ", ".join(str(item) for item in value.get("objects", []))
            if value.get("operation") == "add":
                rows.append(ChangeRow(name, label, None, _("Added: %(objs)s") % {"objs": objects}))
            else:
                rows.append(
                    ChangeRow(name, label, _("Removed: %(objs)s") % {"objs": objects}, None)
                )
            continue
        if isinstance(value, list | tuple) and len(value) == 2:
            before, after = value
        else:
            before, after = None, value
        if before in (None, "") and after in (None, ""):
            continue
        rows.append(
            ChangeRow(name, label, _display(field, before, viewer), _display(field, after, viewer))
        )
    return rows


def detail_rows(details: Any) -> list[ChangeRow]:
    """Before/after pairs found in an event's details (e.g. a role change's old and new roles)."""
    if not isinstance(details, dict):
        return []
    rows = []
    if "before" in details or "after" in details:
        rows.append(
            ChangeRow("", "", _listed(details.get("before")), _listed(details.get("after")))
        )
    for key, value in details.items():
        if isinstance(value, dict) and ("before" in value or "after" in value):
            rows.append(
                ChangeRow(key, key, _listed(value.get("before")), _listed(value.get("after")))
            )
    return rows


def _listed(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return value


def pretty_json(data: Any) -> str:
    """Indented JSON text (the template escapes it)."""
    if data in (None, {}, []):
        return ""
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True, cls=_LenientEncoder)


def summarize(entry: AuditEntry) -> str:
    """One line for list pages: the changed fields of a change, or the event's description."""
    if entry.action == AuditEntry.Action.EVENT:
        return entry.description
    changes = entry.changes or {}
    if entry.action == AuditEntry.Action.UPDATE:
        labels = []
        for name, value in changes.items():
            field = _field_of(entry, name)
            label = str(getattr(field, "verbose_name", name)) if field is not None else name
            if isinstance(value, dict) and value.get("type") == "m2m":
                sign = "+" if value.get("operation") == "add" else "−"
                objects = ", ".join(str(item) for item in value.get("objects", []))
                labels.append(f"{label} {sign}{objects}")
            else:
                labels.append(label)
        return ", ".join(labels)
    return _("%(n)d field(s)") % {"n": len(changes)} if changes else ""


def event_choices(queryset=None) -> list[tuple[str, str]]:
    """Known event codes plus any other code present in ``queryset``, with labels."""
    from ibcloud.audit.models import EVENT_LABELS

    codes = dict(EVENT_LABELS)
    if queryset is not None:
        for code in queryset.order_by().values_list("event", flat=True).distinct():
            codes.setdefault(code, code)
    return [(code, str(label)) for code, label in codes.items() if code]


# --- Retention --------------------------------------------------------------------------------


def purge_expired(now: datetime.datetime | None = None, retention_days: int | None = None) -> int:
    """Delete entries older than the retention period; returns how many. 0 days keeps all.

    The purge itself is recorded (by the system), so a gap in the log is explained.
    """
    days = settings.IBCLOUD_AUDIT_RETENTION_DAYS if retention_days is None else retention_days
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    expired = AuditEntry.objects.filter(timestamp__lt=cutoff)
    deleted = 0
    while True:
        # Batches keep each transaction small on a log with millions of rows.
        ids = list(expired.order_by("pk").values_list("pk", flat=True)[:PURGE_BATCH])
        if not ids:
            break
        deleted += AuditEntry.objects.filter(pk__in=ids).delete()[0]
    if deleted:
        record_event(
            "audit_purge",
            description=_("Deleted %(n)d audit entries older than %(days)d days")
            % {"n": deleted, "days": days},
            details={"deleted": deleted, "retention_days": days, "cutoff": cutoff.isoformat()},
        )
    return deleted
