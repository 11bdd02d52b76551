"""Figures of one rule set for its page and the API: its matches by status and the reasons its
matches were rejected (so admins see which criteria mislead), over the matches the viewer may see.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from ibcloud.core.scoping import restrict
from ibcloud.matching.models import Match, MatchRuleSet

#: the statuses a rule set's page counts, in the order it shows them
STATUSES = (
    Match.Status.PENDING,
    Match.Status.APPROVED,
    Match.Status.REJECTED,
    Match.Status.WITHDRAWN,
    Match.Status.UNMATCHED,
)


def visible_matches(user: Any) -> QuerySet:
    """The matches ``user`` may see (the one scoping function), unordered for counting."""
    return restrict(Match.objects.all(), user, "view").order_by()


def status_counts(rule_set: MatchRuleSet, user: Any) -> list[dict]:
    """``[{"status", "label", "count"}]`` of the rule set's matches ``user`` may see."""
    counts = dict(
        visible_matches(user)
        .filter(rule_set=rule_set)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    labels = dict(Match.Status.choices)
    return [
        {"status": str(status), "label": str(labels[status]), "count": counts.get(status, 0)}
        for status in STATUSES
    ]


def reason_labels() -> dict[str, str]:
    """Rejection reason code → label."""
    from ibcloud.matching.services import RejectReason

    return {str(code): str(label) for code, label in RejectReason.choices}


def rejection_reasons(rule_set: MatchRuleSet, user: Any) -> list[dict]:
    """``[{"reason", "label", "count"}]``, most frequent first, of the rule set's rejected matches
    ``user`` may see."""
    rows = (
        visible_matches(user)
        .filter(rule_set=rule_set, status=Match.Status.REJECTED)
        .values("reject_reason")
        .annotate(n=Count("pk"))
    )
    labels = reason_labels()
    result = [
        {
            "reason": row["reject_reason"],
            "label": labels.get(row["reject_reason"], row["reject_reason"] or "—"),
            "count": row["n"],
        }
        for row in rows
    ]
    return sorted(result, key=lambda r: (-r["count"], r["reason"]))


def rule_set_statistics(rule_set: MatchRuleSet, user: Any) -> dict:
    """Everything the rule set's page shows in figures."""
    return {
        "status_counts": status_counts(rule_set, user),
        "rejection_reasons": rejection_reasons(rule_set, user),
        "last_run_at": rule_set.last_run_at,
    }
