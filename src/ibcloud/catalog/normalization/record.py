"""A whole raw record to the catalog's schema fields, each with its rule (and problem).

Raw keys are matched loosely (case, spaces, "_"/"-" ignored) against the names the demo sources
use and common Chinese labels ("项目名称", "融资金额", "统一社会信用代码"...); see
:data:`PROJECT_KEYS` and :data:`INVESTOR_KEYS`. Keys that name no schema field are listed in
``ignored`` (except a few known to carry nothing for the catalog, such as the article link).
Empty values produce no field, so they never overwrite a value from another source.

A record that gives no place takes the one its registered name, else its name, begins with
(:func:`~ibcloud.catalog.normalization.places.place_of_company_name`: 苏州高禾创业投资管理
有限公司 → 江苏省 苏州市); a record with a place keeps its own, even one that cannot be read.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from ibcloud.catalog.normalization.amounts import parse_amount
from ibcloud.catalog.normalization.dates import parse_date, parse_datetime
from ibcloud.catalog.normalization.industries import industry_codes, parse_industry
from ibcloud.catalog.normalization.names import normalize_credit_code
from ibcloud.catalog.normalization.places import parse_place, place_of_company_name
from ibcloud.catalog.normalization.results import Normalized
from ibcloud.catalog.normalization.rounds import _split_list, parse_round, parse_stages
from ibcloud.catalog.normalization.rules import NormalizationRules
from ibcloud.catalog.normalization.text import clean_text

_KEY_NOISE = re.compile(r"[\s_\-]+")
_SCHEME = re.compile(r"^https?://", re.I)
_FIGURE = re.compile(r"\d+(?:\.\d+)?")
_USD_WORDS = re.compile(r"美元|usd|us\$|外币|美金|dollar")
_RMB_WORDS = re.compile(r"人民币|rmb|cny|内资")
_TITLE_NEWS = re.compile(r"(?:宣布)?(?:完成|获得?|融资|启动|拟)")

# schema field → raw keys (compared after _key_of), in order of preference
_COMMON = {
    "full_name": ["full_name", "registered_name", "公司全称", "企业全称", "工商全称", "公司名称",
                  "企业名称", "工商注册名称", "注册名称", "机构全称", "legal_name"],
    "credit_code": ["credit_code", "统一社会信用代码", "社会信用代码", "信用代码", "uscc",
                    "unified_social_credit_code"],
    "website": ["website", "官网", "公司官网", "机构官网", "网址", "网站", "homepage", "web"],
    "founded_on": ["founded", "founded_on", "founded_at", "成立时间", "成立日期", "成立年份",
                   "注册时间", "established", "founding_date"],
    "tags": ["tags", "tag", "标签", "keywords", "关键词"],
}  # fmt: skip
_PLACE_KEYS = ["province", "省份", "省", "city", "城市", "所在城市", "location", "place", "region",
               "area", "地区", "所在地", "所在地区", "所在省份", "注册地", "总部", "总部所在地",
               "headquarters", "address", "地址"]  # fmt: skip
PROJECT_KEYS: dict[str, list[str]] = {
    "name": ["name", "short_name", "项目名称", "项目简称", "公司简称", "企业简称", "项目", "简称",
             "company", "产品名称", "title", "标题"],
    **_COMMON,
    "industry": ["industry", "field", "sector", "所属行业", "行业", "行业领域", "领域", "行业分类",
                 "category"],
    "round": ["round", "stage", "融资轮次", "轮次", "融资阶段", "阶段", "本轮轮次"],
    "amount": ["amount", "融资金额", "融资额", "金额", "融资需求", "拟融资金额", "本轮融资金额",
               "financing_amount", "funding"],
    "valuation": ["valuation", "估值", "投前估值", "投后估值", "公司估值"],
    "share_offered": ["share_offered", "出让股份", "出让股权", "出让比例", "拟出让股权",
                      "equity_offered"],
    "use_of_funds": ["use_of_funds", "资金用途", "融资用途", "募资用途"],
    "summary": ["summary", "description", "业务简介", "项目简介", "公司简介", "简介", "项目介绍",
                "intro", "introduction", "business"],
    "published_at": ["published", "published_at", "pubdate", "pub_date", "发布时间", "发布日期",
                     "date", "日期", "updated_at", "更新时间", "time"],
    "investor_names": ["investors", "investor", "投资方", "投资机构", "投资人", "本轮投资方"],
}  # fmt: skip
INVESTOR_KEYS: dict[str, list[str]] = {
    "name": ["name", "short_name", "机构简称", "机构名称", "简称", "名称", "investor"],
    **_COMMON,
    "aliases": ["aliases", "alias", "别名", "曾用名", "英文名", "english_name", "other_names"],
    "investor_type": ["investor_type", "type", "机构类型", "投资机构类型", "类型", "机构性质"],
    "capital_type": ["capital_type", "币种", "资本类型", "资金类型", "基金币种", "currency"],
    "fund_size": ["aum", "fund_size", "管理规模", "基金规模", "资产管理规模", "资金规模",
                  "管理资金规模"],
    "description": ["description", "机构简介", "简介", "summary", "intro", "介绍"],
    "preferred_industries": ["industries", "preferred_industries", "关注行业", "投资领域",
                             "投资行业", "关注领域", "投资偏好行业", "industry", "行业"],
    "preferred_rounds": ["stages", "preferred_rounds", "rounds", "投资阶段", "投资轮次",
                         "偏好轮次", "stage"],
    "preferred_regions": ["regions", "preferred_regions", "投资地域", "投资地区", "关注地区",
                          "投资区域"],
    "ticket": ["ticket", "单笔投资规模", "单笔投资金额", "投资规模", "单笔投资", "ticket_size"],
    "published_at": ["updated_at", "published", "published_at", "更新时间", "发布时间", "date"],
}  # fmt: skip
#: raw keys that carry nothing for the catalog (so they are not reported as ignored)
KNOWN_UNUSED = {"link", "url", "detail_url", "source_url", "id", "链接", "详情链接", "详情接口"}


@lru_cache(maxsize=4096)
def _key_of(raw_key: str) -> str:
    return _KEY_NOISE.sub("", unicodedata.normalize("NFKC", str(raw_key)).lower())


def _lookup(table: dict[str, list[str]]) -> dict[str, tuple[str, int]]:
    """Raw key → (schema field, rank); a lower rank wins when several keys give one field."""
    lookup: dict[str, tuple[str, int]] = {}
    for schema_field, keys in table.items():
        for rank, key in enumerate(keys):
            lookup.setdefault(_key_of(key), (schema_field, rank))
    for rank, key in enumerate(_PLACE_KEYS):
        lookup.setdefault(_key_of(key), ("place", rank))
    return lookup


_LOOKUPS = {"project": _lookup(PROJECT_KEYS), "investor": _lookup(INVESTOR_KEYS)}
_UNUSED = {_key_of(key) for key in KNOWN_UNUSED}


@dataclass
class NormalizedRecord:
    """The schema fields found in a raw record, each normalized, and the raw keys left over."""

    fields: dict[str, Normalized] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    #: schema field → the raw value it was read from (place: the parts joined by spaces)
    raw: dict[str, Any] = field(default_factory=dict)

    def value(self, name: str, default: Any = None) -> Any:
        """The normalized value of ``name`` (``default`` when absent or not recognized)."""
        result = self.fields.get(name)
        return default if result is None or result.value is None else result.value

    @property
    def problems(self) -> dict[str, str]:
        """Field → problem, for the fields that have one."""
        return {name: result.problem for name, result in self.fields.items() if result.problem}


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict | set):
        return not any(not _is_empty(item) for item in value)
    return False


def _text(value: Any) -> Normalized:
    text = clean_text(value)
    return Normalized(text or None, "cleaned text", "" if text else "only markup or boilerplate")


_UNDISCLOSED_NAMES = re.compile(r"^(?:投资方)?(?:未透露|未披露|不详|未知|保密|暂无)$")


def _names(value: Any, *, drop_undisclosed: bool = False) -> Normalized:
    items = []
    for item in _split_list(value if isinstance(value, list | tuple) else [value]):
        text = clean_text(item)
        if not text or (drop_undisclosed and _UNDISCLOSED_NAMES.match(text)):
            continue
        if text not in items:
            items.append(text)
    return Normalized(
        items, "list: split on commas, 、 and semicolons; cleaned; duplicates dropped"
    )


def _tags(value: Any) -> Normalized:
    items = []
    for item in _split_list(value if isinstance(value, list | tuple) else [value]):
        text = clean_text(item)[:50]
        if text and text not in items:
            items.append(text)
    return Normalized(items, "list of tags, cleaned, at most 50 characters each")


_URL = re.compile(
    r"^(?:https?://)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}(?::\d+)?(?:[/?#]\S*)?$",
    re.I,
)  # noqa: E501


def _website(value: Any) -> Normalized:
    text = clean_text(value).strip().rstrip("/")
    if not text:
        return Normalized(None, "website", "no website given")
    if not _URL.match(text):
        return Normalized(None, "website", f"“{text}” is not a web address")
    if not _SCHEME.match(text):
        return Normalized("http://" + text.lower(), "web address; http:// added")
    scheme, _, rest = text.partition("://")
    host, slash, path = rest.partition("/")
    return Normalized(f"{scheme.lower()}://{host.lower()}{slash}{path}", "web address")


def _share(value: Any) -> Normalized:
    text = unicodedata.normalize("NFKC", str(value))
    match = _FIGURE.search(text)
    if not match:
        return Normalized(None, "percentage", f"no figure in “{text}”")
    try:
        share = Decimal(match.group(0))
    except InvalidOperation:
        return Normalized(None, "percentage", f"no figure in “{text}”")
    if "%" not in text and "％" not in text and share < 1 and "." in match.group(0):
        share *= 100  # 0.15 written as a fraction
    if not 0 < share <= 100:
        return Normalized(None, "percentage", f"{share} is not a share between 0 and 100")
    return Normalized(share.quantize(Decimal("0.01")), "percentage (first figure)")


# (pattern on the lower-cased value, investor_type code), checked in order
_INVESTOR_TYPES: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"政府|引导基金|国资|国有资本|财政"), "gov_fund", "government guidance fund"),
    (re.compile(r"天使投资人|个人投资|自然人|家族办公室|family\s*office"), "other", "individual"),
    (re.compile(r"母基金|fof|孵化|加速器"), "other", "fund of funds / incubator → other"),
    (re.compile(r"\bcvc\b|企业创投|企业风险投资|企业风投|产业资本|corporate\s*venture"), "cvc",
     "corporate venture capital"),
    (re.compile(r"战略|产业投资者|上市公司|strategic|corporate"), "strategic",
     "strategic investor"),
    (re.compile(r"天使|angel"), "vc", "angel fund counts as VC (early-stage venture)"),
    (re.compile(r"^\s*(?:vc|风险投资|创业投资|创投|风投)|venture"), "vc", "venture capital"),
    (re.compile(r"^\s*pe\b|私募股权|股权投资|并购基金|buyout|private\s*equity|产业基金|"
                r"产业投资基金"), "pe", "private equity"),
    (re.compile(r"\bvc\b|创投|风险投资|创业投资"), "vc", "venture capital"),
    (re.compile(r"\bpe\b"), "pe", "private equity"),
    (re.compile(r"其他|其它|other|银行|券商|证券|保险|资产管理"), "other", "other investor"),
]  # fmt: skip


def _investor_type(value: Any) -> Normalized:
    text = unicodedata.normalize("NFKC", clean_text(value)).lower()
    for pattern, code, rule in _INVESTOR_TYPES:
        if pattern.search(text):
            return Normalized(code, rule)
    return Normalized(None, "investor type", f"unknown investor type “{clean_text(value)}”")


def _capital_type(value: Any) -> Normalized:
    text = unicodedata.normalize("NFKC", clean_text(value)).lower()
    has_usd = bool(_USD_WORDS.search(text))
    has_rmb = bool(_RMB_WORDS.search(text))
    if "双币" in text or (has_usd and has_rmb):
        return Normalized("dual", "both currencies (双币)")
    if has_usd:
        return Normalized("usd", "US dollar fund")
    if has_rmb:
        return Normalized("rmb", "renminbi fund")
    return Normalized(None, "capital type", f"unknown capital type “{clean_text(value)}”")


_NATIONWIDE = re.compile(
    r"^(?:全国|全国范围|全国各地|中国|中国大陆|不限|不限地域|国内|全国性|nationwide|china)$"
)


def _regions(value: Any) -> tuple[Normalized, bool]:
    """(province codes, nationwide) of an investor's regions."""
    codes: list[str] = []
    unknown: list[str] = []
    nationwide = False
    for item in _split_list(value if isinstance(value, list | tuple) else [value]):
        text = clean_text(item)
        if _NATIONWIDE.match(text.lower()):
            nationwide = True
            continue
        place = parse_place(text)
        if place.value is None:
            unknown.append(text)
        elif place.value.province_code not in codes:
            codes.append(place.value.province_code)
    problem = ("not a region: " + "、".join(unknown)) if unknown else ""
    return Normalized(
        codes, "each region to its province code; 全国 → nationwide", problem
    ), nationwide


