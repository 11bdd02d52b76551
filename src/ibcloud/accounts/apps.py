from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "ibcloud.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        # lockout and passwords declare system parameters: importing them lists them at once.
        from ibcloud.accounts import lockout, menu, passwords, signals  # noqa: F401

        menu.register()
