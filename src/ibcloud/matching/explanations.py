"""Match explanations as sentences in the reader's language.

``Match.explanation`` stores, per criterion, a code and its arguments (codes, amounts, dates),
never text: :func:`render` turns them into sentences in the active language when shown (Chinese
by default: "行业一致：医疗器械", "金额 5000万 在投资区间 2000万–1亿 内"), :func:`summary` joins
them into one line. Amounts read in 万/亿, industries, rounds and regions by their labels.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, pgettext

from ibcloud.catalog.templatetags.catalog_format import (
    capital_type_label,
    format_amount,
    round_label,
    short_place,
)
from ibcloud.core import dictionaries

#: code → msgid (marked with gettext_noop for makemessages, translated when rendered); the
#: arguments are formatted by :func:`_arguments` first
MESSAGES: dict[str, str] = {
    "industry_exact": gettext_noop("Industry matches: %(industry)s"),
    "industry_section": gettext_noop(
        "Industry %(industry)s within the preferred sector %(section)s"
    ),
    "industry_related": gettext_noop("Industry %(industry)s close to the preferred %(preferred)s"),
    "industry_other": gettext_noop("Industry %(industry)s outside the preferred %(preferred)s"),
    "industry_unknown": gettext_noop("Industry not known on one side"),
    "round_in": gettext_noop("Round %(round)s among the preferred stages"),
    "round_adjacent": gettext_noop("Round %(round)s next to the preferred %(preferred)s"),
    "round_outside": gettext_noop("Round %(round)s outside the preferred %(preferred)s"),
    "round_unknown": gettext_noop("Round not known on one side"),
    "region_in": gettext_noop("Region matches: %(region)s"),
    "region_nationwide": gettext_noop("Invests nationwide (project in %(region)s)"),
    "region_same_province": gettext_noop("Project in %(region)s, near the preferred %(preferred)s"),
    "region_outside": gettext_noop("Project in %(region)s, outside the preferred %(preferred)s"),
    "region_unknown": gettext_noop("Region not known on one side"),
    "amount_within": gettext_noop("Amount %(amount)s within the ticket range %(low)s–%(high)s"),
    "amount_near": gettext_noop("Amount %(amount)s close to the ticket range %(low)s–%(high)s"),
    "amount_outside": gettext_noop("Amount %(amount)s outside the ticket range %(low)s–%(high)s"),
    "amount_unknown": gettext_noop("Amount or ticket range not disclosed"),
    "text_similar": gettext_noop("Similar focus: %(words)s"),
    "text_different": gettext_noop("Little overlap between business and focus"),
    "text_unknown": gettext_noop("No text to compare"),
    "recency_active": gettext_noop("Last active on %(date)s"),
    "recency_stale": gettext_noop("Inactive since %(date)s"),
    "recency_unknown": gettext_noop("Activity not known"),
    "revealed_similar": gettext_noop(
        "Resembles its past deals (%(deals)s deals, %(industry_deals)s in this industry)"
    ),
    "revealed_weak": gettext_noop("Unlike most of its past deals (%(deals)s deals)"),
    "revealed_unknown": gettext_noop("No past deals on record"),
    "capital_match": gettext_noop("%(capital_type)s capital suits a raise in %(currency)s"),
    "capital_mismatch": gettext_noop("%(capital_type)s capital, but the raise is in %(currency)s"),
    "capital_unknown": gettext_noop("Capital type or currency not known"),
    "field_true": gettext_noop("%(field)s %(op)s %(value)s: yes"),
    "field_false": gettext_noop("%(field)s %(op)s %(value)s: no"),
    "field_unknown": gettext_noop("%(field)s is empty"),
}


def _industry(code: Any) -> str:
    return dictionaries.label("industry", str(code)) if code else ""


def _region(code: Any) -> str:
    from ibcloud.catalog.normalization.places import division_index

    division = division_index().by_code.get(str(code or ""))
    return short_place(division.name) if division else str(code or "")


def _currency(kind: Any) -> str:
    return {"rmb": _("RMB"), "usd": _("foreign currency")}.get(str(kind), str(kind or ""))


def _list(values: Any, label) -> str:
    if isinstance(values, list | tuple):
        return "、".join(label(v) for v in values if v) or "—"
    return label(values) or "—"


def _range(low: Any, high: Any) -> tuple[str, str]:
    return (
        format_amount(low) if low is not None else "0",
        format_amount(high) if high is not None else pgettext("no upper bound", "any"),
    )


def _arguments(code: str, args: dict) -> dict[str, str]:
    """The stored arguments of ``code`` as the words of a sentence."""
    args = dict(args or {})
    if code.startswith("industry_"):
        return {
            "industry": _industry(args.get("industry")),
            "section": _industry(args.get("section")),
            "preferred": _list(args.get("preferred"), _industry),
        }
    if code.startswith("round_"):
        return {
            "round": round_label(args.get("round")),
            "preferred": _list(args.get("preferred"), round_label),
        }
    if code.startswith("region_"):
        return {
            "region": _region(args.get("region")),
            "preferred": _list(args.get("preferred"), _region),
        }
    if code.startswith("amount_"):
        low, high = args.get("low"), args.get("high")
        if low is not None and high is not None and low != high:
            amount = f"{format_amount(low)}–{format_amount(high)}"
        else:
            amount = format_amount(low if low is not None else high)
        ticket_low, ticket_high = _range(args.get("ticket_min"), args.get("ticket_max"))
        return {"amount": amount, "low": ticket_low, "high": ticket_high}
    if code.startswith("text_"):
        return {"words": "、".join(str(w) for w in args.get("words") or [])}
    if code.startswith("recency_"):
        return {"date": str(args.get("date", ""))}
    if code.startswith("revealed_"):
        return {
            "deals": str(args.get("deals", 0)),
            "industry_deals": str(args.get("industry_deals", 0)),
        }
    if code.startswith("capital_"):
        return {
            "capital_type": capital_type_label(args.get("capital_type")),
            "currency": _currency(args.get("currency")),
        }
    if code.startswith("field_"):
        return {key: str(args.get(key, "")) for key in ("field", "op", "value")}
    return {key: str(value) for key, value in args.items()}


def sentence(item: dict) -> str:
    """One explanation item as a sentence in the active language."""
    code = str(item.get("code", ""))
    message = MESSAGES.get(code)
    if message is None:
        return code
    try:
        return _(message) % _arguments(code, item.get("args") or {})
    except (KeyError, TypeError, ValueError):
        return _(message.split("%")[0]).strip() or code


def render(items: list[dict] | None) -> list[str]:
    """The explanation of a match as plain sentences (filters first, then scores by points)."""
    items = [item for item in (items or []) if isinstance(item, dict)]
    filters = [item for item in items if item.get("mode") == "filter"]
    scores = sorted(
        (item for item in items if item.get("mode") != "filter"),
        key=lambda item: -(item.get("points") or 0),
    )
    seen: list[str] = []
    for item in filters + scores:
        text = sentence(item)
        if text not in seen:  # a filter and a score on one kind say the same thing
            seen.append(text)
    return seen


def summary(items: list[dict] | None) -> str:
    """The explanation as one line, sentences joined by "；"."""
    return "；".join(render(items))
