"""The editable parts of normalization: exchange rates, industry keywords, round aliases, spam.

:func:`default_rules` builds them from the seed files in ``catalog/data/`` (no database; the
seed migration loads the same files into the models). :func:`load_rules` reads the models
(``ExchangeRate``, active ``IndustryKeyword``, ``RoundAlias``) and the ``catalog.spam_words``
parameter, and keeps the result in the shared cache; saving or deleting any of those rows (or the
parameter) clears it, so every process sees an admin's change.
"""

from __future__ import annotations

import csv
import unicodedata
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache as memoize
from functools import cached_property
from pathlib import Path

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy

from ibcloud.core.parameters import define

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CACHE_KEY = "ibcloud:catalog:normalization-rules"
VERSION_KEY = "ibcloud:catalog:normalization-rules-version"
CACHE_SECONDS = 3600

DEFAULT_SPAM_WORDS = (
    "博彩,赌博,六合彩,时时彩,百家乐,彩票代购,代开发票,办证,刷单,兼职日结,贷款秒批,裸聊,色情"
)
SPAM_WORDS = define(
    "catalog.spam_words",
    default=DEFAULT_SPAM_WORDS,
    kind=str,
    label=gettext_lazy(
        "Spam words: records containing any of these comma-separated words are quarantined"
    ),
)


@dataclass(frozen=True)
class KeywordRule:
    """An industry keyword: text found in a value puts it in ``division`` (two digits)."""

    keyword: str
    division: str
    priority: int = 0


@dataclass(frozen=True)
class NormalizationRules:
    """Everything users can edit that the pure normalization functions need."""

    #: currency (ISO 4217) → CNY per unit; CNY itself is always 1
    exchange_rates: dict[str, Decimal] = field(default_factory=dict)
    industry_keywords: tuple[KeywordRule, ...] = ()
    #: alias as written (compared after :func:`alias_key`) → financing_round code
    round_aliases: dict[str, str] = field(default_factory=dict)
    spam_words: tuple[str, ...] = ()

    def rate(self, currency: str) -> Decimal | None:
        """CNY per unit of ``currency``; None when there is no rate for it."""
        if currency == "CNY":
            return Decimal(1)
        return self.exchange_rates.get(currency)

    @cached_property
    def keyword_index(self) -> dict[str, KeywordRule]:
        """Keywords by their lowercase text (for the industry matcher)."""
        return {rule.keyword.lower(): rule for rule in self.industry_keywords}

    @cached_property
    def keyword_lengths(self) -> tuple[int, ...]:
        """Distinct keyword lengths, longest first (longest keyword wins)."""
        return tuple(sorted({len(key) for key in self.keyword_index}, reverse=True))

    @cached_property
    def memo(self) -> dict[tuple[str, str], object]:
        """Results of rule functions by (kind, value) for these rules: listings repeat values."""
        return {}

    def remembered(self, kind: str, value: str, compute):
        """``compute(value)``, remembered per rules object (bounded: cleared past 20,000)."""
        key = (kind, value)
        memo = self.memo
        result = memo.get(key)
        if result is None:
            if len(memo) > 20_000:
                memo.clear()
            result = memo[key] = compute(value)
        return result

    @cached_property
    def round_alias_index(self) -> dict[str, str]:
        return {alias_key(alias): code for alias, code in self.round_aliases.items()}


def alias_key(value: str) -> str:
    """A round alias compared loosely: NFKC, lowercase, without spaces."""
    return "".join(unicodedata.normalize("NFKC", value).lower().split())


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def seed_exchange_rates() -> list[tuple[str, Decimal]]:
    """The seeded exchange rates (currency, CNY per unit) from ``data/exchange_rates.csv``."""
    return [
        (row["currency"], Decimal(row["rate_to_cny"])) for row in _read_csv("exchange_rates.csv")
    ]


def seed_industry_keywords() -> list[KeywordRule]:
    """The seeded industry keywords from ``data/industry_keywords.csv``."""
    return [
        KeywordRule(row["keyword"], row["industry"].zfill(2), int(row["priority"] or 0))
        for row in _read_csv("industry_keywords.csv")
    ]


def seed_round_aliases() -> list[tuple[str, str]]:
    """The seeded round aliases (alias, round code) from ``data/round_aliases.csv``."""
    return [(row["alias"], row["round"]) for row in _read_csv("round_aliases.csv")]


def split_spam_words(text: str) -> tuple[str, ...]:
    """The spam-words parameter (comma, 、 or newline separated) as a tuple of words."""
    normalized = text.replace("，", ",").replace("、", ",").replace("\n", ",")
    return tuple(word.strip() for word in normalized.split(",") if word.strip())


#: (version token, rules) last loaded by this process
_local: tuple[str, NormalizationRules] | None = None


@memoize
def default_rules() -> NormalizationRules:
    """The built-in rules from the seed files (no database)."""
    return NormalizationRules(
        exchange_rates=dict(seed_exchange_rates()),
        industry_keywords=tuple(seed_industry_keywords()),
        round_aliases=dict(seed_round_aliases()),
        spam_words=split_spam_words(DEFAULT_SPAM_WORDS),
    )


def load_rules() -> NormalizationRules:
    """The rules as configured in the database (cached until one of them changes).

    The shared cache holds the rules and a version token; each process keeps the rules of the
    token it saw last, so a call costs one small cache read while nothing changes.
    """
    global _local
    token = cache.get(VERSION_KEY)
    if token is not None and _local is not None and _local[0] == token:
        return _local[1]
    rules = cache.get(CACHE_KEY) if token is not None else None
    if rules is None:
        rules = _rules_from_database()
        token = uuid.uuid4().hex
        cache.set_many({CACHE_KEY: rules, VERSION_KEY: token}, CACHE_SECONDS)
    _local = (token, rules)
    return rules


def _rules_from_database() -> NormalizationRules:
    from ibcloud.catalog.models import ExchangeRate, IndustryKeyword, RoundAlias

    return NormalizationRules(
        exchange_rates={
            row.currency.upper(): row.rate_to_cny for row in ExchangeRate.objects.order_by()
        },
        industry_keywords=tuple(
            KeywordRule(row.keyword, row.industry, row.priority)
            for row in IndustryKeyword.objects.filter(is_active=True).order_by("id")
        ),
        round_aliases={row.alias: row.round for row in RoundAlias.objects.order_by("id")},
        spam_words=split_spam_words(str(SPAM_WORDS.get())),
    )


def clear_rules_cache() -> None:
    """Forget the cached rules (after a rule row or the spam words change)."""
    global _local
    cache.delete_many([CACHE_KEY, VERSION_KEY])
    _local = None


def _rule_changed(sender, **kwargs) -> None:
    # Now for this process, and again after commit: another process may have re-read the old
    # rows while the transaction was open.
    clear_rules_cache()
    transaction.on_commit(clear_rules_cache)


def _parameter_changed(sender, instance, **kwargs) -> None:
    if getattr(instance, "key", "") == SPAM_WORDS.key:
        _rule_changed(sender)


# Lazy model references: this module never imports the models at import time.
for _model in ("catalog.ExchangeRate", "catalog.IndustryKeyword", "catalog.RoundAlias"):
    for _signal in (post_save, post_delete):
        _signal.connect(_rule_changed, sender=_model, dispatch_uid=f"rules:{_model}:{id(_signal)}")
for _signal in (post_save, post_delete):
    _signal.connect(
        _parameter_changed, sender="core.Parameter", dispatch_uid=f"rules:param:{id(_signal)}"
    )
