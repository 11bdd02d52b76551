"""Deal dashboard figures: one function, :func:`dashboard`, over querysets already scoped.

The page, the API (``dashboard/``), the PPTX deck and the weekly report's link all read the same
dict, so what a manager sees on screen is what the deck holds. The caller passes
``Deal.objects.restrict(user, "view")`` and ``Milestone.objects.restrict(user, "view")``;
nothing here widens them.

Counting happens in the database (GROUP BY the date, type, stage, industry, department); Python
only buckets the few hundred grouped rows into months and weeks, which keeps the page fast over
50,000 deals and 500,000 milestones. Dates are ``DateField``s (local days), so bucketing the
grouped days in Python needs no time-zone functions in SQL and agrees on SQLite and PostgreSQL.

* opened and closed per month (line), over the date range (default: the last 12 months);
* deals by type and by stage (bars), by industry section and by department (pies), over the
  deals opened in the range;
* open milestones due per week by department (heatmap), over the range's weeks (default: the
  last 4 weeks and the next 12);
* KPIs of today (not of the range): active deals, overdue deals and milestones (one definition,
  ``services.overdue_deals`` / ``services.overdue_q``), expected fee of the active deals.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from ibcloud.accounts.models import Department
from ibcloud.catalog.charts import industry_labels, section_name
from ibcloud.catalog.templatetags.catalog_format import industry_sections
from ibcloud.core import dictionaries
from ibcloud.core.charts import check_date_range, monday, month_period, month_starts, week_starts
from ibcloud.deals import services
from ibcloud.deals.models import Deal, Milestone

#: slices the pies draw before summing the rest as "other"
TOP_SLICES = 8
#: heatmap weeks around today when no range is given
HEATMAP_WEEKS_BACK = 4
HEATMAP_WEEKS_AHEAD = 12
#: the most departments the heatmap draws as rows (the rest are summed as "other")
HEATMAP_ROWS = 30


@dataclass(frozen=True)
class ChartFilters:
    """The dashboard's filters: deals opened in a range of local days (inclusive), of one
    department and one deal type; each optional."""

    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    department: int | None = None
    deal_type: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "department": self.department,
            "deal_type": self.deal_type,
        }


def check_filters(filters: ChartFilters) -> dict[str, str]:
    """Field errors of ``filters`` (empty when valid); the page's form and the API share it."""
    errors = check_date_range(filters.date_from, filters.date_to)
    if filters.deal_type and filters.deal_type not in dict(dictionaries.choices("deal_type")):
        errors["deal_type"] = _("Choose a deal type from the list.")
    return errors


def narrow(deals: QuerySet, milestones: QuerySet, filters: ChartFilters):
    """``deals`` and ``milestones`` limited to the filter's department and deal type, unordered
    for counting (the date range applies per figure)."""
    deals, milestones = deals.order_by(), milestones.order_by()
    if filters.department:
        deals = deals.filter(department_id=filters.department)
        milestones = milestones.filter(deal__department_id=filters.department)
    if filters.deal_type:
        deals = deals.filter(deal_type=filters.deal_type)
        milestones = milestones.filter(deal__deal_type=filters.deal_type)
    return deals, milestones


def month_range(
    filters: ChartFilters, today: datetime.date | None = None
) -> tuple[datetime.date, datetime.date]:
    """First and last day the monthly series and the breakdowns cover."""
    return month_period(filters.date_from, filters.date_to, today)


def heatmap_range(
    filters: ChartFilters, today: datetime.date | None = None
) -> tuple[datetime.date, datetime.date]:
    """First and last day of the heatmap: the filter's range, else weeks around today (due
    dates lie ahead as well as behind)."""
    today = today or timezone.localdate()
    if filters.date_from or filters.date_to:
        last = filters.date_to or max(today, filters.date_from)
        first = filters.date_from or monday(last) - datetime.timedelta(weeks=HEATMAP_WEEKS_BACK)
        return first, last
    first = monday(today) - datetime.timedelta(weeks=HEATMAP_WEEKS_BACK)
    last = monday(today) + datetime.timedelta(weeks=HEATMAP_WEEKS_AHEAD, days=6)
    return first, last


def _opened_in(deals: QuerySet, first: datetime.date, last: datetime.date) -> QuerySet:
    return deals.filter(opened_on__gte=first, opened_on__lte=last)


# --- The figures ----------------------------------------------------------------------------------


