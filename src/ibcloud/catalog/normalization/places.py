"""Places to province and city with administrative division codes (GB/T 2260, 6 digits).

Reference data: ``catalog/data/provinces.csv``, ``cities.csv``, ``areas.csv`` (2023 statistical
division codes, modood/Administrative-divisions-of-China, WTFPL) plus 香港 810000, 澳门 820000 and
台湾 710000. Codes are padded to 6 digits (广东省 440000, 深圳市 440300). The four
municipalities have one city named like the province (北京市 110100); Chongqing's counties
belong to 重庆市 500100. County-level cities directly under a province (仙桃市, 济源市) are
cities themselves (their own code).

Reading a value: names are found left to right, longest first; each name may be written in full
("广东省", "深圳市", "南山区") or short (without 省/市/自治区/地区/盟/区/县/新区, autonomous
prefectures without the ethnic part: 延边). Separators ("·", "-", "/", spaces) do not matter.

- The first province named sets the province; a city or county sets the city (and the province
  when none was named); a county ("南山区", "昆山市", "苏州工业园区") resolves to its city.
- A name shared by several places prefers the one in the province (or city) already named; with
  no such context a province beats a city and a city beats a county; a county name found in
  several cities with no context gives the province when all share one, else it is ambiguous.
- A value naming only a foreign place or "海外/国外/境外" is outside the division list: no value,
  with a problem.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

from ibcloud.catalog.normalization.results import Normalized, Place
from ibcloud.catalog.normalization.rules import DATA_DIR

EXTRA_PROVINCES = [("71", "台湾省"), ("81", "香港特别行政区"), ("82", "澳门特别行政区")]
MUNICIPALITIES = {"11", "12", "31", "50"}
_ETHNIC = tuple(
    (
        "朝鲜 土家 苗 侗 布依 彝 白族 傣 景颇 傈僳 藏 羌 回族 "
        "哈萨克 蒙古 柯尔克孜 壮 哈尼 纳西 瑶 独龙 怒族 普米 土族 "
        "撒拉 维吾尔 锡伯 满族 畲 仡佬 水族 黎 达斡尔 鄂温克 仫佬 "
        "毛南 京族 各族 保安 东乡 裕固 鄂伦春 拉祜 佤 布朗 阿昌 "
        "德昂 基诺 门巴 珞巴 塔吉克 俄罗斯 乌孜别克 塔塔尔 高山"
    ).split()
)
_SEPARATORS = re.compile(r"[\s·•・\-—–_/|,，、;；:：()（）\[\]【】>]+")
_COUNTRY_PREFIX = re.compile(r"^(?:中华人民共和国|中国大陆|中国|china)", re.IGNORECASE)
FOREIGN = tuple(
    (
        "海外|国外|境外|美国|日本|韩国|英国|德国|法国|新加坡|加拿大|"
        "澳大利亚|以色列|印度|欧洲|美洲|非洲|东南亚|硅谷|瑞士|瑞典|"
        "荷兰|意大利|西班牙|芬兰|丹麦|挪威|俄罗斯|巴西|越南|泰国|"
        "马来西亚|印尼|印度尼西亚|菲律宾|新西兰|爱尔兰|比利时|奥地利|"
        "阿联酋|迪拜|开曼|usa|united states|uk|"
        "japan|singapore|germany|france|"
        "canada|australia|israel|india|"
        "overseas"
    ).split("|")
)


@dataclass(frozen=True)
class Division:
    """One entry of the division list: a province, a city or a county-level area."""

    level: str  # "province", "city", "area"
    code: str  # 6 digits
    name: str
    province_code: str
    city_code: str  # the city it belongs to (itself for a city; "" for a province)


@dataclass(frozen=True)
class DivisionIndex:
    """Divisions by code and the names (full and short) that find them."""

    by_code: dict[str, Division]
    by_name: dict[str, tuple[Division, ...]]
    max_name_length: int


def _short_forms(name: str, level: str) -> list[str]:
    """Short spellings of a division name (never shorter than two characters)."""
    forms: list[str] = []
    if level == "province":
        for suffix in (
            "特别行政区",
            "维吾尔自治区",
            "壮族自治区",
            "回族自治区",
            "自治区",
            "省",
            "市",
        ):
            if name.endswith(suffix):
                forms.append(name[: -len(suffix)])
                break
    elif "自治" in name:
        cut = min((name.find(e, 2) for e in _ETHNIC if name.find(e, 2) >= 2), default=-1)
        if cut >= 2:
            forms.append(name[:cut])
    else:
        suffixes = (
            ("市", "地区", "盟")
            if level == "city"
            else ("新区", "林区", "特区", "区", "县", "市", "旗")
        )
        for suffix in suffixes:
            if name.endswith(suffix):
                forms.append(name[: -len(suffix)])
                break
    return [form for form in forms if len(form) >= 2]


@cache
def division_index() -> DivisionIndex:
    """The division list with name lookups (loaded once per process)."""
    by_code: dict[str, Division] = {}
    province_names: dict[str, str] = {}

    def read(name: str) -> list[dict[str, str]]:
        with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    for row in read("provinces.csv"):
        province_names[row["code"]] = row["name"]
    for code, name in EXTRA_PROVINCES:
        province_names[code] = name
    for code, name in province_names.items():
        by_code[code + "0000"] = Division("province", code + "0000", name, code + "0000", "")
    for row in read("cities.csv"):
        code, province = row["code"], row["provinceCode"]
        full = code + "00"
        if province in MUNICIPALITIES:
            if code.endswith("01"):  # 市辖区: the municipality as its one city
                by_code[full] = Division(
                    "city", full, province_names[province], province + "0000", full
                )
            continue
        if row["name"] in {"省直辖县级行政区划", "自治区直辖县级行政区划"}:
            continue
        by_code[full] = Division("city", full, row["name"], province + "0000", full)
    for row in read("areas.csv"):
        code, city, province = row["code"], row["cityCode"], row["provinceCode"]
        if code in by_code:  # a city without districts (东莞市 441900) lists itself as its area
            continue
        if province in MUNICIPALITIES:
            city_code = province + "0100"
        elif city.endswith("90"):  # county-level city directly under the province
            by_code[code] = Division("city", code, row["name"], province + "0000", code)
            continue
        else:
            city_code = city + "00"
        by_code[code] = Division("area", code, row["name"], province + "0000", city_code)

    by_name: dict[str, list[Division]] = {}
    for division in by_code.values():
        names = [division.name, *_short_forms(division.name, division.level)]
        for name in dict.fromkeys(names):
            by_name.setdefault(name, []).append(division)
    rank = {"province": 0, "city": 1, "area": 2}
    frozen = {
        name: tuple(sorted(entries, key=lambda d: (rank[d.level], d.code)))
        for name, entries in by_name.items()
    }
    return DivisionIndex(by_code, frozen, max(len(name) for name in frozen))


def _tokens(text: str, index: DivisionIndex) -> list[tuple[str, tuple[Division, ...]]]:
    """Known names in ``text``, left to right, longest match first; unknown characters skipped."""
    found: list[tuple[str, tuple[Division, ...]]] = []
    position = 0
    while position < len(text):
        for length in range(min(index.max_name_length, len(text) - position), 1, -1):
            piece = text[position : position + length]
            entries = index.by_name.get(piece)
            if entries:
                found.append((piece, entries))
                position += length
                break
        else:
            position += 1
    return found


def _place(index: DivisionIndex, province_code: str, city_code: str = "") -> Place:
    province = index.by_code[province_code]
    if not city_code and province_code[:2] in MUNICIPALITIES:
        city_code = province_code[:2] + "0100"
    city = index.by_code.get(city_code) if city_code else None
    return Place(province_code, province.name, city.code if city else "", city.name if city else "")


def parse_place(value: object) -> Normalized:
    """Province and city of a place name ("广东·深圳", "深圳市南山区", "浙江杭州", "上海浦东")."""
    return _parse_place("" if value is None else str(value))


@lru_cache(maxsize=8192)
def _parse_place(raw: str) -> Normalized:
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        return Normalized(None, "empty", "no place given")
    index = division_index()
    compact = _SEPARATORS.sub("", text)
    compact = _COUNTRY_PREFIX.sub("", compact)
    tokens = _tokens(compact, index)
    if not tokens:
        lowered = text.lower()
        if any(word in lowered for word in FOREIGN):
            return Normalized(None, "outside China", f"“{raw}” is outside the division list")
        return Normalized(None, "no rule", f"unknown place “{raw}”")

    province_code = ""
    city_code = ""
    ambiguous: list[str] = []
    for name, entries in tokens:
        if not province_code:
            provinces = [d for d in entries if d.level == "province"]
            if provinces:
                province_code = provinces[0].code
                continue
        candidates = [
            d
            for d in entries
            if d.level != "province"
            and (not province_code or d.province_code == province_code)
            and (not city_code or d.city_code == city_code or d.level == "city")
        ]
        if not candidates:
            continue
        cities = [d for d in candidates if d.level == "city"]
        if city_code and not [d for d in candidates if d.level == "area"]:
            continue  # a second city name adds nothing
        if not city_code and cities:
            if len({d.code for d in cities}) == 1:
                province_code, city_code = cities[0].province_code, cities[0].code
                continue
            ambiguous.append(name)
            continue
        areas = [d for d in candidates if d.level == "area"]
        area_cities = {d.city_code for d in areas}
        if not city_code and len(area_cities) == 1:
            province_code, city_code = areas[0].province_code, areas[0].city_code
        elif not province_code and len({d.province_code for d in areas}) == 1:
            province_code = areas[0].province_code
        elif not city_code and len(area_cities) > 1:
            ambiguous.append(name)
    if not province_code:
        return Normalized(None, "ambiguous", f"“{'、'.join(ambiguous)}” names several places")
    place = _place(index, province_code, city_code)
    rule = "division list: province and city" if place.city_code else "division list: province"
    problem = f"“{'、'.join(ambiguous)}” names several places" if ambiguous else ""
    if problem and place.city_code:
        problem = ""
    return Normalized(place, rule, problem)


#: a registered name's place comes first and a trade name (字号) of two characters or more follows
_MIN_REST = 2
#: a place in brackets after the trade name: 鼎晖股权投资管理（天津）有限公司
_BRACKETED_PLACE = re.compile(r"[（(]([^（()）]{2,12})[)）]")


def place_of_company_name(value: object) -> Normalized:
    """The place a company name begins with, for records that give none.

    A registered name (工商全称) is place + trade name + trade + legal form (苏州高禾创业投资管理
    有限公司); short names that begin with a place keep it (青岛啤酒). The law keeps place names
    out of trade names, so a leading place is where the company is registered.

    Only a leading place counts: a province or prefecture-level city, full or short (苏州,
    广东省深圳市), then further full names (深圳市南山区). A county-level city counts only in full
    (东方市, not the 东方 of 东方证券). Else such a place in brackets (鼎晖股权投资管理（天津）
    有限公司, 腾讯科技(深圳)有限公司). A name with neither (national registrations:
    中国国际金融股份有限公司, or none at all) gives no value.
    """
    text = unicodedata.normalize("NFKC", "" if value is None else str(value)).strip()
    index = division_index()
    pieces: list[str] = []
    position = 0
    while True:
        for length in range(min(index.max_name_length, len(text) - position - _MIN_REST), 1, -1):
            piece = text[position : position + length]
            entries = index.by_name.get(piece, ())
            if _full_name(piece, entries) or (not pieces and _leading_name(entries)):
                pieces.append(piece)
                position += length
                break
        else:
            break
    if not pieces:
        # 字号（地名）+ trade + legal form: the other form the registration rules allow
        bracketed = _BRACKETED_PLACE.search(text)
        inner = bracketed.group(1) if bracketed else ""
        entries = index.by_name.get(inner, ())
        if not (_full_name(inner, entries) or _leading_name(entries)):
            return Normalized(None, "company name", "no place at the start of the name")
        pieces.append(bracketed.group(1))
    found = parse_place(" ".join(pieces))
    if found.value is None:
        return found
    return Normalized(found.value, "the place named in the company name", found.problem)


def _full_name(name: str, entries: tuple[Division, ...]) -> bool:
    return any(d.name == name for d in entries)


def _leading_name(entries: tuple[Division, ...]) -> bool:
    """A province or prefecture-level city (which short names may stand for)."""
    return any(
        d.level == "province" or (d.level == "city" and d.code.endswith("00")) for d in entries
    )
