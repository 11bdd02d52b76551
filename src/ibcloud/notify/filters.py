"""FilterSets shared by the list pages, the API and the exports."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from ibcloud.core.filters import YesNoFilter
from ibcloud.core.forms import date_input
from ibcloud.core.scoping import restrict
from ibcloud.notify import events
from ibcloud.notify.models import Channel, ChannelKind, Delivery, Level, Notification


def _event_choices():
    return events.choices()


class NotificationFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(
        label=_("State"),
        choices=[("unread", _("Unread")), ("read", _("Read"))],
        method="filter_state",
        empty_label=_("All"),
    )
    level = django_filters.ChoiceFilter(label=_("Level"), choices=Level.choices)
    event = django_filters.ChoiceFilter(label=_("Event"), choices=_event_choices)
    q = django_filters.CharFilter(label=_("Search"), method="filter_q")

    class Meta:
        model = Notification
        fields = ["state", "level", "event", "q"]

    def filter_state(self, queryset, name, value):
        if value == "unread":
            return queryset.filter(read_at__isnull=True)
        if value == "read":
            return queryset.filter(read_at__isnull=False)
        return queryset

    def filter_q(self, queryset, name, value):
        return queryset.filter(title__icontains=value) | queryset.filter(body__icontains=value)


class ChannelFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(label=_("Name"), lookup_expr="icontains")
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=ChannelKind.choices)
    enabled = YesNoFilter(label=_("Enabled"))

    class Meta:
        model = Channel
        fields = ["name", "kind", "enabled"]


def _visible_channels(request):
    if request is None:
        return Channel.objects.none()
    return restrict(Channel.objects.all(), request.user, "view")


class DeliveryFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(label=_("Status"), choices=Delivery.Status.choices)
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=ChannelKind.choices)
    channel = django_filters.ModelChoiceFilter(label=_("Channel"), queryset=_visible_channels)
    event = django_filters.ChoiceFilter(label=_("Event"), choices=_event_choices)
    created_after = django_filters.DateFilter(
        label=_("From"), field_name="created_at", lookup_expr="date__gte", widget=date_input()
    )
    created_before = django_filters.DateFilter(
        label=_("To"), field_name="created_at", lookup_expr="date__lte", widget=date_input()
    )
    target = django_filters.CharFilter(label=_("Target"), lookup_expr="icontains")

    class Meta:
        model = Delivery
        fields = ["status", "kind", "channel", "event", "created_after", "created_before", "target"]
