"""Matching's panel on the project and investor pages: the record's matches, best first."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ibcloud.catalog.related_panels import RelatedPanel, register
from ibcloud.core.scoping import restrict
from ibcloud.matching.models import Match
from ibcloud.matching.tables import STATUS_BADGES

#: matches listed on the page (the link opens all of them)
SHOWN = 10


def matches_panel(user: Any, record: Any, field: str, counterpart: str) -> dict | None:
    """The matches of ``record`` (a project or investor) ``user`` may see; None without the
    permission to see matches."""
    if not user.has_perm("matching.view_match"):
        return None
    rows = (
        restrict(Match.objects.filter(**{field: record}), user, "view")
        .select_related(counterpart, "assignee")
        .order_by("-score", "-id")
    )
    return {
        "count": rows.count(),
        "counterpart_label": _("Investor") if counterpart == "investor" else _("Project"),
        "rows": [
            {
                "match": match,
                "counterpart": getattr(match, counterpart),
                "badge": STATUS_BADGES.get(match.status, "bg-secondary-lt"),
            }
            for match in rows[:SHOWN]
        ],
        "title": _("Matches"),
        "empty_text": _("No matches yet."),
        "all_label": _("All matches"),
        "all_url": f"{reverse('matching:match_list')}?{field}={record.pk}",
    }


register(
    RelatedPanel(
        key="matches",
        model_name="project",
        template="matching/includes/related_matches.html",
        context=lambda user, project: matches_panel(user, project, "project", "investor"),
        order=10,
    )
)
register(
    RelatedPanel(
        key="matches",
        model_name="investor",
        template="matching/includes/related_matches.html",
        context=lambda user, investor: matches_panel(user, investor, "investor", "project"),
        order=10,
    )
)
