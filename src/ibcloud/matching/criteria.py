"""Matching criteria: small, pure, explainable (after Paperless-ngx ``documents/matching.py``).

A rule set's ``criteria`` is a list of ``{"kind", "mode", "weight", "params"}``. Each kind is a
:class:`Criterion` with

* ``label``, ``modes`` ("filter" and/or "score") and ``params`` (name → :class:`Param`: type,
  default, bounds, help) — the rule-set form builds its table from them;
* ``evaluate(project, investor, params)`` → ``(score 0..1 | None, code, args)``: the scalar form,
  used for explanations and checked against the vectorized one by the tests;
* ``matrix(projects, rows, investors, columns, params, context)`` → a float array of scores for
  a block of projects × candidate investors (NaN where ``evaluate`` says None), used by full runs;
  it may have one row when every project of the block scores alike (a block shares its industry
  and round), so it broadcasts to the block's shape.

``None`` means "cannot tell" (the data is missing on one side; each kind says which). Then:

* in a **filter**, the pair passes only when the ``any_when_empty`` param is on;
* as a **score**, it counts as ``missing_score`` (a per-kind default: an undisclosed amount is
  neither a fit nor a misfit, 0.5; an investor without stated industries is no evidence of fit, 0).

A filter passes when the score reaches its ``pass_score`` (e.g. the industry filter's 0.8 lets
exact divisions and whole preferred sections through, not neighbouring divisions).

Filters on industry, round, region and capital type are *blocking* filters: the engine indexes
investors by :meth:`Criterion.investor_keys` and looks candidates up by
:meth:`Criterion.project_keys`, so it never scores pairs a filter would refuse. A rule set needs
at least one (``criteria_validation.validate_criteria``). Scores and codes per kind:
docs/matching-engine.md.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ibcloud.matching import features as ft
from ibcloud.matching.features import InvestorFrame, ProjectFrame, lookup, same_rows

MODES = ("filter", "score")
#: ``Criterion.describe_class``: the explanation depends on the exact score
SCORE_ITSELF = object()
BLOCKING_KINDS = ("industry", "round", "region", "capital_type")
#: days in a month, for recency windows
MONTH_DAYS = 30.4375


@dataclass(frozen=True)
class Param:
    """One parameter of a criterion kind: its type, default, bounds and help text."""

    type: str  # "float", "int", "bool", "choice", "text"
    default: Any
    help: Any = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def clean(self, name: str, value: Any) -> Any:
        """The value converted to the type; ValueError with a plain message when it is bad."""
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            if value in (0, 1, "0", "1", "true", "false", "True", "False"):
                return str(value).lower() in ("1", "true")
            raise ValueError(gettext("%(name)s must be true or false") % {"name": name})
        if self.type in ("float", "int"):
            if isinstance(value, bool) or value is None or value == "":
                raise ValueError(gettext("%(name)s must be a number") % {"name": name})
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(gettext("%(name)s must be a number") % {"name": name}) from None
            if not math.isfinite(number):
                raise ValueError(gettext("%(name)s must be a number") % {"name": name})
            if self.type == "int":
                if number != int(number):
                    raise ValueError(gettext("%(name)s must be a whole number") % {"name": name})
                number = int(number)
            low, high = self.minimum, self.maximum
            if (low is not None and number < low) or (high is not None and number > high):
                raise ValueError(
                    gettext("%(name)s must be %(low)s–%(high)s")
                    % {"name": name, "low": _bound(low), "high": _bound(high)}
                )
            return number
        if self.type == "choice":
            if value not in self.choices:
                raise ValueError(
                    gettext("%(name)s must be one of %(choices)s")
                    % {"name": name, "choices": ", ".join(self.choices)}
                )
            return value
        if value is None:
            return ""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError(gettext("%(name)s must be text") % {"name": name})
        text = str(value)
        if len(text) > 500:
            raise ValueError(
                gettext("%(name)s must be at most %(count)s characters")
                % {"name": name, "count": 500}
            )
        return text


def _bound(value: float | None) -> str:
    if value is None:
        return "∞"
    return str(int(value)) if float(value).is_integer() else str(value)


def _unit(default: float, help_text: Any) -> Param:
    return Param("float", default, help_text, 0.0, 1.0)


def _common(pass_score: float, any_when_empty: bool, missing_score: float) -> dict[str, Param]:
    return {
        "pass_score": Param(
            "float",
            pass_score,
            _("As a filter: the score a pair needs to pass (above 0)."),
            0.01,
            1.0,
        ),
        "any_when_empty": Param(
            "bool",
            any_when_empty,
            _("As a filter: pairs with missing data pass."),
        ),
        "missing_score": _unit(missing_score, _("As a score: what missing data counts as.")),
    }


@dataclass(frozen=True)
class Context:
    """What scores depend on besides the two records: the day of the run (recency)."""

    today: datetime.date

    @classmethod
    def now(cls) -> Context:
        from django.utils import timezone

        return cls(timezone.localdate())


class Criterion:
    """A kind of criterion. Subclasses define ``score``, ``describe`` and ``matrix``."""

    kind = ""
    label: Any = ""
    modes: tuple[str, ...] = MODES
    params: dict[str, Param] = {}
    blocking = False

    def score(self, project: dict, investor: dict, params: dict, context: Context) -> float | None:
        raise NotImplementedError

    def describe(
        self, score: float | None, project: dict, investor: dict, params: dict
    ) -> tuple[str, dict]:
        """The explanation code and its arguments for a computed ``score``."""
        raise NotImplementedError

    def describe_class(self, score: float | None) -> Any:
        """What of ``score`` decides ``describe``'s code and arguments (with ``describe_key``
        and the investor); :data:`SCORE_ITSELF`: the score itself."""
        return SCORE_ITSELF

    def describe_key(self, project: dict) -> Any:
        """The project values ``describe`` reads (with the score, the params and the investor,
        they decide the explanation item, so runs reuse it); None: it reads the pair's text."""
        return None

    def evaluate(
        self,
        project: dict,
        investor: dict,
        params: dict | None = None,
        context: Context | None = None,
    ) -> tuple[float | None, str, dict]:
        """Score one pair: ``(score 0..1 or None, code, args)``."""
        params = self.with_defaults(params or {})
        context = context or Context.now()
        score = self.score(project, investor, params, context)
        code, args = self.describe(score, project, investor, params)
        return score, code, args

    def matrix(
        self,
        projects: ProjectFrame,
        rows: np.ndarray,
        investors: InvestorFrame,
        columns: np.ndarray,
        params: dict,
        context: Context,
    ) -> np.ndarray:
        raise NotImplementedError

    def with_defaults(self, params: dict) -> dict:
        return {name: params.get(name, spec.default) for name, spec in self.params.items()}

    def clean_params(self, params: Any) -> dict:
        """Validated params with defaults filled in; ValueError names the first bad one."""
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise ValueError(gettext("params must be an object"))
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise ValueError(gettext("unknown parameter %(name)s") % {"name": unknown[0]})
        return {
            name: spec.clean(name, params[name]) if name in params else spec.default
            for name, spec in self.params.items()
        }

    def check(self, params: dict) -> None:
        """Cross-parameter checks (after each parameter was cleaned)."""

    # Blocking (only for blocking kinds)
    def investor_keys(self, investor: dict) -> list[str]:
        return []

    def project_keys(self, project: dict, params: dict) -> list[str] | None:
        """Posting keys whose investors include every one that can pass; None: all investors."""
        return None


