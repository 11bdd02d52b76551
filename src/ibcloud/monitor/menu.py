"""The operations module's entries in the side menu."""

from django.utils.translation import gettext_lazy as _

from ibcloud.core.menu import MenuItem, register

register(
    "monitor",
    MenuItem(_("Backups"), "monitor:backup_list", "monitor.view_backup", "ti-database-export", 50),
)
register(
    "monitor",
    MenuItem(_("System logs"), "monitor:log_list", "monitor.view_log", "ti-file-text", 45),
)
register(
    "monitor",
    MenuItem(_("Nodes"), "monitor:node_list", "monitor.view_node", "ti-server", 40),
)
