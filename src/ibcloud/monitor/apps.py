from django.apps import AppConfig
from django.core.signals import request_started
from django.utils.translation import gettext_lazy as _


def _report_from_web(sender, **kwargs) -> None:
    """A web process reports its node from its first request on (once a process). Not when
    jobs run in-process (tests, one-off commands): there is no long-running server then."""
    from ibcloud.core.jobs import get_queue
    from ibcloud.monitor import metrics

    if not get_queue("default").immediate:
        metrics.start_reporter("web")


class MonitorConfig(AppConfig):
    name = "ibcloud.monitor"
    label = "monitor"
    verbose_name = _("Operations")

    def ready(self) -> None:
        from ibcloud.monitor import (  # noqa: F401 - registrations
            backup_widgets,  # the home page card
            menu,
            parameters,  # backup schedule and retention; monitoring thresholds
            tasks,  # the scheduled backup; node reporting of the workers; monitoring jobs
            views,  # audit event labels
        )

        request_started.connect(_report_from_web, dispatch_uid="monitor.node_reporter.web")
