"""Milestones of deals: by hand or from a template, done or moved, reminded and digested.

Plain functions without permission checks, like ``services``: the views, the API and the jobs
check permissions and the data scope first, then call these. Changes people make are saved
inside an audit context naming them (``acting_as``) and noted on the deal's timeline
(:class:`DealActivity` of kind "milestone"); the reminder marks (``reminded_for``) are machine
writes and stay out of the operation log.

Overdue is ``services.overdue_q`` (open, due before today, deal still open), the one definition
every page uses.
"""

from __future__ import annotations

import calendar
import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ibcloud.core.parameters import get_parameter
from ibcloud.core.signals import acting_as
from ibcloud.deals.models import (
    Deal,
    DealActivity,
    Milestone,
    MilestoneTemplate,
)
from ibcloud.deals.services import open_milestones_q, overdue_q

REMINDER_EVENT = "deals.milestone_due"
DIGEST_EVENT = "deals.daily_digest"
#: how far ahead the daily digest looks
DIGEST_DAYS = 7
#: milestones listed per section of a digest (the rest are counted)
DIGEST_LINES = 30
#: milestones shown in one day of the calendar (the rest are counted, linked to the list)
CALENDAR_DAY_ITEMS = 6
#: fields :func:`create_milestone` / :func:`update_milestone` write
EDITABLE_FIELDS = (
    "deal",
    "name",
    "sort_order",
    "start_date",
    "due_date",
    "owner",
    "status",
    "completed_on",
    "note",
)
#: dates further than this from today are typing mistakes (year 2205), not plans
MAX_YEARS_AHEAD = 30


# --- Validation and changes -----------------------------------------------------------------------


def clean_milestone(milestone: Milestone, today: datetime.date | None = None) -> None:
    """Check ``milestone``'s dates and fill ``completed_on``; raise field errors.

    A due date is required; the planned start may not follow it; a done milestone carries its
    completion date (today unless given, never in the future), any other status none.
    """
    today = today or timezone.localdate()
    errors: dict[str, str] = {}
    if not (milestone.name or "").strip():
        errors["name"] = _("Name the milestone.")
    if milestone.due_date is None:
        errors["due_date"] = _("Give the due date.")
    elif abs(milestone.due_date.year - today.year) > MAX_YEARS_AHEAD:
        errors["due_date"] = _("Give a date within %(n)d years of today.") % {"n": MAX_YEARS_AHEAD}
    if milestone.start_date and milestone.due_date and milestone.start_date > milestone.due_date:
        errors["start_date"] = _("The start date cannot be after the due date.")
    if milestone.status == Milestone.Status.DONE:
        milestone.completed_on = milestone.completed_on or today
        if milestone.completed_on > today:
            errors["completed_on"] = _("The completion date cannot be in the future.")
    else:
        milestone.completed_on = None
    if errors:
        raise ValidationError(errors)


def _note(milestone: Milestone, user: Any, text: str, **data: Any) -> DealActivity:
    return DealActivity.objects.create(
        deal_id=milestone.deal_id,
        kind=DealActivity.Kind.MILESTONE,
        author=user,
        text=text,
        data={"milestone": milestone.pk, **data},
    )


def create_milestone(deal: Deal, user: Any, **fields: Any) -> Milestone:
    """Add a milestone to ``deal`` (validated, audited, on the deal's timeline)."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    fields.pop("deal", None)
    milestone = Milestone(deal=deal, **fields)
    clean_milestone(milestone)
    with transaction.atomic(), acting_as(user):
        milestone.save()
        _note(
            milestone,
            user,
            _("Milestone “%(name)s” added, due %(due)s")
            % {"name": milestone.name, "due": milestone.due_date},
            action="added",
        )
    return milestone


def update_milestone(milestone: Milestone, user: Any, **changes: Any) -> Milestone:
    """Apply ``changes`` (fields of :data:`EDITABLE_FIELDS`); a new due date re-arms the
    reminder (``reminded_for`` no longer equals it). Status and due-date changes and moves to
    another deal go on the timeline."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    old = {"status": milestone.status, "due_date": milestone.due_date, "deal": milestone.deal_id}
    for name, value in changes.items():
        setattr(milestone, name, value)
    clean_milestone(milestone)
    with transaction.atomic(), acting_as(user):
        milestone.save()
        notes = []
        if milestone.status != old["status"]:
            notes.append(
                _("status %(from)s → %(to)s")
                % {
                    "from": Milestone.Status(old["status"]).label,
                    "to": Milestone.Status(milestone.status).label,
                }
            )
        if milestone.due_date != old["due_date"]:
            notes.append(
                _("due %(from)s → %(to)s") % {"from": old["due_date"], "to": milestone.due_date}
            )
        if milestone.deal_id != old["deal"]:
            notes.append(_("moved from another deal"))
        if notes:
            _note(
                milestone,
                user,
                _("Milestone “%(name)s”: %(changes)s")
                % {"name": milestone.name, "changes": "; ".join(notes)},
                action="updated",
                status=milestone.status,
                due_date=str(milestone.due_date),
            )
    return milestone


