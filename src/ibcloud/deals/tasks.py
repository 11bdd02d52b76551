"""Background jobs of the deals module: milestone reminders and the daily digest (the weekly
report lives in ``report_tasks``).

- :func:`milestone_reminders_job`: every day at 08:00 (local time), remind the owner of each
  open milestone due within ``deals.reminder_days`` days, once per due date;
- :func:`daily_digest_job`: every day at 08:05, one notification per person listing their
  overdue milestones and those due in the next days.

Both may run any number of times: reminders are claimed per milestone and due date
(``milestones.send_reminders``), so a repeated run sends nothing new.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from huey import crontab

from ibcloud.core.jobs import JobContext, periodic_job
from ibcloud.deals import milestones
from ibcloud.notify import events

events.register(milestones.REMINDER_EVENT, _("Milestone due soon"))
events.register(milestones.DIGEST_EVENT, _("Daily milestone digest"))


@periodic_job(crontab(hour="8", minute="0"))
def milestone_reminders_job(ctx: JobContext) -> dict:
    """Every day at 08:00: remind owners of milestones falling due soon (once per due date)."""
    sent = milestones.send_reminders()
    ctx.log(f"{sent} reminder(s) sent")
    return {"sent": sent}


@periodic_job(crontab(hour="8", minute="5"))
def daily_digest_job(ctx: JobContext) -> dict:
    """Every day at 08:05: each person's overdue and coming milestones, in one notification."""
    sent = milestones.send_digests()
    ctx.log(f"{sent} digest(s) sent")
    return {"sent": sent}
