"""Review and work of matches: approve, reject, unmatch, rematch, manual matches, bulk actions,
sending to people, progress and notes, rejection statistics, the "review waiting" notice.

Plain functions without permission checks: the views and the API check permissions and the data
scope first, then call these. Each decision is saved through the model inside an audit context
naming ``user``, so the operation log records who changed what (bulk actions add one event).
Status changes (docs/matching-review.md)::

    pending ──approve──▶ approved ──unmatch──▶ unmatched
       │                    │
       └──reject──▶ rejected │      rematch: unmatched / rejected / withdrawn ──▶ pending
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.accounts.models import Department
from ibcloud.core.signals import acting_as, record_sensitive_action
from ibcloud.matching import assignment
from ibcloud.matching.models import Match, MatchNote, MatchRuleSet
from ibcloud.notify import events
from ibcloud.notify.services import notify

logger = logging.getLogger(__name__)

REVIEW_WAITING_EVENT = "matching.review_waiting"
events.register(REVIEW_WAITING_EVENT, gettext_lazy("New matches await review"))

MAX_NOTE = 2000


class RejectReason(models.TextChoices):
    """Why a reviewer rejected a match; counted per rule set to show which criteria mislead."""

    INDUSTRY_MISMATCH = "industry_mismatch", gettext_lazy("Industry mismatch")
    STAGE_MISMATCH = "stage_mismatch", gettext_lazy("Stage mismatch")
    AMOUNT_MISMATCH = "amount_mismatch", gettext_lazy("Amount mismatch")
    REGION_MISMATCH = "region_mismatch", gettext_lazy("Region mismatch")
    INVESTOR_INACTIVE = "investor_inactive", gettext_lazy("Investor inactive")
    ALREADY_KNOWN = "already_known", gettext_lazy("Already in contact")
    POOR_QUALITY = "poor_quality", gettext_lazy("Wrong data")
    OTHER = "other", gettext_lazy("Other")


class StateError(ValidationError):
    """The match is not in a status the action applies to (the API answers 409)."""


# --- Audit context ----------------------------------------------------------------------------


def _expect(match: Match, *statuses: str) -> None:
    if match.status not in statuses:
        raise StateError(
            _("This match is %(status)s; the action needs it to be %(expected)s.")
            % {
                "status": match.get_status_display(),
                "expected": " / ".join(str(Match.Status(s).label) for s in statuses),
            }
        )


def _clean_note(note: str | None) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationError({"note": _("At most %(n)d characters.") % {"n": MAX_NOTE}})
    return note


def _fingerprint(match: Match) -> str:
    """The pair's current data fingerprint (the engine's: what "changed materially" means)."""
    from ibcloud.matching.scoring import fingerprint_of

    return fingerprint_of(match.project, match.investor)


def refill(project_ids: Iterable[int], rule_set: MatchRuleSet | None) -> None:
    """Ask the engine to fill the places rejected matches left (next-best candidates)."""
    ids = sorted(set(project_ids))
    if rule_set is None or not ids:
        return
    # imported here: the engine imports these services (to notify reviewers after a run)
    from ibcloud.matching.engine import match_projects

    match_projects(ids, rule_sets=[rule_set])


# --- Decisions ------------------------------------------------------------------------------------


def approve(match: Match, user: Any, note: str = "") -> Match:
    """Approve a pending match; with automatic assignment on, the rules assign it at once."""
    _expect(match, Match.Status.PENDING)
    note = _clean_note(note)
    with transaction.atomic(), acting_as(user):
        match.status = Match.Status.APPROVED
        match.reviewed_by = user
        match.reviewed_at = timezone.now()
        if note:
            match.note = note
        match.save()
        assignment.assign(match)
    return match


def reject(
    match: Match, user: Any, reason: str, note: str = "", *, refill_now: bool = True
) -> Match:
    """Reject a pending match with a reason (``other`` needs a note).

    The pair keeps its current data fingerprint, so later runs skip it until the project's or
    investor's data changes materially; the engine then proposes the next-best investor for the
    project in its place (``refill_now``; bulk rejections refill once at the end).
    """
    _expect(match, Match.Status.PENDING)
    reason = clean_reason(reason, note)
    note = _clean_note(note)
    with transaction.atomic(), acting_as(user):
        match.status = Match.Status.REJECTED
        match.reviewed_by = user
        match.reviewed_at = timezone.now()
        match.reject_reason = reason
        match.reject_note = note
        match.fingerprint = _fingerprint(match)
        match.save()
    if refill_now:
        refill([match.project_id], match.rule_set)
    return match


def clean_reason(reason: str, note: str = "") -> str:
    """``reason`` when it is a known code (``other`` only with a note), else ValidationError."""
    if reason not in RejectReason.values:
        raise ValidationError({"reason": _("Choose a rejection reason from the list.")})
    if reason == RejectReason.OTHER and not (note or "").strip():
        raise ValidationError({"note": _("Say why when the reason is “Other”.")})
    return reason


def unmatch(match: Match, user: Any, note: str = "") -> Match:
    """Take an approved match back; it leaves the assignee's inbox (history stays)."""
    _expect(match, Match.Status.APPROVED)
    note = _clean_note(note)
    with transaction.atomic(), acting_as(user):
        match.status = Match.Status.UNMATCHED
        match.reviewed_by = user
        match.reviewed_at = timezone.now()
        if note:
            match.note = note
        match.save()
    return match


