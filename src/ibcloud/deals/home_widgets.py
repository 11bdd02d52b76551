"""Deals' cards on the home page: the user's own active deals and the milestones waiting on them.

Each card links to the deal or milestone list filtered to the rows it counts (see
:mod:`ibcloud.core.home`).
"""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ibcloud.core.home import HomeWidget, register_widget
from ibcloud.core.scoping import restrict
from ibcloud.deals.models import Deal, Milestone
from ibcloud.deals.services import overdue_q

#: the "due soon" card looks this many days ahead (today included)
DUE_SOON_DAYS = 7


def my_active_deals(user: Any) -> QuerySet:
    """Active deals ``user`` leads (and may see)."""
    return restrict(Deal.objects.filter(lead=user, status=Deal.Status.ACTIVE), user, "view")


def my_overdue_milestones(user: Any) -> QuerySet:
    """Overdue milestones ``user`` owns (and may see)."""
    return restrict(Milestone.objects.filter(owner=user).filter(overdue_q()), user, "view")


def due_soon_window(today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    """The first and last day of the "due soon" card."""
    today = today or timezone.localdate()
    return today, today + datetime.timedelta(days=DUE_SOON_DAYS - 1)


def my_milestones_due_soon(user: Any) -> QuerySet:
    """Open milestones ``user`` owns that fall due within :data:`DUE_SOON_DAYS` days."""
    first, last = due_soon_window()
    rows = Milestone.objects.filter(
        owner=user, status__in=Milestone.OPEN, due_date__gte=first, due_date__lte=last
    )
    return restrict(rows, user, "view")


def _due_soon_query(user: Any) -> str:
    first, last = due_soon_window()
    return urlencode(
        [
            ("owner", user.pk),
            *(("status", status) for status in Milestone.OPEN),
            ("due_after", first.isoformat()),
            ("due_before", last.isoformat()),
        ]
    )


register_widget(
    HomeWidget(
        key="deals_mine_active",
        label=_("My active deals"),
        permission="deals.view_deal",
        url_name="deals:deal_list",
        url_query=lambda user: urlencode({"lead": user.pk, "status": Deal.Status.ACTIVE}),
        count=lambda user: my_active_deals(user).count(),
        icon="ti-briefcase",
        color="blue",
        order=20,
    )
)
register_widget(
    HomeWidget(
        key="milestones_mine_overdue",
        label=_("My overdue milestones"),
        permission="deals.view_milestone",
        url_name="deals:milestone_list",
        url_query=lambda user: urlencode({"owner": user.pk, "overdue": "true"}),
        count=lambda user: my_overdue_milestones(user).count(),
        icon="ti-alarm",
        color="red",
        order=21,
    )
)
register_widget(
    HomeWidget(
        key="milestones_mine_due_soon",
        label=_("My milestones due in 7 days"),
        permission="deals.view_milestone",
        url_name="deals:milestone_list",
        url_query=_due_soon_query,
        count=lambda user: my_milestones_due_soon(user).count(),
        icon="ti-calendar-due",
        color="yellow",
        order=22,
    )
)
