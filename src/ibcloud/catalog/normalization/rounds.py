"""Financing rounds to the ``financing_round`` dictionary codes.

Codes: seed, angel, pre_a, a, a_plus, b, c, d, e_plus, pre_ipo, ipo, private_placement, ma,
strategic, undisclosed. ``RoundAlias`` rows are checked first (compared after NFKC, lowercase,
spaces removed); then the built-in rules below, on the value with spaces, hyphens and the words
轮/融资/round/series/funding removed. Decisions (documented in docs/catalog-normalization.md):

- "A1"/"A2" are tranches of one A round → a; "A+"/"A++" → a_plus; "B+", "B1" → b; "C+" → c;
  "D+" → d; E, F, G... (and "F轮-上市前") → e_plus.
- "Pre-B" (between A and B) → a_plus; "Pre-C" → b; "Pre-D" → c; "Pre-E" → d; later → e_plus.
- "IPO上市后", "上市后", "定向增发", "定增", "增发", "新三板" (and 新三板定增), "非公开发行",
  "PIPE", "配股", "post-IPO" → private_placement; "IPO", "IPO上市", "上市", "首发" → ipo.
- "收购", "并购", "被收购", "兼并", "M&A", "acquisition" → ma.
- "战略投资", "战略融资", "战投", "strategic" → strategic.
- "未披露", "不明确", "未知", "不详", "保密", "--" → undisclosed.
"""

from __future__ import annotations

import re
import unicodedata

from ibcloud.catalog.normalization.results import Normalized
from ibcloud.catalog.normalization.rules import NormalizationRules, alias_key

ROUND_CODES = (
    "seed", "angel", "pre_a", "a", "a_plus", "b", "c", "d", "e_plus", "pre_ipo", "ipo",
    "private_placement", "ma", "strategic", "undisclosed",
)  # fmt: skip

_NOISE = re.compile(r"[\s\-_–—·.:：/()（）\[\]【】「」\"'“”]")
_PREFIX = re.compile(r"^(?:series|round|第)")
_SUFFIX = re.compile(
    r"(?:轮融资|轮次|轮|融资|投资|round|funding|financing|investment|及以后|及以上|以后|以上|阶段)+$"
)
_LETTER_ROUND = re.compile(r"^([a-z])(\+*|plus)(\d*)(\+*)$")
_PRE_LETTER = re.compile(r"^pre([a-z])(\+*)\d*$")
_LATE_PRE_IPO = re.compile(r"^([e-k])\+*轮?(?:上市前|preipo)")
_PRE_MAP = {"a": "pre_a", "b": "a_plus", "c": "b", "d": "c", "e": "d"}
_LETTER_MAP = {"a": "a", "b": "b", "c": "c", "d": "d"}

# Ordered (pattern on the compact key, code, rule text); the first match wins.
_TABLE: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"^(?:未披露|未透露|未公开|未公布|暂不披露|不披露|待定|不明确|未知|不详|保密|暂无|无|-+|"
                r"n/?a|undisclosed|unknown)$"),
     "undisclosed", "not disclosed"),
    (re.compile(r"^(?:种子|seed|preseed)"), "seed", "seed round (种子)"),
    (re.compile(r"^(?:天使|angel)"), "angel", "angel round (天使)"),
    (re.compile(r"^(?:preipo|ipo前|上市前|拟上市)$"), "pre_ipo", "Pre-IPO"),
    (re.compile(r"ipo上市后|上市后|ipo后|postipo|定向增发|定增|增发|新三板|非公开发行|^pipe$|"
                r"配股|私募配售|privateplacement"), "private_placement",
     "after listing / private placement (定增)"),
    (re.compile(r"^(?:ipo|上市|首发|首次公开发行|公开发行)"
                r"(?:上市|发行|募资|申报|过会|挂牌)?$"), "ipo", "IPO"),
    (re.compile(r"收购|并购|兼并|m&a|^ma$|acquisition|acquired|merger"), "ma",
     "merger or acquisition (并购)"),
    (re.compile(r"^(?:战略|战投|strategic)"), "strategic", "strategic investment (战略投资)"),
]  # fmt: skip


_BRACKETED = re.compile(r"\((?:[^()]*)\)|（[^（）]*）|【[^【】]*】|\[[^\[\]]*\]")


def _compact(value: str) -> str:
    key = unicodedata.normalize("NFKC", value).lower()
    # "A轮（领投）": a remark in brackets; "定向增发(新三板)" still reads as a placement
    without = _BRACKETED.sub("", key).strip()
    key = without or key
    key = _NOISE.sub("", key).replace("series", "")
    key = _PREFIX.sub("", key)
    stripped = _SUFFIX.sub("", key)
    # "战略投资" keeps its meaning without 投资; "投资" alone would become empty.
    return stripped or key


