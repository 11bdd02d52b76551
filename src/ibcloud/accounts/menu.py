"""Menu entries of the accounts module."""

from django.utils.translation import gettext_lazy as _

from ibcloud.core.menu import MenuItem
from ibcloud.core.menu import register as add


def register() -> None:
    add("system", MenuItem(_("Users"), "accounts:user_list", "accounts.view_user", "ti-users", 10))
    add(
        "system",
        MenuItem(
            _("Departments"),
            "accounts:department_list",
            "accounts.view_department",
            "ti-sitemap",
            20,
        ),
    )
    add(
        "system",
        MenuItem(_("Roles"), "accounts:role_list", "accounts.view_role", "ti-shield-lock", 30),
    )
    add(
        "system",
        MenuItem(
            _("Online users"),
            "accounts:session_list",
            "accounts.view_online_users",
            "ti-plug-connected",
            40,
        ),
    )
    add(
        "system",
        MenuItem(
            _("Login log"), "accounts:loginlog_list", "accounts.view_loginlog", "ti-login", 50
        ),
    )
