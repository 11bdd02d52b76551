"""Criteria: each kind's scalar result equals its vectorized result; validation speaks plainly."""

import datetime
import math
import random

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from ibcloud.matching import features as ft
from ibcloud.matching.criteria import CRITERIA, Context
from ibcloud.matching.criteria_validation import validate_criteria
from tests.matching.factories import REALISTIC_CRITERIA

TODAY = datetime.date(2026, 11, 24)
DIVISIONS = ["65", "64", "35", "27", "39", "38", "01", "66"]
SECTIONS = ["I", "C", "A", "J"]
ROUNDS = ["seed", "angel", "pre_a", "a", "a_plus", "b", "c", "strategic", "xyz"]
PROVINCES = ["440000", "110000", "310000", "320000"]
CITIES = {"440000": ["440300", "440100"], "110000": ["110100"], "310000": ["310100"],
          "320000": ["320100", "320500"]}  # fmt: skip


def random_project(rng: random.Random, number: int) -> dict:
    division = rng.choice([*DIVISIONS, "", ""])
    province = rng.choice([*PROVINCES, ""])
    low = rng.choice([None, 5e6, 3e7, 8e7, 4e8])
    return ft.project_features(
        {
            "id": number,
            "industry": division,
            "industry_section": ft.section_of(division) or rng.choice(["", "C"]),
            "round": rng.choice([*ROUNDS, ""]),
            "province_code": province,
            "city_code": rng.choice(CITIES.get(province, [""])),
            "amount_low": low,
            "amount_high": None if low is None else low * rng.choice([1, 2, 5]),
            "amount_currency": rng.choice(["CNY", "USD", ""]),
            "search_text": rng.choice(["", "医疗 器械 影像", "软件 云计算 企业服务", "芯片 设计"]),
            "summary": "",
            "valuation": rng.choice([None, 1e8, 9e8]),
        },
        ("valuation",),
    )


def random_investor(rng: random.Random, number: int) -> dict:
    industries = rng.sample(DIVISIONS + SECTIONS, rng.randint(0, 4))
    deals = rng.choice([0, 0, 5, 12])
    revealed = {}
    if deals:
        revealed = {
            "deal_count": deals,
            "industries": {rng.choice(DIVISIONS + SECTIONS): rng.randint(1, deals)},
            "rounds": {rng.choice(ROUNDS): rng.randint(1, deals)},
            "regions": {rng.choice(PROVINCES): rng.randint(1, deals)},
            "amount_median": rng.choice([None, 2e7, 1e8]),
        }
    regions = rng.sample(PROVINCES + ["440300", "320500"], rng.randint(0, 2))
    return ft.investor_features(
        {
            "id": number,
            "preferred_industries": industries,
            "preferred_rounds": rng.sample(ROUNDS, rng.randint(0, 3)),
            "preferred_regions": regions,
            "nationwide": rng.random() < 0.3,
            "ticket_min": rng.choice([None, 1e7, 5e7]),
            "ticket_max": rng.choice([None, 2e7, 1e8, 0]),
            "capital_type": rng.choice(["rmb", "usd", "dual", ""]),
            "last_active_on": rng.choice(
                [None, TODAY - datetime.timedelta(days=rng.randint(-5, 900))]
            ),
            "revealed_preferences": revealed,
            "description": rng.choice(["", "关注医疗器械与影像", "专注企业服务软件"]),
            "ticket_text": "",
            "fund_size_low": rng.choice([None, 5e8]),
        },
        ("fund_size_low",),
    )


PARAMS = [
    ("industry", {}),
    ("industry", {"pass_score": 0.5, "any_when_empty": True, "same_section_score": 0.3}),
    ("round", {}),
    ("round", {"adjacent_score": 0}),
    ("region", {}),
    ("amount", {}),
    ("amount", {"tolerance_pct": 0}),
    ("text", {}),
    ("recency", {"months": 6}),
    ("revealed", {}),
    ("capital_type", {}),
    ("field", {"entity": "project", "field": "valuation", "op": "gte", "value": "5e8"}),
    ("field", {"entity": "investor", "field": "fund_size_low", "op": "not_empty"}),
    ("field", {"entity": "project", "field": "round", "op": "in", "value": "a, b"}),
]


