"""Notification centre: channels admins configure, in-app notifications, preferences, deliveries.

* ``Channel``: one way out of the platform (the SMTP server, a DingTalk/WeCom/Feishu group robot,
  a generic JSON webhook), with its secret and webhook URL encrypted at rest.
* ``Notification``: one in-app message to one person (the bell and "My notifications").
* ``NotificationPreference``: which personal channels (in-app, email) a person wants per event.
* ``Delivery``: one attempt-tracked send through a channel (the delivery log).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ibcloud.core.fields import EncryptedTextField
from ibcloud.core.models import ObjectUrls, ScopedModel, ScopedRecord
from ibcloud.core.scoping import DataScopeFields, RestrictedQuerySet
from ibcloud.notify import events
from ibcloud.notify.channels.base import url_hint


class Level(models.TextChoices):
    INFO = "info", _("Information")
    SUCCESS = "success", _("Success")
    WARNING = "warning", _("Warning")
    ERROR = "error", _("Error")


class ChannelKind(models.TextChoices):
    EMAIL = "email", _("Email (SMTP)")
    DINGTALK = "dingtalk", _("DingTalk robot")
    WECOM = "wecom", _("WeCom robot")
    FEISHU = "feishu", _("Feishu robot")
    WEBHOOK = "webhook", _("Generic webhook")


#: Kinds that post to a group (one delivery per notify call), as opposed to email (per person).
ROBOT_KINDS = (ChannelKind.DINGTALK, ChannelKind.WECOM, ChannelKind.FEISHU, ChannelKind.WEBHOOK)


class Channel(ObjectUrls, ScopedModel):
    """An outgoing channel configured by an admin.

    ``secret`` and ``webhook_url`` never leave the server: robot URLs carry their credential
    (DingTalk ``access_token``, WeCom ``key``, the Feishu hook token), so they are encrypted at
    rest, kept out of the audit log and shown only as :attr:`webhook_hint`. The field is not called
    ``url`` because the audit log excludes fields by name across all models, and other models'
    ``url`` fields (crawl sources) must stay audited.
    """

    detail_view = "edit"  # channels have no detail page

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=ChannelKind.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    config = models.JSONField(
        _("configuration"),
        default=dict,
        blank=True,
        help_text=_("Robot message format, or SMTP host, port, user and sender address."),
    )
    webhook_url = EncryptedTextField(
        _("webhook URL"),
        blank=True,
        help_text=_("The robot's or webhook's address with its access token; stored encrypted."),
    )
    secret = EncryptedTextField(
        _("secret"),
        blank=True,
        help_text=_("SMTP password or robot signing secret; stored encrypted."),
    )
    events = models.JSONField(
        _("events"),
        default=list,
        blank=True,
        help_text=_("Events a group robot posts; empty means all events."),
    )

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("notification channel")
        verbose_name_plural = _("notification channels")

    def __str__(self) -> str:
        return self.name

    @property
    def is_robot(self) -> bool:
        return self.kind in ROBOT_KINDS

    @property
    def has_secret(self) -> bool:
        return bool(self.secret)

    @property
    def webhook_hint(self) -> str:
        """Scheme and host of the webhook URL (``https://oapi.dingtalk.com/…``), never the token."""
        return url_hint(self.webhook_url)

    def subscribes_to(self, event: str) -> bool:
        """Whether this channel posts ``event`` (an empty subscription list means all)."""
        return not self.events or event in self.events

    def event_labels(self) -> str:
        if not self.events:
            return str(_("All events"))
        return ", ".join(events.label(code) for code in self.events)


class Notification(models.Model):
    """One in-app message to one person. ``in_app`` is off when the person chose another channel
    only for the event: the row then just anchors the deliveries."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, default=Level.INFO)
    event = models.CharField(_("event"), max_length=64, default=events.GENERAL, db_index=True)
    in_app = models.BooleanField(_("shown in app"), default=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = DataScopeFields(department="recipient__department", owner="recipient")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "in_app", "read_at"])]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("notify:notification_open", args=[self.pk])

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    @property
    def event_label(self) -> str:
        return events.label(self.event)


class NotificationPreference(models.Model):
    """The personal channels a person wants for one event, or for every event (``"*"``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="notification_preferences",
    )
    event = models.CharField(_("event"), max_length=64, default=events.ALL_EVENTS)
    in_app = models.BooleanField(_("in-app"), default=True)
    email = models.BooleanField(_("email"), default=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = DataScopeFields(department="user__department", owner="user")

    class Meta:
        ordering = ["user", "event"]
        constraints = [
            models.UniqueConstraint(fields=["user", "event"], name="unique_notify_preference")
        ]
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return f"{self.user} · {events.label(self.event)}"


class Delivery(ScopedRecord):
    """One message sent (or being sent) through one channel: the delivery log.

    The message is copied onto the row so a retry sends what was meant even if the notification
    or channel changed; ``target`` names the recipient address or robot, never a secret.
    Owner and department (for the data scope) are the recipient's for personal channels, the
    channel's for group robots.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    notification = models.ForeignKey(
        Notification,
        verbose_name=_("notification"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    channel = models.ForeignKey(
        Channel,
        verbose_name=_("channel"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ChannelKind.choices, db_index=True)
    target = models.CharField(_("target"), max_length=254, blank=True)
    event = models.CharField(_("event"), max_length=64, default=events.GENERAL)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, default=Level.INFO)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    response_code = models.IntegerField(_("response code"), null=True, blank=True)
    response_excerpt = models.CharField(_("response"), max_length=500, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    job = models.ForeignKey(
        "core.Job",
        verbose_name=_("background job"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.target or '-'} #{self.pk}"