# --- industry -------------------------------------------------------------------------------------


class IndustryCriterion(Criterion):
    """Industry overlap with parent/child: the project's division against the investor's
    preferred divisions and sections.

    exact division (or the project's section, when it has no division) 1.0 · the investor
    prefers the whole section ``section_score`` (0.8) · the investor prefers another division of
    the same section ``same_section_score`` (0.6) · otherwise 0. None: either side has no industry.
    """

    kind = "industry"
    label = _("Industry")
    blocking = True
    params = {
        "section_score": _unit(0.8, _("The investor prefers the project's whole section.")),
        "same_section_score": _unit(
            0.6, _("The investor prefers another division of the same section.")
        ),
        **_common(pass_score=0.8, any_when_empty=False, missing_score=0.0),
    }

    def score(self, project, investor, params, context):
        code = project["industry"] or project["industry_section"]
        section = project["industry_section"]
        if not code or not investor["industries"]:
            return None
        preferred = set(investor["industries"])
        if code in preferred:
            return 1.0
        if project["industry"] and section and section in preferred:
            return float(params["section_score"])
        if section and any(ft.section_of(c) == section for c in preferred):
            return float(params["same_section_score"])
        return 0.0

    def describe_key(self, project):
        return (project["industry"], project["industry_section"])

    def describe(self, score, project, investor, params):
        code = project["industry"] or project["industry_section"]
        if score is None:
            return "industry_unknown", {}
        preferred = investor["industries"]
        if code in preferred:
            return "industry_exact", {"industry": code}
        section = project["industry_section"]
        if project["industry"] and section in preferred:
            return "industry_section", {"industry": code, "section": section}
        related = [c for c in preferred if section and ft.section_of(c) == section]
        if related:
            return "industry_related", {"industry": code, "preferred": related[:3]}
        return "industry_other", {"industry": code, "preferred": list(preferred[:3])}

    def matrix(self, projects, rows, investors, columns, params, context):
        codes = projects.industry[rows]
        exact = lookup(investors.pref_industry, columns, codes)
        section_cols = np.array(
            [
                investors.industry_codes.get(projects.features[r]["industry_section"])
                if projects.is_division[r] and projects.features[r]["industry_section"]
                else -1
                for r in rows
            ],
            dtype=np.int64,
        )
        whole_section = lookup(investors.pref_industry, columns, section_cols)
        touch = lookup(investors.pref_section_touch, columns, projects.section[rows])
        result = np.where(
            exact,
            1.0,
            np.where(
                whole_section,
                params["section_score"],
                np.where(touch, params["same_section_score"], 0.0),
            ),
        )
        known = (
            same_rows(projects.industry_known[rows])[:, None]
            & investors.has_industries[columns][None, :]
        )
        return np.where(known, result, np.nan)

    def investor_keys(self, investor):
        if not investor["industries"]:
            return ["i*"]
        keys = {f"i:{code}" for code in investor["industries"]}
        keys |= {f"t:{ft.section_of(c)}" for c in investor["industries"] if ft.section_of(c)}
        return sorted(keys)

    def project_keys(self, project, params):
        code = project["industry"] or project["industry_section"]
        section = project["industry_section"]
        if not code:
            return None if params["any_when_empty"] else []
        keys = [f"i:{code}"]
        if project["industry"] and section and params["section_score"] >= params["pass_score"]:
            keys.append(f"i:{section}")
        if section and params["same_section_score"] >= params["pass_score"]:
            keys.append(f"t:{section}")
        if params["any_when_empty"]:
            keys.append("i*")
        return keys


