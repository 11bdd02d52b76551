"""Dashboard statistics (数据可视化): plain functions over what a user may see.

Every figure starts from a scoped queryset (:func:`ibcloud.core.scoping.restrict`): projects and
investors by the catalog's data scope, raw items by their source's. Counting happens in the
database (``GROUP BY`` over the week, the source, the industry section or the province); Python
only reshapes the few aggregated rows into chart series, so the cost does not grow with the
number of projects beyond the database's own scan.

The page (:mod:`ibcloud.catalog.dashboard_views`) and the API (``statistics/``) both call
:func:`dashboard_statistics`, so they show the same figures.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, QuerySet
from django.utils.translation import gettext as _

from ibcloud.catalog.models import Investor, Project
from ibcloud.catalog.normalization.places import division_index
from ibcloud.core import dictionaries
from ibcloud.core.charts import (
    WeekIndex,
    between,
    check_date_range,
    in_range,
    start_of,
    week_period,
    week_starts,
)
from ibcloud.core.scoping import restrict
from ibcloud.crawler.models import ItemType, RawItem

#: series a line chart draws before the rest are summed as "other"
TOP_SERIES = 8
ITEM_TYPES = ("project", "investor")


@dataclass(frozen=True)
class ChartFilters:
    """The dashboard's filters: a date range (inclusive, local dates) and an item type."""

    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    #: "" (both), "project" or "investor"
    item_type: str = ""

    @property
    def has_range(self) -> bool:
        return self.date_from is not None or self.date_to is not None

    def shows(self, item_type: str) -> bool:
        """Whether charts about ``item_type`` belong on the dashboard with these filters."""
        return not self.item_type or self.item_type == item_type


def check_filters(filters: ChartFilters) -> dict[str, str]:
    """Field errors of ``filters`` (empty when valid); the form and the API serializer share it."""
    errors = check_date_range(filters.date_from, filters.date_to)
    if filters.item_type not in ("", *ITEM_TYPES):
        errors["item_type"] = _("Choose project or investor.")
    return errors


def series_period(
    filters: ChartFilters, today: datetime.date | None = None
) -> tuple[datetime.date, datetime.date]:
    """First and last day the time series cover: the filter's range, else the last
    :data:`DEFAULT_WEEKS` weeks up to today."""
    return week_period(filters.date_from, filters.date_to, today)


def _in_range(queryset: QuerySet, field: str, filters: ChartFilters) -> QuerySet:
    """``queryset`` narrowed to the filter's date range on ``field`` (no range: unchanged)."""
    return in_range(queryset, field, filters.date_from, filters.date_to)


def _weekly_rows(
    queryset: QuerySet, column: str, key: str, weeks: list[datetime.date], **extra: Any
) -> list[dict]:
    """Rows ``{"week": Monday, key: ..., "n": count, **extra}`` of ``queryset`` (already limited
    to the weeks' period), grouped in the database."""
    rows = (
        queryset.annotate(week_index=WeekIndex(column, start_of(weeks[0])))
        .values("week_index", key)
        .annotate(n=Count("pk"), **extra)
    )
    result = []
    for row in rows:
        index = row.pop("week_index")
        if 0 <= index < len(weeks):
            result.append({**row, "week": weeks[index]})
    return result


