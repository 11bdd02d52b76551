"""The deals module's entries in the side menu."""

from django.utils.translation import gettext_lazy as _

from ibcloud.core.menu import MenuItem, register

register("deals", MenuItem(_("Deals"), "deals:deal_list", "deals.view_deal", "ti-briefcase", 10))
register(
    "deals",
    MenuItem(_("Deal board"), "deals:deal_kanban", "deals.view_deal", "ti-layout-kanban", 20),
)
register(
    "deals",
    MenuItem(_("Milestones"), "deals:milestone_list", "deals.view_milestone", "ti-flag", 30),
)
register(
    "deals",
    MenuItem(
        _("Milestone calendar"),
        "deals:milestone_calendar",
        "deals.view_milestone",
        "ti-calendar",
        40,
    ),
)
register(
    "deals",
    MenuItem(_("Deals dashboard"), "deals:dashboard", "deals.view_deal", "ti-chart-pie", 50),
)
register(
    "deals",
    MenuItem(
        _("Weekly deal report"),
        "deals:weekly_report",
        "deals.export_deal_report",
        "ti-calendar-week",
        55,
    ),
)
register(
    "deals",
    MenuItem(
        _("Milestone templates"),
        "deals:milestonetemplate_list",
        "deals.view_milestonetemplate",
        "ti-template",
        60,
    ),
)
