"""The review API: decisions on matches, bulk actions, manual matches, the inbox and assignment
rules, within permissions and data scope; errors answer {"code", "message", "details"}."""

from __future__ import annotations

import pytest

from ibcloud.core.parameters import set_parameter
from ibcloud.matching.models import AssignmentRule, Match
from tests.catalog.factories import InvestorFactory, ProjectFactory
from tests.conftest import make_org
from tests.factories import RoleFactory, UserFactory
from tests.matching.factories import AssignmentRuleFactory, MatchFactory, MatchRuleSetFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/matching"
PERMS = [
    "matching.view_match",
    "matching.change_match",
    "matching.add_match",
    "matching.review_match",
    "matching.assign_match",
    "matching.view_matchruleset",
    "matching.view_assignmentrule",
    "matching.add_assignmentrule",
    "matching.change_assignmentrule",
    "matching.delete_assignmentrule",
    "catalog.view_project",
    "catalog.view_investor",
]


@pytest.fixture(autouse=True)
def _no_auto_assign():
    set_parameter("matching.auto_assign", False)


@pytest.fixture
def org():
    return make_org(PERMS)


def in_department(department, **kwargs) -> Match:
    return MatchFactory(rule_set=MatchRuleSetFactory(department=department), **kwargs)


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    if code:
        assert body["code"] == code
    return body


def test_approve_reject_unmatch_rematch_through_the_api(org, api):
    client = api.as_user(org.all_user)
    keep, drop = MatchFactory(), MatchFactory()

    response = client.post(f"{BASE}/match-reviews/{keep.pk}/approve/", {"note": "好"})
    assert response.status_code == 200
    assert response.json()["status"] == "approved"
    response = client.post(
        f"{BASE}/match-reviews/{drop.pk}/reject/", {"reason": "stage_mismatch", "note": ""}
    )
    assert response.json()["reject_reason"] == "stage_mismatch"
    assert client.post(f"{BASE}/match-reviews/{keep.pk}/unmatch/").json()["status"] == ("unmatched")
    assert client.post(f"{BASE}/match-reviews/{drop.pk}/rematch/").json()["status"] == "pending"


def test_a_decision_in_the_wrong_status_is_a_conflict(org, api):
    match = MatchFactory(status="approved")

    response = api.as_user(org.all_user).post(f"{BASE}/match-reviews/{match.pk}/approve/")

    assert_error(response, 409, "conflict")


def test_bad_rejection_input_is_a_400_naming_the_field(org, api):
    client = api.as_user(org.all_user)
    match = MatchFactory()

    body = assert_error(
        client.post(f"{BASE}/match-reviews/{match.pk}/reject/", {"reason": "bogus"}), 400
    )
    assert "reason" in body["details"]
    body = assert_error(
        client.post(f"{BASE}/match-reviews/{match.pk}/reject/", {"reason": "other"}), 400
    )
    assert "note" in body["details"]
    assert Match.objects.get(pk=match.pk).status == "pending"


def test_decisions_need_the_review_permission(api):
    viewer = UserFactory(roles=[RoleFactory(data_scope="all", perms=["matching.view_match"])])
    match = MatchFactory()

    response = api.as_user(viewer).post(f"{BASE}/match-reviews/{match.pk}/approve/")

    assert_error(response, 403)


def test_matches_out_of_reach_are_not_found(org, api):
    hidden = in_department(org.dept_b)

    response = api.as_user(org.dept_user).post(f"{BASE}/match-reviews/{hidden.pk}/approve/")

    assert_error(response, 404)
    assert Match.objects.get(pk=hidden.pk).status == "pending"


def test_assign_progress_and_notes(org, api):
    client = api.as_user(org.admin)
    match = MatchFactory(status="approved")

    response = client.post(f"{BASE}/match-reviews/{match.pk}/assign/", {"user": org.dept_user.pk})
    assert response.json()["assignee"] == org.dept_user.pk
    response = client.post(
        f"{BASE}/match-reviews/{match.pk}/progress/",
        {"work_status": "contacted", "note": "已联系"},
    )
    assert response.json()["work_status"] == "contacted"
    response = client.post(f"{BASE}/match-reviews/{match.pk}/notes/", {"text": "下周见面"})
    assert response.status_code == 201
    notes = client.get(f"{BASE}/match-reviews/{match.pk}/notes/").json()
    assert [n["text"] for n in notes] == ["下周见面", "已联系"]


