"""What the matching criteria read: plain feature dicts of projects and investors, and the numpy
"frames" the engine scores whole blocks with.

Two forms of the same data, built by the same functions so the scalar and the vectorized
criteria agree:

* a *feature dict* per record (:func:`project_features`, :func:`investor_features`): plain
  values, what ``Criterion.evaluate`` and the explanations read;
* a :class:`ProjectFrame` / :class:`InvestorFrame` over many records: arrays indexed by row,
  what ``Criterion.matrix`` reads for a block of projects × candidate investors.

Codes (industries, rounds, regions) are turned into column numbers through the investor frame's
vocabularies: a project code no investor mentions gets ``-1``, which no investor column holds,
so it scores exactly as "not preferred" — the same answer the scalar form gives.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from scipy import sparse

from ibcloud.catalog.normalization.industries import taxonomy
from ibcloud.catalog.segmentation import segment

#: financing stages in order; a neighbour on this ladder is an "adjacent" round. Placements,
#: M&A, strategic and undisclosed rounds are not stages and have no neighbours.
STAGE_LADDER = ("seed", "angel", "pre_a", "a", "a_plus", "b", "c", "d", "e_plus", "pre_ipo", "ipo")
_LADDER_POSITION = {code: n for n, code in enumerate(STAGE_LADDER)}

#: words that say nothing about a business and would make every text look alike
STOP_WORDS = frozenset(
    """
    公司 有限公司 有限 股份 集团 科技 技术 成立 成立于 专注 专注于 领域 核心 产品 主要 用于
    本轮 融资 客户 覆盖 重点 关注 等 的 和 与 及 项目 企业 已 累计 投资 家 年 于 为 在 是 了
    总部 位于 管理 基金 资本 创投 服务 业 行业
    """.split()
)

#: hashed text dimensions; HashingVectorizer keeps no vocabulary, so one project scored alone
#: gets exactly the vector it gets in a full run
TEXT_FEATURES = 2**18

FIELD_TYPES = ("text", "number", "date", "bool")

#: capital types and currencies as small integers in frames (0: unknown)
CAPITAL = {"rmb": 1, "usd": 2, "dual": 3}


@dataclass(frozen=True)
class FieldSpec:
    """A model field the ``field`` criterion may compare (a fixed allowlist, never getattr on
    arbitrary names)."""

    entity: str  # "project" or "investor"
    name: str
    type: str  # one of FIELD_TYPES
    label: str


#: the allowlist of the ``field`` criterion: entity → field name → spec
FIELDS: dict[str, dict[str, FieldSpec]] = {
    "project": {
        name: FieldSpec("project", name, kind, label)
        for name, kind, label in [
            ("industry_section", "text", "industry section"),
            ("industry", "text", "industry"),
            ("round", "text", "round"),
            ("amount_low", "number", "amount from (CNY)"),
            ("amount_high", "number", "amount up to (CNY)"),
            ("amount_currency", "text", "original currency"),
            ("valuation", "number", "valuation (CNY)"),
            ("share_offered", "number", "share offered (%)"),
            ("province_code", "text", "province code"),
            ("city_code", "text", "city code"),
            ("founded_on", "date", "founded on"),
            ("name", "text", "short name"),
            ("full_name", "text", "registered name"),
            ("summary", "text", "business summary"),
            ("use_of_funds", "text", "use of funds"),
        ]
    },
    "investor": {
        name: FieldSpec("investor", name, kind, label)
        for name, kind, label in [
            ("investor_type", "text", "type"),
            ("capital_type", "text", "capital type"),
            ("fund_size_low", "number", "fund size from (CNY)"),
            ("fund_size_high", "number", "fund size up to (CNY)"),
            ("ticket_min", "number", "ticket from (CNY)"),
            ("ticket_max", "number", "ticket up to (CNY)"),
            ("nationwide", "bool", "invests nationwide"),
            ("province_code", "text", "province code"),
            ("city_code", "text", "city code"),
            ("last_active_on", "date", "last active"),
            ("founded_on", "date", "founded on"),
            ("name", "text", "short name"),
            ("full_name", "text", "registered name"),
            ("description", "text", "description"),
        ]
    },
}

#: Project columns every run loads (plus the ``field`` criterion's fields)
PROJECT_COLUMNS = (
    "id",
    "industry_section",
    "industry",
    "round",
    "province_code",
    "city_code",
    "amount_low",
    "amount_high",
    "amount_currency",
    "search_text",
    "summary",
)
#: Investor columns every run loads (plus the ``field`` criterion's fields)
INVESTOR_COLUMNS = (
    "id",
    "preferred_industries",
    "preferred_rounds",
    "preferred_regions",
    "nationwide",
    "ticket_min",
    "ticket_max",
    "capital_type",
    "last_active_on",
    "revealed_preferences",
    "description",
)


# --- Codes ----------------------------------------------------------------------------------------


@cache
def division_sections() -> dict[str, str]:
    """Division code → section letter (GB/T 4754, from the catalog's taxonomy)."""
    return {code: section for code, (section, _name) in taxonomy()[1].items()}


def section_of(code: str) -> str:
    """The section of an industry code: itself for a section letter, its parent for a division."""
    if not code:
        return ""
    if code.isalpha():
        return code.upper()
    return division_sections().get(code, "")


def industry_name(code: str) -> str:
    """The official name of a section or division ("" when unknown)."""
    sections, divisions, _names = taxonomy()
    if code in divisions:
        return divisions[code][1]
    return sections.get(code, "")


def adjacent_rounds(code: str) -> tuple[str, ...]:
    """The stages next to ``code`` on the ladder (none for non-stage rounds)."""
    position = _LADDER_POSITION.get(code)
    if position is None:
        return ()
    return tuple(
        STAGE_LADDER[n] for n in (position - 1, position + 1) if 0 <= n < len(STAGE_LADDER)
    )


def province_of(code: str) -> str:
    """The province code of a 6-digit division code ("440300" → "440000")."""
    return code[:2] + "0000" if code and len(code) == 6 else ""


def city_of(code: str) -> str:
    """The city a 6-digit code names or lies in ("" for a province code)."""
    if not code or len(code) != 6 or code.endswith("0000"):
        return ""
    return code if code.endswith("00") else code[:4] + "00"


def currency_kind(currency: str) -> str:
    """ "rmb" for yuan, "usd" for any foreign currency (raised by a USD fund), "" unknown."""
    currency = (currency or "").upper()
    if not currency:
        return ""
    return "rmb" if currency in ("CNY", "RMB") else "usd"


# --- Text -----------------------------------------------------------------------------------------


def _analyzer(text: str) -> list[str]:
    return text.split()


@cache
def vectorizer():
    """The stateless text vectorizer (binary term presence, L2-normalized: dot = cosine)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        n_features=TEXT_FEATURES,
        analyzer=_analyzer,
        alternate_sign=False,
        binary=True,
        norm="l2",
        dtype=np.float64,
    )


def content_words(words: list[str] | tuple[str, ...]) -> str:
    """Words that can carry meaning: two characters or more, not a stop word, first occurrence
    only, space-joined."""
    return " ".join(dict.fromkeys(w for w in words if len(w) >= 2 and w not in STOP_WORDS))


def project_text(search_text: str, summary: str) -> str:
    """A project's words: its segmented ``search_text`` (names, summary, tags), else the summary
    cut now."""
    words = search_text.split() if search_text else segment(summary or "")
    return content_words(words)


def investor_focus_text(description: str, industries: list[str]) -> str:
    """An investor's focus words: its description and the names of its preferred industries."""
    words = segment(description or "")
    for code in industries or []:
        words.extend(segment(industry_name(code)))
    return content_words(words)


_COLUMNS: dict[str, int] = {}


def _column(word: str) -> int:
    """The hashed column of a word, as HashingVectorizer computes it (signed MurmurHash3,
    absolute value modulo the width), remembered: words recur across thousands of texts."""
    column = _COLUMNS.get(word)
    if column is None:
        from sklearn.utils import murmurhash3_32

        column = abs(murmurhash3_32(word, seed=0)) % TEXT_FEATURES
        if len(_COLUMNS) < 2_000_000:
            _COLUMNS[word] = column
    return column


def text_vectors(texts: list[str]) -> sparse.csr_matrix:
    """Rows of L2-normalized binary hashed term vectors: what ``vectorizer().transform`` gives,
    built directly (several times faster on 100k texts)."""
    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    known = _COLUMNS
    for text in texts:
        columns = sorted(
            {
                column if (column := known.get(word)) is not None else _column(word)
                for word in text.split()
            }
        )
        if columns:
            weight = 1.0 / math.sqrt(len(columns))
            indices.extend(columns)
            data.extend([weight] * len(columns))
        indptr.append(len(indices))
    return sparse.csr_matrix(
        (np.array(data, dtype=np.float64), np.array(indices, dtype=np.int32), np.array(indptr)),
        shape=(len(texts), TEXT_FEATURES),
    )


def text_similarity(a: str, b: str) -> float:
    """Cosine similarity of two word texts (0 when either is empty)."""
    if not a or not b:
        return 0.0
    vectors = text_vectors([a, b])
    return float(vectors[0].multiply(vectors[1]).sum())


# --- Feature dicts --------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _codes(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(code) for code in value if code not in (None, "")]


def project_features(row: dict[str, Any], extra_fields: tuple[str, ...] = ()) -> dict[str, Any]:
    """A project's matching features from a ``values()`` row (or a dict of model fields)."""
    industry = row.get("industry") or ""
    section = row.get("industry_section") or section_of(industry)
    low, high = _number(row.get("amount_low")), _number(row.get("amount_high"))
    features = {
        "id": row.get("id"),
        "industry": industry,
        "industry_section": section,
        "round": row.get("round") or "",
        "province_code": row.get("province_code") or province_of(row.get("city_code") or ""),
        "city_code": row.get("city_code") or "",
        "amount_low": low if low is not None else high,
        "amount_high": high if high is not None else low,
        "currency": currency_kind(row.get("amount_currency") or ""),
        "text": project_text(row.get("search_text") or "", row.get("summary") or ""),
        "fields": {name: row.get(name) for name in extra_fields},
    }
    return features


def investor_features(
    row: dict[str, Any], extra_fields: tuple[str, ...] = (), focus_text: str | None = None
) -> dict[str, Any]:
    """An investor's matching features from a ``values()`` row (``focus_text`` when already
    computed, else cut from the description and industries now)."""
    industries = _codes(row.get("preferred_industries"))
    regions = _codes(row.get("preferred_regions"))
    revealed = row.get("revealed_preferences")
    last_active = row.get("last_active_on")
    if isinstance(last_active, str):
        try:
            last_active = datetime.date.fromisoformat(last_active)
        except ValueError:
            last_active = None
    if focus_text is None:
        focus_text = investor_focus_text(row.get("description") or "", industries)
    return {
        "id": row.get("id"),
        "industries": industries,
        "rounds": _codes(row.get("preferred_rounds")),
        "regions": regions,
        "nationwide": bool(row.get("nationwide")),
        "ticket_min": _number(row.get("ticket_min")),
        "ticket_max": _number(row.get("ticket_max")),
        "capital_type": row.get("capital_type") or "",
        "last_active_on": last_active if isinstance(last_active, datetime.date) else None,
        "revealed": revealed if isinstance(revealed, dict) else {},
        "text": focus_text,
        "fields": {name: row.get(name) for name in extra_fields},
    }


# --- Frames ---------------------------------------------------------------------------------------


class Vocabulary:
    """Code → column number, fixed once the investor frame is built."""

    def __init__(self, codes: set[str] | list[str]) -> None:
        self.codes = sorted(set(codes))
        self.index = {code: n for n, code in enumerate(self.codes)}

    def __len__(self) -> int:
        return len(self.codes)

    def get(self, code: str) -> int:
        return self.index.get(code, -1)


def _nan(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


@dataclass
class InvestorFrame:
    """Investors as arrays (row ``n`` = ``features[n]``); built once per run."""

    features: list[dict[str, Any]]
    ids: np.ndarray
    industry_codes: Vocabulary  # divisions and sections investors prefer or dealt in
    sections: Vocabulary
    rounds: Vocabulary
    provinces: Vocabulary
    cities: Vocabulary
    has_industries: np.ndarray
    pref_industry: np.ndarray  # bool [m, industry_codes]: the code itself is preferred
    pref_section_touch: np.ndarray  # bool [m, sections]: some preference lies in the section
    has_rounds: np.ndarray
    pref_round: np.ndarray  # bool [m, rounds]
    has_regions: np.ndarray
    nationwide: np.ndarray
    pref_province: np.ndarray  # bool [m, provinces]: the whole province
    pref_city: np.ndarray  # bool [m, cities]
    pref_province_touch: np.ndarray  # bool [m, provinces]: a city of it
    ticket_min: np.ndarray
    ticket_max: np.ndarray
    capital: np.ndarray  # int8: CAPITAL codes
    last_active: np.ndarray  # float ordinal days, NaN unknown
    deal_count: np.ndarray
    revealed_industry: np.ndarray  # float [m, industry_codes]: deals per code / deal count
    revealed_section: np.ndarray  # float [m, sections]: deals in the section / deal count
    revealed_round: np.ndarray  # float [m, rounds]
    revealed_province: np.ndarray  # float [m, provinces]
    revealed_amount: np.ndarray  # median deal amount, NaN unknown
    _text: sparse.csr_matrix | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def text(self) -> sparse.csr_matrix:
        if self._text is None:
            self._text = text_vectors([f["text"] for f in self.features])
        return self._text

    def column_of(self, investor_ids: np.ndarray) -> np.ndarray:
        """Row numbers of ``investor_ids`` (the frame's ids are sorted)."""
        return np.searchsorted(self.ids, investor_ids)


def investor_frame(features: list[dict[str, Any]]) -> InvestorFrame:
    """Build the arrays of ``features`` (sorted by id here: candidate columns stay in id order,
    which is the tie-break of equal scores)."""
    features = sorted(features, key=lambda f: f["id"])
    m = len(features)
    industry_codes: set[str] = set()
    rounds: set[str] = set()
    provinces: set[str] = set()
    cities: set[str] = set()
    for f in features:
        industry_codes.update(f["industries"])
        industry_codes.update(str(c) for c in (f["revealed"].get("industries") or {}))
        rounds.update(f["rounds"])
        rounds.update(str(c) for c in (f["revealed"].get("rounds") or {}))
        for code in f["regions"]:
            city = city_of(code)
            provinces.add(province_of(code))
            if city:
                cities.add(city)
        provinces.update(str(c) for c in (f["revealed"].get("regions") or {}))
    codes = Vocabulary(industry_codes)
    sections = Vocabulary({section_of(c) for c in industry_codes if section_of(c)})
    round_vocab, province_vocab, city_vocab = (
        Vocabulary(rounds),
        Vocabulary(provinces),
        Vocabulary(cities),
    )
    pref_industry = np.zeros((m, len(codes)), dtype=bool)
    pref_section_touch = np.zeros((m, len(sections)), dtype=bool)
    pref_round = np.zeros((m, len(round_vocab)), dtype=bool)
    pref_province = np.zeros((m, len(province_vocab)), dtype=bool)
    pref_city = np.zeros((m, len(city_vocab)), dtype=bool)
    pref_province_touch = np.zeros((m, len(province_vocab)), dtype=bool)
    revealed_industry = np.zeros((m, len(codes)), dtype=np.float64)
    revealed_section = np.zeros((m, len(sections)), dtype=np.float64)
    revealed_round = np.zeros((m, len(round_vocab)), dtype=np.float64)
    revealed_province = np.zeros((m, len(province_vocab)), dtype=np.float64)
    deal_count = np.zeros(m, dtype=np.float64)
    revealed_amount = np.full(m, np.nan)
    for n, f in enumerate(features):
        for code in f["industries"]:
            pref_industry[n, codes.get(code)] = True
            section = section_of(code)
            if section:
                pref_section_touch[n, sections.get(section)] = True
        for code in f["rounds"]:
            pref_round[n, round_vocab.get(code)] = True
        for code in f["regions"]:
            city = city_of(code)
            province = province_vocab.get(province_of(code))
            if city:
                pref_city[n, city_vocab.get(city)] = True
                pref_province_touch[n, province] = True
            else:
                pref_province[n, province] = True
        count = revealed_deal_count(f["revealed"])
        if count:
            deal_count[n] = count
            for code, deals in _counts(f["revealed"].get("industries")):
                revealed_industry[n, codes.get(code)] += deals / count
                section = section_of(code)
                if section:
                    revealed_section[n, sections.get(section)] += deals / count
            for code, deals in _counts(f["revealed"].get("rounds")):
                revealed_round[n, round_vocab.get(code)] += deals / count
            for code, deals in _counts(f["revealed"].get("regions")):
                revealed_province[n, province_vocab.get(code)] += deals / count
            median = _number(f["revealed"].get("amount_median"))
            if median is not None and median > 0:
                revealed_amount[n] = median
    return InvestorFrame(
        features=features,
        ids=np.array([f["id"] for f in features], dtype=np.int64),
        industry_codes=codes,
        sections=sections,
        rounds=round_vocab,
        provinces=province_vocab,
        cities=city_vocab,
        has_industries=np.array([bool(f["industries"]) for f in features], dtype=bool),
        pref_industry=pref_industry,
        pref_section_touch=pref_section_touch,
        has_rounds=np.array([bool(f["rounds"]) for f in features], dtype=bool),
        pref_round=pref_round,
        has_regions=np.array([bool(f["regions"]) for f in features], dtype=bool),
        nationwide=np.array([f["nationwide"] for f in features], dtype=bool),
        pref_province=pref_province,
        pref_city=pref_city,
        pref_province_touch=pref_province_touch,
        ticket_min=_nan([f["ticket_min"] for f in features]),
        ticket_max=_nan([f["ticket_max"] for f in features]),
        capital=np.array([CAPITAL.get(f["capital_type"], 0) for f in features], dtype=np.int8),
        last_active=_nan(
            [f["last_active_on"].toordinal() if f["last_active_on"] else None for f in features]
        ),
        deal_count=deal_count,
        revealed_industry=revealed_industry,
        revealed_section=revealed_section,
        revealed_round=revealed_round,
        revealed_province=revealed_province,
        revealed_amount=revealed_amount,
    )


def revealed_deal_count(revealed: dict[str, Any]) -> int:
    """Deals behind an investor's revealed preferences (0 when none or malformed)."""
    count = _number(revealed.get("deal_count")) if isinstance(revealed, dict) else None
    return int(count) if count and count > 0 else 0


def _counts(value: Any) -> list[tuple[str, float]]:
    if not isinstance(value, dict):
        return []
    found = []
    for code, deals in value.items():
        number = _number(deals)
        if number and number > 0:
            found.append((str(code), number))
    return found


@dataclass
class ProjectFrame:
    """Projects as arrays, with codes as column numbers of an :class:`InvestorFrame`."""

    features: list[dict[str, Any]]
    ids: np.ndarray
    industry: np.ndarray  # column of the division (or of the section when no division), -1
    industry_known: np.ndarray  # the project has a division or a section
    is_division: np.ndarray  # the code is a division (not only a section)
    section: np.ndarray  # section column, -1
    round: np.ndarray  # round column, -1
    round_known: np.ndarray
    round_adjacent: np.ndarray  # int [n, 2]: columns of the neighbouring stages, -1
    province: np.ndarray  # province column, -1
    province_known: np.ndarray
    city: np.ndarray  # city column, -1
    amount_low: np.ndarray
    amount_high: np.ndarray
    currency: np.ndarray  # int8: CAPITAL codes of "rmb" / "usd", 0 unknown
    _text: sparse.csr_matrix | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def text(self) -> sparse.csr_matrix:
        if self._text is None:
            self._text = text_vectors([f["text"] for f in self.features])
        return self._text

    def text_of(self, rows: np.ndarray) -> sparse.csr_matrix:
        """The text vectors of ``rows``: from the whole frame's when built, else of those rows
        only (a run's projects are each scored in one block, so building them block by block,
        in the scoring processes, does the work once)."""
        if self._text is not None:
            return self._text[rows]
        return text_vectors([self.features[r]["text"] for r in rows])


def project_frame(features: list[dict[str, Any]], investors: InvestorFrame) -> ProjectFrame:
    """Build the arrays of ``features`` against the vocabularies of ``investors``."""
    codes, sections, rounds = investors.industry_codes, investors.sections, investors.rounds
    provinces, cities = investors.provinces, investors.cities
    industry, is_division, section, round_, adjacent, province, city = ([] for _ in range(7))
    for f in features:
        code = f["industry"] or f["industry_section"]
        industry.append(codes.get(code) if code else -1)
        is_division.append(bool(f["industry"]))
        section.append(sections.get(f["industry_section"]) if f["industry_section"] else -1)
        round_.append(rounds.get(f["round"]) if f["round"] else -1)
        neighbours = [rounds.get(c) for c in adjacent_rounds(f["round"])]
        adjacent.append((neighbours + [-1, -1])[:2])
        province.append(provinces.get(f["province_code"]) if f["province_code"] else -1)
        city_code = city_of(f["city_code"]) if f["city_code"] else ""
        city.append(cities.get(city_code) if city_code else -1)
    return ProjectFrame(
        features=features,
        ids=np.array([f["id"] for f in features], dtype=np.int64),
        industry=np.array(industry, dtype=np.int64),
        industry_known=np.array(
            [bool(f["industry"] or f["industry_section"]) for f in features], dtype=bool
        ),
        is_division=np.array(is_division, dtype=bool),
        section=np.array(section, dtype=np.int64),
        round=np.array(round_, dtype=np.int64),
        round_known=np.array([bool(f["round"]) for f in features], dtype=bool),
        round_adjacent=np.array(adjacent, dtype=np.int64).reshape(len(features), 2),
        province=np.array(province, dtype=np.int64),
        province_known=np.array([bool(f["province_code"]) for f in features], dtype=bool),
        city=np.array(city, dtype=np.int64),
        amount_low=_nan([f["amount_low"] for f in features]),
        amount_high=_nan([f["amount_high"] for f in features]),
        currency=np.array([CAPITAL.get(f["currency"], 0) for f in features], dtype=np.int8),
    )


def same_rows(values: np.ndarray) -> np.ndarray:
    """``values`` of a block's rows, cut to the first when all are equal (the result then
    broadcasts over the rows, and what is computed from it is computed once)."""
    if len(values) > 1 and (values == values[0]).all():
        return values[:1]
    return values


def lookup(matrix: np.ndarray, investor_rows: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``[project, investor]`` = ``matrix[investor_rows[investor], codes[project]]``; a code of
    -1 (unknown to every investor) reads as zero / False."""
    out_shape = (len(codes), len(investor_rows))
    if matrix.shape[1] == 0 or not len(codes) or not len(investor_rows):
        return np.zeros(out_shape, dtype=matrix.dtype)
    first = codes[0]
    if (codes == first).all():
        # a block usually shares its industry and round: one column, broadcast (no copy)
        if first < 0:
            return np.zeros((1, len(investor_rows)), dtype=matrix.dtype)
        return matrix[investor_rows, first][None, :]
    safe = np.where(codes >= 0, codes, 0)
    values = matrix[investor_rows][:, safe].T
    if (codes < 0).any():
        values = np.where((codes >= 0)[:, None], values, np.zeros((), dtype=matrix.dtype))
    return values
