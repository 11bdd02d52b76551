"""The review pages: the queue (scoped, filtered, best first, per-row and bulk decisions), a
match's page with the actions the viewer may take, manual matches, the "approved, unassigned"
list, and assignment rules with the global switch."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from ibcloud.core.parameters import get_parameter, set_parameter
from ibcloud.matching.models import AssignmentRule, Match
from tests.catalog.factories import InvestorFactory, ProjectFactory
from tests.conftest import make_org
from tests.factories import RoleFactory, UserFactory
from tests.matching.factories import AssignmentRuleFactory, MatchFactory, MatchRuleSetFactory

pytestmark = pytest.mark.django_db

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
    "audit.view_auditentry",
]

EXPECTED = {
    "admin": {"a_mine", "a_other", "b"},
    "all_user": {"a_mine", "a_other", "b"},
    "dept_and_below_user": {"a_mine", "a_other"},
    "dept_user": {"a_mine", "a_other"},
    "self_user": {"a_mine"},
    "custom_user": {"b"},
    "b_user": {"b"},
}


@pytest.fixture(autouse=True)
def _no_auto_assign():
    set_parameter("matching.auto_assign", False)


@pytest.fixture
def org():
    return make_org(PERMS)


def scoped_matches(org, **kwargs) -> dict[str, Match]:
    """One match per reach label, each with a project name that marks it."""
    in_a = MatchRuleSetFactory(department=org.dept_a)
    in_b = MatchRuleSetFactory(department=org.dept_b)

    def make(label, rule_set, owner):
        project = ProjectFactory(name=f"marker-{label}")
        return MatchFactory(project=project, rule_set=rule_set, owner=owner, **kwargs)

    return {
        "a_mine": make("a_mine", in_a, org.self_user),
        "a_other": make("a_other", in_a, org.dept_user),
        "b": make("b", in_b, org.b_user),
    }


def markers(response) -> set[str]:
    return set(re.findall(r"marker-(a_mine|a_other|b)\b", response.content.decode()))


# --- Queue ----------------------------------------------------------------------------------------


def test_the_queue_shows_pending_matches_in_reach_only(org, client):
    scoped_matches(org)
    for name, expected in EXPECTED.items():
        client.force_login(getattr(org, name))
        response = client.get(reverse("matching:review"))
        assert response.status_code == 200
        assert markers(response) == expected, name


def test_the_queue_is_sorted_by_score_and_leaves_decided_matches_out(org, client):
    MatchFactory(project=ProjectFactory(name="中分项目"), score=70)
    MatchFactory(project=ProjectFactory(name="高分项目"), score=92)
    MatchFactory(project=ProjectFactory(name="已批项目"), score=99, status="approved")
    client.force_login(org.admin)

    html = client.get(reverse("matching:review")).content.decode()

    assert html.index("高分项目") < html.index("中分项目")
    assert "已批项目" not in html


@pytest.mark.parametrize(
    "page, left_out",
    [
        ("matching:review", {"status", "work_status", "assignee", "unassigned"}),
        ("matching:unassigned", {"status", "work_status", "assignee", "unassigned"}),
        ("matching:inbox", {"status", "assignee", "unassigned"}),
        ("matching:match_list", set()),
    ],
)
def test_each_list_offers_only_the_filters_that_can_narrow_it(org, client, page, left_out):
    """The queue's matches are all pending and unassigned, the inbox's all approved and mine:
    filters on what every row shares are left out of those forms (the match list keeps all)."""
    every = {"status", "work_status", "assignee", "unassigned", "rule_set", "score_min", "q"}
    client.force_login(org.admin)
    form = client.get(reverse(page)).context["filter_form"]
    assert every - left_out <= set(form.fields)
    assert not left_out & set(form.fields)


def test_the_queue_filters_by_rule_set_and_score(org, client):
    one, two = MatchRuleSetFactory(), MatchRuleSetFactory()
    MatchFactory(project=ProjectFactory(name="一号项目"), rule_set=one, score=90)
    MatchFactory(project=ProjectFactory(name="二号项目"), rule_set=two, score=90)
    MatchFactory(project=ProjectFactory(name="低分项目"), rule_set=one, score=40)
    client.force_login(org.admin)

    html = client.get(reverse("matching:review"), {"rule_set": one.pk, "score_min": 60})

    text = html.content.decode()
    assert "一号项目" in text and "二号项目" not in text and "低分项目" not in text


def test_the_queue_needs_the_review_permission(client):
    viewer = UserFactory(roles=[RoleFactory(data_scope="all", perms=["matching.view_match"])])
    client.force_login(viewer)

    assert client.get(reverse("matching:review")).status_code == 403


def test_approving_and_rejecting_from_the_queue(org, client):
    keep, drop = MatchFactory(), MatchFactory()
    client.force_login(org.all_user)
    queue = reverse("matching:review")

    response = client.post(reverse("matching:match_approve", args=[keep.pk]), {"next": queue})
    assert response.status_code == 302 and response["Location"] == queue
    response = client.post(
        reverse("matching:match_reject", args=[drop.pk]),
        {"reason": "investor_inactive", "note": "两年没有新投资", "next": queue},
    )
    assert response.status_code == 302

    keep.refresh_from_db()
    drop.refresh_from_db()
    assert keep.status == "approved" and keep.reviewed_by == org.all_user
    assert (drop.status, drop.reject_reason) == ("rejected", "investor_inactive")


def test_a_rejection_form_with_other_and_no_note_shows_the_error(org, client):
    match = MatchFactory()
    client.force_login(org.all_user)

    response = client.post(reverse("matching:match_reject", args=[match.pk]), {"reason": "other"})

    assert response.status_code == 200
    assert 'data-field-error="note"' in response.content.decode()
    assert Match.objects.get(pk=match.pk).status == "pending"


def test_the_reject_form_comes_as_a_partial_for_htmx(org, client):
    match = MatchFactory()
    client.force_login(org.all_user)

    response = client.get(
        reverse("matching:match_reject", args=[match.pk]), headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert 'id="reject-form"' in html and "<html" not in html


def test_bulk_approve_and_reject_in_the_queue(org, client):
    first, second, third = MatchFactory.create_batch(3)
    client.force_login(org.all_user)
    queue = reverse("matching:review")

    client.post(queue, {"bulk_action": "approve", "pk": [first.pk, second.pk]})
    client.post(
        queue, {"bulk_action": "reject", "pk": [third.pk], "reason": "already_known", "note": ""}
    )

    ids = [first.pk, second.pk, third.pk]
    statuses = dict(Match.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert statuses == {first.pk: "approved", second.pk: "approved", third.pk: "rejected"}
    assert Match.objects.get(pk=third.pk).reject_reason == "already_known"


def test_bulk_actions_only_touch_matches_in_reach(org, client):
    matches = scoped_matches(org)
    client.force_login(org.b_user)

    client.post(
        reverse("matching:review"),
        {"bulk_action": "approve", "pk": [m.pk for m in matches.values()]},
    )

    approved = set(Match.objects.filter(status="approved").values_list("pk", flat=True))
    assert approved == {matches["b"].pk}


# --- A match's page -------------------------------------------------------------------------------


def test_the_match_page_is_scoped(org, client):
    matches = scoped_matches(org)
    client.force_login(org.b_user)

    assert client.get(reverse("matching:match_detail", args=[matches["b"].pk])).status_code == 200
    url = reverse("matching:match_detail", args=[matches["a_mine"].pk])
    assert client.get(url).status_code == 404


def test_the_match_page_shows_both_sides_and_the_actions_the_viewer_may_take(org, client):
    match = MatchFactory(
        project=ProjectFactory(name="云图智能"), investor=InvestorFactory(name="鼎盛资本")
    )
    client.force_login(org.all_user)

    html = client.get(reverse("matching:match_detail", args=[match.pk])).content.decode()
    assert "云图智能" in html and "鼎盛资本" in html
    assert 'id="approve-button"' in html and 'id="reject"' in html

    viewer = UserFactory(roles=[RoleFactory(data_scope="all", perms=["matching.view_match"])])
    client.force_login(viewer)
    html = client.get(reverse("matching:match_detail", args=[match.pk])).content.decode()
    assert 'id="approve-button"' not in html and 'id="reject"' not in html


def test_crawled_text_on_the_match_page_stays_inert(org, client):
    project = ProjectFactory(summary="<script>alert(1)</script>")
    match = MatchFactory(project=project)
    client.force_login(org.all_user)

    html = client.get(reverse("matching:match_detail", args=[match.pk])).content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_unmatch_rematch_send_and_progress_from_the_match_page(org, client):
    match = MatchFactory()
    client.force_login(org.admin)
    url = reverse("matching:match_detail", args=[match.pk])

    client.post(reverse("matching:match_approve", args=[match.pk]), {"next": url})
    client.post(
        reverse("matching:match_assign", args=[match.pk]), {"user": org.dept_user.pk, "next": url}
    )
    match.refresh_from_db()
    assert match.assignee == org.dept_user
    client.post(
        reverse("matching:match_progress", args=[match.pk]),
        {"work_status": "contacted", "note": "已电话联系", "next": url},
    )
    assert Match.objects.get(pk=match.pk).work_status == "contacted"
    html = client.get(url).content.decode()
    assert "已电话联系" in html
    client.post(reverse("matching:match_unmatch", args=[match.pk]), {"next": url})
    assert Match.objects.get(pk=match.pk).status == "unmatched"
    client.post(reverse("matching:match_rematch", args=[match.pk]), {"next": url})
    assert Match.objects.get(pk=match.pk).status == "pending"


def test_an_action_in_the_wrong_status_is_refused_with_a_message(org, client):
    match = MatchFactory(status="rejected")
    client.force_login(org.admin)

    response = client.post(reverse("matching:match_approve", args=[match.pk]), follow=True)

    assert Match.objects.get(pk=match.pk).status == "rejected"
    assert response.status_code == 200
    assert "alert" in response.content.decode()


def test_an_unsafe_next_url_is_ignored(org, client):
    match = MatchFactory()
    client.force_login(org.admin)

    response = client.post(
        reverse("matching:match_approve", args=[match.pk]), {"next": "https://evil.test/"}
    )

    assert response["Location"] == match.get_absolute_url()


# --- Manual match ---------------------------------------------------------------------------------


def test_manual_match_searches_by_name_and_saves(org, client):
    project = ProjectFactory(name="星河医疗")
    ProjectFactory(name="其他项目")
    investor = InvestorFactory(name="远望资本")
    client.force_login(org.all_user)
    url = reverse("matching:match_add")

    html = client.get(url, {"project_q": "星河"}).content.decode()
    options = re.findall(r'<option value="(\d+)"', html.split('name="investor"')[0])
    assert options == [str(project.pk)]

    response = client.post(
        url, {"project": project.pk, "investor": investor.pk, "note": "老客户推荐"}
    )

    match = Match.objects.get(project=project, investor=investor)
    assert response.status_code == 302 and response["Location"] == match.get_absolute_url()
    assert (match.source, match.status, match.note) == ("manual", "approved", "老客户推荐")


def test_manual_match_of_an_existing_pair_shows_a_clear_error(org, client):
    existing = MatchFactory()
    client.force_login(org.all_user)

    response = client.post(
        reverse("matching:match_add"),
        {"project": existing.project.pk, "investor": existing.investor.pk},
    )

    assert response.status_code == 200
    assert f"#{existing.pk}" in response.content.decode()
    assert Match.objects.count() == 1


def test_manual_match_offers_only_records_in_reach(org, client):
    hidden = ProjectFactory(name="别部项目", department=org.dept_b)
    investor = InvestorFactory()
    client.force_login(org.dept_user)

    response = client.post(
        reverse("matching:match_add"), {"project": hidden.pk, "investor": investor.pk}
    )

    assert 'data-field-error="project"' in response.content.decode()
    assert not Match.objects.exists()


# --- Approved, unassigned -------------------------------------------------------------------------


def test_unassigned_list_and_sending_in_bulk(org, client):
    waiting = MatchFactory(project=ProjectFactory(name="待分配项目"), status="approved")
    MatchFactory(
        project=ProjectFactory(name="已分配项目"), status="approved", assignee=org.dept_user
    )
    client.force_login(org.all_user)
    url = reverse("matching:unassigned")

    html = client.get(url).content.decode()
    assert "待分配项目" in html and "已分配项目" not in html
    assert 'id="auto-assign-state"' in html

    client.post(url, {"bulk_action": "assign", "pk": [waiting.pk], "user": org.b_user.pk})

    assert Match.objects.get(pk=waiting.pk).assignee == org.b_user


# --- Assignment rules -----------------------------------------------------------------------------


def test_assignment_rules_are_created_from_the_form(org, client):
    rule_set = MatchRuleSetFactory(department=org.dept_a)
    client.force_login(org.all_user)

    response = client.post(
        reverse("matching:assignmentrule_add"),
        {
            "name": "广东医疗",
            "is_active": "on",
            "auto_assign": "on",
            "priority": 10,
            "industries": ["Q", "27"],
            "regions": ["440000", "310100"],
            "min_score": "70",
            "rule_sets": [rule_set.pk],
            "target_department": org.dept_a.pk,
            "strategy": "round_robin",
            "cap_per_person": 20,
        },
    )

    assert response.status_code == 302, re.findall(
        r"invalid-feedback[^>]*>([^<]*)", response.content.decode()
    )
    rule = AssignmentRule.objects.get(name="广东医疗")
    assert rule.industries == ["Q", "27"] and rule.regions == ["440000", "310100"]
    assert list(rule.rule_sets.all()) == [rule_set]
    assert (rule.strategy, rule.cap_per_person, rule.owner) == ("round_robin", 20, org.all_user)


def test_assignment_rule_form_refuses_a_person_and_a_department_together(org, client):
    client.force_login(org.all_user)

    response = client.post(
        reverse("matching:assignmentrule_add"),
        {
            "name": "两者都选",
            "priority": 1,
            "target_user": org.dept_user.pk,
            "target_department": org.dept_a.pk,
            "strategy": "least_open",
            "cap_per_person": 5,
        },
    )

    assert 'data-field-error="target_user"' in response.content.decode()
    assert not AssignmentRule.objects.exists()


def test_assignment_rule_list_is_scoped_and_links_to_the_form(org, client):
    AssignmentRuleFactory(name="marker-a_mine", department=org.dept_a, owner=org.self_user)
    AssignmentRuleFactory(name="marker-b", department=org.dept_b, owner=org.b_user)
    client.force_login(org.dept_user)

    response = client.get(reverse("matching:assignmentrule_list"))

    assert markers(response) == {"a_mine"}
    rule = AssignmentRule.objects.get(name="marker-a_mine")
    assert reverse("matching:assignmentrule_edit", args=[rule.pk]) in response.content.decode()


def test_the_global_switch_is_toggled_by_people_who_may_change_parameters(org, client):
    set_parameter("matching.auto_assign", True)
    client.force_login(org.all_user)  # no parameter permission
    html = client.get(reverse("matching:assignmentrule_list")).content.decode()
    assert 'id="auto-assign-toggle"' not in html
    assert client.post(reverse("matching:assignment_switch"), {"value": "off"}).status_code == 403

    client.force_login(org.admin)
    html = client.get(reverse("matching:assignmentrule_list")).content.decode()
    assert 'id="auto-assign-toggle"' in html
    client.post(reverse("matching:assignment_switch"), {"value": "off"})

    assert get_parameter("matching.auto_assign") is False


@pytest.mark.parametrize("value", ["²", "99999999999999999999999", "-1", "x"])
def test_odd_ids_in_the_manual_match_form_are_ignored(org, client, value):
    client.force_login(org.all_user)

    response = client.get(reverse("matching:match_add"), {"project": value, "investor": value})
    assert response.status_code == 200
    response = client.post(reverse("matching:match_add"), {"project": value, "investor": value})
    assert response.status_code == 200
    assert not Match.objects.exists()


@pytest.mark.parametrize("url_name", ["matching:review", "matching:inbox", "matching:unassigned"])
def test_list_pages_do_not_query_per_row(org, client, url_name):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    status = "pending" if url_name == "matching:review" else "approved"
    assignee = org.admin if url_name == "matching:inbox" else None
    client.force_login(org.admin)
    client.get(reverse(url_name))  # warm the caches (dictionaries, parameters, session)

    def queries_with(rows: int) -> int:
        MatchFactory.create_batch(rows, status=status, assignee=assignee)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse(url_name)).status_code == 200
        return len(captured)

    assert queries_with(2) == queries_with(10)
