"""Review decisions (services): approve, reject with a reason, unmatch, rematch, manual matches and
bulk actions; each audited; rejection reasons counted per rule set; the rejected pair's place is
refilled by the engine; reviewers are told when new matches wait."""

from __future__ import annotations

import sys
import types

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError

from ibcloud.audit.models import AuditEntry
from ibcloud.core.parameters import set_parameter
from ibcloud.matching import services
from ibcloud.matching.models import Match, MatchNote
from ibcloud.notify.models import Notification
from tests.catalog.factories import InvestorFactory, ProjectFactory
from tests.conftest import make_org
from tests.factories import RoleFactory, UserFactory
from tests.matching.factories import MatchFactory, MatchRuleSetFactory

pytestmark = pytest.mark.django_db

REVIEWER_PERMS = [
    "matching.view_match",
    "matching.review_match",
    "matching.add_match",
    "matching.assign_match",
]


@pytest.fixture
def reviewer():
    role = RoleFactory(data_scope="all", perms=REVIEWER_PERMS)
    return UserFactory(username="reviewer", roles=[role])


@pytest.fixture(autouse=True)
def _no_auto_assign():
    """Assignment has its own tests; here an approval only approves."""
    set_parameter("matching.auto_assign", False)


@pytest.fixture
def engine_calls(monkeypatch):
    """Record what the services ask of the engine (its own tests cover what it does)."""
    calls = []

    def match_projects(project_ids, rule_sets=None):
        calls.append((list(project_ids), list(rule_sets or [])))

    try:
        from ibcloud.matching import engine
    except ImportError:
        engine = types.ModuleType("ibcloud.matching.engine")
        engine.fingerprint_of = lambda project, investor: f"fp-{project.pk}-{investor.pk}"
        monkeypatch.setitem(sys.modules, "ibcloud.matching.engine", engine)
    monkeypatch.setattr(engine, "match_projects", match_projects, raising=False)
    return calls


def updates_of(match: Match) -> list[AuditEntry]:
    content_type = ContentType.objects.get_for_model(Match)
    return list(
        AuditEntry.objects.filter(
            content_type=content_type,
            object_pk=str(match.pk),
            action=AuditEntry.Action.UPDATE,
        ).order_by("id")
    )


def test_approving_records_who_and_when_and_is_audited(reviewer):
    match = MatchFactory()

    services.approve(match, reviewer, note="行业与阶段都契合")

    match.refresh_from_db()
    assert match.status == Match.Status.APPROVED
    assert match.reviewed_by == reviewer
    assert match.reviewed_at is not None
    assert match.note == "行业与阶段都契合"
    entry = updates_of(match)[-1]
    assert entry.actor == reviewer
    assert entry.changes["status"] == ["pending", "approved"]


def test_only_pending_matches_can_be_approved_or_rejected(reviewer):
    match = MatchFactory(status=Match.Status.REJECTED)

    with pytest.raises(services.StateError):
        services.approve(match, reviewer)
    with pytest.raises(services.StateError):
        services.reject(match, reviewer, "industry_mismatch")


def test_rejecting_keeps_the_reason_and_fingerprint_and_asks_for_the_next_best(
    reviewer, engine_calls
):
    match = MatchFactory(fingerprint="old")

    services.reject(match, reviewer, "amount_mismatch", note="金额过小")

    match.refresh_from_db()
    assert match.status == Match.Status.REJECTED
    assert (match.reject_reason, match.reject_note) == ("amount_mismatch", "金额过小")
    from ibcloud.matching.scoring import fingerprint_of

    # the pair is skipped by later runs only while its data stays as the reviewer saw it
    assert match.fingerprint == fingerprint_of(match.project, match.investor)
    assert engine_calls == [([match.project_id], [match.rule_set])]
    entry = updates_of(match)[-1]
    assert entry.actor == reviewer
    assert entry.changes["reject_reason"][1] == "amount_mismatch"


