"""Matching dashboard statistics: plain functions over the matches a user may see.

Every figure starts from ``restrict(Match, user, "view")``, so a department-limited viewer sees
charts of their own department's matches. Counting happens in the database (GROUP BY the week,
the status, the rule set, the industry section, the province); Python only reshapes the few rows.

* matches proposed per week, one line per status;
* approval rate per rule set: approved / (approved + rejected) of its decided matches;
* conversion to deals per month: of the matches approved that month (``reviewed_at``), the share
  that became a deal (``converted_at`` set by the deals module);
* matches by industry section and by province of the project.

The page (:mod:`ibcloud.matching.dashboard_views`) and the API (``statistics/``) both answer with
:func:`dashboard_statistics`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ibcloud.catalog.charts import industry_labels, province_names, section_name
from ibcloud.core.charts import (
    WeekIndex,
    between,
    check_date_range,
    in_range,
    month_period,
    month_starts,
    start_of,
    week_period,
    week_starts,
)
from ibcloud.core.scoping import restrict
from ibcloud.matching.models import Match

#: bars the industry and region charts draw (the rest are summed as "other")
TOP_BARS = 20
#: statuses the weekly chart draws, in order
STATUSES = (
    Match.Status.PENDING,
    Match.Status.APPROVED,
    Match.Status.REJECTED,
    Match.Status.WITHDRAWN,
    Match.Status.UNMATCHED,
)


@dataclass(frozen=True)
class ChartFilters:
    """The dashboard's filters: when the matches were proposed (inclusive local dates), and
    optionally one rule set."""

    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    rule_set: int | None = None


def check_filters(filters: ChartFilters) -> dict[str, str]:
    """Field errors of ``filters`` (empty when valid); the page's form and the API share it."""
    return check_date_range(filters.date_from, filters.date_to)


def series_period(
    filters: ChartFilters, today: datetime.date | None = None
) -> tuple[datetime.date, datetime.date]:
    """First and last day of the weekly series: the filter's range, else the last 26 weeks."""
    return week_period(filters.date_from, filters.date_to, today)


def _in_range(queryset: QuerySet, field: str, filters: ChartFilters) -> QuerySet:
    return in_range(queryset, field, filters.date_from, filters.date_to)


# --- Scoped matches -------------------------------------------------------------------------------


def visible_matches(user: Any, filters: ChartFilters | None = None) -> QuerySet:
    """The matches ``user`` may see, of the filter's rule set, unordered for counting."""
    queryset = restrict(Match.objects.all(), user, "view").order_by()
    if filters is not None and filters.rule_set:
        queryset = queryset.filter(rule_set_id=filters.rule_set)
    return queryset


# --- The charts -----------------------------------------------------------------------------------


def matches_per_week(user: Any, filters: ChartFilters, today: datetime.date | None = None) -> dict:
    """Matches proposed per week, one series per status (the status they have now)."""
    first, last = series_period(filters, today)
    weeks = week_starts(first, last)
    matches = between(visible_matches(user, filters), "proposed_at", first, last)
    rows = (
        matches.annotate(week_index=WeekIndex("proposed_at", start_of(weeks[0])))
        .values("week_index", "status")
        .annotate(n=Count("pk"))
    )
    by_status: dict[str, list[int]] = {status: [0] * len(weeks) for status in STATUSES}
    for row in rows:
        index = row["week_index"]
        if row["status"] in by_status and 0 <= index < len(weeks):
            by_status[row["status"]][index] += row["n"]
    labels = dict(Match.Status.choices)
    return {
        "weeks": [week.isoformat() for week in weeks],
        "series": [
            {"key": str(status), "name": str(labels[status]), "data": by_status[status]}
            for status in STATUSES
        ],
    }


def approval_rates(user: Any, filters: ChartFilters) -> list[dict]:
    """Per rule set (manual matches as one row): approved, rejected and the approval rate in
    percent (``None`` when nothing was decided), over matches proposed in the date range."""
    matches = _in_range(visible_matches(user, filters), "proposed_at", filters)
    rows = (
        matches.values("rule_set_id")
        .annotate(
            name=Max("rule_set__name"),
            approved=Count("pk", filter=Q(status=Match.Status.APPROVED)),
            rejected=Count("pk", filter=Q(status=Match.Status.REJECTED)),
            total=Count("pk"),
        )
        .order_by()
    )
    result = []
    for row in rows:
        decided = row["approved"] + row["rejected"]
        result.append(
            {
                "rule_set": row["rule_set_id"],
                "name": row["name"] or _("Manual matches"),
                "approved": row["approved"],
                "rejected": row["rejected"],
                "total": row["total"],
                "rate": round(100 * row["approved"] / decided, 1) if decided else None,
            }
        )
    return sorted(result, key=lambda r: (-r["total"], r["name"]))


