"""The side menu: apps register items in ``AppConfig.ready``; users see only what they may open."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class MenuItem:
    label: str | Promise
    url_name: str
    permission: str | None  # None: any logged-in user
    icon: str = "ti-point"
    order: int = 100


@dataclass
class MenuGroup:
    key: str
    label: str | Promise
    icon: str
    order: int
    items: list[MenuItem] = field(default_factory=list)


GROUPS: dict[str, MenuGroup] = {
    group.key: group
    for group in [
        MenuGroup("crawler", _("Data collection"), "ti-world-download", 10),
        MenuGroup("catalog", _("Catalog"), "ti-database", 20),
        MenuGroup("matching", _("Business matching"), "ti-arrows-exchange", 30),
        MenuGroup("deals", _("Project management"), "ti-briefcase", 40),
        MenuGroup("monitor", _("Operations"), "ti-activity", 50),
        MenuGroup("system", _("System management"), "ti-settings", 60),
    ]
}


def register(group: str, item: MenuItem) -> None:
    """Add ``item`` to menu ``group`` (idempotent)."""
    items = GROUPS[group].items
    if all(existing.url_name != item.url_name for existing in items):
        items.append(item)
        items.sort(key=lambda i: (i.order, str(i.label)))


def visible_menu(user) -> list[dict]:
    """Groups with the items ``user`` may open, ready for the template."""
    if not user.is_authenticated:
        return []
    result = []
    for group in sorted(GROUPS.values(), key=lambda g: g.order):
        entries = []
        for item in group.items:
            if item.permission and not user.has_perm(item.permission):
                continue
            try:
                url = reverse(item.url_name)
            except NoReverseMatch:
                continue
            entries.append({"label": item.label, "url": url, "icon": item.icon})
        if entries:
            result.append(
                {"key": group.key, "label": group.label, "icon": group.icon, "items": entries}
            )
    return result


def register_core_items() -> None:
    register(
        "system",
        MenuItem(
            _("Dictionaries"), "core:dicttype_list", "core.view_dicttype", "ti-list-details", 60
        ),
    )
    register(
        "system",
        MenuItem(
            _("System parameters"),
            "core:parameter_list",
            "core.view_parameter",
            "ti-adjustments",
            70,
        ),
    )
    register(
        "system",
        MenuItem(_("Background jobs"), "core:job_list", "core.view_job", "ti-player-play", 80),
    )
