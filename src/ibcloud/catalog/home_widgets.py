"""The catalog's card on the home page: projects found in the last days.

It links to the project list filtered to the rows it counts (see :mod:`ibcloud.core.home`).
"""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ibcloud.catalog.models import Project
from ibcloud.core.charts import start_of
from ibcloud.core.home import HomeWidget, register_widget
from ibcloud.core.scoping import restrict

#: the card counts projects first seen on this many days up to today
NEW_PROJECT_DAYS = 7


def first_day(today: datetime.date | None = None) -> datetime.date:
    """The first day the card counts (local time)."""
    return (today or timezone.localdate()) - datetime.timedelta(days=NEW_PROJECT_DAYS - 1)


def new_projects(user: Any) -> QuerySet:
    """Projects first seen since :func:`first_day` that ``user`` may see."""
    # the same bound as the list's "first seen from" filter (core.filters.LocalDateFilter)
    since = start_of(first_day())
    return restrict(Project.objects.filter(first_seen_at__gte=since), user, "view")


register_widget(
    HomeWidget(
        key="projects_new",
        label=_("Projects found in 7 days"),
        permission="catalog.view_project",
        url_name="catalog:project_list",
        url_query=lambda user: urlencode({"first_seen_after": first_day().isoformat()}),
        count=lambda user: new_projects(user).count(),
        icon="ti-building-plus",
        color="teal",
        order=13,
    )
)