#: fields whose result depends only on the raw value and the rules (not on the fetch time, as
#: relative dates do) and whose values repeat across records: "未披露", "A轮", "北京市海淀区".
#: Names, websites, credit codes and texts are mostly one of a kind: not remembered.
MEMO_FIELDS = frozenset(
    {
        "place", "industry", "round", "amount", "valuation", "fund_size", "ticket",
        "share_offered", "tags", "investor_type", "capital_type", "preferred_industries",
        "preferred_rounds",
    }
)  # fmt: skip
#: results remembered per process (cleared when full, and when the rules change)
MEMO_SIZE = 20_000
_memo: dict[tuple, Normalized] = {}
_memo_rules: list[Any] = [None]


def _memo_for(rules: NormalizationRules) -> dict[tuple, Normalized]:
    """The remembered results for ``rules`` (an edited rule set loads as a new object)."""
    if _memo_rules[0] is not rules:
        _memo.clear()
        _memo_rules[0] = rules  # held, so its id cannot be taken by a newer rule set
    return _memo


def memo_key(name: str, value: Any) -> tuple | None:
    """The memo key of a raw value of a :data:`MEMO_FIELDS` field (text or a list of texts)."""
    if name not in MEMO_FIELDS:
        return None
    if type(value) is str:
        return (name, value)
    if type(value) is list and all(type(item) is str for item in value):
        return (name, "\x00list", *value)
    return None