@pytest.mark.parametrize("kind,params", PARAMS)
def test_scalar_and_vectorized_forms_agree(kind, params):
    rng = random.Random(f"{kind}{sorted(params.items())}")
    criterion = CRITERIA[kind]
    full = criterion.clean_params(params)
    context = Context(TODAY)
    for _round in range(3):
        projects = [random_project(rng, n) for n in range(1, 41)]
        investors = [random_investor(rng, n) for n in range(1, 31)]
        frame_i = ft.investor_frame(investors)
        frame_p = ft.project_frame(projects, frame_i)
        rows = np.arange(len(frame_p))
        columns = np.arange(len(frame_i))
        matrix = criterion.matrix(frame_p, rows, frame_i, columns, full, context)
        matrix = np.broadcast_to(matrix, (len(rows), len(columns)))
        for r, project in enumerate(frame_p.features):
            for c, investor in enumerate(frame_i.features):
                score, code, _args = criterion.evaluate(project, investor, full, context)
                value = matrix[r, c]
                assert code
                if score is None:
                    assert math.isnan(value), (project, investor)
                else:
                    assert value == pytest.approx(score, abs=1e-9), (project, investor)


def test_every_project_code_row_shared_by_a_block_reads_the_same():
    """A block whose projects share industry and round broadcasts one column: same numbers."""
    rng = random.Random(3)
    investors = [random_investor(rng, n) for n in range(1, 30)]
    project = random_project(rng, 1) | {"industry": "65", "industry_section": "I", "round": "a"}
    frame_i = ft.investor_frame(investors)
    frame_p = ft.project_frame([project, dict(project, id=2)], frame_i)
    for kind in ("industry", "round", "revealed"):
        criterion = CRITERIA[kind]
        params = criterion.clean_params({})
        matrix = criterion.matrix(
            frame_p, np.arange(2), frame_i, np.arange(len(frame_i)), params, Context(TODAY)
        )
        single = criterion.matrix(
            frame_p, np.array([0]), frame_i, np.arange(len(frame_i)), params, Context(TODAY)
        )
        np.testing.assert_allclose(np.broadcast_to(matrix, (2, len(frame_i)))[1], single[0])


def project(**values):
    base = {"id": 1, "industry": "35", "industry_section": "C", "round": "a",
            "province_code": "440000", "city_code": "440300", "amount_low": 5e7,
            "amount_high": 5e7, "amount_currency": "CNY",
            "search_text": "", "summary": ""}  # fmt: skip
    return ft.project_features(base | values)


def investor(**values):
    base = {"id": 1, "preferred_industries": ["35"], "preferred_rounds": ["a"],
            "preferred_regions": [], "nationwide": True, "ticket_min": 2e7, "ticket_max": 1e8,
            "capital_type": "rmb", "last_active_on": TODAY, "revealed_preferences": {},
            "description": ""}  # fmt: skip
    return ft.investor_features(base | values)


def test_a_preferred_section_covers_its_divisions():
    industry = CRITERIA["industry"]
    assert industry.evaluate(project(), investor(), {})[:2] == (1.0, "industry_exact")
    assert industry.evaluate(project(), investor(preferred_industries=["C"]), {})[:2] == (
        0.8,
        "industry_section",
    )
    assert industry.evaluate(project(), investor(preferred_industries=["36"]), {})[:2] == (
        0.6,
        "industry_related",
    )
    assert industry.evaluate(project(), investor(preferred_industries=["65"]), {})[0] == 0.0


