from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitorConfig(AppConfig):
    name = "ibcloud.monitor"
    label = "monitor"
    verbose_name = _("Operations")

    def ready(self) -> None:
        from ibcloud.monitor import (  # noqa: F401 - registrations
            backup_widgets,  # the home page card
            menu,
            parameters,  # backup schedule and retention
            tasks,  # the scheduled backup
            views,  # audit event labels
        )