def normalize_record(
    item_type: str, data: dict, rules: NormalizationRules, reference: datetime
) -> NormalizedRecord:
    """Normalize a raw record of ``item_type`` ("project" or "investor") against ``rules``.

    ``reference`` is the time relative dates count back from (the fetch time of the item).
    """
    lookup = _LOOKUPS["investor" if item_type == "investor" else "project"]
    record = NormalizedRecord()
    found: dict[str, Any] = {}
    found_rank: dict[str, int] = {}
    found_key: dict[str, str] = {}
    place_parts: list[tuple[int, Any]] = []
    for raw_key, value in (data or {}).items():
        key = _key_of(raw_key)
        entry = lookup.get(key)
        if entry is None:
            if key not in _UNUSED and not str(raw_key).startswith("_"):
                record.ignored.append(str(raw_key))
            continue
        if _is_empty(value):
            continue
        schema_field, rank = entry
        if schema_field == "place":
            place_parts.append((rank, value))
        elif rank < found_rank.get(schema_field, 1_000):
            found[schema_field], found_rank[schema_field], found_key[schema_field] = (
                value,
                rank,
                key,
            )
    if place_parts:
        parts: list[str] = []
        for _order, value in sorted(place_parts, key=lambda part: part[0]):
            text = clean_text(value)
            if text and text not in parts:
                parts.append(text)
        found["place"] = " ".join(parts)

    fields = record.fields
    memo = _memo_for(rules)
    for name, value in found.items():
        record.raw[name] = value
        key = memo_key(name, value)
        if key is not None:
            result = memo.get(key)
            if result is not None:
                fields[name] = result
                continue
        if name in {"name", "full_name", "use_of_funds", "summary", "description"}:
            result = _text(value)
        elif name == "credit_code":
            result = normalize_credit_code(value)
        elif name == "place":
            result = parse_place(value)
        elif name == "industry":
            result = parse_industry(clean_text(value), rules)
        elif name == "round":
            result = parse_round(clean_text(value), rules)
        elif name in {"amount", "valuation", "fund_size", "ticket"}:
            result = parse_amount(clean_text(value), rules)
        elif name == "share_offered":
            result = _share(value)
        elif name == "website":
            result = _website(value)
        elif name == "founded_on":
            result = parse_date(
                value if not isinstance(value, str) else clean_text(value), reference
            )
        elif name == "published_at":
            result = parse_datetime(value if not isinstance(value, str) else clean_text(value),
                                    reference)  # fmt: skip
        elif name == "tags":
            result = _tags(value)
        elif name in {"investor_names", "aliases"}:
            result = _names(value, drop_undisclosed=True)
        elif name == "investor_type":
            result = _investor_type(value)
        elif name == "capital_type":
            result = _capital_type(value)
        elif name == "preferred_industries":
            result = industry_codes(value, rules)
        elif name == "preferred_rounds":
            result = parse_stages(value, rules)
        elif name == "preferred_regions":
            result, nationwide = _regions(value)
            fields["nationwide"] = Normalized(nationwide, "全国/不限 among the regions")
        else:  # pragma: no cover - every mapped field has a rule above
            result = _text(value)
        fields[name] = result
        if key is not None:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[key] = result

    # A title is only a fallback for the name ("云图智能完成A轮融资" → 云图智能).
    if found_key.get("name") in {"title", "标题"} and fields["name"].value:
        name = _TITLE_NEWS.split(fields["name"].value)[0]
        name = name.strip(" ，,:：|-")
        fields["name"] = (
            Normalized(name, "name taken from the title")
            if name
            else Normalized(None, "title", "no name in the title")
        )

    for name in ("full_name", "name"):
        given = fields.get(name)
        if "place" in fields or given is None or not given.value:
            continue
        inferred = place_of_company_name(given.value)
        if inferred.value is not None:
            fields["place"] = inferred
            record.raw["place"] = record.raw[name]

    if item_type == "investor" and "capital_type" not in fields:
        currencies = {
            fields[name].value.currency
            for name in ("fund_size", "ticket")
            if name in fields and fields[name].value is not None and fields[name].value.currency
        }
        if currencies:
            if "CNY" in currencies and len(currencies) > 1:
                code = "dual"
            elif currencies == {"CNY"}:
                code = "rmb"
            else:
                code = "usd"
            fields["capital_type"] = Normalized(code, "from the currencies of fund size and ticket")
    return record
