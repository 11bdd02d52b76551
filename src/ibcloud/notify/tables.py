"""Tables of the notification pages (also the columns of their exports)."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from ibcloud.core.tables import ActionsColumn, BaseTable, SelectColumn
from ibcloud.notify.models import Channel, Delivery, Notification


class NotificationTable(BaseTable):
    select = SelectColumn()
    title = tables.TemplateColumn(
        template_name="notify/includes/notification_title_cell.html", verbose_name=_("Title")
    )
    level = tables.Column(verbose_name=_("Level"))
    event = tables.Column(accessor="event_label", verbose_name=_("Event"), orderable=False)
    created_at = tables.DateTimeColumn(verbose_name=_("Time"), format="Y-m-d H:i")
    read_at = tables.DateTimeColumn(verbose_name=_("Read at"), format="Y-m-d H:i")

    class Meta(BaseTable.Meta):
        model = Notification
        fields = ("select", "title", "level", "event", "created_at", "read_at")


class ChannelTable(BaseTable):
    name = tables.Column(linkify=True, verbose_name=_("Name"))
    kind = tables.Column(verbose_name=_("Kind"))
    enabled = tables.BooleanColumn(verbose_name=_("Enabled"))
    events = tables.Column(accessor="event_labels", verbose_name=_("Events"), orderable=False)
    # Scheme and host only: the full URL carries the robot's access token.
    webhook_hint = tables.Column(
        accessor="webhook_hint", verbose_name=_("Webhook"), orderable=False, default=""
    )
    has_secret = tables.BooleanColumn(
        accessor="has_secret", verbose_name=_("Secret set"), orderable=False
    )
    department = tables.Column(verbose_name=_("Department"))
    updated_at = tables.DateTimeColumn(verbose_name=_("Updated"), format="Y-m-d H:i")
    actions = ActionsColumn(template_name="notify/includes/channel_actions.html")

    class Meta(BaseTable.Meta):
        model = Channel
        fields = (
            "name",
            "kind",
            "enabled",
            "events",
            "webhook_hint",
            "has_secret",
            "department",
            "updated_at",
        )


class DeliveryTable(BaseTable):
    select = SelectColumn()
    created_at = tables.DateTimeColumn(verbose_name=_("Created"), format="Y-m-d H:i:s")
    kind = tables.Column(verbose_name=_("Kind"))
    channel = tables.Column(verbose_name=_("Channel"))
    target = tables.Column(verbose_name=_("Target"))
    title = tables.Column(verbose_name=_("Title"))
    status = tables.TemplateColumn(
        template_name="notify/includes/delivery_status_cell.html", verbose_name=_("Status")
    )
    attempts = tables.Column(verbose_name=_("Attempts"))
    response_code = tables.Column(verbose_name=_("Response code"))
    last_error = tables.Column(verbose_name=_("Last error"))
    sent_at = tables.DateTimeColumn(verbose_name=_("Sent at"), format="Y-m-d H:i:s")

    class Meta(BaseTable.Meta):
        model = Delivery
        fields = (
            "select",
            "created_at",
            "kind",
            "channel",
            "target",
            "title",
            "status",
            "attempts",
            "response_code",
            "last_error",
            "sent_at",
        )

    def value_status(self, record):
        return record.get_status_display()