def rematch(match: Match, user: Any, note: str = "") -> Match:
    """Put an unmatched, rejected or withdrawn match back into the review queue.

    Review and assignment fields are cleared (the audit log keeps them); the match belongs to
    its rule set's department again.
    """
    _expect(match, Match.Status.UNMATCHED, Match.Status.REJECTED, Match.Status.WITHDRAWN)
    note = _clean_note(note)
    with transaction.atomic(), acting_as(user):
        match.status = Match.Status.PENDING
        match.reviewed_by = None
        match.reviewed_at = None
        match.reject_reason = ""
        match.reject_note = ""
        match.assignee = None
        match.assigned_at = None
        match.assignment_rule = None
        match.work_status = Match.WorkStatus.NEW
        if match.rule_set_id is not None:
            match.owner = None
            match.department = match.rule_set.department
        match.note = note
        match.proposed_at = timezone.now()
        match.save()
    return match


def existing_pair(project: Any, investor: Any) -> Match | None:
    """A match of the pair that still counts: any manual one, or a pending/approved automatic
    one (rejected, withdrawn and unmatched automatic ones do not block a manual match)."""
    return (
        Match.objects.filter(project=project, investor=investor)
        .filter(
            Q(rule_set__isnull=True) | Q(status__in=[Match.Status.PENDING, Match.Status.APPROVED])
        )
        .first()
    )


def manual_match(project: Any, investor: Any, user: Any, note: str = "") -> Match:
    """Match a project with an investor by hand (no rule set, source ``manual``).

    Someone who may review matches approves their own at once (and it is assigned by the rules
    when automatic assignment is on); anyone else's waits in the review queue. The match belongs
    to its creator and their department. Refuses a pair that already has a match.
    """
    note = _clean_note(note)
    found = existing_pair(project, investor)
    if found is not None:
        raise ValidationError(
            _("%(project)s and %(investor)s are already matched (match #%(id)s, %(status)s).")
            % {
                "project": project.name,
                "investor": investor.name,
                "id": found.pk,
                "status": found.get_status_display(),
            }
        )
    reviewer = user.has_perm("matching.review_match")
    now = timezone.now()
    with transaction.atomic(), acting_as(user):
        match = Match(
            project=project,
            investor=investor,
            rule_set=None,
            source=Match.Source.MANUAL,
            status=Match.Status.APPROVED if reviewer else Match.Status.PENDING,
            note=note,
            owner=user,
            department=getattr(user, "department", None),
            proposed_at=now,
            reviewed_by=user if reviewer else None,
            reviewed_at=now if reviewer else None,
        )
        match.fingerprint = _fingerprint(match)
        match.save()
        if reviewer:
            assignment.assign(match)
    return match


# --- Assignment and work --------------------------------------------------------------------------


def send_to(match: Match, to: Any, user: Any, note: str = "") -> Any:
    """Send an approved match to a person, or to the least-loaded member of a department (or of
    several chosen people: pass a list). Re-sending an assigned match moves it. Returns the
    assignee; the assignee is notified.
    """
    _expect(match, Match.Status.APPROVED)
    note = _clean_note(note)
    if isinstance(to, list | tuple | set | QuerySet):
        to = assignment.least_loaded(to)
        if to is None:
            raise ValidationError(_("Choose at least one person."))
    with transaction.atomic(), acting_as(user):
        try:
            person = assignment.assign_to(match, to)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        if note:
            MatchNote.objects.create(match=match, author=user, text=note)
    return person


def update_progress(match: Match, work_status: str, note: str, user: Any) -> Match:
    """Record the assignee's progress (new, contacted, in progress, won, lost) with a note."""
    _expect(match, Match.Status.APPROVED)
    if work_status not in Match.WorkStatus.values:
        raise ValidationError({"work_status": _("Choose a progress status from the list.")})
    note = _clean_note(note)
    changed = work_status != match.work_status
    if not changed and not note:
        raise ValidationError({"note": _("Change the status or write a note.")})
    with transaction.atomic(), acting_as(user):
        if changed:
            match.work_status = work_status
            match.save()
        MatchNote.objects.create(
            match=match,
            author=user,
            text=note or str(Match.WorkStatus(work_status).label),
            work_status=work_status if changed else "",
        )
    return match


def add_note(match: Match, user: Any, text: str) -> MatchNote:
    """Keep a note on a match (a call, a meeting, the next step)."""
    text = _clean_note(text)
    if not text:
        raise ValidationError({"note": _("Write a note.")})
    with acting_as(user):
        return MatchNote.objects.create(match=match, author=user, text=text)


