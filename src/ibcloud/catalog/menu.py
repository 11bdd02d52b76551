"""The catalog's entries in the side menu."""

from django.utils.translation import gettext_lazy as _

from ibcloud.core.menu import MenuItem, register

register(
    "catalog",
    MenuItem(_("Projects"), "catalog:project_list", "catalog.view_project", "ti-building", 10),
)
register(
    "catalog",
    MenuItem(_("Investors"), "catalog:investor_list", "catalog.view_investor", "ti-coin", 20),
)
register(
    "catalog",
    MenuItem(
        _("Saved queries"), "catalog:savedquery_list", "catalog.view_savedquery", "ti-bookmark", 30
    ),
)
register(
    "catalog",
    MenuItem(
        _("Catalog dashboard"), "catalog:dashboard", "catalog.view_project", "ti-chart-dots", 40
    ),
)
register(
    "catalog",
    MenuItem(
        _("Quarantine"),
        "catalog:ingestion_list",
        "catalog.view_ingestion",
        "ti-alert-octagon",
        50,
    ),
)
register(
    "catalog",
    MenuItem(
        _("Normalization preview"),
        "catalog:normalize_preview",
        "catalog.view_project",
        "ti-wand",
        60,
    ),
)
register(
    "catalog",
    MenuItem(
        _("Exchange rates"),
        "catalog:exchangerate_list",
        "catalog.view_exchangerate",
        "ti-currency-dollar",
        70,
    ),
)
register(
    "catalog",
    MenuItem(
        _("Industry keywords"),
        "catalog:industrykeyword_list",
        "catalog.view_industrykeyword",
        "ti-tags",
        80,
    ),
)
register(
    "catalog",
    MenuItem(
        _("Round aliases"),
        "catalog:roundalias_list",
        "catalog.view_roundalias",
        "ti-arrows-shuffle",
        90,
    ),
)
