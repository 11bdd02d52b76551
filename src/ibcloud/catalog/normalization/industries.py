"""Industries to GB/T 4754-2017: section letter (门类) and two-digit division (大类).

The taxonomy is ``catalog/data/industries.csv`` (20 sections, 97 divisions; the same list as the
``industry`` dictionary). A value is read, in order:

1. as a code: "I65", "I 65", "65", "6510" (a group or class code gives its division), "I";
2. as an official name: "软件和信息技术服务业" → 65, "制造业" → section C only;
3. by the editable keyword mapping (``IndustryKeyword``): the longest keyword found in the value
   wins, then the higher priority, then the later position (listings go from broad to
   narrow: "医疗健康-医疗器械" → 35); keywords in Latin letters ("AI", "SaaS") match whole
   words only, ignoring case;
4. by an official division name found inside the value ("某某软件和信息技术服务业公司").

The seeded keywords and why each goes where it does are in docs/catalog-normalization.md.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from functools import cache

from ibcloud.catalog.normalization.results import Industry, Normalized
from ibcloud.catalog.normalization.rules import DATA_DIR, NormalizationRules

_CODE = re.compile(r"^(?P<section>[a-t])?\s*(?P<digits>\d{2,4})?(?:\s+|$|(?=[^\x00-\x7f]))", re.I)
_SPACES = re.compile(r"\s+")


@cache
def taxonomy() -> tuple[dict[str, str], dict[str, tuple[str, str]], dict[str, str]]:
    """(section → name, division → (section, name), official name → code)."""
    sections: dict[str, str] = {}
    divisions: dict[str, tuple[str, str]] = {}
    names: dict[str, str] = {}
    with (DATA_DIR / "industries.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["division"]:
                divisions[row["division"]] = (row["section"], row["name"])
                # 教育 and 房地产业 name a section and its only division: the division wins
                names[row["name"]] = row["division"]
            else:
                sections[row["section"]] = row["name"]
                names.setdefault(row["name"], row["section"])
    return sections, divisions, names


def section_of(division: str) -> str:
    """The section letter of a two-digit division ("" when unknown)."""
    return taxonomy()[1].get(division, ("", ""))[0]


def industry_label(code: str) -> str:
    """The code with its name: "I65 软件和信息技术服务业", or "I 信息传输、…" for a section."""
    sections, divisions, _names = taxonomy()
    if code in divisions:
        section, name = divisions[code]
        return f"{section}{code} {name}"
    return f"{code} {sections.get(code, '')}".strip()


def _from_code(text: str) -> Normalized | None:
    sections, divisions, _names = taxonomy()
    match = _CODE.match(text)
    if not match or not (match["section"] or match["digits"]):
        return None
    section = (match["section"] or "").upper()
    digits = match["digits"] or ""
    if digits:
        division = digits[:2]
        if division not in divisions:
            return None
        expected = divisions[division][0]
        if section and section != expected:
            return Normalized(None, "code", f"division {division} is not in section {section}")
        return Normalized(Industry(expected, division), "GB/T 4754 code")
    if section in sections and len(text.strip()) == 1:
        return Normalized(Industry(section, ""), "GB/T 4754 section code")
    return None


def _keyword_match(text: str, rules: NormalizationRules) -> tuple[str, str] | None:
    """(keyword, division) of the best keyword in ``text``."""
    index = rules.keyword_index
    lowered = text.lower()
    best: tuple[int, int, int, str] | None = None
    best_key = ""
    for length in rules.keyword_lengths:
        if best is not None and length < -best[0]:
            break
        for start in range(0, len(lowered) - length + 1):
            piece = lowered[start : start + length]
            rule = index.get(piece)
            if rule is None:
                continue
            if piece.isascii() and (
                (start > 0 and lowered[start - 1].isascii() and lowered[start - 1].isalnum())
                or (
                    start + length < len(lowered)
                    and lowered[start + length].isascii()
                    and lowered[start + length].isalnum()
                )
            ):
                continue  # "AI" inside "MAIL" is not a keyword
            # Listings write broad to narrow ("医疗健康-医疗器械"): on a tie the later one wins.
            candidate = (-length, -rule.priority, -start, rule.division)
            if best is None or candidate < best:
                best, best_key = candidate, rule.keyword
    if best is None:
        return None
    return best_key, best[3]


def parse_industry(value: object, rules: NormalizationRules) -> Normalized:
    """Section and division of an industry value ("医疗器械", "I65", "软件和信息技术服务业")."""
    raw = "" if value is None else str(value)
    return rules.remembered("industry", raw, lambda raw: _parse_industry(raw, rules))


def _parse_industry(raw: str, rules: NormalizationRules) -> Normalized:
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", raw)).strip()
    if not text:
        return Normalized(None, "empty", "no industry given")
    sections, divisions, names = taxonomy()
    by_code = _from_code(text)
    if by_code is not None:
        return by_code
    official = names.get(text.replace(" ", ""))
    if official:
        if official in divisions:
            return Normalized(Industry(divisions[official][0], official), "official division name")
        return Normalized(Industry(official, ""), "official section name")
    found = _keyword_match(text, rules)
    if found:
        keyword, division = found
        section = section_of(division)
        if section:
            return Normalized(Industry(section, division), f"keyword “{keyword}” → {division}")
    compact = text.replace(" ", "")
    for name, code in sorted(names.items(), key=lambda item: -len(item[0])):
        if code in divisions and (name in compact or name.removesuffix("业") in compact):
            return Normalized(Industry(divisions[code][0], code), "official division name inside")
    return Normalized(None, "no rule", f"no industry keyword in “{raw}”")


def industry_codes(values: list[str] | str, rules: NormalizationRules) -> Normalized:
    """Division codes (or section letters when only a section is known) of a list of values."""
    from ibcloud.catalog.normalization.rounds import _split_list

    codes: list[str] = []
    unknown: list[str] = []
    for item in _split_list(values):
        result = parse_industry(item, rules)
        if result.value is None:
            unknown.append(item)
            continue
        code = result.value.division or result.value.section
        if code not in codes:
            codes.append(code)
    problem = ("no industry for: " + "、".join(unknown)) if unknown else ""
    if not codes:
        return Normalized(None, "industries", problem or "no industry given")
    return Normalized(codes, "each value by the industry rules", problem)
