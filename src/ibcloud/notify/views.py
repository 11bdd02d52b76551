"""Pages of the notification centre: my notifications and preferences (every user), channels and
the delivery log (admins)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from ibcloud.core.forms import apply_bootstrap
from ibcloud.core.signals import record_sensitive_action
from ibcloud.core.views import (
    BULK_DELETE,
    BulkAction,
    ObjectDeleteView,
    ObjectEditView,
    ObjectListView,
    PermissionRequiredView,
    configure_table,
    is_local_url,
    positive_int,
    redirect,
    safe_next,
)
from ibcloud.notify import services
from ibcloud.notify.filters import ChannelFilterSet, DeliveryFilterSet, NotificationFilterSet
from ibcloud.notify.forms import ChannelForm, PreferencesForm, SendTestForm
from ibcloud.notify.models import Channel, Delivery, Notification
from ibcloud.notify.tables import ChannelTable, DeliveryTable, NotificationTable


def _ids(request) -> list[int]:
    return [pk for pk in map(positive_int, request.POST.getlist("pk")) if pk]


# --- My notifications (own rows only: no permission needed, nobody reads another's) ------------

MARK_READ = BulkAction("read", gettext_lazy("Mark read"), "view", lambda r, q: "")
MARK_UNREAD = BulkAction("unread", gettext_lazy("Mark unread"), "view", lambda r, q: "")


class NotificationListView(LoginRequiredMixin, View):
    """The person's own notifications with read/unread filters and mark-read actions."""

    template_name = "notify/notification_list.html"

    def get(self, request):
        filterset = NotificationFilterSet(
            request.GET or None, queryset=services.inbox(request.user), request=request
        )
        queryset = filterset.qs if filterset.is_bound else filterset.queryset
        table = configure_table(request, NotificationTable(queryset))
        context = {
            "title": _("My notifications"),
            "model_meta": Notification._meta,
            "table": table,
            "filter_form": apply_bootstrap(filterset.form),
            "bulk_actions": [MARK_READ, MARK_UNREAD],
            "exportable": False,
            "unread_total": services.unread_count(request.user),
        }
        template = self.template_name
        if getattr(request, "htmx", False) and request.htmx.target == "object-table":
            template = "core/includes/object_table.html"
        return render(request, template, context)

    def post(self, request):
        action = request.POST.get("bulk_action", "")
        ids = _ids(request)
        if action == "read":
            count = services.mark_read(request.user, ids)
        elif action == "unread":
            count = services.mark_unread(request.user, ids)
        else:
            messages.error(request, _("Unknown action."))
            return redirect(request, request.get_full_path())
        messages.success(request, _("Updated %(n)d notification(s).") % {"n": count})
        return redirect(request, request.get_full_path())


class NotificationOpenView(LoginRequiredMixin, View):
    """Mark one's notification read and go to what it links to."""

    def get(self, request, pk: int):
        notification = get_object_or_404(services.inbox(request.user), pk=pk)
        services.mark_read(request.user, [notification.pk])
        if is_local_url(request, notification.url):
            return redirect(request, notification.url)
        return redirect(request, reverse("notify:notification_list") + f"?state=read#n{pk}")


class NotificationReadView(LoginRequiredMixin, View):
    def post(self, request, pk: int):
        notification = get_object_or_404(services.inbox(request.user), pk=pk)
        services.mark_read(request.user, [notification.pk])
        return redirect(request, safe_next(request, reverse("notify:notification_list")))


class NotificationReadAllView(LoginRequiredMixin, View):
    def post(self, request):
        count = services.mark_all_read(request.user)
        messages.success(request, _("Marked %(n)d notification(s) read.") % {"n": count})
        return redirect(request, safe_next(request, reverse("notify:notification_list")))


class PreferencesView(LoginRequiredMixin, View):
    """Which personal channels the person wants, per event."""

    template_name = "notify/preferences.html"

    def form(self, request, data=None) -> PreferencesForm:
        general, per_event = services.preferences_of(request.user)
        return PreferencesForm(data, general=general, per_event=per_event)

    def get(self, request):
        return self.render(request, self.form(request))

    def post(self, request):
        form = self.form(request, request.POST)
        if not form.is_valid():
            return self.render(request, form)
        general, by_event = form.choices()
        services.set_preferences(request.user, general, by_event)
        messages.success(request, _("Notification preferences saved."))
        return redirect(request, reverse("notify:preferences"))

    def render(self, request, form):
        context = {
            "title": _("Notification preferences"),
            "form": form,
            "rows": form.bound_rows(),
            "email_available": services.email_channel() is not None,
            "has_email": bool(request.user.email),
        }
        return render(request, self.template_name, context)


# --- Channels (admins) ----------------------------------------------------------------------------


class ChannelListView(ObjectListView):
    model = Channel
    table_class = ChannelTable
    filterset_class = ChannelFilterSet
    add_url_name = "notify:channel_add"
    bulk_actions = (BULK_DELETE,)

    def base_queryset(self):
        return Channel.objects.select_related("department")


class ChannelEditView(ObjectEditView):
    model = Channel
    form_class = ChannelForm
    template_name = "notify/channel_form.html"
    success_url_name = "notify:channel_list"


class ChannelDeleteView(ObjectDeleteView):
    model = Channel


class ChannelTestView(PermissionRequiredView):
    """Send a test message through a channel now and report the outcome."""

    model = Channel
    action = "change"

    def post(self, request, pk: int):
        channel = get_object_or_404(self.scoped_queryset("change"), pk=pk)
        form = SendTestForm(request.POST)
        edit_url = reverse("notify:channel_edit", args=[channel.pk])
        if not form.is_valid():
            messages.error(request, _("Enter a valid email address."))
            return redirect(request, edit_url)
        try:
            delivery = services.send_test(channel, request.user, form.cleaned_data.get("to", ""))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(request, edit_url)
        record_sensitive_action(
            request,
            "notify.channel_test",
            target=channel,
            description=f"{channel}: {delivery.status}",
            status=delivery.status,
        )
        if delivery.status == Delivery.Status.SENT:
            messages.success(
                request, _("Test message sent to %(target)s.") % {"target": delivery.target}
            )
        else:
            messages.error(
                request, _("Test message failed: %(error)s") % {"error": delivery.last_error}
            )
        return redirect(request, safe_next(request, edit_url))


# --- Delivery log (admins) ------------------------------------------------------------------------


def _retry(request, queryset) -> str:
    return _("Queued %(n)d delivery(ies) again.") % {"n": services.retry_deliveries(queryset)}


RETRY = BulkAction("retry", gettext_lazy("Retry failed"), "change", _retry)


class DeliveryListView(ObjectListView):
    model = Delivery
    table_class = DeliveryTable
    filterset_class = DeliveryFilterSet
    bulk_actions = (RETRY,)
    title = gettext_lazy("Delivery log")

    def base_queryset(self):
        return services.deliveries_with_channel_names()
