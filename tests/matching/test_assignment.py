"""Assignment: an approved match reaches the right person by the first rule that applies and the
rule's strategy (coverage banker first, round-robin, fewest open matches), within a per-person
cap; the assignee is notified (in-app and by email); with the global or the rule's switch off,
nothing is assigned until someone sends it."""

from __future__ import annotations

import pytest

from ibcloud.core.parameters import set_parameter
from ibcloud.matching import assignment, services
from ibcloud.matching.models import AssignmentRule, Match
from ibcloud.notify.models import Delivery, Notification
from tests.catalog.factories import InvestorFactory, ProjectFactory
from tests.factories import DepartmentFactory, RoleFactory, UserFactory
from tests.matching.factories import AssignmentRuleFactory, MatchFactory, MatchRuleSetFactory
from tests.notify.conftest import (  # noqa: F401 - fixtures
    email_channel,
    run_jobs,
    smtp_server,
)

pytestmark = pytest.mark.django_db

BANKER_PERMS = ["matching.view_match", "matching.change_match"]


@pytest.fixture
def team():
    """A coverage team: 投行一部 with two bankers and a sub-group with one; 投行二部 with one."""
    dept = DepartmentFactory(name="投行一部")
    sub = DepartmentFactory(name="医疗组", parent=dept)
    other = DepartmentFactory(name="投行二部")
    dept.refresh_from_db()
    role = RoleFactory(data_scope="self", perms=BANKER_PERMS)

    def banker(username, department):
        return UserFactory(username=username, department=department, roles=[role])

    return {
        "dept": dept,
        "sub": sub,
        "other": other,
        "ann": banker("ann", dept),
        "bob": banker("bob", dept),
        "cai": banker("cai", sub),
        "dan": banker("dan", other),
    }


@pytest.fixture
def reviewer():
    role = RoleFactory(data_scope="all", perms=["matching.view_match", "matching.review_match"])
    return UserFactory(username="reviewer", roles=[role])


def approved(**kwargs) -> Match:
    return MatchFactory(status=Match.Status.APPROVED, **kwargs)


def open_load(user, n: int) -> None:
    for _ in range(n):
        approved(assignee=user, owner=user)


# --- Rules ----------------------------------------------------------------------------------------


def test_approving_assigns_by_the_rule_and_notifies_the_assignee(team, reviewer):
    rule = AssignmentRuleFactory(target_user=team["bob"])
    match = MatchFactory()

    services.approve(match, reviewer)

    match.refresh_from_db()
    assert match.assignee == team["bob"]
    assert match.owner == team["bob"]
    assert match.department == team["dept"]
    assert match.assignment_rule == rule
    assert match.assigned_at is not None
    notice = Notification.objects.get(event="matching.assigned")
    assert notice.recipient == team["bob"]
    assert notice.url == match.get_absolute_url()
    assert match.project.name in notice.title


def test_the_assignee_is_told_in_their_own_language_whatever_the_reviewers(team, reviewer):
    from django.utils import translation

    team["bob"].language = "en"
    team["bob"].save()
    AssignmentRuleFactory(target_user=team["bob"])
    with translation.override("zh-hans"):  # the reviewer works in Chinese
        services.approve(MatchFactory(), reviewer)
    assert Notification.objects.get(event="matching.assigned").title.startswith("New match")


def test_the_assignee_gets_an_email_through_the_email_channel(
    team,
    reviewer,
    email_channel,  # noqa: F811 - fixture
    smtp_server,  # noqa: F811 - fixture
    run_jobs,  # noqa: F811 - fixture
):
    AssignmentRuleFactory(target_user=team["bob"])
    match = MatchFactory()

    with run_jobs():
        services.approve(match, reviewer)

    delivery = Delivery.objects.get(event="matching.assigned")
    assert delivery.status == Delivery.Status.SENT
    assert [m.recipients for m in smtp_server.messages] == [[team["bob"].email]]
    assert match.project.name in smtp_server.messages[0].subject


