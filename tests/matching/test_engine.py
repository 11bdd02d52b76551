"""Full runs: blocking finds what comparing every pair finds; reviews stand across re-runs."""

import json
import random

import pytest

from ibcloud.catalog.models import Investor
from ibcloud.matching import engine, scoring
from ibcloud.matching.criteria import CRITERIA, Context
from ibcloud.matching.models import Match
from tests.catalog.factories import InvestorFactory, ProjectFactory
from tests.matching.factories import REALISTIC_CRITERIA, MatchRuleSetFactory
from tests.matching.test_criteria import TODAY, random_investor, random_project


def brute_force(configuration, projects, investors, context):
    """Score every pair with the scalar criteria; keep each project's best k (ties: lower id)."""
    filters = [c for c in configuration.criteria if c["mode"] == "filter"]
    scores = [c for c in configuration.criteria if c["mode"] == "score"]
    weight = sum(c["weight"] for c in scores)
    result = {}
    for project in projects:
        ranked = []
        for investor in investors:
            passed = True
            for item in filters:
                score = CRITERIA[item["kind"]].evaluate(project, investor, item["params"], context)[
                    0
                ]
                if score is None:
                    passed &= item["params"]["any_when_empty"]
                else:
                    passed &= score >= item["params"]["pass_score"]
            if not passed:
                continue
            total = 0.0
            for item in scores:
                score = CRITERIA[item["kind"]].evaluate(project, investor, item["params"], context)[
                    0
                ]
                total += item["weight"] * (
                    item["params"]["missing_score"] if score is None else score
                )
            total = round(total * 100 / weight, 2) if weight else 100.0
            if total >= configuration.threshold:
                ranked.append((-total, investor["id"]))
        for negative, investor_id in sorted(ranked)[: configuration.max_per_project]:
            result[(project["id"], investor_id)] = -negative
    return result


@pytest.mark.parametrize(
    "criteria",
    [
        REALISTIC_CRITERIA,
        [
            {"kind": "region", "mode": "filter", "params": {"pass_score": 0.5}},
            {"kind": "capital_type", "mode": "filter", "params": {"any_when_empty": False}},
            {
                "kind": "industry",
                "mode": "filter",
                "params": {"pass_score": 0.6, "any_when_empty": True},
            },
            {"kind": "round", "mode": "score", "weight": 30},
            {"kind": "amount", "mode": "score", "weight": 30, "params": {"tolerance_pct": 50}},
            {"kind": "revealed", "mode": "score", "weight": 20},
        ],
    ],
)
def test_blocking_proposes_exactly_what_comparing_every_pair_proposes(criteria):
    rng = random.Random(11)
    projects = [random_project(rng, n) for n in range(1, 121)]
    investors = [random_investor(rng, n) for n in range(1, 81)]
    configuration = scoring.Configuration.clean(
        {"criteria": criteria, "threshold": 40, "max_per_project": 3}
    )
    context = Context(TODAY)
    proposals = scoring.compute(configuration, projects, investors, {}, context)
    expected = brute_force(configuration, projects, investors, context)
    assert expected  # the sample matches something
    assert {pair: p.score for pair, p in proposals.pairs.items()} == pytest.approx(expected)
    # blocking skipped pairs: fewer scored than all pairs
    assert proposals.pairs_scored < len(projects) * len(investors)


def test_blocked_pairs_are_skipped_and_the_next_best_takes_the_slot():
    rng = random.Random(5)
    projects = [random_project(rng, n) for n in range(1, 60)]
    investors = [random_investor(rng, n) for n in range(1, 60)]
    configuration = scoring.Configuration.clean(
        {"criteria": REALISTIC_CRITERIA, "threshold": 0, "max_per_project": 2}
    )
    first = scoring.compute(configuration, projects, investors, {}, Context(TODAY))
    project_id, investor_id = next(iter(first.pairs))
    again = scoring.compute(
        configuration, projects, investors, {project_id: {investor_id}}, Context(TODAY)
    )
    assert (project_id, investor_id) not in again.pairs
    before = sum(1 for p, _i in first.pairs if p == project_id)
    after = sum(1 for p, _i in again.pairs if p == project_id)
    everyone = scoring.Configuration.clean(
        {"criteria": REALISTIC_CRITERIA, "threshold": 0, "max_per_project": 50}
    )
    mine = [f for f in projects if f["id"] == project_id]
    candidates = len(brute_force(everyone, mine, investors, Context(TODAY)))
    assert after == min(before, candidates - 1)


