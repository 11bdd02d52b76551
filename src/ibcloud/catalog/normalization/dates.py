"""Dates and times: absolute, Chinese, RSS/RFC 822, English and relative ("3天前") values.

Regular expressions handle the common formats (fast: ingest reads thousands a second);
dateparser 1.5.0 is the fallback for the rest. The rule text says the precision:

- a full date → that day; "2023年5月", "2023/05", "2023.5", "May 2023" → the 1st of the month;
  "2023年", "2023" → 1 January;
- a date without a year ("5月1日", "05-01") → that day in the reference year, or the year before
  when it would fall after the reference;
- relative values count back from the reference time: "刚刚" (now), "N秒/分钟/小时/天/周/个月/年前",
  "半小时前", "半年前", "今天", "昨天", "前天", "大前天", "上周" (7 days), "上个月" (1 month),
  "去年" / "前年" (same day 1 / 2 years before), "N days ago", "yesterday";
- times without a zone are Asia/Shanghai (the settings' TIME_ZONE); a date given for a datetime
  field is midnight of that day.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import date, datetime, time, timedelta
from email.utils import parsedate_to_datetime

from django.utils import timezone

from ibcloud.catalog.normalization.results import Normalized

MIN_YEAR, MAX_YEAR = 1900, 2100

_YMD = re.compile(
    r"^(?P<y>\d{4})\s*(?:[-/.]|年)\s*(?P<m>\d{1,2})\s*(?:[-/.]|月)\s*(?P<d>\d{1,2})\s*(?:日|号)?"
    r"(?:[\sT]*(?P<H>\d{1,2})\s*[:：时]\s*(?P<M>\d{1,2})(?:\s*[:：分]\s*(?P<S>\d{1,2})(?:\.\d+)?)?"
    r"\s*秒?)?\s*(?P<tz>z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
_YM = re.compile(r"^(?P<y>\d{4})\s*(?:[-/.]|年)\s*(?P<m>\d{1,2})\s*月?(?:份)?$")
_Y = re.compile(r"^(?P<y>\d{4})\s*(?:年|年度)?$")
_SHORT_YEAR = re.compile(r"^(?P<y>\d{2})\s*年(?:度)?$")
_COMPACT = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")
_MD = re.compile(r"^(?P<m>\d{1,2})\s*(?:[-/.]|月)\s*(?P<d>\d{1,2})\s*(?:日|号)?$")
_EPOCH = re.compile(r"^\d{10}(?:\d{3})?$")
_RELATIVE = re.compile(
    r"^(?P<n>\d+|[一二两三四五六七八九十半]+)\s*(?:个)?\s*(?P<unit>秒钟?|分钟|分|小时|钟头|天|日|周|星期|礼拜|个?月|年)\s*(?:以)?前$"
)
_RELATIVE_EN = re.compile(
    r"^(?P<n>\d+|an?|one)\s*(?P<unit>second|minute|min|hour|hr|day|week|month|year)s?\s*ago$",
    re.IGNORECASE,
)
_RFC_ZONE = re.compile(r"\b(?:gmt|ut|[+-]\d{4})\b", re.IGNORECASE)
_CN_NUMBERS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_FIXED_DAYS = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2, "大前天": 3, "today": 0,
               "yesterday": 1}  # fmt: skip
_UNIT_NAMES = {
    "秒": "seconds", "秒钟": "seconds", "second": "seconds",
    "分": "minutes", "分钟": "minutes", "minute": "minutes", "min": "minutes",
    "小时": "hours", "钟头": "hours", "hour": "hours", "hr": "hours",
    "天": "days", "日": "days", "day": "days",
    "周": "weeks", "星期": "weeks", "礼拜": "weeks", "week": "weeks",
    "月": "months", "个月": "months", "month": "months",
    "年": "years", "year": "years",
}  # fmt: skip


def _cn_count(text: str) -> float:
    """ "3" → 3, "三" → 3, "十五" → 15, "半" → 0.5."""
    if text.isdigit():
        return int(text)
    if text == "半":
        return 0.5
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_NUMBERS.get(tens, 1) if tens else 1) * 10 + _CN_NUMBERS.get(ones, 0)
    return _CN_NUMBERS.get(text, 0)


def _shift_months(moment: datetime, months: int) -> datetime:
    """``moment`` moved back by ``months`` calendar months (day clamped to the month's end)."""
    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _aware(moment: datetime) -> datetime:
    if timezone.is_naive(moment):
        return timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def _valid(year: int, month: int = 1, day: int = 1) -> date | None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_datetime(value: object, reference: datetime) -> Normalized:
    """A timezone-aware datetime from ``value`` (see the module docstring for the formats)."""
    if isinstance(value, datetime):
        return Normalized(_aware(value), "datetime")
    if isinstance(value, date):
        return Normalized(_aware(datetime.combine(value, time())), "date; time set to 00:00")
    text = unicodedata.normalize("NFKC", "" if value is None else str(value)).strip()
    if not text:
        return Normalized(None, "empty", "no date given")
    reference = _aware(reference)
    match = _YMD.match(text)
    if match:
        day = _valid(int(match["y"]), int(match["m"]), int(match["d"]))
        if day is None:
            return Normalized(None, "date", f"invalid date “{text}”")
        if match["H"] is None:
            return Normalized(_aware(datetime.combine(day, time())), "full date; time set to 00:00")
        try:
            moment = datetime.combine(
                day, time(int(match["H"]), int(match["M"]), int(match["S"] or 0))
            )
        except ValueError:
            return Normalized(None, "date", f"invalid time “{text}”")
        zone = match["tz"]
        if zone:
            try:
                return Normalized(
                    datetime.fromisoformat(
                        moment.isoformat() + zone.upper().replace("Z", "+00:00")
                    ),
                    "date and time with zone",
                )
            except ValueError:
                return Normalized(None, "date", f"invalid time zone “{text}”")
        return Normalized(_aware(moment), "date and time (Asia/Shanghai)")
    result = _parse_date_only(text, reference)
    if result is not None:
        day, rule = result
        if isinstance(day, datetime):
            return Normalized(day, rule)
        if day is None:
            return Normalized(None, rule, f"invalid date “{text}”")
        return Normalized(_aware(datetime.combine(day, time())), rule + "; time set to 00:00")
    return _fallback(text, reference)


def parse_date(value: object, reference: datetime) -> Normalized:
    """A date from ``value``; relative values and times count in Asia/Shanghai."""
    if isinstance(value, datetime):
        return Normalized(timezone.localtime(_aware(value)).date(), "datetime; date part")
    if isinstance(value, date):
        return Normalized(value, "date")
    text = unicodedata.normalize("NFKC", "" if value is None else str(value)).strip()
    if not text:
        return Normalized(None, "empty", "no date given")
    result = _parse_date_only(text, _aware(reference))
    if result is not None:
        day, rule = result
        if isinstance(day, datetime):
            return Normalized(timezone.localtime(day).date(), rule)
        if day is None:
            return Normalized(None, rule, f"invalid date “{text}”")
        return Normalized(day, rule)
    moment = parse_datetime(text, reference)
    if moment.value is None:
        return moment
    return Normalized(timezone.localtime(moment.value).date(), moment.rule)


def _parse_date_only(text: str, reference: datetime) -> tuple[date | datetime | None, str] | None:
    """(date, rule) for day/month/year and relative formats; None when no fast rule applies."""
    match = _YMD.match(text)
    if match and match["H"] is None and match["tz"] is None:
        return _valid(int(match["y"]), int(match["m"]), int(match["d"])), "full date"
    match = _YM.match(text)
    if match:
        return _valid(int(match["y"]), int(match["m"])), "month given, day set to 1"
    match = _Y.match(text)
    if match:
        return _valid(int(match["y"])), "year given, set to 1 January"
    match = _SHORT_YEAR.match(text)
    if match:
        # "19年": the latest year ending so, not after the reference year
        local_year = timezone.localtime(reference).year
        year = local_year - (local_year - int(match["y"])) % 100
        return _valid(year), "two-digit year (latest such year), set to 1 January"
    match = _COMPACT.match(text)
    if match:
        return _valid(int(match["y"]), int(match["m"]), int(match["d"])), "full date (YYYYMMDD)"
    match = _MD.match(text)
    if match:
        local = timezone.localtime(reference).date()
        day = _valid(local.year, int(match["m"]), int(match["d"]))
        if day is not None and day > local:
            day = _valid(local.year - 1, int(match["m"]), int(match["d"]))
        return day, "no year: the latest such day up to the reference"
    if _EPOCH.match(text):
        seconds = int(text) / (1000 if len(text) == 13 else 1)
        moment = datetime.fromtimestamp(seconds, tz=timezone.get_default_timezone())
        return moment, "Unix timestamp"
    return _relative(text, reference)


def _relative(text: str, reference: datetime) -> tuple[datetime, str] | None:
    lowered = text.lower().replace(" ", "")
    if lowered in {"刚刚", "刚才", "justnow", "now", "现在"}:
        return reference, "just now: the reference time"
    if lowered in _FIXED_DAYS:
        days = _FIXED_DAYS[lowered]
        moment = timezone.localtime(reference) - timedelta(days=days)
        return moment, f"relative: {days} day(s) before the reference"
    fixed = {"上周": ("weeks", 1), "上星期": ("weeks", 1), "上个月": ("months", 1),
             "上月": ("months", 1), "去年": ("years", 1), "前年": ("years", 2),
             "lastweek": ("weeks", 1), "lastmonth": ("months", 1),
             "lastyear": ("years", 1)}  # fmt: skip
    if lowered in fixed:
        unit, count = fixed[lowered]
        return _back(reference, unit, count), f"relative: {count} {unit} before the reference"
    match = _RELATIVE.match(lowered)
    if match:
        count = _cn_count(match["n"])
        unit = _UNIT_NAMES[match["unit"]]
        return _back(reference, unit, count), f"relative: {count:g} {unit} before the reference"
    match = _RELATIVE_EN.match(text.strip())
    if match:
        number = match["n"].lower()
        count = 1 if number in {"a", "an", "one"} else int(number)
        unit = _UNIT_NAMES[match["unit"].lower()]
        return _back(reference, unit, count), f"relative: {count} {unit} before the reference"
    return None


def _back(reference: datetime, unit: str, count: float) -> datetime:
    local = timezone.localtime(reference)
    if unit == "years" and (12 * count) == int(12 * count):
        unit, count = "months", 12 * count  # 半年 = 6 months
    if unit == "months":
        if count == int(count):
            return _shift_months(local, int(count))
        return local - timedelta(days=30 * count)
    if unit == "years":
        return local - timedelta(days=round(365 * count))
    return local - timedelta(**{unit: count})


def _fallback(text: str, reference: datetime) -> Normalized:
    """RFC 822 (RSS pubDate), then dateparser for English month names and the rest."""
    if "," in text or _RFC_ZONE.search(text):
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            moment = None
        if moment is not None:
            return Normalized(_aware(moment), "RFC 822 date (RSS)")
    import dateparser  # loaded on first use: importing it costs ~0.3 s

    settings = {
        "RELATIVE_BASE": timezone.localtime(reference).replace(tzinfo=None),
        "PREFER_DAY_OF_MONTH": "first",
        "PREFER_DATES_FROM": "past",
        "TIMEZONE": timezone.get_default_timezone_name(),
        "RETURN_AS_TIMEZONE_AWARE": True,
        "DATE_ORDER": "YMD",
    }
    try:
        moment = dateparser.parse(text, languages=["zh", "en"], settings=settings)
    except (ValueError, OverflowError, TypeError):
        moment = None
    if moment is None or not MIN_YEAR <= moment.year <= MAX_YEAR:
        return Normalized(None, "no rule", f"unrecognized date “{text}”")
    return Normalized(moment, "read by dateparser (missing day set to 1)")