def test_rules_are_tried_by_priority_and_conditions_must_all_hold(team, reviewer):
    AssignmentRuleFactory(name="医疗", priority=1, industries=["Q"], target_user=team["ann"])
    AssignmentRuleFactory(
        name="广东软件", priority=2, industries=["I"], regions=["440000"], target_user=team["bob"]
    )
    AssignmentRuleFactory(name="兜底", priority=9, target_user=team["dan"])

    software_in_shenzhen = MatchFactory()  # I65, 深圳 (city of 广东 440000)
    software_in_beijing = MatchFactory(
        project=ProjectFactory(province_code="110000", city_code="110100")
    )
    for match in (software_in_shenzhen, software_in_beijing):
        services.approve(match, reviewer)
        match.refresh_from_db()

    # a section covers its divisions, a province covers its cities
    assert software_in_shenzhen.assignee == team["bob"]
    assert software_in_beijing.assignee == team["dan"]


def test_min_score_rule_sets_and_match_department_conditions(team, reviewer):
    rule_set = MatchRuleSetFactory(department=team["sub"])
    AssignmentRuleFactory(
        priority=1,
        min_score=80,
        match_department=team["dept"],  # covers the sub-department's matches too
        target_user=team["ann"],
    ).rule_sets.add(rule_set)
    AssignmentRuleFactory(priority=2, target_user=team["dan"])

    strong = MatchFactory(rule_set=rule_set, score=85)
    weak = MatchFactory(rule_set=rule_set, score=70)
    elsewhere = MatchFactory(score=95)  # another rule set
    for match in (strong, weak, elsewhere):
        services.approve(match, reviewer)
        match.refresh_from_db()

    assert strong.assignee == team["ann"]
    assert weak.assignee == team["dan"]
    assert elsewhere.assignee == team["dan"]


# --- Strategies -----------------------------------------------------------------------------------


def test_coverage_first_gives_the_match_to_the_investors_coverage_banker(team, reviewer):
    AssignmentRuleFactory(strategy="coverage_first", target_department=team["dept"])
    match = MatchFactory(investor=InvestorFactory(coverage_banker=team["cai"]))

    services.approve(match, reviewer)

    match.refresh_from_db()
    assert match.assignee == team["cai"]  # in a sub-department of the target: eligible
    assert match.department == team["sub"]


def test_coverage_first_falls_back_to_fewest_open_when_the_banker_is_not_eligible(team, reviewer):
    AssignmentRuleFactory(
        strategy="coverage_first", target_department=team["dept"], cap_per_person=2
    )
    outside = MatchFactory(investor=InvestorFactory(coverage_banker=team["dan"]))
    open_load(team["ann"], 1)
    open_load(team["bob"], 1)
    full = MatchFactory(investor=InvestorFactory(coverage_banker=team["ann"]))
    open_load(team["ann"], 1)  # ann now holds 2: at her cap

    services.approve(outside, reviewer)  # dan is outside the target department
    services.approve(full, reviewer)

    outside.refresh_from_db()
    full.refresh_from_db()
    assert outside.assignee == team["cai"]  # nobody open: cai (0) before ann and bob (1)
    assert full.assignee == team["bob"]  # ann at cap; bob has 1, cai has 1 now: bob by name


def test_round_robin_takes_turns_and_skips_people_at_their_cap(team, reviewer):
    rule = AssignmentRuleFactory(
        strategy="round_robin", target_department=team["dept"], cap_per_person=2
    )
    open_load(team["bob"], 2)  # bob is full
    matches = MatchFactory.create_batch(5)

    for match in matches:
        services.approve(match, reviewer)

    assignees = [Match.objects.get(pk=m.pk).assignee for m in matches]
    # ann, (bob is full) cai, ann, cai; then everyone is at the cap: the last one waits
    assert assignees == [team["ann"], team["cai"], team["ann"], team["cai"], None]
    rule.refresh_from_db()
    assert rule.last_assignee == team["cai"]


