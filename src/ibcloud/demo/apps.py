from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    name = "ibcloud.demo"
    label = "demo"
    verbose_name = _("Demo")

    def ready(self) -> None:
        from ibcloud.demo import tasks  # noqa: F401 - registers the demo's job
