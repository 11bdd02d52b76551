"""The demo's background step: once the first crawls have produced matches, carry a few of them
through review into deals, so a newcomer sees the whole flow from crawl to deal."""

from __future__ import annotations

from django.utils import timezone

from ibcloud.core.jobs import job

DEMO_CONVERSIONS = 3


class MatchesNotReady(RuntimeError):
    """No match proposed yet: the job retries later (the crawls are still running)."""


@job(retries=6, retry_delay=30, name="demo.convert_matches")
def convert_demo_matches(ctx) -> dict:
    """Approve the best pending matches as the demo manager and open a deal from each, with the
    financing milestones counted from today; retries while the crawls have not produced any."""
    from ibcloud.accounts.models import User
    from ibcloud.deals.milestones import apply_template
    from ibcloud.deals.models import Deal, MilestoneTemplate
    from ibcloud.deals.services import open_deal_from_match
    from ibcloud.matching.models import Match
    from ibcloud.matching.services import approve

    if Deal.objects.filter(match__isnull=False).exists():
        return {"deals": 0}
    pending = list(Match.objects.filter(status=Match.Status.PENDING).order_by("-score")[:20])
    if not pending:
        raise MatchesNotReady("等待首批匹配结果（演示站点的抓取尚未完成）")
    manager = User.objects.get(username="manager")
    financing = MilestoneTemplate.objects.filter(deal_type="", is_active=True).first()
    opened = []
    seen_projects: set[int] = set()
    for match in pending:
        if match.project_id in seen_projects:
            continue
        seen_projects.add(match.project_id)
        approve(match, manager, note="演示：审核通过")
        deal = open_deal_from_match(match, manager, deal_type="private_placement")
        if financing is not None:
            apply_template(deal, financing, timezone.localdate(), manager)
        opened.append(deal.code)
        ctx.log(f"{match} → {deal.code}")
        if len(opened) == DEMO_CONVERSIONS:
            break
    return {"deals": len(opened)}
