"""Notification centre logic: who gets what through which channel, and sending it.

:func:`notify` is the one entry point for every module (lower apps send
``core.signals.notification_requested`` instead). It writes the in-app notifications at once and
one :class:`Delivery` per outgoing message, each sent by a background job with retries
(:func:`run_delivery`); the delivery rows are the delivery log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.core.fields import SecretDecryptionError
from ibcloud.core.parameters import define
from ibcloud.notify import events
from ibcloud.notify.channels import Message, Result, get_transport
from ibcloud.notify.channels.base import clean_robot_url
from ibcloud.notify.models import (
    ROBOT_KINDS,
    Channel,
    ChannelKind,
    Delivery,
    Level,
    Notification,
    NotificationPreference,
)

logger = logging.getLogger(__name__)

#: Attempts of one delivery job (first try plus ``retries`` of ``tasks.deliver``).
DELIVERY_ATTEMPTS = 4
BELL_SIZE = 5

EMAIL_BY_DEFAULT = define(
    "notify.email_by_default",
    default=True,
    kind=bool,
    label=gettext_lazy("Send notifications by email unless a person turned it off"),
)


class DeliveryRetry(Exception):
    """Raised inside the delivery job to have it retried later (a transient failure)."""


# --- Preferences ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelChoice:
    """The personal channels chosen for an event."""

    in_app: bool = True
    email: bool = True


def default_choice() -> ChannelChoice:
    """What a person gets before setting any preference."""
    return ChannelChoice(in_app=True, email=bool(EMAIL_BY_DEFAULT.get()))


def _choice(pref: NotificationPreference) -> ChannelChoice:
    return ChannelChoice(in_app=pref.in_app, email=pref.email)


def preferences_for(user_ids: Iterable[int], event: str) -> dict[int, ChannelChoice]:
    """Each user's choice for ``event``: their row for the event, else their "*" row, else the
    default."""
    ids = list(user_ids)
    fallback = default_choice()
    chosen: dict[int, ChannelChoice] = dict.fromkeys(ids, fallback)
    rows = NotificationPreference.objects.filter(
        user_id__in=ids, event__in=[events.ALL_EVENTS, event]
    ).order_by("event")
    specific: set[int] = set()
    for row in rows:
        if row.event == event:
            chosen[row.user_id] = _choice(row)
            specific.add(row.user_id)
        elif row.user_id not in specific:
            chosen[row.user_id] = _choice(row)
    return chosen


def preference_for(user: Any, event: str) -> ChannelChoice:
    return preferences_for([user.pk], event)[user.pk]


@dataclass(frozen=True)
class EventPreference:
    event: str
    label: str
    choice: ChannelChoice
    inherited: bool  # no row of its own: follows the "all events" choice


def preferences_of(user: Any) -> tuple[ChannelChoice, list[EventPreference]]:
    """The person's "all events" choice and, per registered event, the effective choice."""
    rows = {row.event: row for row in NotificationPreference.objects.filter(user=user)}
    general = _choice(rows[events.ALL_EVENTS]) if events.ALL_EVENTS in rows else default_choice()
    per_event = []
    for code, label in events.choices():
        if code == events.CHANNEL_TEST:
            continue
        row = rows.get(code)
        per_event.append(
            EventPreference(
                event=code,
                label=label,
                choice=_choice(row) if row else general,
                inherited=row is None,
            )
        )
    return general, per_event


def set_preferences(
    user: Any, general: ChannelChoice, by_event: dict[str, ChannelChoice] | None = None
) -> None:
    """Store the person's choices. An event whose choice equals the general one keeps no row of
    its own, so it follows later changes of the general choice."""
    by_event = by_event or {}
    unknown = [code for code in by_event if not events.is_registered(code)]
    if unknown:
        raise ValidationError(_("Unknown event: %(codes)s") % {"codes": ", ".join(unknown)})
    with transaction.atomic():
        _store_preference(user, events.ALL_EVENTS, general)
        for code, choice in by_event.items():
            if choice == general:
                for row in NotificationPreference.objects.filter(user=user, event=code):
                    row.delete()  # one by one so the audit log records it
            else:
                _store_preference(user, code, choice)


def _store_preference(user: Any, event: str, choice: ChannelChoice) -> None:
    row = NotificationPreference.objects.filter(user=user, event=event).first()
    if row is None:
        NotificationPreference.objects.create(
            user=user, event=event, in_app=choice.in_app, email=choice.email
        )
    elif (row.in_app, row.email) != (choice.in_app, choice.email):
        row.in_app, row.email = choice.in_app, choice.email
        row.save()


# --- Channels -------------------------------------------------------------------------------------


def clean_webhook_url(channel: Channel | None, kind: str, url: str | None) -> str:
    """The webhook URL a robot channel of ``kind`` should store after an edit.

    A new URL is validated (http(s), not refused by the SSRF guard). A blank one keeps the URL
    ``channel`` already stores, like the secret, since it is never shown again; but only while
    the kind is unchanged, as another provider's URL would be wrong. Raises
    ``ValidationError({"webhook_url": ...})``.
    """
    url = (url or "").strip()
    if not url and channel is not None and channel.kind == kind and channel.webhook_url:
        return channel.webhook_url
    return clean_robot_url(url)