def test_least_open_picks_the_person_with_the_fewest_open_matches(team, reviewer):
    AssignmentRuleFactory(strategy="least_open", target_department=team["dept"])
    open_load(team["ann"], 2)
    open_load(team["cai"], 1)
    won = approved(assignee=team["bob"], owner=team["bob"], work_status="won")
    lost = approved(assignee=team["bob"], owner=team["bob"], work_status="lost")
    match = MatchFactory()

    services.approve(match, reviewer)

    match.refresh_from_db()
    assert match.assignee == team["bob"]  # won and lost matches are closed: bob holds none
    assert {won.work_status, lost.work_status} == {"won", "lost"}


def test_people_without_access_to_matches_or_disabled_never_receive_them(team, reviewer):
    outsider = UserFactory(username="aaa", department=team["dept"])  # no matching permission
    team["ann"].is_active = False
    team["ann"].save()
    AssignmentRuleFactory(strategy="least_open", target_department=team["dept"])
    match = MatchFactory()

    services.approve(match, reviewer)

    match.refresh_from_db()
    assert match.assignee == team["bob"]
    assert outsider.assigned_matches.count() == 0


def test_a_rule_whose_target_person_is_at_the_cap_lets_the_next_rule_assign(team, reviewer):
    AssignmentRuleFactory(priority=1, target_user=team["ann"], cap_per_person=1)
    AssignmentRuleFactory(priority=2, target_user=team["bob"])
    open_load(team["ann"], 1)
    match = MatchFactory()

    services.approve(match, reviewer)

    assert Match.objects.get(pk=match.pk).assignee == team["bob"]


# --- Switches and manual sending ------------------------------------------------------------------


def test_with_the_global_switch_off_nothing_is_assigned_until_sent(team, reviewer):
    AssignmentRuleFactory(target_user=team["bob"])
    set_parameter("matching.auto_assign", False)
    match = MatchFactory()

    services.approve(match, reviewer)

    match.refresh_from_db()
    assert match.status == Match.Status.APPROVED and match.assignee is None
    assert not Notification.objects.filter(event="matching.assigned").exists()

    services.send_to(match, team["ann"], reviewer, note="请跟进")

    match.refresh_from_db()
    assert match.assignee == team["ann"]
    assert match.assignment_rule is None
    assert Notification.objects.get(event="matching.assigned").recipient == team["ann"]


def test_a_rule_with_automatic_assignment_off_is_skipped(team, reviewer):
    AssignmentRuleFactory(priority=1, target_user=team["bob"], auto_assign=False)
    match = MatchFactory()

    services.approve(match, reviewer)

    assert Match.objects.get(pk=match.pk).assignee is None


def test_no_rule_applying_leaves_the_match_unassigned(team, reviewer):
    AssignmentRuleFactory(industries=["Q"], target_user=team["bob"])
    match = MatchFactory()

    services.approve(match, reviewer)

    assert Match.objects.get(pk=match.pk).assignee is None


def test_sending_to_a_department_picks_its_least_loaded_member(team, reviewer):
    match = approved()
    open_load(team["ann"], 1)
    open_load(team["bob"], 1)

    person = services.send_to(match, team["dept"], reviewer)

    assert person == team["cai"]
    match.refresh_from_db()
    assert match.department == team["sub"]


def test_bulk_sending_to_several_people_spreads_the_matches(team, reviewer):
    matches = [approved() for _ in range(4)]

    result = services.bulk("assign", matches, reviewer, to=[team["ann"], team["bob"]])

    assert result.done == 4
    loads = assignment.open_counts([team["ann"].pk, team["bob"].pk])
    assert loads == {team["ann"].pk: 2, team["bob"].pk: 2}


def test_only_approved_matches_can_be_sent(team, reviewer):
    with pytest.raises(services.StateError):
        services.send_to(MatchFactory(), team["ann"], reviewer)


def test_assign_ignores_matches_already_assigned(team):
    AssignmentRuleFactory(target_user=team["bob"])
    match = approved(assignee=team["ann"], owner=team["ann"])

    assert assignment.assign(match) is None
    assert Match.objects.get(pk=match.pk).assignee == team["ann"]


def test_rule_model_links_to_its_form():
    rule = AssignmentRuleFactory()
    assert rule.get_absolute_url().endswith(f"/assignment-rules/{rule.pk}/edit/")
    assert AssignmentRule.detail_view == "edit"
