"""Result types of the normalization rules (plain frozen dataclasses, JSON-friendly)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Normalized:
    """One normalized value.

    ``rule`` is a short human-readable description of the rule applied (shown in the preview);
    when the value was not recognized, ``value`` is None and ``problem`` says why.
    """

    value: Any
    rule: str
    problem: str = ""

    @property
    def ok(self) -> bool:
        """True when a value was recognized (an undisclosed amount counts as recognized)."""
        return self.value is not None and not self.problem


@dataclass(frozen=True)
class Amount:
    """A money amount as a whole-CNY range, with what was published.

    ``low``/``high`` are whole yuan; ``high`` None with ``low`` set is an open range ("超亿元");
    both None with ``disclosed`` False is "未披露". ``original_low``/``original_high`` are in
    ``currency`` units (not scaled to CNY).
    """

    low: int | None
    high: int | None
    currency: str
    disclosed: bool
    original_low: Decimal | None
    original_high: Decimal | None


@dataclass(frozen=True)
class Place:
    """A place as administrative division codes (6 digits) and names as in the division list.

    ``city_code``/``city`` are empty when only the province is known.
    """

    province_code: str
    province: str
    city_code: str
    city: str


@dataclass(frozen=True)
class Industry:
    """A GB/T 4754-2017 section letter (门类) and two-digit division (大类, may be empty)."""

    section: str
    division: str


@dataclass(frozen=True)
class CompanyName:
    """A company name as displayed (cleaned) and its matching key (see :func:`.names.name_key`)."""

    display: str
    key: str
