"""The matching API: rule sets validated like the form (400 naming the criterion), run and dry
run answering 202 with their jobs, dry runs read and applied, matches scoped, filtered and
exported, statistics as the dashboard shows them."""

from __future__ import annotations

import csv
import io

import pytest

from ibcloud.audit.models import AuditEntry
from ibcloud.matching.models import DryRun, Match, MatchRuleSet
from tests.catalog.factories import InvestorFactory, ProjectFactory
from tests.conftest import make_org
from tests.matching.factories import REALISTIC_CRITERIA, MatchFactory, MatchRuleSetFactory

pytestmark = pytest.mark.django_db

PERMS = [
    "matching.view_matchruleset",
    "matching.add_matchruleset",
    "matching.change_matchruleset",
    "matching.delete_matchruleset",
    "matching.view_match",
    "catalog.view_project",
    "catalog.view_investor",
]
BASE = "/api/v1/matching"


@pytest.fixture
def org():
    return make_org(PERMS)


@pytest.fixture
def engine():
    module = pytest.importorskip("ibcloud.matching.engine")
    tasks = pytest.importorskip("ibcloud.matching.tasks")
    if not hasattr(tasks, "dry_run_job"):
        pytest.skip("the engine's jobs are not there yet")
    return module


def test_create_a_rule_set_with_valid_criteria(org, api):
    client = api.as_user(org.all_user)
    body = {"name": "全行规则", "criteria": REALISTIC_CRITERIA, "threshold": 55, "department": None}
    response = client.post(f"{BASE}/rule-sets/", body, format="json")
    assert response.status_code == 201, response.json()
    rule_set = MatchRuleSet.objects.get()
    assert rule_set.department is None and rule_set.owner == org.all_user
    # the engine fills in every parameter's default
    assert rule_set.criteria[3]["params"]["tolerance_pct"] == 20
    assert response.json()["version"] == 1