# --- round ----------------------------------------------------------------------------------------


class RoundCriterion(Criterion):
    """The project's round in the investor's preferred stages: 1.0; a neighbouring stage on the
    ladder (seed … pre_ipo, ipo) ``adjacent_score`` (0.5); otherwise 0. None: the project has no
    round or the investor states none."""

    kind = "round"
    label = _("Round")
    blocking = True
    params = {
        "adjacent_score": _unit(0.5, _("The project's round is next to a preferred stage.")),
        **_common(pass_score=1.0, any_when_empty=False, missing_score=0.0),
    }

    def score(self, project, investor, params, context):
        if not project["round"] or not investor["rounds"]:
            return None
        if project["round"] in investor["rounds"]:
            return 1.0
        if any(code in investor["rounds"] for code in ft.adjacent_rounds(project["round"])):
            return float(params["adjacent_score"])
        return 0.0

    def describe_key(self, project):
        return project["round"]

    def describe(self, score, project, investor, params):
        if score is None:
            return "round_unknown", {}
        if project["round"] in investor["rounds"]:
            return "round_in", {"round": project["round"]}
        near = [c for c in ft.adjacent_rounds(project["round"]) if c in investor["rounds"]]
        if near:
            return "round_adjacent", {"round": project["round"], "preferred": near[0]}
        return "round_outside", {"round": project["round"], "preferred": investor["rounds"][:4]}

    def matrix(self, projects, rows, investors, columns, params, context):
        exact = lookup(investors.pref_round, columns, projects.round[rows])
        adjacent = lookup(investors.pref_round, columns, projects.round_adjacent[rows, 0]) | lookup(
            investors.pref_round, columns, projects.round_adjacent[rows, 1]
        )
        result = np.where(exact, 1.0, np.where(adjacent, params["adjacent_score"], 0.0))
        known = (
            same_rows(projects.round_known[rows])[:, None] & investors.has_rounds[columns][None, :]
        )
        return np.where(known, result, np.nan)

    def investor_keys(self, investor):
        if not investor["rounds"]:
            return ["r*"]
        return sorted({f"r:{code}" for code in investor["rounds"]})

    def project_keys(self, project, params):
        if not project["round"]:
            return None if params["any_when_empty"] else []
        keys = [f"r:{project['round']}"]
        if params["adjacent_score"] >= params["pass_score"]:
            keys.extend(f"r:{code}" for code in ft.adjacent_rounds(project["round"]))
        if params["any_when_empty"]:
            keys.append("r*")
        return keys


# --- region ---------------------------------------------------------------------------------------


