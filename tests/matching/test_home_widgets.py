"""The home page counts the matches waiting on a person: those to review (reviewers) and those
assigned to them still being followed up; each card links to the list of exactly those rows."""

import pytest

from ibcloud.matching.models import Match
from tests.catalog.factories import ProjectFactory
from tests.factories import DepartmentFactory, RoleFactory, UserFactory
from tests.home_cards import home_cards, rows_listed
from tests.matching.factories import MatchFactory

pytestmark = pytest.mark.django_db


def assigned(user, name: str, work_status: str) -> Match:
    return MatchFactory(
        project=ProjectFactory(name=name),
        status=Match.Status.APPROVED,
        assignee=user,
        owner=user,
        department=user.department,
        work_status=work_status,
    )


def test_my_matches_to_follow_up_leave_out_won_lost_and_other_peoples(client):
    department = DepartmentFactory(name="投行一部")
    role = RoleFactory(data_scope="self", perms=["matching.view_match"])
    ann = UserFactory(username="ann", department=department, roles=[role])
    bob = UserFactory(username="bob", department=department, roles=[role])
    assigned(ann, "新匹配", "new")
    assigned(ann, "已联系", "contacted")
    assigned(ann, "推进中", "in_progress")
    assigned(ann, "已成交", "won")
    assigned(ann, "已放弃", "lost")
    assigned(bob, "别人的", "new")

    client.force_login(ann)
    cards = home_cards(client)
    number, link = cards["matches_to_follow_up"]
    assert number == 3
    assert rows_listed(client, link) == 3
    assert "matches_to_review" not in cards  # ann does not review


def test_reviewers_see_the_pending_matches_in_their_reach(client):
    mine, other = DepartmentFactory(name="投行一部", code="a"), DepartmentFactory(code="b")
    role = RoleFactory(data_scope="dept", perms=["matching.view_match", "matching.review_match"])
    reviewer = UserFactory(username="reviewer", department=mine, roles=[role])
    MatchFactory(department=mine, rule_set=None)
    MatchFactory(department=mine, rule_set=None)
    MatchFactory(department=mine, rule_set=None, status=Match.Status.APPROVED)
    MatchFactory(department=other, rule_set=None)

    client.force_login(reviewer)
    number, link = home_cards(client)["matches_to_review"]
    assert number == 2
    assert rows_listed(client, link) == 2
