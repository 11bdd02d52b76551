from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "ibcloud.audit"
    label = "audit"
    verbose_name = _("Audit")

    def ready(self) -> None:
        # receivers: the sensitive-action log; tasks: registers the daily retention purge.
        from ibcloud.audit import menu, receivers, tasks  # noqa: F401

        menu.register()