class RegionCriterion(Criterion):
    """The project's province or city among the investor's preferred regions: 1.0; the investor
    invests nationwide ``nationwide_score`` (0.8); it prefers another city of the project's
    province ``same_province_score`` (0.5); otherwise 0. None: the project has no province, or
    the investor states no region and is not nationwide (then, as a filter, it passes by default:
    an investor silent on regions is not known to refuse any)."""

    kind = "region"
    label = _("Region")
    blocking = True
    params = {
        "nationwide_score": _unit(0.8, _("The investor invests nationwide.")),
        "same_province_score": _unit(
            0.5, _("The investor prefers another city of the project's province.")
        ),
        **_common(pass_score=0.8, any_when_empty=True, missing_score=0.5),
    }

    def score(self, project, investor, params, context):
        province = project["province_code"]
        if not province or (not investor["regions"] and not investor["nationwide"]):
            return None
        city = ft.city_of(project["city_code"])
        cities = {ft.city_of(c) for c in investor["regions"]} - {""}
        provinces = {c for c in investor["regions"] if not ft.city_of(c)}
        if province in provinces or (city and city in cities):
            return 1.0
        if investor["nationwide"]:
            return float(params["nationwide_score"])
        if any(ft.province_of(c) == province for c in cities):
            return float(params["same_province_score"])
        return 0.0

    def describe_key(self, project):
        return (project["province_code"], project["city_code"])

    def describe(self, score, project, investor, params):
        if score is None:
            return "region_unknown", {}
        province, city = project["province_code"], ft.city_of(project["city_code"])
        for code in investor["regions"]:
            if code == province or (city and ft.city_of(code) == city):
                return "region_in", {"region": code}
        if investor["nationwide"]:
            return "region_nationwide", {"region": city or province}
        same = [c for c in investor["regions"] if ft.province_of(c) == province]
        if same:
            return "region_same_province", {"region": city or province, "preferred": same[0]}
        return "region_outside", {"region": city or province, "preferred": investor["regions"][:3]}

    def matrix(self, projects, rows, investors, columns, params, context):
        in_province = lookup(investors.pref_province, columns, projects.province[rows])
        in_city = lookup(investors.pref_city, columns, projects.city[rows])
        touch = lookup(investors.pref_province_touch, columns, projects.province[rows])
        nationwide = investors.nationwide[columns][None, :]
        result = np.where(
            in_province | in_city,
            1.0,
            np.where(
                nationwide,
                params["nationwide_score"],
                np.where(touch, params["same_province_score"], 0.0),
            ),
        )
        stated = investors.has_regions[columns] | investors.nationwide[columns]
        known = projects.province_known[rows][:, None] & stated[None, :]
        return np.where(known, result, np.nan)

    def investor_keys(self, investor):
        keys = {f"g:{ft.province_of(code)}" for code in investor["regions"]}
        if investor["nationwide"]:
            keys.add("gn")
        if not keys:
            keys.add("g*")
        return sorted(keys)

    def project_keys(self, project, params):
        if not project["province_code"]:
            return None if params["any_when_empty"] else []
        keys = [f"g:{project['province_code']}"]
        if params["nationwide_score"] >= params["pass_score"]:
            keys.append("gn")
        if params["any_when_empty"]:
            keys.append("g*")
        return keys


# --- amount ---------------------------------------------------------------------------------------


