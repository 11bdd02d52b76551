from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "ibcloud.core"
    label = "core"
    verbose_name = _("System")

    def ready(self) -> None:
        from ibcloud.core import menu, signals  # noqa: F401

        menu.register_core_items()
