"""How the catalog shows its values to a banker: amounts in 万/亿, regions as "广东·深圳",
industry and round labels from the dictionaries.

The functions are plain (tables and exports call them too); the template filters wrap them::

    {% load catalog_format %}
    {{ project|amount_range }}   {{ project|region }}   {{ project.industry|industry_label }}
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.translation import gettext as _

from ibcloud.core import dictionaries

register = template.Library()

WAN = 10_000
YI = 100_000_000

# Longest first, so "维吾尔自治区" goes before "自治区" and "市".
_PLACE_SUFFIXES = (
    "壮族自治区",
    "回族自治区",
    "维吾尔自治区",
    "特别行政区",
    "自治区",
    "自治州",
    "地区",
    "省",
    "市",
    "盟",
)


def _trimmed(value: Decimal) -> str:
    """A number with thousands separators and at most two decimals, trailing zeros dropped."""
    text = f"{value.quantize(Decimal('0.01')):,.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_amount(value: int | None) -> str:
    """Whole yuan as a banker reads it: 50,000,000 → "5,000万", 150,000,000 → "1.5亿",
    9,000 → "9,000元"; '' for none."""
    if value is None:
        return ""
    number = Decimal(int(value))
    # 万 and 亿 are the units bankers read amounts in, in either UI language (as "¥" would be),
    # so they are not translated.
    if abs(number) >= YI:
        return f"{_trimmed(number / YI)}亿"
    if abs(number) >= WAN:
        return f"{_trimmed(number / WAN)}万"
    return f"{_trimmed(number)}元"


def format_range(low: int | None, high: int | None, text: str = "") -> str:
    """A low–high amount: "1,000万–1亿", "5,000万" when equal, "1亿以上" when open-ended;
    without figures, the amount as published (or "undisclosed")."""
    if low is None and high is None:
        return text or _("Undisclosed")
    if high is None:
        return _("%(low)s or more") % {"low": format_amount(low)}
    if low is None:
        return _("up to %(high)s") % {"high": format_amount(high)}
    if low == high:
        return format_amount(low)
    return f"{format_amount(low)}–{format_amount(high)}"


def short_place(name: str) -> str:
    """A province or city name without its administrative suffix: "广东省" → "广东"."""
    name = (name or "").strip()
    for suffix in _PLACE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def format_region(province: str, city: str) -> str:
    """ "广东·深圳"; a municipality once ("北京"); '' when unknown."""
    first, second = short_place(province), short_place(city)
    if first and second and first != second:
        return f"{first}·{second}"
    return first or second


def industry_label(code: str | None) -> str:
    """ "I65 软件和信息技术服务业" for a division, "I 信息传输…" for a section; '' for none."""
    if not code:
        return ""
    section = industry_section_of(code)
    label = dictionaries.label("industry", code)
    if code.isdigit():
        return f"{section}{code} {label}" if section else f"{code} {label}"
    return f"{code} {label}"


def industry_section_of(code: str) -> str:
    """The section letter of a division code ("65" → "I"), or the code itself for a section."""
    if not code or not code.isdigit():
        return code or ""
    return industry_sections().get(code, "")


def industry_sections() -> dict[str, str]:
    """Division code → section letter, from the ``industry`` dictionary."""
    parents: dict[int, str] = {}
    result: dict[str, str] = {}
    for item in dictionaries.items("industry"):
        if item.parent_id is None:
            parents[item.pk] = item.value
        else:
            result[item.value] = parents.get(item.parent_id, "")
    return result


def round_label(code: str | None) -> str:
    """The label of a financing round code ("a" → "A", "angel" → "天使")."""
    return dictionaries.label("financing_round", code)


def investor_type_label(code: str | None) -> str:
    return dictionaries.label("investor_type", code)


def capital_type_label(code: str | None) -> str:
    return dictionaries.label("capital_type", code)


@register.filter
def amount(value: Any) -> str:
    """``{{ value|amount }}``: whole yuan in 万/亿."""
    try:
        return format_amount(None if value in (None, "") else int(value))
    except (TypeError, ValueError):
        return ""


@register.filter
def amount_range(obj: Any, prefix: str = "amount") -> str:
    """``{{ project|amount_range }}`` or ``{{ investor|amount_range:"ticket" }}`` /
    ``"fund_size"`` / ``round``: the ``<prefix>_low``/``_high`` (ticket: ``_min``/``_max``)."""
    if prefix == "ticket":
        return format_range(obj.ticket_min, obj.ticket_max, obj.ticket_text)
    low = getattr(obj, f"{prefix}_low", None)
    high = getattr(obj, f"{prefix}_high", None)
    return format_range(low, high, getattr(obj, f"{prefix}_text", ""))


@register.filter
def region(obj: Any) -> str:
    """``{{ project|region }}``: "广东·深圳"."""
    return format_region(getattr(obj, "province", ""), getattr(obj, "city", ""))


@register.filter(name="industry_label")
def industry_label_filter(code: str | None) -> str:
    return industry_label(code)


@register.filter(name="round_label")
def round_label_filter(code: str | None) -> str:
    return round_label(code)


@register.filter(name="dict_label")
def dict_label_filter(code: str | None, dictionary: str) -> str:
    """``{{ code|dict_label:"investor_type" }}``."""
    return dictionaries.label(dictionary, code)