def test_missing_data_is_none_and_documented_defaults_decide():
    industry = CRITERIA["industry"]
    assert industry.evaluate(project(), investor(preferred_industries=[]), {})[0] is None
    assert industry.params["any_when_empty"].default is False
    assert CRITERIA["region"].params["any_when_empty"].default is True
    amount = CRITERIA["amount"]
    assert amount.evaluate(project(amount_low=None, amount_high=None), investor(), {})[0] is None


def test_amount_within_near_and_outside_the_ticket_range():
    amount = CRITERIA["amount"]
    assert amount.evaluate(project(), investor(), {"tolerance_pct": 20})[1] == "amount_within"
    near = amount.evaluate(project(amount_low=1.1e8, amount_high=1.1e8), investor(), {})
    assert near[1] == "amount_near" and 0.5 <= near[0] < 1
    far = amount.evaluate(project(amount_low=5e8, amount_high=5e8), investor(), {})
    assert far[:2] == (0.0, "amount_outside")


def test_round_next_to_a_preferred_stage_scores_partly_but_does_not_pass_the_filter():
    score, code, _ = CRITERIA["round"].evaluate(project(round="a_plus"), investor(), {})
    assert (score, code) == (0.5, "round_adjacent")
    assert score < CRITERIA["round"].params["pass_score"].default


def test_realistic_criteria_validate_and_get_every_parameter():
    cleaned = validate_criteria(REALISTIC_CRITERIA)
    amount = next(c for c in cleaned if c["kind"] == "amount")
    assert amount["params"]["tolerance_pct"] == 20
    assert set(amount["params"]) == set(CRITERIA["amount"].params)


@pytest.mark.parametrize(
    "items,message",
    [
        ([{"kind": "industry", "mode": "filter"}, {"kind": "colour", "mode": "score", "weight": 5}],
         "criterion 2 (colour): unknown kind"),
        ([{"kind": "industry", "mode": "maybe"}], "criterion 1 (industry): mode must be one of"),
        ([{"kind": "industry", "mode": "filter"},
          {"kind": "amount", "mode": "score", "weight": 10, "params": {"tolerance_pct": 150}}],
         "criterion 2 (amount): tolerance_pct must be 0–100"),
        ([{"kind": "industry", "mode": "filter"}, {"kind": "text", "mode": "score", "weight": 101}],
         "criterion 2 (text): weight must be 0–100"),
        ([{"kind": "industry", "mode": "filter"}, {"kind": "text", "mode": "score", "weight": 0}],
         "criterion 2 (text): a score needs a weight above 0"),
        ([{"kind": "industry", "mode": "filter", "params": {"colour": 1}}],
         "criterion 1 (industry): unknown parameter colour"),
        ([{"kind": "industry", "mode": "filter"},
          {"kind": "field", "mode": "score", "weight": 5,
           "params": {"entity": "investor", "field": "coverage_banker__password", "op": "eq"}}],
         "criterion 2 (field): field must be one of"),
        ([{"kind": "industry", "mode": "filter"},
          {"kind": "field", "mode": "filter",
           "params": {"entity": "project", "field": "amount_low", "op": "gt", "value": "lots"}}],
         "criterion 2 (field): value 'lots' is not a number"),
        ([{"kind": "amount", "mode": "filter"}, {"kind": "text", "mode": "score", "weight": 5}],
         "needs at least one hard filter on industry, round, region or capital type, "
         "or matching would compare every pair"),
        ("industry", "criteria must be a list"),
    ],
)  # fmt: skip
def test_validation_names_the_criterion_and_says_what_is_wrong(items, message, english):
    with pytest.raises(ValidationError) as caught:
        validate_criteria(items)
    assert any(message in text for text in caught.value.messages), caught.value.messages
    assert "criteria" in caught.value.message_dict


def test_every_kind_lists_its_parameters_for_the_rule_set_form():
    for kind, criterion in CRITERIA.items():
        assert criterion.label and criterion.modes
        for name, spec in criterion.params.items():
            assert spec.help, (kind, name)
            assert criterion.clean_params({})[name] == spec.default