def test_a_rejection_needs_a_known_reason_and_other_needs_a_note(reviewer):
    match = MatchFactory()

    with pytest.raises(ValidationError):
        services.reject(match, reviewer, "does_not_exist")
    with pytest.raises(ValidationError) as raised:
        services.reject(match, reviewer, "other", note="  ")
    assert "note" in raised.value.message_dict

    services.reject(match, reviewer, "other", note="投资方已暂停新项目")
    assert Match.objects.get(pk=match.pk).status == Match.Status.REJECTED


def test_unmatch_takes_an_approved_match_back(reviewer):
    match = MatchFactory()
    services.approve(match, reviewer)

    services.unmatch(match, reviewer, note="客户已另行委托")

    match.refresh_from_db()
    assert match.status == Match.Status.UNMATCHED
    assert [e.changes["status"] for e in updates_of(match)] == [
        ["pending", "approved"],
        ["approved", "unmatched"],
    ]


def test_rematch_puts_a_decided_match_back_in_the_queue_with_fields_cleared(reviewer):
    match = MatchFactory()
    services.reject(match, reviewer, "stage_mismatch")

    services.rematch(match, reviewer, note="项目已进入B轮")

    match.refresh_from_db()
    assert match.status == Match.Status.PENDING
    assert match.reject_reason == "" and match.reviewed_by is None
    assert match.note == "项目已进入B轮"
    entry = updates_of(match)[-1]
    assert (entry.actor, entry.changes["status"]) == (reviewer, ["rejected", "pending"])
    with pytest.raises(services.StateError):
        services.rematch(match, reviewer)  # pending already


def test_manual_match_by_a_reviewer_is_approved_at_once(reviewer):
    project, investor = ProjectFactory(), InvestorFactory()

    match = services.manual_match(project, investor, reviewer, note="客户介绍")

    assert match.source == Match.Source.MANUAL
    assert match.rule_set is None
    assert match.status == Match.Status.APPROVED
    assert match.reviewed_by == reviewer
    assert match.owner == reviewer
    content_type = ContentType.objects.get_for_model(Match)
    created = AuditEntry.objects.get(
        content_type=content_type, object_pk=str(match.pk), action=AuditEntry.Action.CREATE
    )
    assert created.actor == reviewer


def test_manual_match_by_someone_else_waits_for_review():
    org = make_org(["matching.view_match", "matching.add_match"])

    match = services.manual_match(ProjectFactory(), InvestorFactory(), org.dept_user)

    assert match.status == Match.Status.PENDING
    assert match.department == org.dept_a


def test_manual_match_refuses_a_pair_that_is_already_matched(reviewer):
    pending = MatchFactory()

    with pytest.raises(ValidationError, match=f"#{pending.pk}"):
        services.manual_match(pending.project, pending.investor, reviewer)

    manual = services.manual_match(ProjectFactory(), InvestorFactory(), reviewer)
    with pytest.raises(ValidationError):
        services.manual_match(manual.project, manual.investor, reviewer)


def test_manual_match_is_allowed_for_a_pair_whose_automatic_match_was_rejected(reviewer):
    rejected = MatchFactory(status=Match.Status.REJECTED, reject_reason="other")

    match = services.manual_match(rejected.project, rejected.investor, reviewer)

    assert match.pk != rejected.pk


def test_bulk_approves_what_it_can_and_reports_the_rest(reviewer):
    pending = MatchFactory.create_batch(3)
    done = MatchFactory(status=Match.Status.APPROVED)

    result = services.bulk("approve", [*pending, done], reviewer)

    assert result.done == 3
    assert [e["id"] for e in result.errors] == [done.pk]
    assert Match.objects.filter(status=Match.Status.APPROVED).count() == 4
    event = AuditEntry.objects.get(event="match_bulk_approve")
    assert event.actor == reviewer


