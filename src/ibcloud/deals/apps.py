from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DealsConfig(AppConfig):
    name = "ibcloud.deals"
    label = "deals"
    verbose_name = _("Deals")

    def ready(self) -> None:
        from ibcloud.deals import (  # noqa: F401 - registrations
            home_widgets,
            menu,
            related_panels,
            report_tasks,
            tasks,
        )