def per_month(deals: QuerySet, first: datetime.date, last: datetime.date) -> dict:
    """Deals opened and closed per month from ``first`` to ``last``."""
    months = month_starts(first, last)
    index = {month: i for i, month in enumerate(months)}
    result = {"months": [m.strftime("%Y-%m") for m in months]}
    for key, field in (("opened", "opened_on"), ("closed", "closed_on")):
        counts = [0] * len(months)
        rows = (
            deals.filter(**{f"{field}__gte": first, f"{field}__lte": last})
            .values_list(field)
            .annotate(n=Count("pk"))
        )
        for day, n in rows:
            i = index.get(day.replace(day=1))
            if i is not None:
                counts[i] += n
        result[key] = counts
    return result


#: one row of :func:`type_stage_department_counts`: (deal type, stage, department id, deals)
Row = tuple[str, str, int | None, int]


def type_stage_department_counts(deals: QuerySet) -> list[Row]:
    """Deals per (type, stage, department): one GROUP BY that the type, stage and department
    charts all read, so the deals are scanned once for the three."""
    return list(deals.values_list("deal_type", "stage", "department_id").annotate(n=Count("pk")))


def by_type(rows: list[Row]) -> list[dict]:
    """Deals per type, in the dictionary's order (types without deals left out)."""
    counts: dict[str, int] = defaultdict(int)
    for deal_type, _stage, _department, n in rows:
        counts[deal_type] += n
    result = []
    for value, label in dictionaries.choices("deal_type"):
        if counts.get(value):
            result.append({"code": value, "name": label, "count": counts.pop(value)})
    # a type removed from the dictionary still has its deals
    result += [{"code": v, "name": v, "count": n} for v, n in sorted(counts.items()) if n]
    return result


def by_stage(rows: list[Row]) -> list[dict]:
    """Deals per (type, stage), types in the dictionary's order and stages in pipeline order;
    ``name`` is "type · stage" so one bar chart can hold every type."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for deal_type, stage, _department, n in rows:
        counts[deal_type][stage] += n
    order = [value for value, _label in dictionaries.choices("deal_type")]
    order += sorted(set(counts) - set(order))
    result = []
    for deal_type in order:
        stages = counts.get(deal_type)
        if not stages:
            continue
        # labels read once per type: each dictionary read unpickles the cached list
        labels = dict(services.stage_choices(deal_type))
        type_name = services.type_label(deal_type)
        for stage in list(labels) + sorted(set(stages) - set(labels)):
            if stages.get(stage):
                result.append(
                    {
                        "deal_type": deal_type,
                        "stage": stage,
                        "name": f"{type_name} · {labels.get(stage, stage)}",
                        "count": stages[stage],
                    }
                )
    return result


def _top(rows: list[dict], other_name: str) -> list[dict]:
    rows = sorted(rows, key=lambda r: (-r["count"], str(r["code"] or "~")))
    if len(rows) <= TOP_SLICES:
        return rows
    rest = sum(r["count"] for r in rows[TOP_SLICES:])
    return [*rows[:TOP_SLICES], {"code": None, "name": other_name, "count": rest}]


def by_industry(deals: QuerySet) -> list[dict]:
    """Deals per industry section (a division counts in its section), the largest
    :data:`TOP_SLICES`, then "other industries"; ``code`` "" is unclassified."""
    sections = industry_sections()
    counts: dict[str, int] = defaultdict(int)
    for code, n in deals.values_list("industry").annotate(n=Count("pk")):
        counts[sections.get(code, code) if code and code.isdigit() else code or ""] += n
    labels = industry_labels()
    return _top(
        [
            {"code": code, "name": section_name(code, labels), "count": n}
            for code, n in counts.items()
        ],
        _("Other industries"),
    )


def by_department(rows: list[Row]) -> list[dict]:
    """Deals per department, the largest :data:`TOP_SLICES`, then "other departments";
    ``code`` is the department's id as text (``""`` for deals without one), like every code."""
    counts: dict[int | None, int] = defaultdict(int)
    for _type, _stage, department, n in rows:
        counts[department] += n
    names = _department_names([d for d in counts if d])
    names[None] = _("No department")
    return _top(
        [
            {
                "code": str(department or ""),
                "name": names.get(department, str(department)),
                "count": n,
            }
            for department, n in counts.items()
        ],
        _("Other departments"),
    )