@pytest.fixture
def catalog(db):
    """Three 医疗器械 projects and five investors of descending fit."""
    projects = [
        ProjectFactory(industry="35", industry_section="C", summary="医疗器械 影像设备")
        for _ in range(3)
    ]
    investors = [
        InvestorFactory(preferred_industries=["35"], preferred_rounds=["a"], nationwide=True),
        InvestorFactory(preferred_industries=["35"], preferred_rounds=["a"], ticket_max=40_000_000),
        InvestorFactory(preferred_industries=["C"], preferred_rounds=["a", "b"]),
        InvestorFactory(
            preferred_industries=["35", "65"], preferred_rounds=["a"], capital_type="usd"
        ),
        InvestorFactory(preferred_industries=["65"], preferred_rounds=["a"]),  # filtered out
    ]
    return projects, investors


def test_a_full_run_keeps_at_most_max_per_project_at_or_above_the_threshold(catalog):
    projects, investors = catalog
    rule_set = MatchRuleSetFactory(threshold=40, max_per_project=2)
    report = engine.run_rule_set(rule_set)
    matches = Match.objects.filter(rule_set=rule_set)
    assert report.added == matches.count() == 6
    for project in projects:
        mine = matches.filter(project=project)
        assert mine.count() == 2
        assert all(m.score >= 40 for m in mine)
        assert investors[4].pk not in {m.investor_id for m in mine}
        item = mine.first().explanation[0]
        assert set(item) == {"kind", "mode", "weight", "score", "points", "code", "args"}
        assert mine.first().fingerprint == scoring.fingerprint_of(project, mine.first().investor)
    rule_set.refresh_from_db()
    assert rule_set.last_run_at is not None
    # a second run changes nothing
    again = engine.run_rule_set(rule_set)
    assert (again.added, again.withdrawn, again.kept) == (0, 0, 6)


def test_rejected_stays_rejected_until_its_data_changes_materially(catalog):
    projects, _investors = catalog
    rule_set = MatchRuleSetFactory(threshold=40, max_per_project=2)
    engine.run_rule_set(rule_set)
    rejected = Match.objects.filter(rule_set=rule_set, project=projects[0]).first()
    rejected.status = Match.Status.REJECTED
    rejected.reject_reason = "not_relevant"
    rejected.save()
    engine.match_projects([projects[0].pk], [rule_set])
    # the next-best investor took the slot; the rejected one is still rejected
    pending = Match.objects.filter(rule_set=rule_set, project=projects[0], status="pending")
    assert pending.count() == 2
    assert rejected.investor_id not in {m.investor_id for m in pending}
    engine.run_rule_set(rule_set)
    rejected.refresh_from_db()
    assert rejected.status == Match.Status.REJECTED
    # a description edit is not material
    Investor.objects.filter(pk=rejected.investor_id).update(description="新的介绍")
    engine.run_rule_set(rule_set)
    rejected.refresh_from_db()
    assert rejected.status == Match.Status.REJECTED
    # a new ticket range is: proposed again, review fields cleared
    Investor.objects.filter(pk=rejected.investor_id).update(ticket_max=90_000_000)
    report = engine.run_rule_set(rule_set)
    rejected.refresh_from_db()
    assert report.reopened == 1
    assert rejected.status == Match.Status.PENDING and rejected.reject_reason == ""


