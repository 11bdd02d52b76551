"""Menu entry of the audit module."""

from django.utils.translation import gettext_lazy as _

from ibcloud.core.menu import MenuItem
from ibcloud.core.menu import register as add


def register() -> None:
    add(
        "system",
        MenuItem(_("Audit log"), "audit:entry_list", "audit.view_auditentry", "ti-history", 55),
    )
