"""The matching module's entries in the side menu."""

from django.utils.translation import gettext_lazy as _

from ibcloud.core.menu import MenuItem, register

register(
    "matching",
    MenuItem(_("Review queue"), "matching:review", "matching.review_match", "ti-checklist", 10),
)
register(
    "matching",
    MenuItem(_("My matches"), "matching:inbox", "matching.view_match", "ti-inbox", 20),
)
register(
    "matching",
    MenuItem(
        _("Approved, unassigned"),
        "matching:unassigned",
        "matching.assign_match",
        "ti-user-question",
        25,
    ),
)
register(
    "matching",
    MenuItem(_("Matches"), "matching:match_list", "matching.view_match", "ti-arrows-exchange", 30),
)
register(
    "matching",
    MenuItem(
        _("Match rule sets"),
        "matching:matchruleset_list",
        "matching.view_matchruleset",
        "ti-adjustments",
        40,
    ),
)
register(
    "matching",
    MenuItem(
        _("Assignment rules"),
        "matching:assignmentrule_list",
        "matching.view_assignmentrule",
        "ti-user-share",
        50,
    ),
)
register(
    "matching",
    MenuItem(
        _("Matching dashboard"), "matching:dashboard", "matching.view_match", "ti-chart-bar", 60
    ),
)