# --- Bulk -----------------------------------------------------------------------------------------


BULK_ACTIONS = ("approve", "reject", "unmatch", "rematch", "assign")


@dataclass
class BulkResult:
    """What a bulk action did: rows done, rows refused with the reason."""

    action: str
    done: int = 0
    errors: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "action": self.action,
            "done": self.done,
            "failed": len(self.errors),
            "errors": self.errors,
        }


def _error_text(exc: ValidationError) -> str:
    return "; ".join(str(m) for m in exc.messages)


def bulk(action: str, matches: Iterable[Match], user: Any, **kwargs: Any) -> BulkResult:
    """Apply ``action`` (approve, reject, unmatch, rematch, assign) to each match; a refused row
    does not stop the others. ``reject`` takes ``reason`` and ``note``; ``assign`` takes ``to``
    (a person, a department or a list of people: each match goes to the least loaded); the
    others take ``note``. The rejections' places are refilled once per rule set. Audited as one
    event besides each match's own change.
    """
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": _("Unknown action.")})
    note = kwargs.get("note", "")
    if action == "reject":
        clean_reason(kwargs.get("reason", ""), note)
    if action == "assign" and not kwargs.get("to"):
        raise ValidationError({"to": _("Choose who receives the matches.")})
    result = BulkResult(action)
    refills: dict[int, tuple[MatchRuleSet, set[int]]] = {}
    for match in matches:
        try:
            with transaction.atomic():
                if action == "approve":
                    approve(match, user, note)
                elif action == "reject":
                    reject(match, user, kwargs["reason"], note, refill_now=False)
                    if match.rule_set_id is not None:
                        entry = refills.setdefault(match.rule_set_id, (match.rule_set, set()))
                        entry[1].add(match.project_id)
                elif action == "unmatch":
                    unmatch(match, user, note)
                elif action == "rematch":
                    rematch(match, user, note)
                else:
                    send_to(match, kwargs["to"], user, note)
            result.done += 1
        except ValidationError as exc:
            result.errors.append({"id": match.pk, "message": _error_text(exc)})
    for rule_set, project_ids in refills.values():
        refill(project_ids, rule_set)
    record_sensitive_action(
        kwargs.get("request"),
        f"match_bulk_{action}",
        actor=getattr(user, "_wrapped", user),  # the audit needs the model, not a lazy proxy
        description=_("%(action)s: %(done)d matches, %(failed)d refused")
        % {"action": action, "done": result.done, "failed": len(result.errors)},
        done=result.done,
        errors=result.errors[:100],
    )
    return result


# --- Statistics and notices -----------------------------------------------------------------------


def rejection_statistics(queryset: QuerySet) -> list[dict]:
    """Rejection reasons counted per rule set among ``queryset`` (scope it first), so admins see
    which criteria mislead: ``[{"rule_set", "rule_set_name", "total", "reasons": {code: n}}]``,
    most rejections first; manual matches count under rule set None."""
    rows = (
        queryset.filter(status=Match.Status.REJECTED)
        .values("rule_set_id", "rule_set__name", "reject_reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_rule_set: dict[int | None, dict] = {}
    for row in rows:
        entry = by_rule_set.setdefault(
            row["rule_set_id"],
            {
                "rule_set": row["rule_set_id"],
                "rule_set_name": row["rule_set__name"] or "",
                "total": 0,
                "reasons": {},
            },
        )
        entry["total"] += row["n"]
        code = row["reject_reason"] or RejectReason.OTHER
        entry["reasons"][code] = entry["reasons"].get(code, 0) + row["n"]
    return sorted(by_rule_set.values(), key=lambda e: (-e["total"], e["rule_set_name"]))


def reviewers_for(department: Department | None) -> list[Any]:
    """Active people who may review and whose data scope reaches matches of ``department``."""
    user_model = get_user_model()
    holders = (
        user_model.objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(
                roles__is_active=True,
                roles__permissions__codename="review_match",
                roles__permissions__content_type__app_label="matching",
            )
            | Q(
                user_permissions__codename="review_match",
                user_permissions__content_type__app_label="matching",
            )
        )
        .distinct()
        .order_by("pk")
    )
    found = []
    for person in holders:
        if person.is_superuser:
            found.append(person)
            continue
        reach = person.data_reach()
        if reach.all or (department is not None and department.pk in reach.department_ids):
            found.append(person)
    return found


def notify_review_waiting(rule_set: MatchRuleSet, count: int) -> None:
    """Tell the reviewers who reach ``rule_set``'s matches that ``count`` new ones wait (one
    notice per run, not per match). The engine calls it after a run proposes matches."""
    if count <= 0:
        return
    from django.urls import reverse

    notify(
        reviewers_for(rule_set.department),
        _("%(count)d new matches of %(rule_set)s await review")
        % {"count": count, "rule_set": rule_set.name},
        url=f"{reverse('matching:review')}?rule_set={rule_set.pk}",
        event=REVIEW_WAITING_EVENT,
    )
