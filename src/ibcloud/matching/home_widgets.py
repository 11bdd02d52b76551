"""Matching's cards on the home page: the matches waiting on the user, to review or to follow up.

Each card links to the list filtered to the rows it counts (see :mod:`ibcloud.core.home`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from ibcloud.core.home import HomeWidget, register_widget
from ibcloud.core.scoping import restrict
from ibcloud.matching.models import Match

#: work statuses of a match still being followed up (not won, not lost)
FOLLOW_UP = (Match.WorkStatus.NEW, Match.WorkStatus.CONTACTED, Match.WorkStatus.IN_PROGRESS)


def matches_to_follow_up(user: Any) -> QuerySet:
    """Approved matches assigned to ``user`` that are neither won nor lost (their inbox)."""
    rows = Match.objects.filter(
        status=Match.Status.APPROVED, assignee=user, work_status__in=FOLLOW_UP
    )
    return restrict(rows, user, "view")


def matches_to_review(user: Any) -> QuerySet:
    """Pending matches in ``user``'s reach (their review queue)."""
    return restrict(Match.objects.filter(status=Match.Status.PENDING), user, "view")


register_widget(
    HomeWidget(
        key="matches_to_review",
        label=_("Matches awaiting review"),
        permission="matching.review_match",
        url_name="matching:review",
        count=lambda user: matches_to_review(user).count(),
        icon="ti-checklist",
        color="purple",
        order=11,
    )
)
register_widget(
    HomeWidget(
        key="matches_to_follow_up",
        label=_("My matches to follow up"),
        permission="matching.view_match",
        url_name="matching:inbox",
        url_query=urlencode([("work_status", status) for status in FOLLOW_UP]),
        count=lambda user: matches_to_follow_up(user).count(),
        icon="ti-inbox",
        color="green",
        order=12,
    )
)