def test_assigning_needs_exactly_one_target_in_reach(org, api):
    client = api.as_user(org.dept_user)
    match = in_department(org.dept_a, status="approved")

    assert_error(client.post(f"{BASE}/match-reviews/{match.pk}/assign/", {}), 400)
    # a person outside the caller's reach is not a valid choice
    response = client.post(f"{BASE}/match-reviews/{match.pk}/assign/", {"user": org.b_user.pk})
    assert "user" in assert_error(response, 400)["details"]


def test_bulk_reports_per_row_errors_and_ids_out_of_reach(org, api):
    mine = in_department(org.dept_a)
    decided = in_department(org.dept_a, status="rejected")
    hidden = in_department(org.dept_b)

    response = api.as_user(org.dept_user).post(
        f"{BASE}/match-reviews/bulk/",
        {"action": "approve", "ids": [mine.pk, decided.pk, hidden.pk]},
        format="json",
    )

    body = response.json()
    assert (body["done"], body["failed"]) == (1, 2)
    assert {e["id"] for e in body["errors"]} == {decided.pk, hidden.pk}
    assert Match.objects.get(pk=hidden.pk).status == "pending"


def test_bulk_reject_needs_a_reason(org, api):
    match = MatchFactory()

    response = api.as_user(org.all_user).post(
        f"{BASE}/match-reviews/bulk/", {"action": "reject", "ids": [match.pk]}, format="json"
    )

    assert "reason" in assert_error(response, 400)["details"]


def test_manual_match_through_the_api(org, api):
    client = api.as_user(org.all_user)
    project, investor = ProjectFactory(), InvestorFactory()

    response = client.post(
        f"{BASE}/match-reviews/", {"project": project.pk, "investor": investor.pk, "note": "推荐"}
    )
    assert response.status_code == 201
    assert (response.json()["source"], response.json()["status"]) == ("manual", "approved")

    again = client.post(f"{BASE}/match-reviews/", {"project": project.pk, "investor": investor.pk})
    assert_error(again, 400)


def test_rejection_statistics_are_scoped(org, api):
    in_department(org.dept_a, status="rejected", reject_reason="industry_mismatch")
    in_department(org.dept_b, status="rejected", reject_reason="amount_mismatch")

    rows = api.as_user(org.dept_user).get(f"{BASE}/match-reviews/rejection-statistics/").json()

    assert [row["reasons"] for row in rows] == [{"industry_mismatch": 1}]


def test_the_inbox_lists_and_counts_the_callers_matches(org, api):
    def mine(**kwargs):
        return in_department(
            org.dept_a, status="approved", assignee=org.self_user, owner=org.self_user, **kwargs
        )

    first = mine()
    mine(work_status="won")
    in_department(org.dept_a, status="approved", assignee=org.dept_user, owner=org.dept_user)
    client = api.as_user(org.self_user)

    listed = client.get(f"{BASE}/inbox/", {"work_status": "new"}).json()
    assert [row["id"] for row in listed["results"]] == [first.pk]
    counts = client.get(f"{BASE}/inbox/counts/").json()
    assert counts["total"] == 2
    assert counts["by_work_status"]["won"] == 1


def test_assignment_rules_crud_with_validated_codes(org, api):
    client = api.as_user(org.all_user)

    response = client.post(
        f"{BASE}/assignment-rules/",
        {
            "name": "医疗轮转",
            "industries": ["Q"],
            "regions": ["440000"],
            "target_department": org.dept_a.pk,
            "strategy": "round_robin",
            "cap_per_person": 10,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    rule = AssignmentRule.objects.get(pk=response.json()["id"])
    assert rule.owner == org.all_user and rule.department == org.dept_a

    bad = client.post(
        f"{BASE}/assignment-rules/",
        {"name": "错误", "industries": ["ZZ"], "regions": ["999999"], "min_score": 120},
        format="json",
    )
    details = assert_error(bad, 400)["details"]
    assert {"industries", "regions", "min_score"} <= set(details)

    response = client.patch(
        f"{BASE}/assignment-rules/{rule.pk}/", {"auto_assign": False}, format="json"
    )
    assert response.json()["auto_assign"] is False
    assert client.delete(f"{BASE}/assignment-rules/{rule.pk}/").status_code == 204


def test_assignment_rules_are_scoped(org, api):
    AssignmentRuleFactory(name="A", department=org.dept_a, owner=org.dept_user)
    AssignmentRuleFactory(name="B", department=org.dept_b, owner=org.b_user)

    rows = api.as_user(org.b_user).get(f"{BASE}/assignment-rules/").json()["results"]

    assert [row["name"] for row in rows] == ["B"]