def _weekly_series(
    rows: Iterable[dict],
    key: str,
    weeks: list[datetime.date],
    names: dict[Any, str],
    other_name: str,
    top: int | None = None,
) -> list[dict]:
    """Series per ``key`` over ``weeks`` from aggregated rows (``week``, key, ``n``): the ``top``
    largest by total, then one "other" series summing the rest."""
    top = TOP_SERIES if top is None else top
    by_key: dict[Any, dict[datetime.date, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        by_key[row[key]][row["week"]] += row["n"]
    ranked = sorted(by_key, key=lambda k: (-sum(by_key[k].values()), str(names.get(k, k))))
    series = [
        {"key": k, "name": names.get(k, str(k)), "data": [by_key[k].get(w, 0) for w in weeks]}
        for k in ranked[:top]
    ]
    if len(ranked) > top:
        series.append(
            {
                "key": None,
                "name": other_name,
                "data": [sum(by_key[k].get(w, 0) for k in ranked[top:]) for w in weeks],
            }
        )
    return series


# --- Scoped querysets -----------------------------------------------------------------------------


def visible_projects(user: Any) -> QuerySet:
    return restrict(Project.objects.all(), user, "view").order_by()


def visible_investors(user: Any) -> QuerySet:
    return restrict(Investor.objects.all(), user, "view").order_by()


def visible_raw_items(user: Any) -> QuerySet:
    return restrict(RawItem.objects.all(), user, "view").order_by()


def industry_labels() -> dict[str, str]:
    """Industry code (section letter or division number) → label, read once per chart: a
    dictionary lookup per row would read the cached list again each time."""
    return {item.value: item.label for item in dictionaries.items("industry")}


def section_name(code: str, labels: dict[str, str] | None = None) -> str:
    """An industry code's Chinese label (GB/T 4754), or "Unclassified" for none."""
    if not code:
        return _("Unclassified")
    labels = industry_labels() if labels is None else labels
    return labels.get(code, code)


# --- The charts -----------------------------------------------------------------------------------


def items_per_source(user: Any, filters: ChartFilters, today: datetime.date | None = None) -> dict:
    """Raw items fetched per week by each source (the busiest :data:`TOP_SERIES`, then "other"),
    over the raw items ``user`` may see, of the filter's item type."""
    first, last = series_period(filters, today)
    weeks = week_starts(first, last)
    items = between(visible_raw_items(user), "fetched_at", first, last)
    if filters.item_type:
        items = items.filter(item_type=filters.item_type)
    rows = _weekly_rows(items, "fetched_at", "source_id", weeks, name=Max("source__name"))
    names = {row["source_id"]: row["name"] for row in rows}
    return {
        "weeks": [week.isoformat() for week in weeks],
        "series": _weekly_series(rows, "source_id", weeks, names, _("Other sources")),
    }


def industry_over_time(
    user: Any, filters: ChartFilters, today: datetime.date | None = None
) -> dict:
    """New projects (first seen) per week in each industry section (the largest sections, then
    "other"), over the projects ``user`` may see."""
    first, last = series_period(filters, today)
    weeks = week_starts(first, last)
    projects = between(visible_projects(user), "first_seen_at", first, last)
    rows = _weekly_rows(projects, "first_seen_at", "industry_section", weeks)
    labels = industry_labels()
    names = {row["industry_section"]: section_name(row["industry_section"], labels) for row in rows}
    return {
        "weeks": [week.isoformat() for week in weeks],
        "series": _weekly_series(rows, "industry_section", weeks, names, _("Other industries")),
    }


def division_sections() -> dict[str, str]:
    """Industry division (大类) → its section (门类), from the ``industry`` dictionary."""
    items = dictionaries.items("industry")
    value_of = {item.pk: item.value for item in items}
    return {item.value: value_of[item.parent_id] for item in items if item.parent_id in value_of}


def industry_region_rows(user: Any, filters: ChartFilters) -> list[dict]:
    """Projects ``user`` may see counted per province, section and division:
    ``{"province_code", "industry_section", "industry", "n"}``.

    The industry and heatmap charts are both sums of these rows. Grouping by (province,
    division) is answered from the ``project_region_industry`` index without reading the table
    (several times faster than grouping by section); the dictionary gives each division's
    section. Rows whose division is blank or unknown to the dictionary are grouped again by
    their stored section.
    """
    projects = _in_range(visible_projects(user), "first_seen_at", filters)
    sections_of = division_sections()
    by_division = list(projects.values("province_code", "industry").annotate(n=Count("pk")))
    rows = [
        {**row, "industry_section": sections_of[row["industry"]]}
        for row in by_division
        if row["industry"] in sections_of
    ]
    unknown = {row["industry"] for row in by_division} - set(sections_of)
    if unknown:
        rows += (
            projects.filter(industry__in=sorted(unknown))
            .values("province_code", "industry_section", "industry")
            .annotate(n=Count("pk"))
        )
    return rows


def province_names(codes: Iterable[str]) -> dict[str, str]:
    """Province code → name from the division list (the codes records carry)."""
    by_code = division_index().by_code
    return {code: by_code[code].name if code in by_code else code for code in codes if code}


def industry_counts(user: Any, filters: ChartFilters, rows: list[dict] | None = None) -> dict:
    """Projects per industry section, largest first, each with its divisions (大类) for the
    drill-down; limited to projects first seen in the date range when one is given.
    ``rows``: :func:`industry_region_rows` when the caller already has them."""
    rows = industry_region_rows(user, filters) if rows is None else rows
    labels = industry_labels()
    by_division: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        by_division[(row["industry_section"], row["industry"])] += row["n"]
    sections: dict[str, dict] = {}
    for (code, division), count in by_division.items():
        section = sections.setdefault(
            code, {"code": code, "name": section_name(code, labels), "count": 0, "divisions": []}
        )
        section["count"] += count
        section["divisions"].append(
            {"code": division, "name": section_name(division, labels), "count": count}
        )
    ordered = sorted(sections.values(), key=lambda s: (-s["count"], s["code"] or "~"))
    for section in ordered:
        section["divisions"].sort(key=lambda d: (-d["count"], d["code"] or "~"))
    return {"sections": ordered, "total": sum(s["count"] for s in ordered)}


def region_industry_heatmap(
    user: Any, filters: ChartFilters, rows: list[dict] | None = None
) -> dict:
    """Projects per province × industry section: provinces by total (largest first), sections in
    code order, and the non-empty cells as ``[section index, province index, count]``.
    ``rows``: :func:`industry_region_rows` when the caller already has them."""
    rows = industry_region_rows(user, filters) if rows is None else rows
    by_cell: dict[tuple[str, str], int] = defaultdict(int)
    province_totals: dict[str, int] = defaultdict(int)
    for row in rows:
        by_cell[(row["industry_section"], row["province_code"])] += row["n"]
        province_totals[row["province_code"]] += row["n"]
    provinces = sorted(province_totals, key=lambda c: (-province_totals[c], c or "~"))
    sections = sorted({section for section, _province in by_cell}, key=lambda c: c or "~")
    labels = industry_labels()
    names = province_names(provinces)
    x_of = {code: i for i, code in enumerate(sections)}
    y_of = {code: i for i, code in enumerate(provinces)}
    cells = sorted([x_of[sec], y_of[prov], n] for (sec, prov), n in by_cell.items())
    return {
        "provinces": [
            {"code": c, "name": names.get(c, c) if c else _("Unknown region")} for c in provinces
        ],
        "sections": [{"code": c, "name": section_name(c, labels)} for c in sections],
        "cells": cells,
        "max": max((cell[2] for cell in cells), default=0),
    }


def investor_counts(user: Any, filters: ChartFilters) -> dict:
    """Investors per type (dictionary ``investor_type``) and per province, largest first."""
    investors = _in_range(visible_investors(user), "first_seen_at", filters)
    by_type = (
        investors.values("investor_type").annotate(n=Count("pk")).order_by("-n", "investor_type")
    )
    type_labels = dict(dictionaries.choices("investor_type"))
    by_region = (
        investors.values("province_code")
        .annotate(n=Count("pk"), name=Max("province"))
        .order_by("-n")
    )
    return {
        "by_type": [
            {
                "code": row["investor_type"],
                "name": type_labels.get(row["investor_type"])
                or row["investor_type"]
                or _("Unknown"),
                "count": row["n"],
            }
            for row in by_type
        ],
        "by_region": [
            {
                "code": row["province_code"],
                "name": row["name"] or row["province_code"] or _("Unknown region"),
                "count": row["n"],
            }
            for row in by_region
        ],
    }


def totals(user: Any, filters: ChartFilters) -> dict:
    """Projects, investors and raw items the user may see (first seen / fetched in the range)."""
    raw = _in_range(visible_raw_items(user), "fetched_at", filters)
    if filters.item_type:
        raw = raw.filter(item_type=filters.item_type)
    return {
        "projects": _in_range(visible_projects(user), "first_seen_at", filters).count()
        if filters.shows(ItemType.PROJECT)
        else None,
        "investors": _in_range(visible_investors(user), "first_seen_at", filters).count()
        if filters.shows(ItemType.INVESTOR)
        else None,
        "raw_items": raw.count(),
    }


def dashboard_statistics(
    user: Any, filters: ChartFilters | None = None, today: datetime.date | None = None
) -> dict:
    """Every figure of the dashboard for ``user`` under ``filters``; charts of the other item
    type are ``None``. The page and the API both answer with this."""
    filters = filters or ChartFilters()
    first, last = series_period(filters, today)
    projects = filters.shows(ItemType.PROJECT)
    rows = industry_region_rows(user, filters) if projects else []
    return {
        "filters": {
            "date_from": filters.date_from.isoformat() if filters.date_from else None,
            "date_to": filters.date_to.isoformat() if filters.date_to else None,
            "item_type": filters.item_type,
            "series_from": first.isoformat(),
            "series_to": last.isoformat(),
        },
        "totals": totals(user, filters),
        "items_per_source": items_per_source(user, filters, today),
        "industry_over_time": industry_over_time(user, filters, today) if projects else None,
        "industry_counts": industry_counts(user, filters, rows) if projects else None,
        "region_industry": region_industry_heatmap(user, filters, rows) if projects else None,
        "investors": investor_counts(user, filters) if filters.shows(ItemType.INVESTOR) else None,
    }