def milestones_heatmap(
    milestones: QuerySet, first: datetime.date, last: datetime.date, wide: bool = False
) -> dict:
    """Open milestones (not started or in progress) due per week (columns, Mondays) by the
    deal's department (rows, busiest first): the work ahead and, in past weeks, what is
    overdue. ``cells`` are ``[week index, department index, milestones]`` (non-empty cells);
    ``statuses`` the milestone statuses counted (the drill-down's filter).

    "Open" is written in one of two equal forms to steer SQLite's planner, which has no table
    statistics: when ``wide`` (not narrowed by scope or department) ``status IN (open)``, so
    the (status, due_date) index reads the date range; when narrowed ``status NOT IN (the
    rest)``, which leaves the planner starting from the department's deals, 20 times faster
    for one department of 20 than walking the index range.
    """
    weeks = week_starts(first, last)
    due = milestones.filter(due_date__gte=first, due_date__lte=last)
    if wide:
        due = due.filter(services.open_milestones_q())
    else:
        due = due.exclude(status__in=set(Milestone.Status.values) - set(Milestone.OPEN))
    rows = due.values_list("deal__department_id", "due_date").annotate(n=Count("pk"))
    grid: dict[Any, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for department, day, n in rows:
        grid[department or ""][(monday(day) - weeks[0]).days // 7] += n
    totals = sorted(grid, key=lambda d: (-sum(grid[d].values()), str(d)))
    if len(totals) > HEATMAP_ROWS:
        other = defaultdict(int)
        for department in totals[HEATMAP_ROWS - 1 :]:
            for week, n in grid.pop(department).items():
                other[week] += n
        totals = totals[: HEATMAP_ROWS - 1]
        grid[None] = other
        totals.append(None)
    names = _department_names([d for d in totals if d])
    departments = []
    for d in totals:
        if d is None:  # the summed rest
            departments.append({"code": None, "name": _("Other departments")})
        elif d == "":
            departments.append({"code": "", "name": _("No department")})
        else:
            departments.append({"code": str(d), "name": names.get(d, str(d))})
    cells = [
        [week, row, grid[department][week]]
        for row, department in enumerate(totals)
        for week in sorted(grid[department])
    ]
    return {
        "weeks": [week.isoformat() for week in weeks],
        "statuses": [str(status) for status in Milestone.OPEN],
        "departments": departments,
        "cells": cells,
        "max": max((cell[2] for cell in cells), default=0),
    }


def _department_names(ids: list[int]) -> dict[int | None, str]:
    return dict(Department.objects.filter(pk__in=ids).values_list("pk", "name"))


def kpis(deals: QuerySet, milestones: QuerySet, today: datetime.date | None = None) -> dict:
    """Today's figures: active deals, overdue deals, overdue milestones, and the expected fee
    of the active deals (CNY)."""
    active = deals.filter(status=Deal.Status.ACTIVE).aggregate(
        n=Count("pk"), fee=Sum("expected_fee")
    )
    return {
        "active_deals": active["n"],
        "overdue_deals": services.overdue_deals(deals, today=today).count(),
        "overdue_milestones": milestones.filter(services.overdue_q(today=today)).count(),
        "expected_fee": float(active["fee"] or 0),
    }


def dashboard(
    deals_qs: QuerySet,
    milestones_qs: QuerySet,
    params: ChartFilters | None = None,
    today: datetime.date | None = None,
) -> dict:
    """Every figure of the deal dashboard over the (already scoped) ``deals_qs`` and
    ``milestones_qs`` under ``params``."""
    params = params or ChartFilters()
    today = today or timezone.localdate()
    deals, milestones = narrow(deals_qs, milestones_qs, params)
    first, last = month_range(params, today)
    heat_first, heat_last = heatmap_range(params, today)
    wide = not milestones_qs.query.has_filters() and not params.department
    opened = _opened_in(deals, first, last)
    rows = type_stage_department_counts(opened)
    return {
        "filters": {
            **params.as_dict(),
            "series_from": first.isoformat(),
            "series_to": last.isoformat(),
            "heatmap_from": heat_first.isoformat(),
            "heatmap_to": heat_last.isoformat(),
        },
        "kpis": kpis(deals, milestones, today),
        "per_month": per_month(deals, first, last),
        "by_type": by_type(rows),
        "by_stage": by_stage(rows),
        "by_industry": by_industry(opened),
        "by_department": by_department(rows),
        "milestones_heatmap": milestones_heatmap(milestones, heat_first, heat_last, wide),
    }


def for_user(user: Any, params: ChartFilters | None = None, today: datetime.date | None = None):
    """:func:`dashboard` over the deals and milestones ``user`` may see (the page, the API, the
    deck and the benchmark all start here)."""
    return dashboard(
        Deal.objects.restrict(user, "view"),
        Milestone.objects.restrict(user, "view"),
        params,
        today,
    )
