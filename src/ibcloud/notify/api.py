"""API of the notification centre (``/api/v1/notify/``).

* ``notifications/``: the caller's own in-app notifications (list, detail, read, read-all,
  unread-count). Own rows only, for every logged-in user, so no model permission is needed.
* ``preferences/``: the caller's own channel choices (GET, PUT).
* ``channels/``: channel admin (CRUD, scoped); the secret and the webhook URL are write-only
  (the URL is answered as ``webhook_hint``, scheme and host only); ``{id}/test/`` sends a test
  message.
* ``deliveries/``: the delivery log (read-only, scoped, export).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter, Route

from ibcloud.core.api import EmptySerializer, ScopedModelViewSet, ScopedReadOnlyViewSet
from ibcloud.core.scoping import restrict
from ibcloud.core.signals import record_sensitive_action
from ibcloud.notify import events, services
from ibcloud.notify.channels import get_transport
from ibcloud.notify.filters import ChannelFilterSet, DeliveryFilterSet, NotificationFilterSet
from ibcloud.notify.models import Channel, Delivery, Notification
from ibcloud.notify.tables import ChannelTable, DeliveryTable

# --- Serializers ----------------------------------------------------------------------------------


class NotificationSerializer(serializers.ModelSerializer):
    event_label = serializers.CharField(read_only=True)
    is_read = serializers.BooleanField(read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "title",
            "body",
            "url",
            "level",
            "event",
            "event_label",
            "is_read",
            "read_at",
            "created_at",
        ]
        read_only_fields = fields


class ChannelChoiceSerializer(serializers.Serializer):
    in_app = serializers.BooleanField()
    email = serializers.BooleanField()


class EventPreferenceSerializer(serializers.Serializer):
    event = serializers.ChoiceField(choices=[])
    label = serializers.CharField(read_only=True)
    in_app = serializers.BooleanField()
    email = serializers.BooleanField()
    inherited = serializers.BooleanField(read_only=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event"].choices = [
            code for code, _label in events.choices() if code != events.CHANNEL_TEST
        ]


@extend_schema_serializer(many=False)  # answered by the list route, but one object
class PreferencesSerializer(serializers.Serializer):
    default = ChannelChoiceSerializer(help_text="Channels for every event without its own choice.")
    events = EventPreferenceSerializer(many=True, required=False)

    def validate_events(self, value):
        seen = [item["event"] for item in value]
        if len(seen) != len(set(seen)):
            raise serializers.ValidationError(_("Each event may appear once."))
        return value


class ChannelSerializer(serializers.ModelSerializer):
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        allow_null=True,
        trim_whitespace=False,
        max_length=1000,
        help_text="Write-only. Omit or send an empty string to keep the stored secret; "
        "null removes it.",
    )
    has_secret = serializers.BooleanField(read_only=True)
    webhook_url = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=True,
        max_length=1000,
        help_text="Write-only. Robots and webhooks: the URL with its access token, stored "
        "encrypted. Omit or send an empty string to keep the stored URL (same kind only).",
    )
    webhook_hint = serializers.CharField(
        read_only=True,
        help_text="Scheme and host of the stored webhook URL (e.g. https://oapi.dingtalk.com/…); "
        "the token is never answered.",
    )
    events = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=200,
        help_text="Event codes a group robot posts (see preferences for the list); "
        "empty means all events.",
    )
    config = serializers.DictField(
        required=False,
        help_text="DingTalk, WeCom: msgtype (text|markdown). Email: host, port, username, "
        "use_tls, use_ssl, from_email, timeout. The robot URL goes in webhook_url.",
    )

    class Meta:
        model = Channel
        fields = [
            "id",
            "name",
            "kind",
            "enabled",
            "config",
            "webhook_url",
            "webhook_hint",
            "secret",
            "has_secret",
            "events",
            "owner",
            "department",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["owner", "department", "created_at", "updated_at"]

    def validate_events(self, value: list[str]) -> list[str]:
        unknown = [code for code in value if not events.is_registered(code)]
        if unknown:
            raise serializers.ValidationError(
                _("Unknown event: %(codes)s") % {"codes": ", ".join(unknown)}
            )
        return list(dict.fromkeys(value))

    def validate(self, attrs):
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        config = attrs.get("config")
        if config is None:
            if self.instance is not None and kind == self.instance.kind:
                config = self.instance.config
            else:
                config = {}
        if "url" in config:
            # The URL moved out of config into the encrypted webhook_url; dropping it silently
            # would leave a robot without an address.
            raise serializers.ValidationError(
                {"config": {"url": [_("Send the robot's URL as webhook_url.")]}}
            )
        transport = get_transport(kind)
        try:
            attrs["config"] = transport.clean_config(config)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"config": exc.message_dict}) from exc
        webhook_url = attrs.pop("webhook_url", "")
        if transport.uses_webhook_url:
            try:
                attrs["webhook_url"] = services.clean_webhook_url(self.instance, kind, webhook_url)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.message_dict) from exc
        else:
            attrs["webhook_url"] = ""
        secret = attrs.pop("secret", "")
        if secret is None:
            attrs["secret"] = ""
        elif secret:
            attrs["secret"] = secret
        return attrs


class DeliverySerializer(serializers.ModelSerializer):
    channel_name = serializers.CharField(source="channel.name", read_only=True, default="")

    class Meta:
        model = Delivery
        fields = [
            "id",
            "notification",
            "recipient",
            "channel",
            "channel_name",
            "kind",
            "target",
            "event",
            "title",
            "body",
            "url",
            "level",
            "status",
            "attempts",
            "last_error",
            "response_code",
            "response_excerpt",
            "sent_at",
            "job",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SendTestSerializer(serializers.Serializer):
    to = serializers.EmailField(
        required=False, allow_blank=True, help_text="Email channels: where to send the test."
    )


class ReadAllResultSerializer(serializers.Serializer):
    marked = serializers.IntegerField()


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


# --- Viewsets -------------------------------------------------------------------------------------


class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    """The caller's own in-app notifications, newest first."""

    serializer_class = NotificationSerializer
    filterset_class = NotificationFilterSet
    permission_classes = [permissions.IsAuthenticated]
    queryset = Notification.objects.none()
    ordering_fields = ["created_at", "read_at"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        # Own rows only: narrower than any data scope, and open to every logged-in user.
        return services.inbox(self.request.user)

    @extend_schema(request=EmptySerializer, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        """Mark one notification read."""
        notification = self.get_object()
        services.mark_read(request.user, [notification.pk])
        notification.refresh_from_db()
        return Response(NotificationSerializer(notification).data)

    @extend_schema(request=EmptySerializer, responses=ReadAllResultSerializer)
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        """Mark all the caller's notifications read."""
        return Response({"marked": services.mark_all_read(request.user)})

    @extend_schema(responses=UnreadCountSerializer, filters=False)
    @action(detail=False, methods=["get"], url_path="unread-count", filter_backends=[])
    def unread_count(self, request):
        """How many of the caller's notifications are unread (the bell's badge)."""
        return Response({"unread": services.unread_count(request.user)})


class PreferenceViewSet(viewsets.ViewSet):
    """The caller's own notification preferences: a default plus per-event choices.

    A plain ViewSet (no ``get_object``): one document per user, not a collection of rows.
    """

    permission_classes = [permissions.IsAuthenticated]

    def _current(self, request) -> dict:
        general, per_event = services.preferences_of(request.user)
        return {
            "default": {"in_app": general.in_app, "email": general.email},
            "events": [
                {
                    "event": pref.event,
                    "label": pref.label,
                    "in_app": pref.choice.in_app,
                    "email": pref.choice.email,
                    "inherited": pref.inherited,
                }
                for pref in per_event
            ],
        }

    @extend_schema(responses=PreferencesSerializer)
    def list(self, request):
        """The effective choice for every event."""
        return Response(PreferencesSerializer(self._current(request)).data)

    @extend_schema(request=PreferencesSerializer, responses=PreferencesSerializer)
    def replace(self, request):
        """Set the default and, optionally, per-event choices. Events left out, or equal to the
        default, follow the default."""
        serializer = PreferencesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        general = services.ChannelChoice(**data["default"])
        by_event = {
            item["event"]: services.ChannelChoice(in_app=item["in_app"], email=item["email"])
            for item in data.get("events", [])
        }
        current = {pref.event for pref in services.preferences_of(request.user)[1]}
        for code in current - set(by_event):
            by_event[code] = general
        services.set_preferences(request.user, general, by_event)
        return Response(PreferencesSerializer(self._current(request)).data)


class CanTestChannel(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("notify.change_channel")


class ChannelViewSet(ScopedModelViewSet):
    """Notification channels: SMTP server, group robots, webhooks. Secrets are write-only."""

    queryset = Channel.objects.select_related("department")
    serializer_class = ChannelSerializer
    filterset_class = ChannelFilterSet
    table_class = ChannelTable
    ordering_fields = ["name", "kind", "updated_at"]
    lookup_value_regex = r"\d+"

    @extend_schema(request=SendTestSerializer, responses=DeliverySerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[permissions.IsAuthenticated, CanTestChannel],
    )
    def test(self, request, pk=None):
        """Send a test message through the channel now; answers the delivery row."""
        channel = get_object_or_404(restrict(Channel.objects.all(), request.user, "change"), pk=pk)
        body = SendTestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # No transaction around it: the send may wait on the network, and an open write
        # transaction would lock SQLite for every other writer meanwhile.
        delivery = services.send_test(channel, request.user, body.validated_data.get("to", ""))
        record_sensitive_action(
            request,
            "notify.channel_test",
            target=channel,
            description=f"{channel}: {delivery.status}",
            status=delivery.status,
        )
        return Response(DeliverySerializer(delivery).data)


class DeliveryViewSet(ScopedReadOnlyViewSet):
    """The delivery log: every email and robot message with its attempts and last error."""

    queryset = services.deliveries_with_channel_names()
    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilterSet
    table_class = DeliveryTable
    ordering_fields = ["created_at", "sent_at", "status", "attempts"]
    lookup_value_regex = r"\d+"


class NotifyRouter(DefaultRouter):
    """DefaultRouter whose list route also maps PUT to a viewset's ``replace`` (preferences)."""

    routes = [
        Route(
            url=route.url,
            mapping={**route.mapping, "put": "replace"},
            name=route.name,
            detail=route.detail,
            initkwargs=route.initkwargs,
        )
        if isinstance(route, Route)
        and not route.detail
        and "get" in route.mapping
        and route.mapping.get("get") == "list"
        else route
        for route in DefaultRouter.routes
    ]
    include_root_view = False


router = NotifyRouter()
router.register("notifications", NotificationViewSet, basename="notification")
router.register("preferences", PreferenceViewSet, basename="preference")
router.register("channels", ChannelViewSet, basename="channel")
router.register("deliveries", DeliveryViewSet, basename="delivery")
