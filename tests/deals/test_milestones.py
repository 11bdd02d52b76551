"""Milestones (milestones.py): templates applied to a deal, hand-made milestones validated, every
change on the deal's timeline, and the seeded templates of each deal type."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from ibcloud.deals import milestones
from ibcloud.deals.models import DealActivity, Milestone, MilestoneTemplate
from tests.deals.factories import (
    DealFactory,
    MilestoneFactory,
    MilestoneTemplateFactory,
    MilestoneTemplateItemFactory,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


def test_the_seeded_ipo_template_follows_the_ipo_stages_in_order():
    template = MilestoneTemplate.objects.get(deal_type="ipo")
    names = list(template.items.order_by("sort_order").values_list("name", flat=True))
    assert names == ["立项", "尽职调查", "内核", "申报", "反馈回复", "上会", "注册", "发行"]
    offsets = list(template.items.order_by("sort_order").values_list("offset_days", flat=True))
    assert offsets == sorted(offsets)


def test_every_deal_type_with_stages_has_a_template_and_financing_serves_any_type():
    seeded = set(MilestoneTemplate.objects.values_list("deal_type", flat=True))
    assert {"ipo", "ma", "private_placement", "bond", "advisory", ""} <= seeded
    financing = MilestoneTemplate.objects.get(name="融资")
    assert financing.deal_type == ""
    assert list(financing.items.values_list("name", flat=True)) == [
        "BP",
        "NDA",
        "约见",
        "尽调",
        "投决",
        "TS",
        "交割",
    ]


def test_applying_a_template_dates_items_from_the_start_and_notes_it(admin_user):
    deal = DealFactory(lead=admin_user)
    template = MilestoneTemplateFactory(name="测试模板")
    MilestoneTemplateItemFactory(
        template=template, name="立项", sort_order=1, offset_days=10, duration_days=4
    )
    MilestoneTemplateItemFactory(
        template=template, name="发行", sort_order=2, offset_days=100, duration_days=0
    )
    start = datetime.date(2026, 1, 1)

    added = milestones.apply_template(deal, template, start, admin_user)

    assert [(m.name, m.due_date, m.start_date) for m in added] == [
        ("立项", datetime.date(2026, 1, 11), datetime.date(2026, 1, 7)),
        ("发行", datetime.date(2026, 4, 11), datetime.date(2026, 4, 11)),
    ]
    entry = deal.activities.get(kind=DealActivity.Kind.MILESTONE)
    assert "测试模板" in entry.text


def test_applying_twice_adds_only_what_the_deal_lacks(admin_user):
    deal = DealFactory(lead=admin_user)
    template = MilestoneTemplate.objects.get(deal_type="ipo")
    MilestoneFactory(deal=deal, name="立项")  # made by hand before

    first = milestones.apply_template(deal, template, TODAY, admin_user)
    second = milestones.apply_template(deal, template, TODAY, admin_user)

    assert len(first) == 7 and second == []
    assert deal.milestones.count() == 8
    assert deal.milestones.filter(name="立项").count() == 1


def test_the_deal_types_own_template_is_offered_first():
    assert milestones.default_template("bond").deal_type == "bond"
    offered = list(milestones.templates_for("bond"))
    assert offered[0].deal_type == "bond" and offered[1].deal_type == ""
    assert milestones.default_template("other") is None


def test_a_milestone_needs_a_due_date_and_a_start_not_after_it(admin_user):
    deal = DealFactory(lead=admin_user)
    with pytest.raises(ValidationError) as error:
        milestones.create_milestone(deal, admin_user, name="内核", due_date=None)
    assert "due_date" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        milestones.create_milestone(
            deal, admin_user, name="内核", due_date=TODAY, start_date=TODAY + DAY
        )
    assert "start_date" in error.value.message_dict
    assert not deal.milestones.exists()


def test_done_sets_the_completion_date_and_reopening_clears_it(admin_user):
    deal = DealFactory(lead=admin_user)
    milestone = milestones.create_milestone(deal, admin_user, name="申报", due_date=TODAY)
    assert milestone.completed_on is None

    milestones.complete_milestone(milestone, admin_user)
    milestone.refresh_from_db()
    assert milestone.status == Milestone.Status.DONE
    assert milestone.completed_on == TODAY

    milestones.update_milestone(milestone, admin_user, status=Milestone.Status.IN_PROGRESS)
    milestone.refresh_from_db()
    assert milestone.completed_on is None


def test_a_completion_date_in_the_future_is_refused(admin_user):
    milestone = MilestoneFactory(deal=DealFactory(lead=admin_user))
    with pytest.raises(ValidationError) as error:
        milestones.update_milestone(
            milestone, admin_user, status=Milestone.Status.DONE, completed_on=TODAY + DAY
        )
    assert "completed_on" in error.value.message_dict


def test_changes_go_on_the_deals_timeline(admin_user):
    deal = DealFactory(lead=admin_user)
    milestone = milestones.create_milestone(deal, admin_user, name="上会", due_date=TODAY)
    milestones.update_milestone(milestone, admin_user, due_date=TODAY + 10 * DAY)
    milestones.complete_milestone(milestone, admin_user)
    milestones.delete_milestone(milestone, admin_user)

    entries = deal.activities.filter(kind=DealActivity.Kind.MILESTONE).order_by("id")
    actions = [entry.data["action"] for entry in entries]
    assert actions == ["added", "updated", "updated", "deleted"]
    assert all(entry.author == admin_user for entry in entries)
    assert all("上会" in entry.text for entry in entries)


def test_a_change_is_audited_with_its_author(admin_user):
    from ibcloud.audit.models import AuditEntry

    milestone = MilestoneFactory(deal=DealFactory(lead=admin_user))
    milestones.update_milestone(milestone, admin_user, name="注册（更名）")
    entry = AuditEntry.objects.filter(object_pk=str(milestone.pk)).order_by("-id").first()
    assert entry.actor == admin_user
    assert "注册（更名）" in str(entry.changes)


def test_the_timeline_marks_overdue_done_and_today(admin_user):
    deal = DealFactory(lead=admin_user)
    late = MilestoneFactory(deal=deal, name="晚了", due_date=TODAY - 5 * DAY)
    done = MilestoneFactory(
        deal=deal,
        name="完成",
        due_date=TODAY - 5 * DAY,
        status=Milestone.Status.DONE,
        completed_on=TODAY - 6 * DAY,
    )
    later = MilestoneFactory(
        deal=deal, name="将来", start_date=TODAY + DAY, due_date=TODAY + 20 * DAY
    )

    layout = milestones.timeline([late, done, later], TODAY)

    states = {row["name"]: row["state"] for row in layout["rows"]}
    assert states == {"晚了": "overdue", "完成": "done", "将来": "open"}
    assert 0 < layout["today_pct"] < 100
    for row in layout["rows"]:
        assert 0 <= row["left"] and row["left"] + row["width"] <= 100.01
