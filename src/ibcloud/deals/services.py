"""Deals: open (by hand or from an approved match), edit, move through stages, close, keep notes.

Plain functions without permission checks: the views and the API check permissions and the data
scope first, then call these. Each change is saved inside an audit context naming ``user``, so
the operation log records who changed what, and the deal's timeline (:class:`DealActivity`)
gets an entry for stage and status changes, notes and the opening itself.

The stage list of a deal type is the dictionary named by the ``deal_type`` item's
``extra.stage_dict`` (admins edit both under 字典); :func:`stage_choices` reads it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ibcloud.core import dictionaries
from ibcloud.core.signals import acting_as
from ibcloud.deals.models import Deal, DealActivity, Milestone
from ibcloud.matching.models import Match

GENERIC_STAGE_DICT = "deal_stage"
MAX_NOTE = 5000

#: fields :func:`update_deal` writes; many-to-many ones are given as iterables
EDITABLE_FIELDS = (
    "name",
    "deal_type",
    "stage",
    "status",
    "client",
    "project",
    "match",
    "lead",
    "department",
    "industry",
    "deal_size",
    "expected_fee",
    "description",
    "opened_on",
    "expected_close_on",
)
M2M_FIELDS = ("investors", "members", "tags")


# --- Types and stages -----------------------------------------------------------------------------


def stage_dict(deal_type: str) -> str:
    """The dictionary code of ``deal_type``'s stage list (the generic list when it names none)."""
    for item in dictionaries.items("deal_type"):
        if item.value == deal_type:
            return (item.extra or {}).get("stage_dict") or GENERIC_STAGE_DICT
    return GENERIC_STAGE_DICT


def stage_choices(deal_type: str) -> list[tuple[str, str]]:
    """``(value, label)`` of the stages of ``deal_type``, in pipeline order."""
    return dictionaries.choices(stage_dict(deal_type))


def stage_label(deal_type: str, stage: str) -> str:
    """The stage's label, or its value when the list no longer holds it."""
    return dict(stage_choices(deal_type)).get(stage, stage)


def type_label(deal_type: str) -> str:
    return dict(dictionaries.choices("deal_type")).get(deal_type, deal_type)


def first_stage(deal_type: str) -> str:
    stages = stage_choices(deal_type)
    return stages[0][0] if stages else ""


def check_type_and_stage(deal_type: str, stage: str) -> None:
    """Raise a field error unless ``deal_type`` is a known type and ``stage`` is in its list."""
    if deal_type not in dict(dictionaries.choices("deal_type")):
        raise ValidationError({"deal_type": _("Choose a deal type from the list.")})
    if stage not in dict(stage_choices(deal_type)):
        raise ValidationError(
            {"stage": _("“%(stage)s” is not a stage of this deal type.") % {"stage": stage}}
        )


# --- Overdue --------------------------------------------------------------------------------------


def open_milestones_q(prefix: str = "") -> Q:
    """Milestones still open (not started or in progress); ``prefix`` e.g. ``"milestones__"``."""
    return Q(**{f"{prefix}status__in": Milestone.OPEN})


def past_due_q(prefix: str = "", today=None) -> Q:
    """Milestones still open and due before today, whatever their deal's status."""
    today = today or timezone.localdate()
    return open_milestones_q(prefix) & Q(**{f"{prefix}due_date__lt": today})


def overdue_q(prefix: str = "", today=None) -> Q:
    """Milestones overdue today: still open, due before today, of a deal still open (a closed
    deal's leftover milestones are nobody's task: they remind no one and show nowhere red)."""
    return past_due_q(prefix, today) & ~Q(**{f"{prefix}deal__status__in": Deal.CLOSED})


def overdue_deal_ids(today=None) -> QuerySet:
    """Ids of the deals with a past-due milestone (a subquery: use it with ``pk__in``, with the
    deal's own status, as :func:`with_overdue` and :func:`overdue_deals` do)."""
    return Milestone.objects.filter(past_due_q(today=today)).values("deal_id")


