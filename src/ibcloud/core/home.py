"""Cards of the home page: apps register widgets in ``AppConfig.ready``, like menu items.

A widget shows a number (or just a link) to users holding its permission::

    home.register_widget(HomeWidget(
        key="deals_open", label=_("Open deals"), icon="ti-briefcase", order=40,
        permission="deals.view_deal", url_name="deals:deal_list",
        count=lambda user: restrict(Deal.objects.filter(status="open"), user).count(),
    ))

``count`` must go through :func:`~ibcloud.core.scoping.restrict`, so a card never shows more than
the list it links to; the link's query (``url_query``, a string or a function of the user for
cards about "my" rows) filters that list to the rows counted.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ibcloud.core.scoping import restrict

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HomeWidget:
    key: str
    label: str | Promise
    permission: str | None  # None: any logged-in user
    url_name: str = ""
    #: appended to the link, e.g. "status=failed"; or a function of the user giving it
    url_query: str | Callable[[Any], str] = ""
    count: Callable[[Any], int | None] | None = None
    #: shown instead of the number when ``count`` gives None (e.g. "never")
    empty_text: str | Promise = ""
    icon: str = "ti-chart-bar"
    color: str = "primary"  # Tabler colour of the icon badge
    order: int = 100


WIDGETS: dict[str, HomeWidget] = {}


def register_widget(widget: HomeWidget) -> None:
    """Add (or replace, by key) a card of the home page."""
    WIDGETS[widget.key] = widget


def visible_widgets(user) -> list[dict]:
    """Cards ``user`` may see, with their numbers, ready for the template."""
    if not user.is_authenticated:
        return []
    cards = []
    for widget in sorted(WIDGETS.values(), key=lambda w: (w.order, w.key)):
        if widget.permission and not user.has_perm(widget.permission):
            continue
        url = ""
        if widget.url_name:
            try:
                url = reverse(widget.url_name)
            except NoReverseMatch:
                url = ""
            query = widget.url_query(user) if callable(widget.url_query) else widget.url_query
            if url and query:
                url = f"{url}?{query}"
        value = None
        if widget.count is not None:
            try:
                value = widget.count(user)
            except Exception:  # noqa: BLE001 - one broken card must not take the home page down
                logger.exception("home widget %s failed", widget.key)
                continue
        cards.append(
            {
                "key": widget.key,
                "label": widget.label,
                "url": url,
                "value": value,
                "icon": widget.icon,
                "color": widget.color,
                "empty_text": widget.empty_text if widget.count is not None else "",
            }
        )
    return cards


# --- Core's own cards -------------------------------------------------------------------------


def _since_yesterday() -> datetime.datetime:
    return timezone.now() - datetime.timedelta(hours=24)


def _count_users(user) -> int:
    return restrict(get_user_model().objects.filter(is_active=True), user).count()


def _count_departments(user) -> int:
    from django.apps import apps

    # Core imports no app; the department model is reached by its label like core's own FKs.
    department = apps.get_model("accounts", "Department")
    return restrict(department.objects.all(), user).count()


def _count_jobs(status_values: tuple[str, ...]) -> Callable[[Any], int]:
    def count(user) -> int:
        from ibcloud.core.models import Job

        rows = Job.objects.filter(status__in=status_values, created_at__gte=_since_yesterday())
        return restrict(rows, user).count()

    return count


def register_core_widgets() -> None:
    user_model = get_user_model()
    register_widget(
        HomeWidget(
            key="users",
            label=_("Active users"),
            permission=f"{user_model._meta.app_label}.view_{user_model._meta.model_name}",
            url_name="accounts:user_list",
            count=_count_users,
            icon="ti-users",
            color="azure",
            order=900,
        )
    )
    register_widget(
        HomeWidget(
            key="departments",
            label=pgettext_lazy("home card", "Departments"),
            permission="accounts.view_department",
            url_name="accounts:department_list",
            count=_count_departments,
            icon="ti-sitemap",
            color="indigo",
            order=910,
        )
    )
    register_widget(
        HomeWidget(
            key="jobs_running",
            label=_("Running jobs (24 h)"),
            permission="core.view_job",
            url_name="core:job_list",
            url_query="status=pending&status=running&status=retrying",
            count=_count_jobs(("pending", "running", "retrying")),
            icon="ti-player-play",
            color="green",
            order=920,
        )
    )
    register_widget(
        HomeWidget(
            key="jobs_failed",
            label=_("Failed jobs (24 h)"),
            permission="core.view_job",
            url_name="core:job_list",
            url_query="status=failed",
            count=_count_jobs(("failed",)),
            icon="ti-alert-triangle",
            color="red",
            order=930,
        )
    )