def parse_round(value: str, rules: NormalizationRules) -> Normalized:
    """The ``financing_round`` code of ``value`` ("B+轮" → b, "Series A" → a, "IPO上市后" → ...)."""
    text = (value or "").strip()
    return rules.remembered("round", text, lambda text: _parse_round(text, rules))


def _parse_round(text: str, rules: NormalizationRules) -> Normalized:
    if not text:
        return Normalized(None, "empty", "no round given")
    alias = rules.round_alias_index.get(alias_key(text))
    if alias:
        return Normalized(alias, f"round alias “{text}”")
    key = _compact(text)
    if not key:  # only dashes or slashes: "--", "/"
        return Normalized("undisclosed", "not disclosed")
    alias = rules.round_alias_index.get(key)
    if alias:
        return Normalized(alias, f"round alias “{text}”")
    for pattern, code, rule in _TABLE:
        if pattern.search(key):
            return Normalized(code, rule)
    match = _PRE_LETTER.match(key)
    if match:
        letter = match.group(1)
        code = _PRE_MAP.get(letter, "e_plus")
        return Normalized(code, f"Pre-{letter.upper()} counts as {code}")
    match = _LETTER_ROUND.match(key)
    if match:
        letter, plus, number, plus2 = match.groups()
        if letter == "a" and (plus or plus2):
            return Normalized("a_plus", "A+ round")
        if letter in _LETTER_MAP:
            extra = " (+/tranche counts as the letter)" if (plus or plus2 or number) else ""
            return Normalized(_LETTER_MAP[letter], f"{letter.upper()} round{extra}")
        if "e" <= letter <= "z":
            return Normalized("e_plus", "E round or later")
    # "F轮-上市前" and similar: a letter round followed by words.
    match = _LATE_PRE_IPO.match(key)
    if match:
        return Normalized("e_plus", "E round or later")
    return Normalized(None, "no rule", f"unrecognized round “{text}”")


#: Investment-stage words investors use, expanded to round codes.
STAGE_GROUPS: dict[str, tuple[str, ...]] = {
    "早期": ("seed", "angel", "pre_a"),
    "初创期": ("seed", "angel", "pre_a"),
    "种子期": ("seed",),
    "天使期": ("angel",),
    "成长期": ("a", "a_plus", "b"),
    "扩张期": ("b", "c"),
    "中期": ("b", "c"),
    "后期": ("c", "d", "e_plus", "pre_ipo"),
    "成熟期": ("c", "d", "e_plus", "pre_ipo"),
    "晚期": ("c", "d", "e_plus", "pre_ipo"),
    "vc": ("angel", "pre_a", "a", "a_plus", "b"),
    "pe": ("c", "d", "e_plus", "pre_ipo"),
    "early": ("seed", "angel", "pre_a"),
    "earlystage": ("seed", "angel", "pre_a"),
    "growth": ("a", "a_plus", "b"),
    "growthstage": ("a", "a_plus", "b"),
    "late": ("c", "d", "e_plus", "pre_ipo"),
    "latestage": ("c", "d", "e_plus", "pre_ipo"),
    "全阶段": ROUND_CODES[:10],
    "全部": ROUND_CODES[:10],
    "不限": ROUND_CODES[:10],
}


def parse_stages(values: list[str] | str, rules: NormalizationRules) -> Normalized:
    """A list of round codes from stage words and rounds ("早期", "A轮", "Pre-IPO").

    Stage words expand (早期 → seed, angel, pre_a; 成长期 → a, a_plus, b; 后期/成熟期 → c, d,
    e_plus, pre_ipo); rounds map by :func:`parse_round`. Order follows the dictionary.
    """
    items = _split_list(values)
    codes: set[str] = set()
    unknown: list[str] = []
    for item in items:
        key = _NOISE.sub("", unicodedata.normalize("NFKC", item).lower())
        key = key.removesuffix("项目").removesuffix("投资")
        group = STAGE_GROUPS.get(key) or STAGE_GROUPS.get(key.removesuffix("阶段"))
        if group:
            codes.update(group)
            continue
        result = parse_round(item, rules)
        if result.value and result.value != "undisclosed":
            codes.add(result.value)
        elif not result.value:
            unknown.append(item)
    ordered = [code for code in ROUND_CODES if code in codes]
    problem = ("unrecognized: " + "、".join(unknown)) if unknown else ""
    if not ordered and problem:
        return Normalized(None, "stages", problem)
    return Normalized(ordered, "stage words expanded to rounds", problem)


_LIST_SPLIT = re.compile(r"[,，、;；/|\n]+")


def _split_list(values: list[str] | str) -> list[str]:
    """Items of a list value, or of a string separated by commas, 、, semicolons or slashes."""
    if not isinstance(values, list | tuple):
        values = [values]
    items: list[str] = []
    for value in values or []:
        if value is None:
            continue
        items.extend(part.strip() for part in _LIST_SPLIT.split(str(value)) if part.strip())
    return items
