"""Company names to a matching key, and unified social credit codes (GB 32100-2015).

A Chinese registered name is "行政区划 + 字号 + 行业 + 组织形式" (深圳市 + 云图 + 智能科技 +
有限公司); short names are usually the 字号 plus a word of the trade (云图智能).
:func:`name_key` keeps what tells companies apart, so all three of
"深圳市云图智能科技有限公司", "云图智能科技（深圳）有限公司" and "云图智能" get the key
"云图智能", while "云途智能" and "星河智联" keep their own. Steps:

1. NFKC (full-width → half-width), lowercase.
2. Bracketed parts are removed when they hold a place ("(深圳)", "（北京）", "(中国)") or a legal
   form ("（有限合伙）", "(集团)"); other bracketed text is kept without the brackets.
3. Legal-form suffixes are removed, repeatedly: 股份有限公司, 有限责任公司, 有限公司, 集团, 公司,
   有限合伙, 合伙企业, Co., Ltd., Inc., LLC, Limited, Corp(oration), Company, GmbH, PLC...
4. A leading place is removed (in English names: the pinyin of a province or large city,
   "Shenzhen Goodix" → goodix): a province or city, full or short ("深圳市", "深圳", "广东省"),
   followed by further places written in full ("广东省深圳市南山区"). A county is removed only
   when written in full ("南山区"), since short county names are common trade names (南山).
   The place stays when only generic words would follow it (天津创投, 广州基金, 上海汽车):
   those keys would name no company.
5. Generic trailing words are removed, repeatedly: 科技, 技术, 实业, 发展, 控股,
   technology/technologies/tech, holding(s), group (国际 and 中国 stay: 中芯国际). Words
   that say what the company does (智能, 信息, 网络, 医疗, 生物...) are kept: they are
   often part of the short name.
6. Everything but letters, digits and CJK characters is dropped.

No step may shorten the key below two characters (a name that is only a place or a generic
word keeps it). Near-duplicates beyond this (similar keys, same region) are the dedup's job.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from ibcloud.catalog.normalization.places import division_index
from ibcloud.catalog.normalization.results import CompanyName, Normalized
from ibcloud.catalog.normalization.text import clean_text

_BRACKETS = re.compile(r"[(\[【〔{]([^()\[\]【】〔〕{}]*)[)\]】〕}]")
_LEGAL_BRACKET = {
    "有限合伙", "普通合伙", "特殊普通合伙", "集团", "股份", "有限公司", "控股", "有限", "中国",
    "china", "大陆", "中国大陆", "总部", "总公司", "llc", "lp", "limited", "inc", "ltd",
}  # fmt: skip
_LEGAL_SUFFIXES = re.compile(
    r"(?:集团股份有限公司|集团有限责任公司|集团有限公司|股份有限公司|有限责任公司|有限公司|股份公司|"
    r"集团公司|集团|有限合伙|普通合伙|合伙企业|公司|"
    r"co\.?,?\s*ltd\.?|company\s+limited|co\.?\s*limited|limited|ltd\.?|incorporated|inc\.?|"
    r"l\.?l\.?c\.?|corporation|corp\.?|company|co\.?|gmbh|plc|pte\.?|s\.?a\.?|ag|l\.?p\.?)$"
)
_GENERIC = re.compile(
    r"(?:科技|技术|实业|发展|控股|technologies|technology|tech|holdings|holding|group)$"
)
# Words that alone do not name a company: a leading place is kept when only these follow it
# ("天津创投", "广州基金", "上海汽车", "黄山旅游发展" keep their place).
_GENERIC_ALL = re.compile(
    r"^(?:科技|技术|实业|发展|控股|集团|有限|公司|基金|创投|资本|投资|创业|股权|管理|资产|产业|引导|"
    r"天使|风投|银行|证券|保险|信托|金融|国资|城投|建设|建筑|交通|物流|传媒|文化|旅游|农业|食品|"
    r"机械|钢铁|水务|燃气|地产|置业|电力|电气|电子|医药|药业|化工|能源|汽车|贸易|咨询|服务|企业|"
    r"中心|国际|中国|信息|网络|智能|医疗|教育|technologies|technology|tech|holdings|holding|"
    r"group|capital|ventures?|investments?|partners|fund)*$"
)
# Pinyin of provinces and large cities that lead English registered names ("Shenzhen Goodix").
_PINYIN_PLACES = re.compile(
    r"^(?:beijing|shanghai|tianjin|chongqing|guangdong|shenzhen|guangzhou|zhejiang|hangzhou|"
    r"ningbo|jiangsu|suzhou|nanjing|wuxi|changzhou|sichuan|chengdu|hubei|wuhan|shaanxi|xian|"
    r"xi'an|anhui|hefei|shandong|jinan|qingdao|fujian|xiamen|fuzhou|hunan|changsha|henan|"
    r"zhengzhou|hebei|liaoning|dalian|shenyang|jilin|changchun|heilongjiang|harbin|jiangxi|"
    r"nanchang|guangxi|nanning|yunnan|kunming|guizhou|guiyang|hainan|haikou|dongguan|zhuhai|"
    r"foshan|hong\s*kong|macau|taiwan)\s+"
)
_NOT_WORD = re.compile(r"[^0-9a-z\u3400-\u9fff]+")
_PUNCT_END = re.compile(r"[\s,.;:·\-_&/]+$")


@cache
def _place_names() -> tuple[frozenset[str], frozenset[str], frozenset[str], int]:
    """(all place names, province/city names full or short, full county names, max length)."""
    index = division_index()
    every: set[str] = set()
    leading: set[str] = set()
    full_areas: set[str] = set()
    for name, entries in index.by_name.items():
        every.add(name)
        if any(d.level in {"province", "city"} for d in entries):
            leading.add(name)
        if any(d.level == "area" and d.name == name for d in entries):
            full_areas.add(name)
    return frozenset(every), frozenset(leading), frozenset(full_areas), index.max_name_length


def _is_full_place(name: str) -> bool:
    index = division_index()
    return any(d.name == name for d in index.by_name.get(name, ()))


def _strip_brackets(text: str) -> str:
    every, _leading, _areas, _length = _place_names()

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1).strip()
        compact = _NOT_WORD.sub("", inner)
        if not compact or compact in _LEGAL_BRACKET or compact in every:
            return ""
        return inner

    previous = None
    while previous != text:
        previous, text = text, _BRACKETS.sub(replace, text)
    return text


def _strip_legal_forms(text: str) -> str:
    while True:
        stripped = _PUNCT_END.sub("", text)
        stripped = _LEGAL_SUFFIXES.sub("", stripped)
        stripped = _PUNCT_END.sub("", stripped)
        if stripped == text or len(_NOT_WORD.sub("", stripped)) < 2:
            return text
        text = stripped


def _strip_leading_place(text: str) -> str:
    _every, leading, full_areas, max_length = _place_names()
    first = True
    while True:
        for length in range(min(max_length, len(text) - 2), 1, -1):
            piece = text[:length]
            allowed = (piece in leading and (first or _is_full_place(piece))) or piece in full_areas
            if allowed and not _GENERIC_ALL.match(text[length:]):
                text = text[length:]
                break
        else:
            return text
        first = False


def _strip_generic(text: str) -> str:
    while True:
        stripped = _GENERIC.sub("", text).rstrip()
        if stripped == text or len(_NOT_WORD.sub("", stripped)) < 2:
            return text
        text = stripped


def name_key(name: str) -> str:
    """The company-name matching key (see the module docstring); "" for an empty name."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", str(name)).lower().strip()
    text = _strip_brackets(text)
    text = _strip_legal_forms(text)
    if text.isascii():
        stripped = _PINYIN_PLACES.sub("", text)
        text = stripped if len(_NOT_WORD.sub("", stripped)) >= 2 else text
    compact = _NOT_WORD.sub("", text) if not text.isascii() else text
    compact = _strip_leading_place(compact)
    compact = _strip_legal_forms(compact)
    compact = _strip_generic(compact)
    return _NOT_WORD.sub("", compact)


