from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "ibcloud.core"
    label = "core"
    verbose_name = _("System")

    def ready(self) -> None:
        from ibcloud.core import dictionaries, home, menu, signals  # noqa: F401

        menu.register_core_items()
        home.register_core_widgets()
        # System parameters are declared at import time; every app's ``parameters`` module is
        # imported here so the parameter page and the API list them all from the first request
        # (apps that declare parameters elsewhere import those modules in their own ready()).
        autodiscover_modules("parameters")
