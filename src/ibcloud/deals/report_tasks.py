"""Scheduled deal reports: the weekly report emailed to managers (``reports.send_weekly_reports``).

Managers are the people holding ``deals.export_deal_report``; each gets the figures of their own
data scope through their notification channels (event ``deals.weekly_report``).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from huey import crontab

from ibcloud.core.jobs import JobContext, periodic_job
from ibcloud.deals import reports
from ibcloud.notify import events

events.register(reports.WEEKLY_EVENT, _("Weekly deal report"))


@periodic_job(crontab(day_of_week="1", hour="8", minute="0"))
def weekly_report_job(ctx: JobContext) -> dict:
    """Every Monday at 08:00 (local time): each manager's weekly deal report."""
    sent = reports.send_weekly_reports()
    ctx.log(f"{sent} weekly report(s) sent")
    return {"sent": sent}
