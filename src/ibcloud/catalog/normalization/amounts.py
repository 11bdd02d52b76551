"""Money amounts to a whole-CNY range, keeping the original currency and figures.

Semantics (the table with examples is in docs/catalog-normalization.md):

- Units: 十 百 千 万 亿 (and combinations: 千万 = 10^7, 万亿 = 10^12, "1亿5000万" = 1.5亿);
  English k/thousand = 10^3, m/mn/million = 10^6, b/bn/billion = 10^9. Chinese numerals
  (一, 两, 三千五百万) are read too. A figure without a unit is yuan (or dollars...).
- "数X"/"几X" = 1X–10X (数千万 → 10,000,000–100,000,000); "X级"/"X量级" = X–10X.
- "近X"/"将近X"/"接近X" = 0.8X–X.
- "超X"/"超过X"/"逾X"/"过X"/"破X"/"上X"/"X以上"/"X及以上"/"X+"/"不低于X"/"至少X"/"X起" = from X,
  no upper bound.
- "不超过X"/"最多X"/"最高X"/"X以下"/"X以内"/"低于X" = up to X, no lower bound.
- "约X"/"大约X"/"X左右" = X; "N多X"/"N余X" = N X to (N + one step of N's last digit) X
  ("3000多万" = 3000万–4000万, "1亿多" = 1亿–2亿, "十多亿" = 10亿–20亿).
- Ranges "A-B", "A~B", "A至B", "A到B": a unit (or currency) written only after B applies to A
  ("1-2亿", "US$5M-20M").
- Currencies: 元/人民币/RMB/CNY/¥/￥ (and no currency) = CNY; 美元/美金/US$/$/USD; 港元/港币/HK$;
  欧元/€; 英镑/£; 日元/JPY; 新加坡元/新币/S$; 新台币/台币/NT$; 韩元; 澳元; 加元; 瑞郎; 卢比.
  Converted with the exchange rates in the rules; an unknown currency ("其他") is a problem.
- "未披露", "未透露", "不详", "保密", "未公开", "暂无", "面议", "--" = not disclosed.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ibcloud.catalog.normalization.results import Amount, Normalized
from ibcloud.catalog.normalization.rules import NormalizationRules

_UNDISCLOSED = re.compile(
    r"^(?:投资方|金额|融资金额)?(?:未披露|未透露|不详|保密|未公开|未公布|暂无|暂未披露|暂不披露|不披露|"
    r"不公开|面议|面谈|详谈|待定|未定|无|未知|不明确|"
    r"undisclosed|n/?a|unknown|-+|—+|/|\?+)(?:金额)?$"
)
# (pattern, ISO code); checked in order, so longer spellings come before the ones they contain.
_CURRENCIES: list[tuple[str, str]] = [
    (r"新台币|台币|(?<![a-z])nt\$|twd", "TWD"),
    (r"新加坡元|新加坡币|新币|(?<![a-z])s\$|sgd", "SGD"),
    (r"港元|港币|(?<![a-z])hk\$|hkd|hk\s*dollars?|hong\s*kong\s*dollars?", "HKD"),
    (r"美元|美金|us\$|usd|\$|(?:us\s*)?dollars?", "USD"),
    (r"欧元|€|eur(?:o|os)?\b", "EUR"),
    (r"英镑|£|gbp", "GBP"),
    (r"日元|日币|円|jpy", "JPY"),
    (r"韩元|韩币|₩|krw", "KRW"),
    (r"澳元|澳币|(?<![a-z])a\$|aud", "AUD"),
    (r"加元|加币|(?<![a-z])c\$|cad", "CAD"),
    (r"瑞郎|瑞士法郎|chf", "CHF"),
    (r"卢比|inr", "INR"),
    (r"人民币|rmb|cny|¥|￥|元", "CNY"),
]
_CURRENCY_PATTERNS = [(re.compile(pattern), code) for pattern, code in _CURRENCIES]
_UNKNOWN_CURRENCY = re.compile(r"其他币种|其他|其它")
# Words around a figure that carry no meaning for the amount.
_NOISE = re.compile(
    r"融资金额|融资规模|计划融资|拟融资|本轮融资|融资额|融资|募资|投资额|投资金额|投资规模|单笔投资|单笔|"
    r"每笔|管理规模|资产管理规模|基金规模|规模|金额|总额|总计|合计|共计|共|资金|累计|左右|上下|"
    r"[:：,，。;；()（）\[\]【】\s]|approximately|approx\.?|about|around|up\s*to|over|more\s*than"
)
#: larger amounts are misreadings (and would not fit the database's 64-bit integers)
MAX_CNY = Decimal(10) ** 15
_BRACKETED = re.compile(r"[(（\[【][^()（）\[\]【】]*[)）\]】]")
_FIGURE_OR_UNIT = re.compile(r"[0-9十百千万亿]")
_ROUND_PREFIX = re.compile(r"^(?:pre-?)?(?:[a-h]\+*|天使|种子|战略)轮(?:融资)?[:：]?")
_WHITESPACE = re.compile(r"\s+")
_WAN = re.compile(r"(?<=[0-9])w")
_ABOUT = re.compile(r"左右|上下|approx|about|around")
_UP_TO = re.compile(r"up\s*to")
_OVER = re.compile(r"over|more\s*than")
_TRAILING_UNIT = re.compile(r"(k|thousand|millions?|mn|mm|mio|m|billions?|bn|b|[十百千万亿]+)$")
_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d{3})")
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
# Financial (大写) numerals as in contracts: 伍仟万 = 五千万.
_FINANCIAL_NUMERALS = str.maketrans("壹贰叁肆伍陆柒捌玖拾佰仟萬億", "一二三四五六七八九十百千万亿")
_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_EN_UNITS = {
    "k": Decimal(1000), "thousand": Decimal(1000),
    "m": Decimal(10**6), "mn": Decimal(10**6), "mm": Decimal(10**6), "mio": Decimal(10**6),
    "million": Decimal(10**6), "millions": Decimal(10**6),
    "b": Decimal(10**9), "bn": Decimal(10**9), "billion": Decimal(10**9),
    "billions": Decimal(10**9),
}  # fmt: skip
_NUMBER_CHARS = "0123456789.零〇一二两三四五六七八九十百千万亿"
_QUANTITY = re.compile(
    r"^(?P<body>[0-9.零〇一二两三四五六七八九十百千万亿]+)"
    r"(?P<en>k|thousand|millions?|mn|mm|mio|m|billions?|bn|b)?$"
)
_MORE = re.compile(
    r"(?P<num>[0-9.零〇一二两三四五六七八九十百千]+)(?P<unit>[十百千万亿]*)(?:多|余)"
)
_RANGE = re.compile(r"^(?P<a>.+?)(?:-|~|～|—|–|至|到|to)(?P<b>.+)$")

# Qualifiers: (pattern, kind). Prefix patterns are anchored at the start, suffixes at the end.
_PREFIXES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(?:不超过|不高于|不多于|最多|至多|最高|上限|低于|少于|小于|不到|未满|"
                r"under|below)"), "max"),
    (re.compile(r"^(?:超过|超|逾|过|破|突破|不低于|不少于|至少|最低|大于|高于|多于|上)"), "min"),
    (re.compile(r"^(?:将近|接近|逼近|近)"), "near"),
    (re.compile(r"^(?:大约|约合|约为|大概|预计|估计|约)"), "about"),
    (re.compile(r"^(?:数|几)"), "several"),
]  # fmt: skip
_SUFFIXES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?:以下|以内|之内|内)$"), "max"),
    (re.compile(r"(?:及以上|或以上|以上|起|\+)$"), "min"),
    (re.compile(r"(?:量级|级)$"), "level"),
]


class AmountError(ValueError):
    """The text is not an amount this module understands."""


def _chinese_number(body: str) -> Decimal:
    """Value of a figure mixing ASCII digits, Chinese numerals and 十百千万亿 units."""
    total = Decimal(0)  # completed 亿 part
    section = Decimal(0)  # completed 万 part below 亿
    small = Decimal(0)  # the part below 万
    number: Decimal | None = None
    position = 0
    while position < len(body):
        char = body[position]
        if char.isdigit() or char == ".":
            end = position
            while end < len(body) and (body[end].isdigit() or body[end] == "."):
                end += 1
            try:
                number = Decimal(body[position:end])
            except InvalidOperation as exc:
                raise AmountError(body) from exc
            position = end
            continue
        if char in _CN_DIGITS:
            number = Decimal(_CN_DIGITS[char])
        elif char in _SMALL_UNITS:
            small += (number if number is not None else Decimal(1)) * _SMALL_UNITS[char]
            number = None
        elif char == "万":
            base = small + (number or 0)
            section = (section + (base if base else Decimal(1))) * 10**4
            small, number = Decimal(0), None
        elif char == "亿":
            base = section + small + (number or 0)
            total = (total + (base if base else Decimal(1))) * 10**8
            section, small, number = Decimal(0), Decimal(0), None
        else:
            raise AmountError(body)
        position += 1
    return total + section + small + (number or 0)


def _quantity(text: str) -> tuple[Decimal, Decimal]:
    """(low, high) of one figure such as "3000万", "1.5亿", "10m", "3000多万", "千万"."""
    more = _MORE.search(text)
    if more:
        number_text = more.group("num")
        number = _chinese_number(number_text)
        step = _last_digit_step(number_text, number)
        unit = more.group("unit")
        low_text = text[: more.start()] + f"{number}{unit}" + text[more.end() :]
        high_text = text[: more.start()] + f"{number + step}{unit}" + text[more.end() :]
        return _quantity(low_text)[0], _quantity(high_text)[0]
    match = _QUANTITY.match(text)
    if not match:
        raise AmountError(text)
    value = _chinese_number(match.group("body"))
    if match.group("en"):
        value *= _EN_UNITS[match.group("en")]
    return value, value


def _last_digit_step(text: str, number: Decimal) -> Decimal:
    """One step of the last significant digit: 3000 → 1000, 15 → 1, 1.5 → 0.1, 十 → 10."""
    if text and all(char in "0123456789." for char in text):
        if "." in text:
            return Decimal(1).scaleb(-len(text.split(".", 1)[1]))
        stripped = text.rstrip("0")
        return Decimal(10) ** (len(text) - len(stripped))
    # Chinese numerals: the step is the magnitude of the smallest unit written (两千 → 1000).
    exponent = 0
    value = int(number)
    while value and value % 10 == 0:
        value //= 10
        exponent += 1
    return Decimal(10) ** exponent


def _find_currency(text: str) -> tuple[str, str]:
    """(ISO code or "" when none, text with every currency word removed)."""
    found = ""
    for pattern, code in _CURRENCY_PATTERNS:
        if pattern.search(text):
            if not found:
                found = code
            text = pattern.sub("", text)
    return found, text


def _to_cny(value: Decimal | None, rate: Decimal) -> int | None:
    if value is None:
        return None
    return int((value * rate).to_integral_value(rounding=ROUND_HALF_UP))


def _describe(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


def parse_amount(value: object, rules: NormalizationRules) -> Normalized:
    """Normalize a published amount ("数千万元", "US$10M", "超亿元", "1-2亿", "未披露")."""
    text = "" if value is None else str(value)
    return rules.remembered("amount", text, lambda text: _parse_amount(text, rules))


def _parse_amount(text: str, rules: NormalizationRules) -> Normalized:
    value = text
    text = unicodedata.normalize("NFKC", text).strip().lower()
    if not text:
        return Normalized(None, "empty", "no amount given")
    compact = _WHITESPACE.sub("", text).strip("()（）[]【】")
    if _UNDISCLOSED.match(compact) or compact in {"未披露金额", "金额未披露"}:
        return Normalized(Amount(None, None, "", False, None, None), "not disclosed")
    # "3.5亿人民币（约5000万美元）": the figure in brackets restates the one outside
    outside = _BRACKETED.sub("", text).strip()
    if outside != text and _FIGURE_OR_UNIT.search(outside):
        text = outside
    text = _ROUND_PREFIX.sub("", text)  # "A轮5000万"
    currency, rest = _find_currency(text)
    if _UNKNOWN_CURRENCY.search(rest):
        return Normalized(None, "currency", f"unknown currency in “{value}”")
    rest = _DIGIT_COMMA.sub("", rest).translate(_FINANCIAL_NUMERALS)
    if "w" in rest:
        rest = _WAN.sub("万", rest)  # "200w": w is the web's shorthand for 万
    about = bool(_ABOUT.search(rest))
    if rest.isascii() and _UP_TO.search(rest):
        rest = "不超过" + rest
    elif rest.isascii() and _OVER.search(rest):
        rest = "超" + rest
    rest = _NOISE.sub("", rest).rstrip(".")
    if not rest:
        return Normalized(None, "no figure", f"no figure in “{value}”")
    try:
        low, high, rule = _parse_expression(rest)
    except (AmountError, InvalidOperation, ArithmeticError):
        return Normalized(None, "no rule", f"unrecognized amount “{value}”")
    if about and rule == "exact figure":
        rule = "about X counts as X"
    currency = currency or "CNY"
    rate = rules.rate(currency)
    if rate is None:
        return Normalized(None, rule, f"no exchange rate for {currency}")
    if any(bound is not None and bound * rate > MAX_CNY for bound in (low, high)):
        return Normalized(None, rule, f"“{value}” is implausibly large")
    amount = Amount(
        low=_to_cny(low, rate),
        high=_to_cny(high, rate),
        currency=currency,
        disclosed=True,
        original_low=low,
        original_high=high,
    )
    shown = f"{_describe(low)}–{_describe(high)}" if low != high else _describe(low)
    conversion = "" if currency == "CNY" else f"; {currency} × {rate.normalize():f}"
    return Normalized(amount, f"{rule}: {shown} {currency}{conversion}")


def _parse_expression(text: str) -> tuple[Decimal | None, Decimal | None, str]:
    """(low, high, rule) in the published currency's units; raises AmountError."""
    kind = ""
    for pattern, name in _PREFIXES:
        match = pattern.match(text)
        if match and len(text) > match.end():
            remainder = text[match.end() :]
            # "上" and "数"/"几" qualify a unit ("上亿", "数千万"), never a digit.
            if name in {"several"} or match.group(0) == "上":
                if remainder[0] not in "十百千万亿":
                    continue
            kind, text = name, remainder
            break
    suffix = ""
    for pattern, name in _SUFFIXES:
        match = pattern.search(text)
        if match and match.start() > 0:
            suffix, text = name, text[: match.start()]
            break
    if kind == "several":
        low, _high = _quantity(text)
        high = low * 10
        if suffix == "min":
            return low, None, "数X and more: from 1X, open"
        return low, high, "数X = 1X–10X"
    if suffix == "level":
        low, _high = _quantity(text)
        return low, low * 10, "X级 = X–10X"
    range_match = _RANGE.match(text)
    if range_match and not kind:
        a_text, b_text = range_match.group("a"), range_match.group("b")
        a_text = _carry_unit(a_text, b_text)
        a_low, _a = _quantity(a_text)
        _b, b_high = _quantity(b_text)
        if b_high < a_low:
            raise AmountError(text)
        return a_low, b_high, "range A–B"
    low, high = _quantity(text)
    if kind == "max" or suffix == "max":
        return None, high, "up to X (no lower bound)"
    if kind == "min" or suffix == "min":
        return low, None, "more than X (no upper bound)"
    if kind == "near":
        return (high * Decimal("0.8")).normalize(), high, "近X = 0.8X–X"
    if low != high:
        return low, high, "N多/余 X = N X to the next step"
    return low, high, "about X counts as X" if kind == "about" else "exact figure"


def _carry_unit(a_text: str, b_text: str) -> str:
    """Give the range start the unit written only after the end ("1-2亿" → "1亿")."""
    if a_text and a_text[-1] not in "0123456789.":
        return a_text
    unit = _TRAILING_UNIT.search(b_text)
    if not unit:
        return a_text
    b_number = b_text[: unit.start()]
    # "1000万-1亿": the start has its own unit already; "5-10亿": both in 亿.
    if a_text.replace(".", "").isdigit() and b_number.replace(".", "").isdigit():
        return a_text + unit.group(1)
    return a_text