def normalize_company_name(value: object) -> Normalized:
    """The cleaned display name and its matching key."""
    display = clean_text(value)
    if not display:
        return Normalized(None, "empty", "no name given")
    key = name_key(display)
    if not key:
        return Normalized(None, "name key", f"“{display}” has no letters or characters")
    return Normalized(
        CompanyName(display, key), "name key: place, legal form, generic words removed"
    )


_CODE_NOISE = re.compile(r"[\s\-]")
CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    """The 18th (check) character of a unified social credit code (GB 32100-2015)."""
    total = sum(
        CREDIT_CODE_CHARS.index(char) * weight
        for char, weight in zip(first17, _CREDIT_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def normalize_credit_code(value: object) -> Normalized:
    """An 18-character unified social credit code, upper case, with a valid check character."""
    text = unicodedata.normalize("NFKC", "" if value is None else str(value))
    code = _CODE_NOISE.sub("", text).upper()
    if not code:
        return Normalized(None, "empty", "no credit code given")
    if len(code) != 18:
        return Normalized(None, "GB 32100-2015", f"“{text.strip()}” is not 18 characters long")
    if any(char not in CREDIT_CODE_CHARS for char in code):
        return Normalized(
            None, "GB 32100-2015", f"“{code}” has characters a credit code never uses"
        )
    if credit_code_check_char(code[:17]) != code[17]:
        return Normalized(None, "GB 32100-2015", f"“{code}” fails the check character")
    return Normalized(code, "GB 32100-2015 check character valid")
