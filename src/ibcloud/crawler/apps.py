from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrawlerConfig(AppConfig):
    name = "ibcloud.crawler"
    label = "crawler"
    verbose_name = _("Crawler")

    def ready(self) -> None:
        from ibcloud.crawler import alerts, menu, receivers, tasks  # noqa: F401 - registrations