def with_overdue(deals: QuerySet, today=None) -> QuerySet:
    """``deals`` annotated with ``is_overdue``: the deal is open and has an overdue milestone.

    An IN over the past-due milestones' deal ids, which the (status, due_date, deal) index
    answers alone. (A correlated EXISTS was slower, and SQLite 3.40 returned wrong rows for it
    through the (deal, status, due_date) index once table statistics existed.)
    """
    overdue = Q(pk__in=overdue_deal_ids(today)) & ~Q(status__in=Deal.CLOSED)
    return deals.annotate(is_overdue=ExpressionWrapper(overdue, output_field=BooleanField()))


def overdue_deals(deals: QuerySet, today=None) -> QuerySet:
    """The deals of ``deals`` that are open and have an overdue milestone."""
    return deals.exclude(status__in=Deal.CLOSED).filter(pk__in=overdue_deal_ids(today))


# --- Opening and editing --------------------------------------------------------------------------


def next_code(today=None) -> str:
    """The next free deal code of the year: ``D2026-00042``."""
    year = (today or timezone.localdate()).year
    prefix = f"D{year}-"
    last = (
        Deal.objects.filter(code__startswith=prefix)
        .order_by("-code")
        .values_list("code", flat=True)
    ).first()
    number = int(last[len(prefix) :]) + 1 if last else 1
    return f"{prefix}{number:05d}"


def _set_m2m(deal: Deal, values: dict[str, Iterable[Any] | None]) -> None:
    for name in M2M_FIELDS:
        if values.get(name) is not None:
            getattr(deal, name).set(list(values[name]))


def _activity(deal: Deal, kind: str, user: Any, text: str = "", **data: Any) -> DealActivity:
    return DealActivity.objects.create(deal=deal, kind=kind, author=user, text=text, data=data)


def _clean_status_dates(deal: Deal) -> None:
    if deal.status in Deal.CLOSED:
        deal.closed_on = deal.closed_on or timezone.localdate()
    else:
        deal.closed_on = None


def create_deal(user: Any, **fields: Any) -> Deal:
    """Open a deal. ``fields`` are model fields plus ``investors``, ``members`` and ``tags``.

    The stage defaults to the type's first; the lead to ``user``; owner follows the lead and the
    department the lead's (unless given), so the data scope reaches it as people expect.
    """
    m2m = {name: fields.pop(name, None) for name in M2M_FIELDS}
    deal = Deal(**fields)
    deal.stage = deal.stage or first_stage(deal.deal_type)
    check_type_and_stage(deal.deal_type, deal.stage)
    if deal.lead_id is None and "lead" not in fields:
        deal.lead = user
    deal.owner = deal.lead
    if deal.department_id is None and "department" not in fields:
        deal.department = getattr(deal.lead or user, "department", None)
    _clean_status_dates(deal)
    deal.stage_changed_at = timezone.now()
    with acting_as(user):
        for attempt in range(5):
            deal.code = next_code()
            try:
                with transaction.atomic():
                    deal.save()
                    _set_m2m(deal, m2m)
                    _activity(deal, DealActivity.Kind.CREATED, user, deal.name)
                break
            except IntegrityError:
                # two deals opened at once took the same code; take the next one
                if attempt == 4:
                    raise
                deal.pk = None
    return deal