# --- Notifying ------------------------------------------------------------------------------------


def safe_link(url: str) -> str:
    """``url`` if it is a local path or an http(s) URL, else ``""`` (no ``javascript:`` links)."""
    url = (url or "").strip()[:500]
    if url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    return ""


def absolute_link(url: str) -> str:
    """A link usable outside the browser session (email, robots)."""
    if url.startswith("/"):
        return settings.IBCLOUD_BASE_URL.rstrip("/") + url
    return url


def email_channel() -> Channel | None:
    """The enabled email channel personal emails go through (the first, if several)."""
    return Channel.objects.filter(kind=ChannelKind.EMAIL, enabled=True).order_by("pk").first()


def robot_channels(event: str) -> list[Channel]:
    """Enabled group robots and webhooks subscribed to ``event``."""
    channels = Channel.objects.filter(kind__in=ROBOT_KINDS, enabled=True).order_by("pk")
    return [channel for channel in channels if channel.subscribes_to(event)]


def notify(
    users: Iterable[Any],
    title: str,
    body: str = "",
    url: str = "",
    level: str = "info",
    event: str = events.GENERAL,
) -> list[Notification]:
    """Notify ``users`` about ``event`` through their preferred channels and the group robots.

    Creates the in-app notifications now, one email delivery per person who wants email (and
    has an address, when an email channel is enabled) and one delivery per enabled robot
    subscribed to the event (per call, not per person); each delivery is sent by a background
    job after the current transaction commits. Returns the notifications created.
    """
    if not events.is_registered(event):
        raise ValueError(f"Unknown notification event {event!r}; register it in notify.events")
    if level not in Level.values:
        raise ValueError(f"Unknown notification level {level!r}")
    title = str(title).strip()[:200] or events.label(event)
    body = str(body or "")
    url = safe_link(url)
    recipients: dict[int, Any] = {}
    for user in users:
        if user is not None and user.pk and user.is_active:
            recipients.setdefault(user.pk, user)
    choices = preferences_for(recipients, event)
    mailer = email_channel()
    message = {"event": event, "title": title, "body": body, "url": url, "level": level}

    created: list[Notification] = []
    deliveries: list[Delivery] = []
    with transaction.atomic():
        for user in recipients.values():
            choice = choices[user.pk]
            wants_email = choice.email and mailer is not None and bool(user.email)
            if not choice.in_app and not wants_email:
                continue
            notification = Notification.objects.create(
                recipient=user, in_app=choice.in_app, **message
            )
            created.append(notification)
            if wants_email:
                deliveries.append(
                    Delivery(
                        notification=notification,
                        recipient=user,
                        channel=mailer,
                        kind=ChannelKind.EMAIL,
                        target=user.email,
                        owner=user,
                        department_id=user.department_id,
                        **message,
                    )
                )
        for robot in robot_channels(event):
            deliveries.append(
                Delivery(
                    channel=robot,
                    kind=robot.kind,
                    target=robot.name,
                    owner_id=robot.owner_id,
                    department_id=robot.department_id,
                    **message,
                )
            )
        for delivery in deliveries:
            delivery.save()
            enqueue_delivery(delivery)
    return created


def on_notification_requested(sender: Any, users: Iterable[Any], title: str, **kwargs: Any):
    """Receiver of ``core.signals.notification_requested``."""
    return notify(
        users,
        title,
        body=kwargs.get("body", ""),
        url=kwargs.get("url", ""),
        level=kwargs.get("level", Level.INFO),
        event=kwargs.get("event", events.GENERAL),
    )


# --- Sending --------------------------------------------------------------------------------------


