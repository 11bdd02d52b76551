"""Time periods and date-range checks every dashboard shares (catalog, matching, deals).

Dashboards count in the database and reshape a few rows in Python; what they have in common is
how a date filter is checked, which weeks or months a series covers when no range is given, and
how rows are bucketed by week on both SQLite and PostgreSQL (:class:`WeekIndex`).
"""

from __future__ import annotations

import datetime

from django.db import NotSupportedError
from django.db.models import DateTimeField, Func, IntegerField, QuerySet, Value
from django.utils import timezone
from django.utils.translation import gettext as _

#: weeks / months the time series cover when no date range is given
DEFAULT_WEEKS = 26
DEFAULT_MONTHS = 12
#: the longest range a filter takes, and the dates it accepts
MAX_DAYS = 5 * 366
MIN_DATE = datetime.date(1990, 1, 1)
MAX_DATE = datetime.date(2100, 12, 31)


def check_date_range(
    date_from: datetime.date | None, date_to: datetime.date | None
) -> dict[str, str]:
    """Field errors (``date_from`` / ``date_to``) of a dashboard's date range; empty when valid."""
    errors: dict[str, str] = {}
    for name, value in (("date_from", date_from), ("date_to", date_to)):
        if value is not None and not (MIN_DATE <= value <= MAX_DATE):
            errors[name] = _("Enter a date between %(min)s and %(max)s.") % {
                "min": MIN_DATE.isoformat(),
                "max": MAX_DATE.isoformat(),
            }
    if errors or not (date_from and date_to):
        return errors
    if date_from > date_to:
        errors["date_to"] = _("The end date must not be before the start date.")
    elif (date_to - date_from).days > MAX_DAYS:
        errors["date_to"] = _("Choose a range of at most %(days)d days.") % {"days": MAX_DAYS}
    return errors


def start_of(day: datetime.date) -> datetime.datetime:
    """Local midnight at the start of ``day``, aware."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def monday(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def week_period(
    date_from: datetime.date | None,
    date_to: datetime.date | None,
    today: datetime.date | None = None,
    weeks: int = DEFAULT_WEEKS,
) -> tuple[datetime.date, datetime.date]:
    """First and last day a weekly series covers: the range given, else the last ``weeks``
    weeks up to today (an open end is filled in the same way)."""
    today = today or timezone.localdate()
    last = date_to or max(today, date_from or today)
    first = date_from or monday(last) - datetime.timedelta(weeks=weeks - 1)
    return first, last


def month_period(
    date_from: datetime.date | None,
    date_to: datetime.date | None,
    today: datetime.date | None = None,
    months: int = DEFAULT_MONTHS,
) -> tuple[datetime.date, datetime.date]:
    """First and last day a monthly series covers: the range given, else the last ``months``
    months up to today."""
    today = today or timezone.localdate()
    last = date_to or max(today, date_from or today)
    if date_from:
        return date_from, last
    first = last.replace(day=1)
    for _month in range(months - 1):
        first = (first - datetime.timedelta(days=1)).replace(day=1)
    return first, last


def week_starts(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """The Mondays of the weeks from ``first`` to ``last``, both included."""
    weeks = []
    week = monday(first)
    while week <= last:
        weeks.append(week)
        week += datetime.timedelta(weeks=1)
    return weeks


def month_starts(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """The first days of the months from ``first`` to ``last``, both included."""
    months = []
    month = first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return months


def between(queryset: QuerySet, field: str, first: datetime.date, last: datetime.date):
    """``queryset`` narrowed to ``field`` within the local days ``first`` to ``last``."""
    return queryset.filter(
        **{
            f"{field}__gte": start_of(first),
            f"{field}__lt": start_of(last + datetime.timedelta(days=1)),
        }
    )


def in_range(
    queryset: QuerySet,
    field: str,
    date_from: datetime.date | None,
    date_to: datetime.date | None,
) -> QuerySet:
    """``queryset`` narrowed to an optional range of local days on ``field`` (none: unchanged)."""
    if date_from:
        queryset = queryset.filter(**{f"{field}__gte": start_of(date_from)})
    if date_to:
        end = start_of(date_to + datetime.timedelta(days=1))
        queryset = queryset.filter(**{f"{field}__lt": end})
    return queryset


class WeekIndex(Func):
    """Whole weeks from ``start`` (an aware datetime) to a datetime column: 0, 1, 2...

    Native arithmetic on both backends, where ``TruncWeek`` runs a Python function per row on
    SQLite (about five times slower over 100,000 rows). ``start`` is a local Monday midnight,
    so index *i* is the local week starting ``start + i weeks`` (exact in zones without daylight
    saving time, such as Asia/Shanghai). Rows before ``start`` must be filtered out.
    """

    output_field = IntegerField()

    def __init__(self, column: str, start: datetime.datetime) -> None:
        super().__init__(column, Value(start, output_field=DateTimeField()))

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(
            compiler,
            connection,
            template="CAST((julianday(%(expressions)s)) / 7 AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra,
        )

    def as_postgresql(self, compiler, connection, **extra):
        return super().as_sql(
            compiler,
            connection,
            template="CAST(FLOOR(EXTRACT(EPOCH FROM (%(expressions)s)) / 604800) AS integer)",
            arg_joiner=" - ",
            **extra,
        )

    def as_sql(self, compiler, connection, **extra):
        raise NotSupportedError("WeekIndex supports SQLite and PostgreSQL.")
