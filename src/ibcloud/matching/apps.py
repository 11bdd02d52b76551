from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MatchingConfig(AppConfig):
    name = "ibcloud.matching"
    label = "matching"
    verbose_name = _("Matching")

    def ready(self) -> None:
        from ibcloud.matching import (  # noqa: F401 - registrations
            assignment,  # the matching.auto_assign parameter, the "assigned" event
            home_widgets,
            menu,
            receivers,
            related_panels,
            services,  # the "review waiting" event
            tasks,
        )