class AmountCriterion(Criterion):
    """The project's amount (range) against the investor's ticket range: overlapping 1.0; off by
    at most ``tolerance_pct`` per cent, falling linearly from 1.0 to 0.5; further off 0.
    An open ticket bound is unbounded. None: the project's amount is undisclosed or the investor
    states no ticket."""

    kind = "amount"
    label = _("Amount")
    params = {
        "tolerance_pct": Param(
            "float", 20.0, _("How far outside the ticket range still counts (per cent)."), 0, 100
        ),
        **_common(pass_score=0.5, any_when_empty=True, missing_score=0.5),
    }

    def score(self, project, investor, params, context):
        low, high = project["amount_low"], project["amount_high"]
        if low is None or (investor["ticket_min"] is None and investor["ticket_max"] is None):
            return None
        t_min = investor["ticket_min"] if investor["ticket_min"] is not None else 0.0
        t_max = investor["ticket_max"] if investor["ticket_max"] is not None else math.inf
        if high >= t_min and low <= t_max:
            return 1.0
        if high < t_min:
            ratio = t_min / high if high > 0 else math.inf
        else:
            ratio = low / t_max if t_max > 0 else math.inf
        tolerance = params["tolerance_pct"] / 100
        if tolerance > 0 and ratio <= 1 + tolerance:
            return 1.0 - 0.5 * (ratio - 1) / tolerance
        return 0.0

    def describe_key(self, project):
        return (project["amount_low"], project["amount_high"])

    def describe(self, score, project, investor, params):
        if score is None:
            return "amount_unknown", {}
        args = {
            "low": project["amount_low"],
            "high": project["amount_high"],
            "ticket_min": investor["ticket_min"],
            "ticket_max": investor["ticket_max"],
        }
        args = {k: (int(v) if v is not None else None) for k, v in args.items()}
        if score >= 1.0:
            return "amount_within", args
        return ("amount_near" if score > 0 else "amount_outside"), args

    def matrix(self, projects, rows, investors, columns, params, context):
        low = projects.amount_low[rows][:, None]
        high = projects.amount_high[rows][:, None]
        raw_min, raw_max = investors.ticket_min[columns], investors.ticket_max[columns]
        t_min = np.where(np.isnan(raw_min), 0.0, raw_min)[None, :]
        t_max = np.where(np.isnan(raw_max), np.inf, raw_max)[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            below = high < t_min
            ratio = np.where(
                below,
                np.where(high > 0, t_min / np.where(high > 0, high, 1.0), np.inf),
                np.where(t_max > 0, low / np.where(t_max > 0, t_max, 1.0), np.inf),
            )
            tolerance = params["tolerance_pct"] / 100
            if tolerance > 0:
                near = np.where(ratio <= 1 + tolerance, 1.0 - 0.5 * (ratio - 1) / tolerance, 0.0)
            else:
                near = np.zeros_like(ratio)
            result = np.where((high >= t_min) & (low <= t_max), 1.0, near)
        stated = ~(np.isnan(raw_min) & np.isnan(raw_max))
        known = ~np.isnan(low) & stated[None, :]
        return np.where(known, result, np.nan)


# --- text -----------------------------------------------------------------------------------------


class TextCriterion(Criterion):
    """Cosine similarity of the project's segmented text (names, summary, tags) and the
    investor's focus text (description and the names of its preferred industries), over hashed
    word vectors; ``saturation`` (0.5) and above counts as 1.0. None: either text is empty."""

    kind = "text"
    label = _("Text similarity")
    params = {
        "saturation": Param(
            "float", 0.5, _("The similarity that already counts as a full match."), 0.05, 1.0
        ),
        **_common(pass_score=0.3, any_when_empty=False, missing_score=0.0),
    }

    def score(self, project, investor, params, context):
        if not project["text"] or not investor["text"]:
            return None
        similarity = ft.text_similarity(project["text"], investor["text"])
        return min(1.0, similarity / params["saturation"])

    def describe(self, score, project, investor, params):
        if score is None:
            return "text_unknown", {}
        theirs = _words(investor)
        shared = [w for w in project["text"].split() if w in theirs][:5]
        return ("text_similar" if shared else "text_different"), {
            "words": shared,
            "similarity": round(score, 2),
        }

    def matrix(self, projects, rows, investors, columns, params, context):
        left = projects.text_of(rows)
        right = investors.text[columns]
        similarity = (left @ right.T).toarray()
        result = np.minimum(1.0, similarity / params["saturation"])
        # an empty text is the only one without a word column
        p_known = np.diff(left.indptr) > 0
        i_known = np.diff(right.indptr) > 0
        return np.where(p_known[:, None] & i_known[None, :], result, np.nan)


# --- recency --------------------------------------------------------------------------------------


class RecencyCriterion(Criterion):
    """How recently the investor was active: 1.0 today, falling linearly to 0 at ``months``
    (24) months ago. None: no activity date."""

    kind = "recency"
    label = _("Investor activity")
    params = {
        "months": Param("int", 24, _("Months after which activity counts for nothing."), 1, 240),
        **_common(pass_score=0.5, any_when_empty=False, missing_score=0.3),
    }

    def score(self, project, investor, params, context):
        day = investor["last_active_on"]
        if day is None:
            return None
        age = (context.today - day).days
        return float(min(1.0, max(0.0, 1.0 - age / (params["months"] * MONTH_DAYS))))

    def describe_key(self, project):
        return ()

    def describe(self, score, project, investor, params):
        if score is None:
            return "recency_unknown", {}
        code = "recency_active" if score > 0 else "recency_stale"
        return code, {"date": investor["last_active_on"].isoformat(), "months": params["months"]}

    def matrix(self, projects, rows, investors, columns, params, context):
        age = context.today.toordinal() - investors.last_active[columns]
        score = np.clip(1.0 - age / (params["months"] * MONTH_DAYS), 0.0, 1.0)
        return score[None, :]


# --- revealed preference --------------------------------------------------------------------------


class RevealedCriterion(Criterion):
    """Resemblance to the deals the investor actually did (``revealed_preferences``): the mean
    of four parts, each the share of its deals like the project divided by ``saturation`` (0.3)
    and capped at 1 — industry (same division 1, same section ½), round, province — and the
    amount (1 at the median deal size, 0 ten times off, on a log scale). Parts the project lacks
    data for are left out. None: no deals on record."""

    kind = "revealed"
    label = _("Revealed preference")
    params = {
        "saturation": Param(
            "float", 0.3, _("The share of deals that already counts as a full match."), 0.05, 1.0
        ),
        **_common(pass_score=0.3, any_when_empty=False, missing_score=0.3),
    }

    @staticmethod
    def parts(project: dict, investor: dict, saturation: float) -> dict[str, float] | None:
        revealed = investor["revealed"]
        count = ft.revealed_deal_count(revealed)
        if not count:
            return None
        parts: dict[str, float] = {}
        code = project["industry"] or project["industry_section"]
        if code:
            section = project["industry_section"]
            exact = in_section = 0.0
            for deal_code, deals in ft._counts(revealed.get("industries")):
                if deal_code == code:
                    exact += deals / count
                if section and ft.section_of(deal_code) == section:
                    in_section += deals / count
            parts["industry"] = min(1.0, (exact + 0.5 * (in_section - exact)) / saturation)
        if project["round"]:
            share = sum(
                d / count for c, d in ft._counts(revealed.get("rounds")) if c == project["round"]
            )
            parts["round"] = min(1.0, share / saturation)
        if project["province_code"]:
            share = sum(
                d / count
                for c, d in ft._counts(revealed.get("regions"))
                if c == project["province_code"]
            )
            parts["region"] = min(1.0, share / saturation)
        median = ft._number(revealed.get("amount_median"))
        if project["amount_low"] is not None and median is not None and median > 0:
            middle = (project["amount_low"] + project["amount_high"]) / 2
            if middle > 0:
                parts["amount"] = max(0.0, 1.0 - abs(math.log10(middle / median)))
            else:
                parts["amount"] = 0.0
        return parts

    def score(self, project, investor, params, context):
        parts = self.parts(project, investor, params["saturation"])
        if not parts:
            return None
        return sum(parts.values()) / len(parts)

    def describe_class(self, score):
        return None if score is None else score >= 0.5

    def describe_key(self, project):
        return (project["industry"], project["industry_section"])

    def describe(self, score, project, investor, params):
        if score is None:
            return "revealed_unknown", {}
        revealed = investor["revealed"]
        code = project["industry"] or project["industry_section"]
        industries = revealed.get("industries")
        deals = ft._number(industries.get(code)) if code and isinstance(industries, dict) else None
        return ("revealed_similar" if score >= 0.5 else "revealed_weak"), {
            "deals": ft.revealed_deal_count(revealed),
            "industry_deals": int(deals) if deals and deals > 0 else 0,
        }

    def matrix(self, projects, rows, investors, columns, params, context):
        # investors without deals score None: only the others are computed
        with_deals = np.flatnonzero(investors.deal_count[columns] > 0)
        result = np.full((len(rows), len(columns)), np.nan)
        if len(with_deals) == len(columns):
            return self._with_deals(projects, rows, investors, columns, params)
        if len(with_deals):
            result[:, with_deals] = self._with_deals(
                projects, rows, investors, columns[with_deals], params
            )
        return result

    @staticmethod
    def _with_deals(projects, rows, investors, columns, params) -> np.ndarray:
        # the scalar form's operations in its order; the industry and round parts are alike for
        # a block's projects, so they stay one row until the province part is added
        saturation = params["saturation"]
        code_known = same_rows(projects.industry_known[rows])[:, None]
        exact = lookup(investors.revealed_industry, columns, projects.industry[rows])
        in_section = lookup(investors.revealed_section, columns, projects.section[rows])
        industry = np.minimum(1.0, (exact + 0.5 * (in_section - exact)) / saturation)
        total = np.where(code_known, industry, 0.0)
        parts = code_known.astype(np.float64)
        round_known = same_rows(projects.round_known[rows])[:, None]
        share = lookup(investors.revealed_round, columns, projects.round[rows])
        total = total + np.where(round_known, np.minimum(1.0, share / saturation), 0.0)
        parts = parts + round_known
        province_known = same_rows(projects.province_known[rows])[:, None]
        share = lookup(investors.revealed_province, columns, projects.province[rows])
        total = total + np.where(province_known, np.minimum(1.0, share / saturation), 0.0)
        parts = parts + province_known
        middle = ((projects.amount_low[rows] + projects.amount_high[rows]) / 2)[:, None]
        median = investors.revealed_amount[columns][None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            closeness = np.where(
                middle > 0, np.maximum(0.0, 1.0 - np.abs(np.log10(middle / median))), 0.0
            )
        amount_known = ~np.isnan(middle) & ~np.isnan(median)
        total = total + np.where(amount_known, closeness, 0.0)
        count = parts + amount_known
        with np.errstate(divide="ignore", invalid="ignore"):
            result = total / count
        shape = (len(rows), len(columns))
        return np.broadcast_to(np.where(count > 0, result, np.nan), shape)


# --- capital type ---------------------------------------------------------------------------------


class CapitalTypeCriterion(Criterion):
    """The investor's capital (RMB / USD / dual) against the currency the project raises in
    (CNY → RMB, any other → USD): dual or the same 1.0; the other ``mismatch_score`` (0.3).
    None: the project's currency or the investor's capital type is unknown."""

    kind = "capital_type"
    label = _("Capital type")
    blocking = True
    params = {
        "mismatch_score": _unit(0.3, _("The investor's capital is in the other currency.")),
        **_common(pass_score=1.0, any_when_empty=True, missing_score=0.5),
    }

    def score(self, project, investor, params, context):
        wanted, capital = project["currency"], investor["capital_type"]
        if not wanted or capital not in ("rmb", "usd", "dual"):
            return None
        if capital in ("dual", wanted):
            return 1.0
        return float(params["mismatch_score"])

    def describe_key(self, project):
        return project["currency"]

    def describe(self, score, project, investor, params):
        if score is None:
            return "capital_unknown", {}
        args = {"capital_type": investor["capital_type"], "currency": project["currency"]}
        return ("capital_match" if score >= 1.0 else "capital_mismatch"), args

    def matrix(self, projects, rows, investors, columns, params, context):
        wanted = projects.currency[rows][:, None]
        capital = investors.capital[columns][None, :]
        same = (capital == ft.CAPITAL["dual"]) | (capital == wanted)
        result = np.where(same, 1.0, params["mismatch_score"])
        known = (wanted != 0) & (capital != 0)
        return np.where(known, result, np.nan)

    def investor_keys(self, investor):
        capital = investor["capital_type"]
        return [f"c:{capital}"] if capital in ("rmb", "usd", "dual") else ["c*"]

    def project_keys(self, project, params):
        wanted = project["currency"]
        if not wanted:
            return None if params["any_when_empty"] else []
        keys = [f"c:{wanted}", "c:dual"]
        if params["mismatch_score"] >= params["pass_score"]:
            keys.append("c:usd" if wanted == "rmb" else "c:rmb")
        if params["any_when_empty"]:
            keys.append("c*")
        return keys


# --- field comparison -----------------------------------------------------------------------------

FIELD_OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "empty", "not_empty")


class FieldCriterion(Criterion):
    """A comparison on one normalized field of the project or the investor (an allowlist:
    :data:`ibcloud.matching.features.FIELDS`): 1.0 when it holds, else 0. ``value`` is text,
    a number or a date (YYYY-MM-DD) by the field's type; ``in`` takes a comma list.
    None: the field is empty (except for ``empty`` / ``not_empty``)."""

    kind = "field"
    label = _("Field comparison")
    params = {
        "entity": Param("choice", "project", _("Whose field."), choices=("project", "investor")),
        "field": Param("text", "", _("The field (see the list).")),
        "op": Param("choice", "eq", _("The comparison."), choices=FIELD_OPERATORS),
        "value": Param("text", "", _("The value to compare with.")),
        **_common(pass_score=1.0, any_when_empty=False, missing_score=0.0),
    }

    def check(self, params: dict) -> None:
        spec = ft.FIELDS[params["entity"]].get(params["field"])
        if spec is None:
            names = ", ".join(ft.FIELDS[params["entity"]])
            raise ValueError(gettext("field must be one of %(names)s") % {"names": names})
        if params["op"] in ("empty", "not_empty"):
            return
        if params["op"] in ("gt", "gte", "lt", "lte") and spec.type in ("text", "bool"):
            raise ValueError(gettext("%(op)s needs a number or date field") % {"op": params["op"]})
        if params["op"] == "contains" and spec.type != "text":
            raise ValueError(gettext("contains needs a text field"))
        for value in _operands(params):
            _coerce(spec.type, value)

    def holds(self, value: Any, params: dict) -> float | None:
        spec = ft.FIELDS[params["entity"]][params["field"]]
        op = params["op"]
        empty = value is None or value == "" or value == []
        if op == "empty":
            return 1.0 if empty else 0.0
        if op == "not_empty":
            return 0.0 if empty else 1.0
        if empty:
            return None
        actual = _coerce(spec.type, value)
        operands = [_coerce(spec.type, v) for v in _operands(params)]
        if op == "in":
            return 1.0 if actual in operands else 0.0
        if op == "contains":
            return 1.0 if str(operands[0]) in str(actual) else 0.0
        target = operands[0]
        result = {
            "eq": actual == target,
            "ne": actual != target,
            "gt": actual > target,
            "gte": actual >= target,
            "lt": actual < target,
            "lte": actual <= target,
        }[op]
        return 1.0 if result else 0.0

    def score(self, project, investor, params, context):
        record = project if params["entity"] == "project" else investor
        return self.holds(record["fields"].get(params["field"]), params)

    def describe_key(self, project):
        return ()

    def describe(self, score, project, investor, params):
        code = "field_unknown" if score is None else ("field_true" if score else "field_false")
        return code, {
            "entity": params["entity"],
            "field": params["field"],
            "op": params["op"],
            "value": params["value"],
        }

    def matrix(self, projects, rows, investors, columns, params, context):
        if params["entity"] == "project":
            values = [
                self.holds(projects.features[r]["fields"].get(params["field"]), params)
                for r in rows
            ]
            column = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            return np.broadcast_to(column[:, None], (len(rows), len(columns))).copy()
        values = [
            self.holds(investors.features[c]["fields"].get(params["field"]), params)
            for c in columns
        ]
        row = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        return np.broadcast_to(row[None, :], (len(rows), len(columns))).copy()


def _words(features: dict) -> frozenset[str]:
    """The words of a record's text as a set, kept on the feature dict (explanations of one
    investor's many pairs reuse it)."""
    words = features.get("_words")
    if words is None:
        words = features["_words"] = frozenset(features["text"].split())
    return words


def _operands(params: dict) -> list[str]:
    if params["op"] == "in":
        return [part.strip() for part in str(params["value"]).split(",") if part.strip()]
    return [str(params["value"])]


def _coerce(kind: str, value: Any) -> Any:
    """``value`` as the field type compares it; ValueError with a plain message."""
    if kind == "number":
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            return Decimal(str(value))
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(
                gettext("value %(value)r is not a number") % {"value": value}
            ) from None
        if not number.is_finite():
            raise ValueError(gettext("value %(value)r is not a number") % {"value": value})
        return number
    if kind == "date":
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        try:
            return datetime.date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            raise ValueError(
                gettext("value %(value)r is not a date (YYYY-MM-DD)") % {"value": value}
            ) from None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes"):
            return True
        if text in ("0", "false", "no"):
            return False
        raise ValueError(gettext("value %(value)r is not true or false") % {"value": value})
    return str(value).strip()


#: every criterion kind by its code
CRITERIA: dict[str, Criterion] = {
    criterion.kind: criterion
    for criterion in (
        IndustryCriterion(),
        RoundCriterion(),
        RegionCriterion(),
        AmountCriterion(),
        TextCriterion(),
        RecencyCriterion(),
        RevealedCriterion(),
        CapitalTypeCriterion(),
        FieldCriterion(),
    )
}

#: A realistic rule set: industry and round must fit, the rest is weighed. A new rule set's form
#: starts from it, the demo seeds it and bench/match.py measures it (docs/matching.md).
RECOMMENDED_CRITERIA: list[dict[str, Any]] = [
    {"kind": "industry", "mode": "filter", "weight": 0, "params": {}},
    {"kind": "round", "mode": "filter", "weight": 0, "params": {}},
    {"kind": "industry", "mode": "score", "weight": 25, "params": {}},
    {"kind": "amount", "mode": "score", "weight": 20, "params": {"tolerance_pct": 20}},
    {"kind": "region", "mode": "score", "weight": 10, "params": {}},
    {"kind": "text", "mode": "score", "weight": 15, "params": {}},
    {"kind": "recency", "mode": "score", "weight": 10, "params": {"months": 24}},
    {"kind": "revealed", "mode": "score", "weight": 15, "params": {}},
    {"kind": "capital_type", "mode": "score", "weight": 5, "params": {}},
]
