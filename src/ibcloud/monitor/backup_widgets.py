"""The backups' card on the home page: how old the newest successful backup is."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ibcloud.core.home import HomeWidget, register_widget
from ibcloud.core.scoping import restrict
from ibcloud.monitor.models import Backup


def days_since_last_backup(user: Any) -> int | None:
    """Whole days since the newest successful backup started; None when there is none."""
    last = (
        restrict(Backup.objects.filter(status=Backup.Status.SUCCEEDED), user)
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    if last is None:
        return None
    return (timezone.now() - last).days


register_widget(
    HomeWidget(
        key="backup_age",
        label=_("Days since the last backup"),
        permission="monitor.view_backup",
        url_name="monitor:backup_list",
        count=days_since_last_backup,
        empty_text=_("No backup yet"),
        icon="ti-database-export",
        color="orange",
        order=940,
    )
)