def enqueue_delivery(delivery: Delivery) -> None:
    """Queue the job that sends ``delivery`` (after the transaction commits)."""
    from ibcloud.notify.tasks import deliver

    job = deliver.enqueue(delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(job=job)
    delivery.job = job


def message_of(delivery: Delivery) -> Message:
    return Message(
        event=delivery.event,
        title=delivery.title,
        body=delivery.body,
        url=absolute_link(delivery.url),
        level=delivery.level,
        time=timezone.localtime(delivery.created_at).isoformat(),
    )


def _send(delivery: Delivery) -> Result:
    try:
        channel = Channel.objects.filter(pk=delivery.channel_id).first()
    except SecretDecryptionError:
        return Result.failed(_("The channel's secret cannot be decrypted; enter it again."), True)
    if channel is None:
        return Result.failed(_("The channel was deleted."), True)
    if not channel.enabled:
        return Result.failed(_("The channel is disabled."), True)
    delivery.channel = channel
    try:
        transport = get_transport(channel.kind)
        return transport.send(delivery, message_of(delivery))
    except Exception as exc:  # noqa: BLE001 - a transport bug must land in the log, then retry
        logger.exception("delivery %s through %s failed unexpectedly", delivery.pk, channel.kind)
        return Result.failed(
            _("Unexpected error: %(e)s") % {"e": exc.__class__.__name__}, permanent=False
        )


def run_delivery(delivery_id: int, final_attempt: bool = True) -> Delivery | None:
    """Send one delivery and record the attempt on its row.

    Success marks it sent; a permanent failure, or a transient one on the final attempt, marks it
    failed; a transient failure before that leaves it pending (the caller retries).
    """
    delivery = Delivery.objects.filter(pk=delivery_id).first()
    if delivery is None or delivery.status == Delivery.Status.SENT:
        return delivery
    result = _send(delivery)
    delivery.attempts += 1
    delivery.response_code = result.response_code
    delivery.response_excerpt = result.response_excerpt[:500]
    if result.ok:
        delivery.status = Delivery.Status.SENT
        delivery.sent_at = timezone.now()
        delivery.last_error = ""
    else:
        delivery.last_error = result.error[:2000]
        final = result.permanent or final_attempt
        delivery.status = Delivery.Status.FAILED if final else Delivery.Status.PENDING
    delivery.save(
        update_fields=[
            "attempts",
            "response_code",
            "response_excerpt",
            "status",
            "sent_at",
            "last_error",
            "updated_at",
        ]
    )
    return delivery


def send_test(channel: Channel, user: Any, to: str = "") -> Delivery:
    """Send a test message through ``channel`` now (not queued) and return its delivery row.

    Email goes to ``to`` or the user's own address; robots post to their group.
    """
    if channel.kind == ChannelKind.EMAIL:
        target = (to or getattr(user, "email", "") or "").strip()
        if not target:
            raise ValidationError({"to": _("Enter an address: your account has no email address.")})
        try:
            validate_email(target)
        except ValidationError as exc:
            raise ValidationError({"to": exc.messages}) from exc
    else:
        target = channel.name
    delivery = Delivery.objects.create(
        channel=channel,
        kind=channel.kind,
        target=target[:254],
        recipient=user if channel.kind == ChannelKind.EMAIL else None,
        event=events.CHANNEL_TEST,
        title=_("Test message from IB Cloud"),
        body=_("If you can read this, the channel “%(name)s” works.") % {"name": channel.name},
        url="/",
        level=Level.INFO,
        owner_id=channel.owner_id or user.pk,
        department_id=channel.department_id,
    )
    # Sent even when the channel is disabled: a test is how an admin checks it before enabling.
    delivery.channel = channel
    try:
        result = get_transport(channel.kind).send(delivery, message_of(delivery))
    except Exception as exc:  # noqa: BLE001 - shown to the admin, never a 500
        logger.exception("test delivery through channel %s failed", channel.pk)
        result = Result.failed(_("Unexpected error: %(e)s") % {"e": exc.__class__.__name__}, True)
    delivery.attempts = 1
    delivery.response_code = result.response_code
    delivery.response_excerpt = result.response_excerpt[:500]
    delivery.last_error = "" if result.ok else result.error[:2000]
    delivery.status = Delivery.Status.SENT if result.ok else Delivery.Status.FAILED
    delivery.sent_at = timezone.now() if result.ok else None
    delivery.save()
    return delivery


def retry_deliveries(queryset: QuerySet) -> int:
    """Queue failed deliveries of ``queryset`` again; returns how many."""
    count = 0
    with transaction.atomic():
        for delivery in queryset.filter(status=Delivery.Status.FAILED):
            delivery.status = Delivery.Status.PENDING
            delivery.save(update_fields=["status", "updated_at"])
            enqueue_delivery(delivery)
            count += 1
    return count


# --- In-app inbox ---------------------------------------------------------------------------------


def inbox(user: Any) -> QuerySet:
    """The person's own in-app notifications (nobody reads another's)."""
    if user is None or not user.is_authenticated:
        return Notification.objects.none()
    return Notification.objects.filter(recipient=user, in_app=True)


def unread_count(user: Any) -> int:
    return inbox(user).filter(read_at__isnull=True).count()


def latest_unread(user: Any, limit: int = BELL_SIZE) -> list[Notification]:
    return list(inbox(user).filter(read_at__isnull=True)[:limit])


def mark_read(user: Any, ids: Iterable[int]) -> int:
    """Mark the person's notifications ``ids`` read; others' ids are ignored."""
    return inbox(user).filter(pk__in=list(ids), read_at__isnull=True).update(read_at=timezone.now())


def mark_unread(user: Any, ids: Iterable[int]) -> int:
    return inbox(user).filter(pk__in=list(ids)).update(read_at=None)


def mark_all_read(user: Any) -> int:
    return inbox(user).filter(read_at__isnull=True).update(read_at=timezone.now())


def deliveries_with_channel_names() -> QuerySet:
    """The delivery log's rows with their channel, minus its encrypted fields: a list only shows
    the channel's name, and decrypting every row's secrets would cost time and break the whole
    log after a key rotation."""
    return Delivery.objects.select_related("channel").defer(
        "channel__secret", "channel__webhook_url"
    )
