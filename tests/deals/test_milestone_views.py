"""Milestone pages: the list across deals (scoped, filtered, overdue rows red, export), adding to
a deal only within one's "change" reach, editing with field errors, "mark done", the deal's
milestone panel with template application, the timeline, and the template admin pages."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from ibcloud.deals import milestones, services
from ibcloud.deals.models import Deal, DealActivity, Milestone, MilestoneTemplate
from tests.conftest import make_org
from tests.deals.factories import DealFactory, MilestoneFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)

PERMS = [
    "deals.view_deal",
    "deals.change_deal",
    "deals.view_milestone",
    "deals.add_milestone",
    "deals.change_milestone",
    "deals.delete_milestone",
    "deals.view_milestonetemplate",
]

#: who sees which milestone: "a_mine" (deal led by self_user in A), "a_other" (A, led by
#: someone else), "b" (deal of department B)
EXPECTED = {
    "admin": {"a_mine", "a_other", "b"},
    "all_user": {"a_mine", "a_other", "b"},
    "dept_and_below_user": {"a_mine", "a_other"},
    "dept_user": {"a_mine", "a_other"},
    "self_user": {"a_mine"},
    "custom_user": {"b"},
    "b_user": {"b"},
}


@pytest.fixture
def org():
    return make_org(PERMS)


@pytest.fixture
def scoped(org):
    colleague = UserFactory(username="colleague", department=org.dept_a)
    return {
        "a_mine": MilestoneFactory(name="a_mine", deal=DealFactory(lead=org.self_user)),
        "a_other": MilestoneFactory(name="a_other", deal=DealFactory(lead=colleague)),
        "b": MilestoneFactory(name="b", deal=DealFactory(lead=org.b_user)),
    }


def listed(client, user, query="") -> set[str]:
    client.force_login(user)
    response = client.get(reverse("deals:milestone_list") + query)
    assert response.status_code == 200
    table = response.context["table"]
    return {row.record.name for row in table.page.object_list}


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_the_list_shows_the_milestones_within_reach(client, org, scoped, who):
    assert listed(client, getattr(org, who)) == EXPECTED[who]


def test_open_milestones_come_first_the_next_due_on_top_then_the_latest_closed(client, admin_user):
    done = Milestone.Status.DONE
    MilestoneFactory(name="去年完成", due_date=TODAY - 300 * DAY, status=done)
    MilestoneFactory(name="上月完成", due_date=TODAY - 30 * DAY, status=done)
    MilestoneFactory(name="下月到期", due_date=TODAY + 30 * DAY)
    MilestoneFactory(name="已逾期", due_date=TODAY - 3 * DAY)
    MilestoneFactory(name="进行中", due_date=TODAY + 3 * DAY, status=Milestone.Status.IN_PROGRESS)
    client.force_login(admin_user)
    table = client.get(reverse("deals:milestone_list")).context["table"]
    names = [row.record.name for row in table.page.object_list]
    assert names == ["已逾期", "进行中", "下月到期", "上月完成", "去年完成"]
    # A column the person sorts by still decides.
    table = client.get(reverse("deals:milestone_list"), {"sort": "due_date"}).context["table"]
    assert [row.record.name for row in table.page.object_list][0] == "去年完成"


def test_overdue_rows_are_marked_red_and_the_filter_finds_them(client, admin_user):
    late = MilestoneFactory(name="逾期里程碑", due_date=TODAY - 3 * DAY)
    MilestoneFactory(name="按期里程碑", due_date=TODAY + 3 * DAY)
    MilestoneFactory(name="完成的旧事", due_date=TODAY - 3 * DAY, status=Milestone.Status.DONE)

    assert listed(client, admin_user, "?overdue=true") == {"逾期里程碑"}
    response = client.get(reverse("deals:milestone_list"))
    html = response.content.decode()
    overdue_rows = re.findall(r'<tr class="overdue[^"]*" data-milestone="(\d+)"', html)
    assert overdue_rows == [str(late.pk)]
    assert html.count("badge bg-danger") == 1


def test_a_closed_deals_leftover_milestone_is_not_overdue_anywhere(client, admin_user):
    closed = DealFactory(status=Deal.Status.COMPLETED)
    leftover = MilestoneFactory(deal=closed, name="收尾遗留", due_date=TODAY - 3 * DAY)
    late = MilestoneFactory(name="逾期里程碑", due_date=TODAY - 3 * DAY)

    assert listed(client, admin_user, "?overdue=true") == {"逾期里程碑"}
    html = client.get(reverse("deals:milestone_list")).content.decode()
    assert re.findall(r'<tr class="overdue[^"]*" data-milestone="(\d+)"', html) == [str(late.pk)]
    assert Milestone.objects.filter(services.overdue_q()).get() == late
    # the calendar's and the timeline's colours
    assert milestones.bar_state(leftover, TODAY) == "open"
    assert milestones.bar_state(late, TODAY) == "overdue"


def test_the_list_filters_by_the_contracts_parameters(client, admin_user, org):
    deal = DealFactory(lead=org.b_user)
    MilestoneFactory(deal=deal, name="乙部门的", owner=org.b_user, due_date=TODAY + 5 * DAY)
    MilestoneFactory(name="别的", due_date=TODAY + 50 * DAY)
    due_before = (TODAY + 10 * DAY).isoformat()

    assert listed(client, admin_user, f"?department={org.dept_b.pk}") == {"乙部门的"}
    assert listed(client, admin_user, f"?owner={org.b_user.pk}") == {"乙部门的"}
    assert listed(client, admin_user, f"?deal={deal.pk}") == {"乙部门的"}
    assert listed(client, admin_user, f"?due_before={due_before}") == {"乙部门的"}
    assert listed(client, admin_user, "?q=别") == {"别的"}


def test_a_deals_milestones_keep_the_deal_as_a_hidden_filter(client, admin_user):
    """Reached from a deal's page, the list keeps the deal while other filters change, without a
    box asking for its id."""
    deal = DealFactory()
    client.force_login(admin_user)
    page = client.get(reverse("deals:milestone_list") + f"?deal={deal.pk}").content.decode()
    assert f'<input type="hidden" name="deal" value="{deal.pk}"' in page
    assert 'for="id_deal"' not in page


def test_bad_filter_values_answer_a_page_not_an_error(client, admin_user):
    client.force_login(admin_user)
    for query in ("?deal=abc", "?owner=99999999999999999999999", "?due_after=2026-13-40"):
        assert client.get(reverse("deals:milestone_list") + query).status_code == 200


def test_the_export_holds_the_filtered_rows_in_scope(client, org, scoped):
    client.force_login(org.b_user)
    response = client.get(reverse("deals:milestone_list") + "?export=csv")
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert "b" in text.splitlines()[1] and "a_mine" not in text


def test_adding_to_a_deal_outside_ones_change_reach_is_404(client, org, scoped):
    client.force_login(org.b_user)
    outside = scoped["a_other"].deal
    url = reverse("deals:milestone_add", args=[outside.pk])
    assert client.get(url).status_code == 404
    response = client.post(url, {"name": "x", "due_date": TODAY.isoformat(), "status": "pending"})
    assert response.status_code == 404
    assert not outside.milestones.filter(name="x").exists()


def test_adding_a_milestone_notes_it_on_the_deal(client, org, scoped):
    client.force_login(org.self_user)
    deal = scoped["a_mine"].deal
    response = client.post(
        reverse("deals:milestone_add", args=[deal.pk]),
        {
            "name": "内核会议",
            "due_date": (TODAY + 7 * DAY).isoformat(),
            "status": "pending",
            "owner": org.self_user.pk,
            "sort_order": 5,
        },
    )
    assert response.status_code == 302
    milestone = deal.milestones.get(name="内核会议")
    assert milestone.owner == org.self_user
    assert deal.activities.filter(kind=DealActivity.Kind.MILESTONE).exists()


def test_a_missing_due_date_or_future_completion_shows_field_errors(client, admin_user):
    deal = DealFactory(lead=admin_user)
    client.force_login(admin_user)
    url = reverse("deals:milestone_add", args=[deal.pk])
    response = client.post(url, {"name": "申报", "due_date": "", "status": "pending"})
    assert response.status_code == 200
    assert "due_date" in response.context["form"].errors
    response = client.post(
        url,
        {
            "name": "申报",
            "due_date": TODAY.isoformat(),
            "status": "done",
            "completed_on": (TODAY + DAY).isoformat(),
        },
    )
    assert "completed_on" in response.context["form"].errors
    assert not deal.milestones.exists()


def test_mark_done_from_the_deal_panel_answers_the_panel(client, admin_user):
    milestone = MilestoneFactory(due_date=TODAY - DAY)
    client.force_login(admin_user)
    response = client.post(
        reverse("deals:milestone_done", args=[milestone.pk]),
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="deal-milestones",
    )
    assert response.status_code == 200
    assert 'id="deal-milestones"' in response.content.decode()
    milestone.refresh_from_db()
    assert milestone.status == Milestone.Status.DONE and milestone.completed_on == TODAY


def test_mark_done_outside_reach_is_404(client, org, scoped):
    client.force_login(org.b_user)
    response = client.post(reverse("deals:milestone_done", args=[scoped["a_mine"].pk]))
    assert response.status_code == 404
    scoped["a_mine"].refresh_from_db()
    assert scoped["a_mine"].status == Milestone.Status.PENDING


def test_the_deal_panel_shows_overdue_milestones_red(client, admin_user):
    deal = DealFactory(lead=admin_user)
    late = MilestoneFactory(deal=deal, name="逾期", due_date=TODAY - DAY)
    MilestoneFactory(deal=deal, name="按期", due_date=TODAY + DAY)
    client.force_login(admin_user)
    response = client.get(reverse("deals:deal_milestones", args=[deal.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert f'data-milestone="{late.pk}" class="overdue"' in html
    assert html.count('class="overdue"') == 1
    assert "text-danger" in html and "badge bg-danger" in html


def test_the_deal_panel_is_404_for_a_deal_out_of_reach(client, org, scoped):
    client.force_login(org.b_user)
    url = reverse("deals:deal_milestones", args=[scoped["a_mine"].deal_id])
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 404


def test_applying_the_types_template_from_the_panel(client, admin_user):
    deal = DealFactory(lead=admin_user, deal_type="ipo", opened_on=TODAY)
    template = MilestoneTemplate.objects.get(deal_type="ipo")
    client.force_login(admin_user)
    panel = client.get(reverse("deals:deal_milestones", args=[deal.pk]), HTTP_HX_REQUEST="true")
    assert panel.context["apply_form"]["template"].initial == template.pk

    url = reverse("deals:deal_apply_template", args=[deal.pk])
    data = {"template": template.pk, "start": TODAY.isoformat()}
    response = client.post(url, data, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="deal-milestones")
    assert response.status_code == 200
    assert deal.milestones.count() == template.items.count()
    client.post(url, data, HTTP_HX_REQUEST="true")
    assert deal.milestones.count() == template.items.count()


def test_applying_with_a_bad_start_shows_the_error_in_the_panel(client, admin_user):
    deal = DealFactory(lead=admin_user)
    client.force_login(admin_user)
    response = client.post(
        reverse("deals:deal_apply_template", args=[deal.pk]),
        {"template": MilestoneTemplate.objects.first().pk, "start": "not a date"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    assert 'data-field-error="start"' in response.content.decode()
    assert not deal.milestones.exists()


def test_the_timeline_draws_overdue_bars_red_and_carries_its_data(client, admin_user):
    deal = DealFactory(lead=admin_user)
    late = MilestoneFactory(deal=deal, name="逾期", due_date=TODAY - DAY)
    MilestoneFactory(deal=deal, name="按期", due_date=TODAY + 9 * DAY, start_date=TODAY)
    client.force_login(admin_user)
    response = client.get(reverse("deals:deal_timeline", args=[deal.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="milestone-timeline-data"' in html
    assert f'gantt-row overdue" data-milestone="{late.pk}" data-state="overdue"' in html
    assert "bg-danger" in html


def test_the_template_admin_saves_items_with_the_template(client, admin_user):
    client.force_login(admin_user)
    data = {
        "name": "新模板",
        "deal_type": "bond",
        "description": "",
        "is_active": "on",
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
        "items-0-name": "簿记",
        "items-0-sort_order": "1",
        "items-0-offset_days": "10",
        "items-0-duration_days": "3",
        "items-1-name": "",
        "items-1-sort_order": "0",
        "items-1-offset_days": "0",
        "items-1-duration_days": "0",
    }
    response = client.post(reverse("deals:milestonetemplate_add"), data)
    assert response.status_code == 302
    template = MilestoneTemplate.objects.get(name="新模板")
    assert list(template.items.values_list("name", "offset_days")) == [("簿记", 10)]
    detail = client.get(template.get_absolute_url())
    assert "簿记" in detail.content.decode()


def test_template_items_with_one_name_twice_are_refused(client, admin_user):
    client.force_login(admin_user)
    data = {
        "name": "重复",
        "deal_type": "",
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
        "items-0-name": "尽调",
        "items-0-sort_order": "1",
        "items-0-offset_days": "10",
        "items-0-duration_days": "0",
        "items-1-name": "尽调",
        "items-1-sort_order": "2",
        "items-1-offset_days": "20",
        "items-1-duration_days": "0",
    }
    response = client.post(reverse("deals:milestonetemplate_add"), data)
    assert response.status_code == 200
    assert 'data-formset-error="items"' in response.content.decode()
    assert not MilestoneTemplate.objects.filter(name="重复").exists()


def test_template_pages_need_the_template_permissions(client, org):
    client.force_login(org.all_user)  # may view templates, not change them
    assert client.get(reverse("deals:milestonetemplate_list")).status_code == 200
    assert client.get(reverse("deals:milestonetemplate_add")).status_code == 403


def test_bulk_actions_reach_only_the_rows_in_reach_and_note_the_deal(client, org, scoped):
    client.force_login(org.dept_user)
    ids = [scoped["a_mine"].pk, scoped["b"].pk]
    response = client.post(reverse("deals:milestone_list"), {"bulk_action": "done", "pk": ids})
    assert response.status_code == 302
    statuses = dict(Milestone.objects.values_list("name", "status"))
    assert statuses["a_mine"] == Milestone.Status.DONE
    assert statuses["b"] == Milestone.Status.PENDING

    client.post(reverse("deals:milestone_list"), {"bulk_action": "delete", "pk": ids})
    assert set(Milestone.objects.values_list("name", flat=True)) == {"a_other", "b"}
    deal = scoped["a_mine"].deal
    assert deal.activities.filter(data__action="deleted").exists()