def test_bad_criteria_answer_400_naming_the_criterion(org, api):
    client = api.as_user(org.all_user)
    criteria = [dict(c) for c in REALISTIC_CRITERIA]
    criteria[3] = {
        "kind": "amount",
        "mode": "score",
        "weight": 20,
        "params": {"tolerance_pct": 500},
    }
    response = client.post(f"{BASE}/rule-sets/", {"name": "x", "criteria": criteria}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    messages = body["details"]["criteria"]["3"]
    assert any("criterion 4 (amount)" in m and "tolerance_pct" in m for m in messages)
    assert "criterion 4" in body["message"]
    assert MatchRuleSet.objects.count() == 0


@pytest.mark.parametrize(
    "criteria",
    [
        "industry",
        [],
        [1, 2],
        [{"kind": "nope", "mode": "filter", "weight": 0, "params": {}}],
        [{"kind": "amount", "mode": "score", "weight": 100, "params": {}}],
        {"kind": "industry"},
    ],
)
def test_malformed_criteria_answer_400_never_500(org, api, criteria):
    client = api.as_user(org.all_user)
    response = client.post(f"{BASE}/rule-sets/", {"name": "x", "criteria": criteria}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "details"}


def test_changing_the_criteria_bumps_the_version(org, api):
    rule_set = MatchRuleSetFactory(department=org.dept_a)
    client = api.as_user(org.dept_user)
    url = f"{BASE}/rule-sets/{rule_set.pk}/"
    assert client.patch(url, {"name": "新名字"}, format="json").json()["version"] == 1
    assert client.patch(url, {"threshold": 70}, format="json").json()["version"] == 2


def test_rule_sets_stay_in_scope(org, api):
    mine = MatchRuleSetFactory(department=org.dept_a)
    theirs = MatchRuleSetFactory(department=org.dept_b)
    client = api.as_user(org.dept_user)
    ids = [row["id"] for row in client.get(f"{BASE}/rule-sets/").json()["results"]]
    assert ids == [mine.pk]
    assert client.get(f"{BASE}/rule-sets/{theirs.pk}/").status_code == 404
    assert client.post(f"{BASE}/rule-sets/{theirs.pk}/run/").status_code == 404
    assert client.post(f"{BASE}/rule-sets/{theirs.pk}/dry-run/").status_code == 404
    # moving one into a department out of reach is refused
    response = client.patch(
        f"{BASE}/rule-sets/{mine.pk}/", {"department": org.dept_b.pk}, format="json"
    )
    assert response.status_code == 400


def test_the_detail_counts_matches_by_status(org, api):
    rule_set = MatchRuleSetFactory(department=org.dept_a)
    MatchFactory(rule_set=rule_set)
    MatchFactory(rule_set=rule_set, status="rejected", reject_reason="stage_mismatch")
    body = api.as_user(org.dept_user).get(f"{BASE}/rule-sets/{rule_set.pk}/").json()
    assert body["status_counts"]["pending"] == 1
    assert body["rejection_reasons"] == {"stage_mismatch": 1}


def test_run_answers_202_with_the_job(org, api, engine):
    rule_set = MatchRuleSetFactory(department=org.dept_a)
    response = api.as_user(org.dept_user).post(f"{BASE}/rule-sets/{rule_set.pk}/run/")
    assert response.status_code == 202
    assert response.json()["arguments"]["args"] == [rule_set.pk]
    assert AuditEntry.objects.filter(event="matching_run").exists()


def test_without_change_permission_no_run_or_dry_run(api):
    org = make_org(["matching.view_matchruleset", "matching.view_match"])
    rule_set = MatchRuleSetFactory(department=org.dept_a)
    client = api.as_user(org.dept_user)
    assert client.post(f"{BASE}/rule-sets/{rule_set.pk}/run/").status_code == 403
    assert client.post(f"{BASE}/rule-sets/{rule_set.pk}/dry-run/").status_code == 403
    assert (
        client.post(
            f"{BASE}/dry-runs/", {"criteria": REALISTIC_CRITERIA}, format="json"
        ).status_code
        == 403
    )


def test_dry_run_then_apply_through_the_api(org, api, engine, django_capture_on_commit_callbacks):
    ProjectFactory.create_batch(3)
    InvestorFactory(preferred_industries=["I"], preferred_rounds=["a"], nationwide=True)
    rule_set = MatchRuleSetFactory(department=org.dept_a, threshold=95)
    with django_capture_on_commit_callbacks(execute=True):
        engine.run_rule_set(rule_set)
    before = set(Match.objects.filter(status="pending").values_list("project_id", "investor_id"))
    client = api.as_user(org.dept_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{BASE}/rule-sets/{rule_set.pk}/dry-run/", {"threshold": 1}, format="json"
        )
    assert response.status_code == 202
    dry_run_id = response.json()["id"]
    assert response.json()["job"]["id"]
    body = client.get(f"{BASE}/dry-runs/{dry_run_id}/").json()
    assert body["configuration"]["threshold"] == 1
    added = {(p["project"], p["investor"]) for p in body["added"]}
    removed = {(p["project"], p["investor"]) for p in body["removed"]}
    assert body["summary"]["added"] == len(added)
    # nothing changed yet
    assert (
        set(Match.objects.filter(status="pending").values_list("project_id", "investor_id"))
        == before
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{BASE}/dry-runs/{dry_run_id}/apply/")
    assert response.status_code == 202, response.json()
    assert response.json()["id"]  # the job applying it
    after = set(Match.objects.filter(status="pending").values_list("project_id", "investor_id"))
    assert after == (before - removed) | added
    listed = [row["id"] for row in client.get(f"{BASE}/dry-runs/").json()["results"]]
    assert dry_run_id in listed
    assert api.as_user(org.b_user).get(f"{BASE}/dry-runs/{dry_run_id}/").status_code == 404


def test_a_dry_run_needs_criteria_when_there_is_no_rule_set(org, api):
    response = api.as_user(org.all_user).post(f"{BASE}/dry-runs/", {"threshold": 50}, format="json")
    assert response.status_code == 400
    assert DryRun.objects.count() == 0


# --- Matches and statistics -----------------------------------------------------------------------


@pytest.fixture
def matches(org):
    rule_a = MatchRuleSetFactory(department=org.dept_a)
    rule_b = MatchRuleSetFactory(department=org.dept_b)
    return [
        MatchFactory(rule_set=rule_a, project=ProjectFactory(name="甲项目"), score=80),
        MatchFactory(rule_set=rule_a, project=ProjectFactory(name="乙项目"), status="approved"),
        MatchFactory(rule_set=rule_b, project=ProjectFactory(name="丙项目")),
    ]


def test_matches_are_scoped_and_filtered(org, api, matches):
    client = api.as_user(org.dept_user)
    rows = client.get(f"{BASE}/matches/").json()["results"]
    assert sorted(row["project_name"] for row in rows) == ["乙项目", "甲项目"]
    rows = client.get(f"{BASE}/matches/", {"status": "approved"}).json()["results"]
    assert [row["project_name"] for row in rows] == ["乙项目"]
    assert client.get(f"{BASE}/matches/{matches[2].pk}/").status_code == 404
    assert client.get(f"{BASE}/matches/", {"score_min": "abc"}).status_code == 400


def test_match_export_is_scoped_and_audited(org, api, matches, english):
    client = api.as_user(org.b_user)
    response = client.get(f"{BASE}/matches/export/", {"file_format": "csv"})
    assert response.status_code == 200
    header, *rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row[header.index("Project")] for row in rows] == ["丙项目"]
    assert AuditEntry.objects.filter(event="export", actor=org.b_user).exists()
    assert client.get(f"{BASE}/matches/export/", {"file_format": "pdf"}).status_code == 400


def test_statistics_are_the_dashboards_figures(org, api, matches):
    client = api.as_user(org.dept_user)
    body = client.get(f"{BASE}/statistics/").json()
    assert body["totals"]["matches"] == 2
    assert sum(sum(s["data"]) for s in body["per_week"]["series"]) == 2
    assert client.get(f"{BASE}/statistics/", {"date_from": "2026-02-30"}).status_code == 400
    response = client.get(
        f"{BASE}/statistics/", {"date_from": "2026-05-01", "date_to": "2026-01-01"}
    )
    assert response.status_code == 400