def test_bulk_reject_refills_once_per_rule_set(reviewer, engine_calls):
    rule_set = MatchRuleSetFactory()
    matches = MatchFactory.create_batch(3, rule_set=rule_set)

    result = services.bulk("reject", matches, reviewer, reason="region_mismatch")

    assert result.done == 3
    assert len(engine_calls) == 1
    project_ids, rule_sets = engine_calls[0]
    assert sorted(project_ids) == sorted(m.project_id for m in matches)
    assert rule_sets == [rule_set]


def test_bulk_reject_without_a_valid_reason_changes_nothing(reviewer):
    matches = MatchFactory.create_batch(2)

    with pytest.raises(ValidationError):
        services.bulk("reject", matches, reviewer, reason="other")

    assert Match.objects.filter(status=Match.Status.PENDING).count() == 2


def test_rejection_reasons_are_counted_per_rule_set(reviewer):
    strict, loose = MatchRuleSetFactory(name="严格"), MatchRuleSetFactory(name="宽松")
    for reason in ("industry_mismatch", "industry_mismatch", "amount_mismatch"):
        services.reject(MatchFactory(rule_set=loose), reviewer, reason)
    services.reject(MatchFactory(rule_set=strict), reviewer, "stage_mismatch")
    MatchFactory(rule_set=strict)  # pending: not counted

    stats = services.rejection_statistics(Match.objects.all())

    assert stats == [
        {
            "rule_set": loose.pk,
            "rule_set_name": "宽松",
            "total": 3,
            "reasons": {"industry_mismatch": 2, "amount_mismatch": 1},
        },
        {
            "rule_set": strict.pk,
            "rule_set_name": "严格",
            "total": 1,
            "reasons": {"stage_mismatch": 1},
        },
    ]


def test_progress_and_notes_are_kept_on_the_match(reviewer):
    match = MatchFactory(status=Match.Status.APPROVED, assignee=reviewer)

    services.update_progress(match, "contacted", "已电话联系", reviewer)
    services.add_note(match, reviewer, "约了下周三见面")

    match.refresh_from_db()
    assert match.work_status == "contacted"
    notes = list(MatchNote.objects.filter(match=match).order_by("id"))
    assert [(n.text, n.work_status) for n in notes] == [
        ("已电话联系", "contacted"),
        ("约了下周三见面", ""),
    ]
    with pytest.raises(ValidationError):
        services.update_progress(match, "contacted", "", reviewer)  # nothing to record
    with pytest.raises(ValidationError):
        services.update_progress(match, "signed", "x", reviewer)


def test_reviewers_in_reach_are_told_once_that_new_matches_wait():
    org = make_org(["matching.view_match", "matching.review_match"])
    rule_set = MatchRuleSetFactory(department=org.dept_b)

    services.notify_review_waiting(rule_set, 12)

    told = set(
        Notification.objects.filter(event="matching.review_waiting").values_list(
            "recipient__username", flat=True
        )
    )
    # those whose scope reaches department B (and the superuser), once each
    assert told == {"admin", "all_user", "custom_user", "b_user"}
    assert Notification.objects.filter(event="matching.review_waiting").count() == 4
    services.notify_review_waiting(rule_set, 0)
    assert Notification.objects.filter(event="matching.review_waiting").count() == 4


def test_the_next_best_investor_takes_a_rejected_ones_place_and_stays_out(reviewer):
    from ibcloud.matching import engine

    rule_set = MatchRuleSetFactory(max_per_project=1, threshold=0)
    project = ProjectFactory()
    InvestorFactory.create_batch(2)
    engine.run_rule_set(rule_set)
    first = Match.objects.get(rule_set=rule_set, project=project, status="pending")

    services.reject(first, reviewer, "already_known")

    # the other investor is proposed in its place, and a full re-run keeps the rejection
    replacement = Match.objects.get(rule_set=rule_set, project=project, status="pending")
    assert replacement.investor_id != first.investor_id
    engine.run_rule_set(rule_set)
    assert Match.objects.get(pk=first.pk).status == Match.Status.REJECTED
    assert Match.objects.get(pk=replacement.pk).status == Match.Status.PENDING
