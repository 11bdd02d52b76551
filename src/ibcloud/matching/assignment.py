"""Who receives an approved match: assignment rules, strategies, caps and the global switch.

:func:`assign` tries the active rules with automatic assignment on, by ``priority``; the first
rule that *applies* to the match and *finds someone* assigns it. A rule applies when every
condition it sets holds (empty means any):

* ``industries``: the project's section or division is listed (a section covers its divisions);
* ``regions``: the project's province or city is listed (a province covers its cities);
* ``min_score``: the match scores at least this much;
* ``rule_sets``: the match came from one of them (manual matches never satisfy this);
* ``match_department``: the match belongs to that department or one below it.

Who is found: ``target_user`` when set; otherwise the *pool*, the active members of
``target_department`` and its sub-departments (of the match's own department when no target
department is set), chosen by the rule's strategy:

* ``coverage_first``: the investor's coverage banker when eligible (and inside the target
  department when one is set), else as ``least_open``;
* ``round_robin``: the pool ordered by username, starting after the rule's ``last_assignee``;
* ``least_open``: the fewest open matches (ties: username).

Eligible means active, holding ``matching.view_match`` (so the match can be opened), and below
the rule's ``cap_per_person`` open matches (approved, assigned, not won or lost). With the global
switch ``matching.auto_assign`` off, or no rule applying, nothing is assigned: the match waits in
the "approved, unassigned" list until someone with ``assign_match`` sends it (:func:`assign_to`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.accounts.models import Department, subtree_ids
from ibcloud.core.parameters import define
from ibcloud.matching.models import AssignmentRule, Match
from ibcloud.notify import events
from ibcloud.notify.services import notify

AUTO_ASSIGN = define(
    "matching.auto_assign",
    default=True,
    kind=bool,
    label=gettext_lazy("Assign approved matches automatically by the assignment rules"),
)

ASSIGNED_EVENT = "matching.assigned"
events.register(ASSIGNED_EVENT, gettext_lazy("A match was assigned to me"))

#: work statuses that close a match: it no longer counts against a person's cap
CLOSED_WORK = (Match.WorkStatus.WON, Match.WorkStatus.LOST)
VIEW_PERMISSION = "matching.view_match"


# --- Load -----------------------------------------------------------------------------------------


def open_matches() -> QuerySet:
    """Matches people are working: approved, assigned, neither won nor lost."""
    return Match.objects.filter(status=Match.Status.APPROVED, assignee__isnull=False).exclude(
        work_status__in=CLOSED_WORK
    )


def open_counts(user_ids: Iterable[int]) -> dict[int, int]:
    """Open matches per user id (0 for people with none), in one query."""
    ids = list(user_ids)
    counts = dict.fromkeys(ids, 0)
    rows = (
        open_matches()
        .filter(assignee_id__in=ids)
        .values("assignee_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts[row["assignee_id"]] = row["n"]
    return counts


# --- Conditions -----------------------------------------------------------------------------------


def rule_applies(rule: AssignmentRule, match: Match) -> bool:
    """Whether every condition ``rule`` sets holds for ``match``."""
    project = match.project
    if rule.industries:
        codes = set(rule.industries)
        if project.industry_section not in codes and project.industry not in codes:
            return False
    if rule.regions:
        codes = set(rule.regions)
        if project.province_code not in codes and project.city_code not in codes:
            return False
    if rule.min_score is not None and match.score < rule.min_score:
        return False
    rule_set_ids = {rs.pk for rs in rule.rule_sets.all()}
    if rule_set_ids and match.rule_set_id not in rule_set_ids:
        return False
    if rule.match_department_id is not None:
        if match.department_id is None:
            return False
        if match.department_id not in subtree_ids([rule.match_department]):
            return False
    return True


# --- People ---------------------------------------------------------------------------------------


def _eligible(user: Any, open_count: int, cap: int) -> bool:
    return bool(
        user is not None and user.is_active and open_count < cap and user.has_perm(VIEW_PERMISSION)
    )


def pool_department(rule: AssignmentRule, match: Match) -> Department | None:
    """The department whose people (and those below it) a rule picks from."""
    return rule.target_department or match.department


def pool(rule: AssignmentRule, match: Match) -> list[Any]:
    """Active members of the pool department and its sub-departments, ordered by username."""
    department = pool_department(rule, match)
    if department is None:
        return []
    user_model = get_user_model()
    return list(
        user_model.objects.filter(
            is_active=True, department_id__in=subtree_ids([department])
        ).order_by("username", "pk")
    )


def _least_open(people: list[Any], counts: dict[int, int], cap: int) -> Any | None:
    eligible = [p for p in people if _eligible(p, counts.get(p.pk, 0), cap)]
    if not eligible:
        return None
    return min(eligible, key=lambda p: (counts.get(p.pk, 0), p.username, p.pk))


def _round_robin(rule: AssignmentRule, people: list[Any], counts: dict[int, int]) -> Any | None:
    if not people:
        return None
    start = 0
    if rule.last_assignee_id is not None:
        names = [(p.username, p.pk) for p in people]
        last = next((p for p in people if p.pk == rule.last_assignee_id), None)
        if last is not None:
            start = names.index((last.username, last.pk)) + 1
        else:
            # The last one left the pool: continue with whoever follows them alphabetically.
            last_user = get_user_model().objects.filter(pk=rule.last_assignee_id).first()
            if last_user is not None:
                start = sum(1 for n in names if n <= (last_user.username, last_user.pk))
    ordered = people[start:] + people[:start]
    for person in ordered:
        if _eligible(person, counts.get(person.pk, 0), rule.cap_per_person):
            return person
    return None


def choose(rule: AssignmentRule, match: Match) -> Any | None:
    """The person ``rule`` gives ``match`` to, or None when nobody eligible is left."""
    cap = rule.cap_per_person
    if rule.target_user_id is not None:
        person = rule.target_user
        counts = open_counts([person.pk])
        return person if _eligible(person, counts[person.pk], cap) else None
    people = pool(rule, match)
    banker = match.investor.coverage_banker
    ids = {p.pk for p in people} | ({banker.pk} if banker is not None else set())
    counts = open_counts(ids)
    if rule.strategy == AssignmentRule.Strategy.COVERAGE_FIRST:
        in_target = rule.target_department_id is None or (
            banker is not None and banker.department_id in subtree_ids([rule.target_department])
        )
        if banker is not None and in_target and _eligible(banker, counts[banker.pk], cap):
            return banker
        return _least_open(people, counts, cap)
    if rule.strategy == AssignmentRule.Strategy.ROUND_ROBIN:
        return _round_robin(rule, people, counts)
    return _least_open(people, counts, cap)


# --- Assigning ------------------------------------------------------------------------------------


def candidate_rules() -> QuerySet:
    """Active rules with automatic assignment on, in the order they are tried."""
    return (
        AssignmentRule.objects.filter(is_active=True, auto_assign=True)
        .select_related("target_user", "target_department", "match_department")
        .prefetch_related("rule_sets")
        .order_by("priority", "id")
    )


def assign(match: Match) -> Any | None:
    """Assign an approved, unassigned ``match`` by the rules; returns the assignee or None.

    Nothing happens when the global switch is off, the match is not approved or already has
    an assignee, or no rule applies and finds someone.
    """
    if not AUTO_ASSIGN.get():
        return None
    if match.status != Match.Status.APPROVED or match.assignee_id is not None:
        return None
    with transaction.atomic():
        for rule in candidate_rules():
            if not rule_applies(rule, match):
                continue
            if rule.strategy == AssignmentRule.Strategy.ROUND_ROBIN:
                # Serialise round-robin picks of one rule across processes.
                rule = AssignmentRule.objects.select_for_update().get(pk=rule.pk)
            person = choose(rule, match)
            if person is None:
                continue
            set_assignee(match, person, rule=rule)
            if rule.last_assignee_id != person.pk:
                rule.last_assignee = person
                rule.save(update_fields=["last_assignee", "updated_at"])
            return person
    return None


def set_assignee(
    match: Match,
    person: Any,
    *,
    rule: AssignmentRule | None = None,
    department: Department | None = None,
) -> Match:
    """Give ``match`` to ``person`` and notify them (the one place that assigns).

    Scope follows the assignee: ``owner`` = the person, ``department`` = their department (or
    ``department``, the target, when they have none), so their "own records" reach it.
    """
    match.assignee = person
    match.owner = person
    match.department = person.department or department or match.department
    match.assigned_at = timezone.now()
    match.assignment_rule = rule
    match.save()
    notify_assignee(match)
    return match


def notify_assignee(match: Match) -> None:
    """Tell the assignee a match reached them, with a link to it, in their language."""
    with translation.override(match.assignee.preferred_language):
        title = _("New match for you: %(project)s ↔ %(investor)s") % {
            "project": match.project.name,
            "investor": match.investor.name,
        }
        body = _(
            "Score %(score)s. Open the match to see why it was proposed and record progress."
        ) % {"score": match.score}
    notify(
        [match.assignee],
        title,
        body=body,
        url=match.get_absolute_url(),
        event=ASSIGNED_EVENT,
    )


def assign_to(match: Match, to: Any) -> Any:
    """Send ``match`` to a person, or to the least-loaded active member of a department (and
    below); the cap does not apply to a person's own choice. Returns the assignee.

    Raises ``ValueError`` when a department has nobody who may receive it.
    """
    if isinstance(to, Department):
        people = [
            p
            for p in get_user_model()
            .objects.filter(is_active=True, department_id__in=subtree_ids([to]))
            .order_by("username", "pk")
            if p.has_perm(VIEW_PERMISSION)
        ]
        counts = open_counts(p.pk for p in people)
        person = min(people, key=lambda p: (counts[p.pk], p.username, p.pk), default=None)
        if person is None:
            raise ValueError(
                _("Nobody in %(department)s can receive matches.") % {"department": to}
            )
        set_assignee(match, person, department=to)
        return person
    set_assignee(match, to)
    return to


def least_loaded(people: Iterable[Any]) -> Any | None:
    """The person among ``people`` with the fewest open matches (ties: username)."""
    people = list(people)
    counts = open_counts(p.pk for p in people)
    return min(people, key=lambda p: (counts[p.pk], p.username, p.pk), default=None)