def update_deal(deal: Deal, user: Any, **changes: Any) -> Deal:
    """Apply ``changes`` (fields of :data:`EDITABLE_FIELDS` and :data:`M2M_FIELDS`).

    A new stage must belong to the (new) type; stage and status changes go on the timeline;
    closing sets ``closed_on`` and reopening clears it; the owner follows the lead.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS) - set(M2M_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    m2m = {name: changes.pop(name, None) for name in M2M_FIELDS}
    old_stage, old_status = deal.stage, deal.status
    for name, value in changes.items():
        setattr(deal, name, value)
    if deal.deal_type != Deal.objects.filter(pk=deal.pk).values_list("deal_type", flat=True)[0]:
        if "stage" not in changes:
            deal.stage = first_stage(deal.deal_type)
    check_type_and_stage(deal.deal_type, deal.stage)
    deal.owner = deal.lead
    _clean_status_dates(deal)
    with transaction.atomic(), acting_as(user):
        if deal.stage != old_stage:
            deal.stage_changed_at = timezone.now()
        deal.save()
        _set_m2m(deal, m2m)
        if deal.stage != old_stage:
            _activity(
                deal,
                DealActivity.Kind.STAGE,
                user,
                _("%(from)s → %(to)s")
                % {
                    "from": stage_label(deal.deal_type, old_stage),
                    "to": stage_label(deal.deal_type, deal.stage),
                },
                **{"from": old_stage, "to": deal.stage},
            )
        if deal.status != old_status:
            _activity(
                deal,
                DealActivity.Kind.STATUS,
                user,
                _("%(from)s → %(to)s")
                % {
                    "from": Deal.Status(old_status).label,
                    "to": Deal.Status(deal.status).label,
                },
                **{"from": old_status, "to": deal.status},
            )
    return deal


def change_stage(deal: Deal, stage: str, user: Any) -> Deal:
    """Move ``deal`` to ``stage`` of its type (the kanban's drag): audited, on the timeline."""
    if stage == deal.stage:
        return deal
    return update_deal(deal, user, stage=stage)


def add_note(deal: Deal, user: Any, text: str) -> DealActivity:
    """A note on the deal's timeline (calls, meetings, next steps)."""
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": _("Write the note first.")})
    if len(text) > MAX_NOTE:
        raise ValidationError({"text": _("At most %(n)d characters.") % {"n": MAX_NOTE}})
    with acting_as(user):
        return _activity(deal, DealActivity.Kind.NOTE, user, text)


def deal_defaults_from_match(match: Match) -> dict[str, Any]:
    """What a deal opened from ``match`` starts with: its project as client and linked project,
    its investor, industry, amount as size, the match's assignee as lead and its department."""
    project = match.project
    return {
        "name": project.name,
        "client": project.full_name or project.name,
        "project": project,
        "investors": [match.investor],
        "industry": project.industry or project.industry_section,
        "deal_size": project.amount_low or project.amount_high,
        "lead": match.assignee,
        "department": match.department,
        "match": match,
        "description": project.summary,
    }


def open_deal_from_match(match: Match, user: Any, **fields: Any) -> Deal:
    """Open a deal from an approved match, carrying its project, investor and context; marks the
    match converted (the matching dashboard's conversion figure) and notes the match's
    explanation on the timeline."""
    if match.status != Match.Status.APPROVED:
        raise ValidationError({"match": _("Only an approved match can be turned into a deal.")})
    values = deal_defaults_from_match(match)
    values.update(fields)
    values.setdefault("deal_type", "private_placement")
    if values.get("lead") is None:
        values["lead"] = user
    with transaction.atomic(), acting_as(user):
        deal = create_deal(user, **values)
        if match.converted_at is None:
            match.converted_at = timezone.now()
            match.save(update_fields=["converted_at", "updated_at"])
        _activity(
            deal,
            DealActivity.Kind.NOTE,
            user,
            _("Opened from the match %(match)s (score %(score)s).")
            % {"match": match, "score": match.score},
            match=match.pk,
        )
    return deal


def delete_deal(deal: Deal, user: Any) -> None:
    """Delete ``deal`` with its milestones, timeline and attachments (audited) and, once
    committed, the attachments' stored files (a cascade would leave them behind)."""
    stored = [(a.file.storage, a.file.name) for a in deal.attachments.all() if a.file]

    def remove_files() -> None:
        for storage, name in stored:
            storage.delete(name)

    with transaction.atomic(), acting_as(user):
        deal.delete()
        transaction.on_commit(remove_files)
