"""Explanations: each criterion's contribution in plain words, Chinese labels by default."""

from django.utils import translation

from ibcloud.matching import engine, explanations
from ibcloud.matching.models import Match
from tests.matching.factories import MatchRuleSetFactory
from tests.matching.test_engine import catalog  # noqa: F401 - fixture

ITEMS = [
    {"kind": "industry", "mode": "filter", "weight": 0, "score": 1.0, "points": 0,
     "code": "industry_exact", "args": {"industry": "35"}},
    {"kind": "amount", "mode": "score", "weight": 20, "score": 1.0, "points": 20,
     "code": "amount_within", "args": {"low": 50_000_000, "high": 50_000_000,
                                      "ticket_min": 20_000_000, "ticket_max": 100_000_000}},
    {"kind": "round", "mode": "score", "weight": 10, "score": 0.5, "points": 5,
     "code": "round_adjacent", "args": {"round": "a_plus", "preferred": "a"}},
]  # fmt: skip


def test_explanations_use_chinese_labels_and_amounts_in_wan_and_yi(db):
    assert translation.get_language() == "zh-hans"
    sentences = explanations.render(ITEMS)
    assert "专用设备制造业" in sentences[0]
    assert "5,000万" in sentences[1] and "2,000万–1亿" in sentences[1]
    assert "A+" in sentences[2]
    assert explanations.summary(ITEMS) == "；".join(sentences)


def test_english_readers_get_english_sentences(db, english):
    with translation.override("en"):
        line = explanations.summary(ITEMS)
    assert line.startswith("Industry matches: ")
    assert "Amount 5,000万 within the ticket range 2,000万–1亿" in line


def test_broken_or_unknown_items_do_not_break_the_page(db):
    assert explanations.render([{"code": "mystery"}, "junk", {"code": "amount_within"}])
    assert explanations.render(None) == []


def test_every_code_an_engine_run_writes_renders(catalog):  # noqa: F811
    rule_set = MatchRuleSetFactory(threshold=0, max_per_project=5)
    engine.run_rule_set(rule_set)
    for match in Match.objects.filter(rule_set=rule_set):
        for item in match.explanation:
            assert item["code"] in explanations.MESSAGES
        assert len(explanations.render(match.explanation)) >= 5
        assert abs(sum(i["points"] for i in match.explanation) - float(match.score)) < 0.1
