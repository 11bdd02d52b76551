from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "ibcloud.notify"
    label = "notify"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from ibcloud.core.home import HomeWidget, register_widget
        from ibcloud.core.menu import MenuItem, register
        from ibcloud.core.signals import notification_requested
        from ibcloud.notify import services, tasks  # noqa: F401 - registers the delivery job

        notification_requested.connect(
            services.on_notification_requested, dispatch_uid="notify.notification_requested"
        )
        register(
            "system",
            MenuItem(
                _("Notification channels"),
                "notify:channel_list",
                "notify.view_channel",
                "ti-broadcast",
                90,
            ),
        )
        register(
            "system",
            MenuItem(
                _("Delivery log"), "notify:delivery_list", "notify.view_delivery", "ti-send", 95
            ),
        )
        register_widget(
            HomeWidget(
                key="notifications_unread",
                label=_("Unread notifications"),
                permission=None,
                url_name="notify:notification_list",
                url_query="state=unread",
                count=services.unread_count,
                icon="ti-bell",
                color="orange",
                order=10,
            )
        )
