"""Deals' panel on the project and investor pages: the deals the record takes part in."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ibcloud.catalog.related_panels import RelatedPanel, register
from ibcloud.core.scoping import restrict
from ibcloud.deals import services
from ibcloud.deals.models import Deal
from ibcloud.deals.tables import STATUS_BADGES

#: deals listed on the page (the link opens all of them)
SHOWN = 20


def deals_panel(user: Any, record: Any, field: str, lookup: str) -> dict | None:
    """The deals of ``record`` (``lookup``: the Deal field naming it; ``field``: the deal
    list's filter) that ``user`` may see, newest first; None without the permission to see
    deals."""
    if not user.has_perm("deals.view_deal"):
        return None
    rows = (
        restrict(Deal.objects.filter(**{lookup: record}), user, "view")
        .select_related("lead")
        .order_by("-opened_on", "-id")
        .distinct()
    )
    return {
        "count": rows.count(),
        "rows": [
            {
                "deal": deal,
                "stage": services.stage_label(deal.deal_type, deal.stage),
                "badge": STATUS_BADGES.get(deal.status, "bg-secondary-lt"),
            }
            for deal in rows[:SHOWN]
        ],
        "title": _("Deals"),
        "empty_text": _("No deals yet."),
        "all_label": _("All deals"),
        "all_url": f"{reverse('deals:deal_list')}?{field}={record.pk}",
    }


register(
    RelatedPanel(
        key="deals",
        model_name="project",
        template="deals/includes/related_deals.html",
        context=lambda user, project: deals_panel(user, project, "project", "project"),
        order=20,
    )
)
register(
    RelatedPanel(
        key="deals",
        model_name="investor",
        template="deals/includes/related_deals.html",
        context=lambda user, investor: deals_panel(user, investor, "investor", "investors"),
        order=20,
    )
)