def test_approved_and_unmatched_matches_are_never_changed_and_pending_ones_are_withdrawn(catalog):
    projects, investors = catalog
    rule_set = MatchRuleSetFactory(threshold=40, max_per_project=2)
    engine.run_rule_set(rule_set)
    approved = Match.objects.filter(rule_set=rule_set, project=projects[0]).first()
    Match.objects.filter(pk=approved.pk).update(status="approved", score=12)
    unmatched = Match.objects.filter(rule_set=rule_set, project=projects[1]).first()
    Match.objects.filter(pk=unmatched.pk).update(status="unmatched")
    # the rules change: nobody passes any more
    rule_set.threshold = 100
    rule_set.save()
    report = engine.run_rule_set(rule_set)
    approved.refresh_from_db()
    unmatched.refresh_from_db()
    assert (approved.status, approved.score) == ("approved", 12)
    assert unmatched.status == "unmatched"
    assert report.withdrawn == 4
    assert not Match.objects.filter(rule_set=rule_set, status="pending").exists()
    assert Match.objects.filter(rule_set=rule_set, status="withdrawn").count() == 4


def test_a_run_notifies_reviewers_once(catalog, monkeypatch):
    from ibcloud.matching import services

    calls = []
    monkeypatch.setattr(
        services, "notify_review_waiting", lambda rs, n: calls.append(n), raising=False
    )
    rule_set = MatchRuleSetFactory(threshold=40, max_per_project=2)
    engine.run_rule_set(rule_set)
    assert calls == [6]


def test_scoring_in_worker_processes_proposes_what_one_process_proposes(caplog):
    rng = random.Random(23)
    projects = [random_project(rng, n) for n in range(1, 151)]
    investors = [random_investor(rng, n) for n in range(1, 61)]
    configuration = scoring.Configuration.clean(
        {"criteria": REALISTIC_CRITERIA, "threshold": 30, "max_per_project": 3}
    )
    blocked = {projects[0]["id"]: {investors[0]["id"], investors[1]["id"]}}
    alone = scoring.compute(configuration, projects, investors, blocked, Context(TODAY), workers=1)
    shared = scoring.compute(configuration, projects, investors, blocked, Context(TODAY), workers=2)
    assert alone.pairs  # the sample matches something
    assert {pair: (p.score, p.explanation, p.fingerprint) for pair, p in shared.pairs.items()} == {
        pair: (p.score, p.explanation, p.fingerprint) for pair, p in alone.pairs.items()
    }
    assert shared.pairs_scored == alone.pairs_scored
    assert "matching in one process" not in caplog.text  # the workers did the scoring


def test_explanations_are_the_criteria_descriptions_of_each_pair():
    rng = random.Random(31)
    projects = [random_project(rng, n) for n in range(1, 61)]
    investors = [random_investor(rng, n) for n in range(1, 41)]
    configuration = scoring.Configuration.clean(
        {"criteria": REALISTIC_CRITERIA, "threshold": 0, "max_per_project": 5}
    )
    proposals = scoring.compute(configuration, projects, investors, {}, Context(TODAY))
    project_of = {f["id"]: f for f in projects}
    investor_of = {f["id"]: f for f in investors}
    weight = sum(c["weight"] for c in configuration.criteria)
    for (project_id, investor_id), proposal in proposals.pairs.items():
        for item, spec in zip(proposal.explanation, configuration.criteria, strict=True):
            score, code, args = CRITERIA[spec["kind"]].evaluate(
                project_of[project_id], investor_of[investor_id], spec["params"], Context(TODAY)
            )
            assert (item["kind"], item["mode"], item["weight"]) == (
                spec["kind"], spec["mode"], spec["weight"]
            )  # fmt: skip
            assert item["code"] == code
            assert item["args"] == json.loads(json.dumps(args, default=str))
            if score is None:
                assert item["score"] is None
            else:
                assert item["score"] == pytest.approx(round(score, 4), abs=1e-4)
            used = spec["params"]["missing_score"] if score is None else score
            expected = (
                round(spec["weight"] * used * 100 / weight, 2) if spec["mode"] == "score" else 0
            )
            assert item["points"] == pytest.approx(expected, abs=0.011)