def complete_milestone(
    milestone: Milestone, user: Any, on: datetime.date | None = None
) -> Milestone:
    """Mark ``milestone`` done (completed ``on``, default today): the "mark done" action."""
    return update_milestone(
        milestone, user, status=Milestone.Status.DONE, completed_on=on or timezone.localdate()
    )


def delete_milestone(milestone: Milestone, user: Any) -> None:
    """Delete ``milestone``, leaving a line on its deal's timeline."""
    with transaction.atomic(), acting_as(user):
        _note(
            milestone,
            user,
            _("Milestone “%(name)s” deleted") % {"name": milestone.name},
            action="deleted",
        )
        milestone.delete()


# --- Templates ------------------------------------------------------------------------------------


def templates_for(deal_type: str) -> QuerySet:
    """Active templates, the ones made for ``deal_type`` first, then the generic ones, then
    the rest (any template may serve any deal)."""
    return (
        MilestoneTemplate.objects.filter(is_active=True)
        .annotate(
            fit=Case(
                When(deal_type=deal_type, then=Value(0)),
                When(deal_type="", then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by("fit", "name")
    )


def default_template(deal_type: str) -> MilestoneTemplate | None:
    """The template offered first for a deal of ``deal_type`` (its own type's, if any)."""
    return templates_for(deal_type).filter(deal_type=deal_type).first()


def apply_template(
    deal: Deal, template: MilestoneTemplate, start: datetime.date, user: Any
) -> list[Milestone]:
    """Add ``template``'s items to ``deal``: each due ``start + offset_days``, planned from
    ``due - duration_days``, owned by the deal's lead until someone else takes them; items
    whose name the deal already has are skipped, so applying twice adds nothing. Returns the
    milestones added (one timeline entry for all)."""
    existing = set(deal.milestones.values_list("name", flat=True))
    added: list[Milestone] = []
    with transaction.atomic(), acting_as(user):
        for item in template.items.order_by("sort_order", "id"):
            if item.name in existing:
                continue
            due = start + datetime.timedelta(days=item.offset_days)
            milestone = Milestone(
                deal=deal,
                name=item.name,
                sort_order=item.sort_order,
                due_date=due,
                start_date=due - datetime.timedelta(days=item.duration_days),
                owner=deal.lead,
            )
            clean_milestone(milestone)
            milestone.save()
            existing.add(item.name)
            added.append(milestone)
        if added:
            DealActivity.objects.create(
                deal=deal,
                kind=DealActivity.Kind.MILESTONE,
                author=user,
                text=_("Template “%(template)s” applied from %(start)s: %(n)d milestone(s) added")
                % {"template": template.name, "start": start, "n": len(added)},
                data={"template": template.pk, "added": [m.pk for m in added]},
            )
    return added


# --- Reminders and the digest ---------------------------------------------------------------------


def reminder_days() -> int:
    """The ``deals.reminder_days`` parameter: days before the due date the owner is reminded."""
    return int(get_parameter("deals.reminder_days"))


def recipient_of(milestone: Milestone) -> Any:
    """Who hears about ``milestone``: its owner, or the deal's lead when it has none."""
    return milestone.owner if milestone.owner_id else milestone.deal.lead


def live_milestones() -> QuerySet:
    """Open milestones of deals still running (a closed deal's leftovers remind nobody)."""
    return (
        Milestone.objects.filter(open_milestones_q())
        .exclude(deal__status__in=Deal.CLOSED)
        .select_related("deal", "deal__lead", "owner")
    )


def reminders_due(today: datetime.date | None = None) -> QuerySet:
    """Open milestones due from today to ``reminder_days`` ahead whose owner has not been
    reminded of this due date yet."""
    today = today or timezone.localdate()
    until = today + datetime.timedelta(days=reminder_days())
    return (
        live_milestones()
        .filter(due_date__gte=today, due_date__lte=until)
        .exclude(reminded_for=F("due_date"))
        .order_by("due_date", "id")
    )


def milestone_url(milestone: Milestone) -> str:
    """The page a notification about ``milestone`` links to: its deal (or the milestone)."""
    try:
        return reverse("deals:deal_detail", args=[milestone.deal_id])
    except NoReverseMatch:
        return milestone.get_absolute_url()


def send_reminders(today: datetime.date | None = None) -> int:
    """Remind each due milestone's owner once per due date; returns how many were sent.

    Each milestone is claimed with one conditional UPDATE before its notification is sent, so
    two runs at once (or a run repeated) cannot remind twice; moving the due date re-arms it.
    """
    from ibcloud.notify.services import notify

    today = today or timezone.localdate()
    sent = 0
    for milestone in reminders_due(today):
        with transaction.atomic():
            claimed = (
                Milestone.objects.filter(pk=milestone.pk, due_date=milestone.due_date)
                .exclude(reminded_for=milestone.due_date)
                .update(reminded_for=milestone.due_date)
            )
            if not claimed:
                continue
            person = recipient_of(milestone)
            if person is None:
                continue
            days = (milestone.due_date - today).days
            names = {"name": milestone.name, "deal": milestone.deal.name, "days": days}
            with translation.override(person.preferred_language):
                if days:
                    title = _("Milestone “%(name)s” of %(deal)s is due in %(days)d day(s)") % names
                else:
                    title = _("Milestone “%(name)s” of %(deal)s is due today") % names
                body = _("%(deal)s (%(code)s): “%(name)s” is due on %(due)s.") % {
                    "deal": milestone.deal.name,
                    "code": milestone.deal.code,
                    "name": milestone.name,
                    "due": milestone.due_date,
                }
            notify(
                [person],
                title,
                body=body,
                url=milestone_url(milestone),
                level="warning" if days <= 1 else "info",
                event=REMINDER_EVENT,
            )
            sent += 1
    return sent


@dataclass
class Digest:
    """One person's digest: open milestones due in the coming days and the overdue ones."""

    person: Any
    upcoming: list[Milestone] = field(default_factory=list)
    overdue: list[Milestone] = field(default_factory=list)


def digests(today: datetime.date | None = None) -> list[Digest]:
    """Per person (owner, or the deal's lead for a milestone without one): their open
    milestones due within :data:`DIGEST_DAYS` and their overdue ones; people with neither are
    left out."""
    today = today or timezone.localdate()
    until = today + datetime.timedelta(days=DIGEST_DAYS)
    rows = live_milestones().filter(
        overdue_q(today=today) | Q(due_date__gte=today, due_date__lte=until)
    )
    by_person: dict[int, Digest] = {}
    for milestone in rows.order_by("due_date", "id").iterator(chunk_size=2000):
        person = recipient_of(milestone)
        if person is None:
            continue
        digest = by_person.setdefault(person.pk, Digest(person))
        (digest.overdue if milestone.due_date < today else digest.upcoming).append(milestone)
    return list(by_person.values())


def digest_text(digest: Digest) -> str:
    """The digest's body: one line per milestone, overdue first."""

    def line(milestone: Milestone) -> str:
        deal = milestone.deal
        return f"- {milestone.due_date} {deal.name} ({deal.code}): {milestone.name}"

    def section(title: str, rows: list[Milestone]) -> list[str]:
        if not rows:
            return []
        lines = [title, *(line(m) for m in rows[:DIGEST_LINES])]
        if len(rows) > DIGEST_LINES:
            lines.append(_("… and %(n)d more") % {"n": len(rows) - DIGEST_LINES})
        return lines

    return "\n".join(
        section(_("Overdue:"), digest.overdue)
        + section(_("Due in the next %(n)d days:") % {"n": DIGEST_DAYS}, digest.upcoming)
    )


def digested_today(today: datetime.date) -> set[int]:
    """Who got their digest on ``today`` already (so a repeated run sends no second one)."""
    from ibcloud.notify.models import Notification

    midnight = timezone.make_aware(datetime.datetime.combine(today, datetime.time.min))
    return set(
        Notification.objects.filter(event=DIGEST_EVENT, created_at__gte=midnight).values_list(
            "recipient_id", flat=True
        )
    )


def send_digests(today: datetime.date | None = None) -> int:
    """Send each person their digest (one notification each, once a day); returns how many
    were sent."""
    from ibcloud.notify.services import notify

    today = today or timezone.localdate()
    already = digested_today(today)
    sent = 0
    for digest in digests(today):
        if digest.person.pk in already:
            continue
        try:
            url = reverse("deals:milestone_list") + f"?owner={digest.person.pk}"
        except NoReverseMatch:
            url = ""
        with translation.override(digest.person.preferred_language):
            title = _("Milestones: %(overdue)d overdue, %(upcoming)d due soon") % {
                "overdue": len(digest.overdue),
                "upcoming": len(digest.upcoming),
            }
            body = digest_text(digest)
        notify(
            [digest.person],
            title,
            body=body,
            url=url,
            level="warning" if digest.overdue else "info",
            event=DIGEST_EVENT,
        )
        sent += 1
    return sent


# --- Timeline and calendar ------------------------------------------------------------------------


def bar_state(milestone: Milestone, today: datetime.date) -> str:
    """How a milestone's bar or chip is coloured: overdue, done, skipped or open."""
    if milestone.status in Milestone.OPEN and milestone.due_date < today:
        # services.overdue_q: a closed deal's leftover milestone is not overdue
        return "open" if milestone.deal.is_closed else "overdue"
    if milestone.status == Milestone.Status.DONE:
        return "done"
    if milestone.status == Milestone.Status.SKIPPED:
        return "skipped"
    return "open"


def timeline(milestones: list[Milestone], today: datetime.date | None = None) -> dict:
    """A Gantt-like layout of ``milestones``: per bar its offset and width in percent of the
    span from the earliest start to the latest due date (today included), and today's line."""
    today = today or timezone.localdate()
    if not milestones:
        return {"rows": [], "start": None, "end": None, "today_pct": None}
    starts = [m.start_date or m.due_date for m in milestones]
    ends = [max(m.due_date, m.completed_on or m.due_date) for m in milestones]
    first = min([*starts, today])
    last = max([*ends, today]) + datetime.timedelta(days=1)
    span = max((last - first).days, 1)

    def pct(day: datetime.date) -> float:
        return round(100 * (day - first).days / span, 2)

    rows = []
    for milestone, start, end in zip(milestones, starts, ends, strict=True):
        left = pct(start)
        width = max(round(100 * ((end - start).days + 1) / span, 2), 0.8)
        rows.append(
            {
                "id": milestone.pk,
                "name": milestone.name,
                "owner": str(milestone.owner or ""),
                "start": start.isoformat(),
                "due": milestone.due_date.isoformat(),
                "completed": milestone.completed_on.isoformat() if milestone.completed_on else "",
                "status": milestone.status,
                "status_label": str(milestone.get_status_display()),
                "state": bar_state(milestone, today),
                "left": left,
                "width": min(width, 100 - left),
            }
        )
    return {
        "rows": rows,
        "start": first.isoformat(),
        "end": (last - datetime.timedelta(days=1)).isoformat(),
        "today": today.isoformat(),
        "today_pct": pct(today),
    }


def parse_month(value: str | None, today: datetime.date | None = None) -> datetime.date:
    """``YYYY-MM`` as the month's first day; the current month when absent or malformed."""
    today = today or timezone.localdate()
    text = (value or "").strip()
    try:
        year, month = text.split("-")
        if not (text.isascii() and len(year) == 4 and year.isdigit() and month.isdigit()):
            raise ValueError(text)
        first = datetime.date(int(year), int(month), 1)
        if abs(first.year - today.year) > MAX_YEARS_AHEAD:
            raise ValueError(text)
        return first
    except ValueError:
        return today.replace(day=1)


def shift_month(first: datetime.date, months: int) -> datetime.date:
    index = first.year * 12 + first.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def month_weeks(first: datetime.date) -> list[list[datetime.date]]:
    """The weeks (Monday first) covering the month starting ``first``."""
    return calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)


def calendar_grid(
    milestones: QuerySet, first: datetime.date, today: datetime.date | None = None
) -> list[list[dict]]:
    """The month grid: per week, per day, the milestones falling due that day (``milestones``
    already scoped and filtered), each with its colour state; a crowded day shows
    :data:`CALENDAR_DAY_ITEMS` and counts the rest (``more``)."""
    today = today or timezone.localdate()
    weeks = month_weeks(first)
    grid_start, grid_end = weeks[0][0], weeks[-1][-1]
    by_day: dict[datetime.date, list[dict]] = defaultdict(list)
    for milestone in milestones.filter(due_date__gte=grid_start, due_date__lte=grid_end).order_by(
        "due_date", "deal__name", "sort_order", "id"
    ):
        by_day[milestone.due_date].append(
            {"milestone": milestone, "state": bar_state(milestone, today)}
        )
    return [
        [
            {
                "date": day,
                "in_month": day.month == first.month,
                "is_today": day == today,
                "items": by_day.get(day, [])[:CALENDAR_DAY_ITEMS],
                "more": max(len(by_day.get(day, [])) - CALENDAR_DAY_ITEMS, 0),
            }
            for day in week
        ]
        for week in weeks
    ]
