"""The labeled set: per-type accuracy of the normalization rules (at least 98% each).

Run with ``-s`` to see the table. The values and how they were labeled are described in
``tests/catalog/labeled/README.md``; the semantics are in ``docs/catalog-normalization.md``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ibcloud.catalog.normalization.amounts import parse_amount
from ibcloud.catalog.normalization.dates import parse_date
from ibcloud.catalog.normalization.industries import parse_industry
from ibcloud.catalog.normalization.names import name_key
from ibcloud.catalog.normalization.places import parse_place
from ibcloud.catalog.normalization.rounds import parse_round
from ibcloud.catalog.normalization.rules import default_rules

LABELED = Path(__file__).parent / "labeled"
REFERENCE = datetime(2025, 3, 15, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
REQUIRED_ACCURACY = 0.98
MINIMUM_VALUES = 60


def _rows(name: str) -> list[dict[str, str]]:
    with (LABELED / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _amount(row: dict[str, str]) -> tuple[object, object]:
    result = parse_amount(row["value"], default_rules())
    value = result.value
    if row["outcome"] == "invalid":
        return None, value
    if row["outcome"] == "undisclosed":
        return "undisclosed", (
            "undisclosed" if value is not None and not value.disclosed else value
        )
    expected = (
        Decimal(row["low"]) if row["low"] else None,
        Decimal(row["high"]) if row["high"] else None,
        row["currency"],
    )
    if value is None:
        return expected, result.problem
    rate = default_rules().rate(value.currency)
    converted = all(
        (original is None and cny is None) or cny == int((original * rate).to_integral_value())
        for original, cny in ((value.original_low, value.low), (value.original_high, value.high))
    )
    got = (value.original_low, value.original_high, value.currency)
    return expected, got if converted else ("not converted", got)


def _date(row: dict[str, str]) -> tuple[object, object]:
    expected = date.fromisoformat(row["expected"]) if row["expected"] else None
    return expected, parse_date(row["value"], REFERENCE).value


def _place(row: dict[str, str]) -> tuple[object, object]:
    value = parse_place(row["value"]).value
    expected = (row["province_code"], row["city_code"]) if row["province_code"] else None
    return expected, (value.province_code, value.city_code) if value else None


def _industry(row: dict[str, str]) -> tuple[object, object]:
    value = parse_industry(row["value"], default_rules()).value
    expected = (row["section"], row["division"]) if row["section"] else None
    return expected, (value.section, value.division) if value else None


def _round(row: dict[str, str]) -> tuple[object, object]:
    return row["round"] or None, parse_round(row["value"], default_rules()).value


def _company_name(row: dict[str, str]) -> tuple[object, object]:
    same = name_key(row["a"]) == name_key(row["b"])
    return row["same"] == "yes", same


TYPES: dict[str, tuple[str, Callable[[dict[str, str]], tuple[object, object]]]] = {
    "amount": ("amounts.csv", _amount),
    "date": ("dates.csv", _date),
    "place": ("places.csv", _place),
    "industry": ("industries.csv", _industry),
    "round": ("rounds.csv", _round),
    "company_name": ("company_names.csv", _company_name),
}


def _evaluate(kind: str) -> tuple[int, list[str]]:
    file_name, check = TYPES[kind]
    rows = _rows(file_name)
    misses = []
    for row in rows:
        expected, got = check(row)
        if expected != got:
            label = row.get("value") or f"{row['a']} / {row['b']}"
            misses.append(f"{label!r}: expected {expected!r}, got {got!r}")
    return len(rows), misses


def test_labeled_set_per_type_accuracy():
    """Every type reaches the required accuracy; the table shows each type's score."""
    lines = [f"{'type':<14}{'values':>8}{'correct':>9}{'accuracy':>10}"]
    failures = []
    total = 0
    for kind in TYPES:
        count, misses = _evaluate(kind)
        total += count
        accuracy = (count - len(misses)) / count
        lines.append(f"{kind:<14}{count:>8}{count - len(misses):>9}{accuracy:>10.1%}")
        lines.extend(f"    miss {miss}" for miss in misses)
        assert count >= MINIMUM_VALUES, f"{kind}: only {count} labeled values"
        if accuracy < REQUIRED_ACCURACY:
            failures.append(kind)
    lines.append(f"{'all':<14}{total:>8}")
    print("\n" + "\n".join(lines))
    assert not failures, "below {:.0%}: {}\n{}".format(
        REQUIRED_ACCURACY, ", ".join(failures), "\n".join(lines)
    )


@pytest.mark.parametrize("kind", list(TYPES))
def test_labeled_values_have_no_duplicates(kind):
    """A repeated value would count twice and hide a miss."""
    file_name, _check = TYPES[kind]
    rows = _rows(file_name)
    keys = [row.get("value") or (row["a"], row["b"]) for row in rows]
    assert len(keys) == len(set(keys))