def conversion_per_month(
    user: Any, filters: ChartFilters, today: datetime.date | None = None
) -> dict:
    """Per month of approval: matches approved (``reviewed_at`` in the month, status approved),
    how many of them became a deal, and that share in percent (``None`` for a month without
    approvals)."""
    first, last = month_period(filters.date_from, filters.date_to, today)
    months = month_starts(first, last)
    approved = between(
        visible_matches(user, filters).filter(
            status=Match.Status.APPROVED, reviewed_at__isnull=False
        ),
        "reviewed_at",
        first,
        last,
    )
    counts: dict[datetime.date, list[int]] = {month: [0, 0] for month in months}
    # Approved matches are people's decisions (thousands, not millions), so reading their two
    # dates is cheap; the month is taken in local time here, so SQLite and PostgreSQL agree
    # without time-zone functions in SQL.
    for reviewed_at, converted in approved.values_list("reviewed_at", "converted_at").iterator():
        month = timezone.localtime(reviewed_at).date().replace(day=1)
        if month in counts:
            counts[month][0] += 1
            counts[month][1] += converted is not None
    return {
        "months": [month.strftime("%Y-%m") for month in months],
        "approved": [counts[m][0] for m in months],
        "converted": [counts[m][1] for m in months],
        "rate": [
            round(100 * counts[m][1] / counts[m][0], 1) if counts[m][0] else None for m in months
        ],
    }


def _top(rows: list[dict], other_name: str) -> list[dict]:
    rows = sorted(rows, key=lambda r: (-r["count"], r["code"] or "~"))
    if len(rows) <= TOP_BARS:
        return rows
    rest = sum(r["count"] for r in rows[TOP_BARS:])
    return [*rows[:TOP_BARS], {"code": None, "name": other_name, "count": rest}]


def matches_by_industry(user: Any, filters: ChartFilters) -> list[dict]:
    """Matches per industry section of the project, largest first (proposed in the range)."""
    matches = _in_range(visible_matches(user, filters), "proposed_at", filters)
    rows = matches.values("project__industry_section").annotate(n=Count("pk"))
    labels = industry_labels()
    return _top(
        [
            {
                "code": row["project__industry_section"],
                "name": section_name(row["project__industry_section"], labels),
                "count": row["n"],
            }
            for row in rows
        ],
        _("Other industries"),
    )


def matches_by_region(user: Any, filters: ChartFilters) -> list[dict]:
    """Matches per province of the project, largest first (proposed in the range)."""
    matches = _in_range(visible_matches(user, filters), "proposed_at", filters)
    rows = list(matches.values("project__province_code").annotate(n=Count("pk")))
    names = province_names(row["project__province_code"] for row in rows)
    return _top(
        [
            {
                "code": row["project__province_code"],
                "name": names.get(row["project__province_code"])
                or row["project__province_code"]
                or _("Unknown region"),
                "count": row["n"],
            }
            for row in rows
        ],
        _("Other regions"),
    )


def totals(user: Any, filters: ChartFilters) -> dict:
    """Matches proposed in the range by status, and all of them."""
    matches = _in_range(visible_matches(user, filters), "proposed_at", filters)
    counts = dict(matches.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    return {
        "matches": sum(counts.values()),
        **{str(status): counts.get(status, 0) for status in STATUSES},
    }


def dashboard_statistics(
    user: Any, filters: ChartFilters | None = None, today: datetime.date | None = None
) -> dict:
    """Every figure of the matching dashboard for ``user`` under ``filters``."""
    filters = filters or ChartFilters()
    first, last = series_period(filters, today)
    return {
        "filters": {
            "date_from": filters.date_from.isoformat() if filters.date_from else None,
            "date_to": filters.date_to.isoformat() if filters.date_to else None,
            "rule_set": filters.rule_set,
            "series_from": first.isoformat(),
            "series_to": last.isoformat(),
        },
        "totals": totals(user, filters),
        "per_week": matches_per_week(user, filters, today),
        "approval_rates": approval_rates(user, filters),
        "conversion": conversion_per_month(user, filters, today),
        "by_industry": matches_by_industry(user, filters),
        "by_region": matches_by_region(user, filters),
    }
