"""Deal pages: the list filters with the contract's parameters and shows overdue deals in red;
the detail page shows the facts, the red badge and the timeline where notes are added; the form
offers the type's stages, refuses a stage of another type and saves through the services; a deal
opens from an approved match the user can see."""

from __future__ import annotations

import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from ibcloud.deals import services
from ibcloud.deals.models import Deal, DealActivity
from ibcloud.matching.models import Match
from tests.deals.factories import DealFactory, MilestoneFactory, deal_user
from tests.factories import DepartmentFactory
from tests.matching.factories import MatchFactory

pytestmark = pytest.mark.django_db


def days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


@pytest.fixture
def dept():
    return DepartmentFactory(name="投行一部", code="ib1")


@pytest.fixture
def banker(dept):
    return deal_user(dept, username="banker")


@pytest.fixture
def late_deal(banker):
    """An active IPO with a milestone due yesterday, still open."""
    deal = DealFactory(name="迟到科技IPO", lead=banker)
    MilestoneFactory(deal=deal, name="内核", due_date=days(-1))
    return deal


def list_names(client, **params) -> set[str]:
    response = client.get(reverse("deals:deal_list"), params)
    assert response.status_code == 200
    return {row.name for row in response.context["table"].page.object_list.data}


# --- List -----------------------------------------------------------------------------------------


def test_the_list_filters_by_the_contracts_parameters(client, banker):
    DealFactory(name="甲IPO", lead=banker, client="华东电力", industry="65")
    DealFactory(name="乙并购", lead=banker, deal_type="ma", stage="negotiation", industry="C")
    DealFactory(
        name="丙债券",
        lead=banker,
        deal_type="bond",
        stage="registration",
        status=Deal.Status.COMPLETED,
        closed_on=days(-3),
    )
    client.force_login(banker)
    assert list_names(client, q="华东") == {"甲IPO"}
    assert list_names(client, deal_type="ma") == {"乙并购"}
    assert list_names(client, stage="negotiation") == {"乙并购"}
    assert list_names(client, status="completed") == {"丙债券"}
    assert list_names(client, industry="I") == {"甲IPO"}  # section I takes division 65
    assert list_names(client, closed_after=days(-5).isoformat()) == {"丙债券"}
    assert list_names(client, lead=banker.pk) == {"甲IPO", "乙并购", "丙债券"}


def test_overdue_deals_are_filtered_and_shown_red_in_the_list(client, banker, late_deal):
    on_time = DealFactory(name="准时科技", lead=banker)
    MilestoneFactory(deal=on_time, due_date=days(3))
    done_late = DealFactory(name="已办结", lead=banker)
    MilestoneFactory(deal=done_late, due_date=days(-9), status="done", completed_on=days(-9))
    client.force_login(banker)
    assert list_names(client, overdue="true") == {"迟到科技IPO"}
    assert list_names(client, overdue="false") == {"准时科技", "已办结"}
    html = client.get(reverse("deals:deal_list")).content.decode()
    row = html.split(f'data-deal="{late_deal.pk}"')[0].rsplit("<tr", 1)[1]
    assert "overdue" in row
    late_row = html.split(f'data-deal="{late_deal.pk}"')[1].split("</tr>")[0]
    assert "badge bg-danger" in late_row and "text-danger" in late_row
    other_row = html.split(f'data-deal="{on_time.pk}"')[1].split("</tr>")[0]
    assert "bg-danger" not in other_row


def test_a_closed_deal_with_an_open_milestone_is_not_red(client, banker):
    deal = DealFactory(name="已完成", lead=banker, status=Deal.Status.COMPLETED)
    MilestoneFactory(deal=deal, due_date=days(-2))
    client.force_login(banker)
    assert list_names(client, overdue="true") == set()


def test_the_list_shows_only_deals_in_reach(client, banker):
    other = deal_user(DepartmentFactory(name="投行二部", code="ib2"), username="other")
    DealFactory(name="我的", lead=banker)
    DealFactory(name="别人的", lead=other)
    client.force_login(banker)
    assert list_names(client) == {"我的"}


def test_a_list_page_costs_the_same_queries_for_more_deals(client, banker):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("deals:deal_list")).status_code == 200
        return len(queries)

    client.force_login(banker)
    for _ in range(3):
        MilestoneFactory(deal=DealFactory(lead=banker), due_date=days(-1))
    count()  # warms the caches (dictionaries, permissions)
    few = count()
    for _ in range(12):
        MilestoneFactory(deal=DealFactory(lead=banker), due_date=days(-1))
    assert count() == few


def test_the_list_exports_the_filtered_deals_with_the_overdue_column(client, banker, late_deal):
    DealFactory(name="准时科技", lead=banker)
    client.force_login(banker)
    response = client.get(reverse("deals:deal_list"), {"overdue": "true", "export": "xlsx"})
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.content)).worksheets[0].values)
    assert len(rows) == 2
    names = [str(v) for v in rows[1]]
    assert late_deal.code in names and "迟到科技IPO" in names


def test_bad_filter_values_show_the_form_rather_than_fail(client, banker):
    client.force_login(banker)
    response = client.get(
        reverse("deals:deal_list"), {"opened_after": "no-date", "deal_type": "zzz", "lead": "x"}
    )
    assert response.status_code == 200


# --- Detail ---------------------------------------------------------------------------------------


def test_the_detail_shows_the_deal_red_when_a_milestone_is_overdue(client, banker, late_deal):
    client.force_login(banker)
    html = client.get(late_deal.get_absolute_url()).content.decode()
    assert 'id="deal-overdue"' in html and "badge bg-danger" in html
    assert "overdue" in html.split('id="deal-facts"')[0].rsplit("<div", 1)[1]
    # the milestones area loads from the milestone part of the module
    assert reverse("deals:deal_milestones", args=[late_deal.pk]) in html


def test_a_deal_outside_the_users_reach_is_not_found(client, banker):
    other = deal_user(DepartmentFactory(name="投行二部", code="ib2"), username="other")
    theirs = DealFactory(lead=other)
    client.force_login(banker)
    assert client.get(theirs.get_absolute_url()).status_code == 404
    assert client.get(reverse("deals:deal_edit", args=[theirs.pk])).status_code == 404


def test_a_note_goes_on_the_timeline(client, banker, english):
    deal = DealFactory(lead=banker)
    client.force_login(banker)
    url = reverse("deals:deal_note_add", args=[deal.pk])
    response = client.post(url, {"text": "约了客户下周二见面"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "约了客户下周二见面" in response.content.decode()
    assert deal.activities.filter(kind=DealActivity.Kind.NOTE).count() == 1
    empty = client.post(url, {"text": "   "}, HTTP_HX_REQUEST="true")
    assert empty.status_code == 422
    assert deal.activities.filter(kind=DealActivity.Kind.NOTE).count() == 1


def test_crawled_text_in_a_note_stays_inert(client, banker):
    deal = DealFactory(lead=banker, client="<script>alert(1)</script>")
    client.force_login(banker)
    client.post(reverse("deals:deal_note_add", args=[deal.pk]), {"text": "<img src=x onerror=1>"})
    html = client.get(deal.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html


def test_a_viewer_without_change_permission_cannot_add_notes(client, dept):
    viewer = deal_user(dept, username="viewer", perms=["deals.view_deal"])
    deal = DealFactory(lead=viewer)
    client.force_login(viewer)
    assert 'id="note-form"' not in client.get(deal.get_absolute_url()).content.decode()
    response = client.post(reverse("deals:deal_note_add", args=[deal.pk]), {"text": "hi"})
    assert response.status_code == 403


# --- Form -----------------------------------------------------------------------------------------


def test_a_deal_added_in_the_form_starts_at_its_types_first_stage(client, banker, dept):
    client.force_login(banker)
    response = client.post(
        reverse("deals:deal_add"),
        {
            "name": "新能科技定增",
            "deal_type": "private_placement",
            "stage": "",
            "status": "active",
            "lead": banker.pk,
            "opened_on": timezone.localdate().isoformat(),
            "deal_size": "50000000",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    deal = Deal.objects.get(name="新能科技定增")
    assert response["Location"] == deal.get_absolute_url()
    assert deal.stage == services.first_stage("private_placement")
    assert deal.owner == banker and deal.department == dept
    assert deal.activities.filter(kind=DealActivity.Kind.CREATED).exists()


def test_a_stage_of_another_type_is_a_field_error(client, banker, english):
    client.force_login(banker)
    response = client.post(
        reverse("deals:deal_add"),
        {
            "name": "错阶段",
            "deal_type": "ipo",
            "stage": "negotiation",
            "status": "active",
            "lead": banker.pk,
        },
    )
    assert response.status_code == 200
    assert "stage" in response.context["form"].errors
    assert "not a stage of this deal type" in response.content.decode()
    assert not Deal.objects.filter(name="错阶段").exists()


def test_form_field_errors_show_next_to_the_fields(client, banker, english):
    client.force_login(banker)
    response = client.post(
        reverse("deals:deal_add"),
        {
            "name": "",
            "deal_type": "ipo",
            "status": "active",
            "lead": banker.pk,
            "deal_size": "-5",
            "opened_on": days(0).isoformat(),
            "expected_close_on": days(-10).isoformat(),
        },
    )
    errors = response.context["form"].errors
    assert {"name", "deal_size", "expected_close_on"} <= set(errors)
    assert 'data-field-error="expected_close_on"' in response.content.decode()


def test_the_form_offers_each_types_stages_to_its_script(client, banker):
    client.force_login(banker)
    html = client.get(reverse("deals:deal_add")).content.decode()
    assert 'id="deal-stage-lists"' in html and "due_diligence" in html


def test_editing_the_stage_goes_on_the_timeline_and_the_audit_log(client, banker):
    from django.contrib.contenttypes.models import ContentType

    from ibcloud.audit.models import AuditEntry

    deal = DealFactory(name="改阶段", lead=banker)
    client.force_login(banker)
    response = client.post(
        reverse("deals:deal_edit", args=[deal.pk]),
        {
            "name": "改阶段",
            "deal_type": "ipo",
            "stage": "due_diligence",
            "status": "active",
            "lead": banker.pk,
            "opened_on": deal.opened_on.isoformat(),
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    deal.refresh_from_db()
    assert deal.stage == "due_diligence"
    assert deal.activities.filter(kind=DealActivity.Kind.STAGE).count() == 1
    entries = AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Deal), object_pk=str(deal.pk)
    )
    assert any("stage" in (e.changes or {}) for e in entries)


# --- From a match ---------------------------------------------------------------------------------


def test_a_deal_opens_from_an_approved_match_with_its_project_and_investor(client, banker, dept):
    match = MatchFactory(status=Match.Status.APPROVED, assignee=banker, department=dept)
    client.force_login(banker)
    url = reverse("deals:deal_add_from_match", args=[match.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["form"]
    assert form.initial["name"] == match.project.name
    assert form.initial["investors"] == [match.investor.pk]
    response = client.post(
        url,
        {
            "name": match.project.name,
            "deal_type": "private_placement",
            "status": "active",
            "lead": banker.pk,
            "project": match.project.pk,
            "investors": [match.investor.pk],
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    deal = Deal.objects.get(match=match)
    assert deal.project == match.project
    assert list(deal.investors.all()) == [match.investor]
    match.refresh_from_db()
    assert match.converted_at is not None


def test_a_pending_or_unseen_match_does_not_open_a_deal(client, banker, dept):
    pending = MatchFactory(assignee=banker, department=dept)
    client.force_login(banker)
    response = client.get(reverse("deals:deal_add_from_match", args=[pending.pk]))
    assert response.status_code == 302
    other = DepartmentFactory(name="投行二部", code="ib2")
    unseen = MatchFactory(status=Match.Status.APPROVED, department=other)
    assert client.get(reverse("deals:deal_add_from_match", args=[unseen.pk])).status_code == 404
    assert not Deal.objects.exists()


def test_opening_from_a_match_needs_the_add_permission(client, dept):
    viewer = deal_user(dept, username="viewer", perms=["deals.view_deal", "matching.view_match"])
    match = MatchFactory(status=Match.Status.APPROVED, department=dept)
    client.force_login(viewer)
    assert client.get(reverse("deals:deal_add_from_match", args=[match.pk])).status_code == 403


def test_the_edit_form_offers_only_the_chosen_catalog_records(client, admin_user):
    from tests.catalog.factories import InvestorFactory, ProjectFactory

    kept, other = InvestorFactory(name="深创投"), InvestorFactory(name="红杉中国")
    project = ProjectFactory(name="星河半导体")
    deal = DealFactory(lead=admin_user, project=project)
    deal.investors.set([kept])
    client.force_login(admin_user)
    html = client.get(reverse("deals:deal_edit", args=[deal.pk])).content.decode()
    # tens of thousands of catalog records: only the chosen ones are options, the rest are
    # searched through the catalog API as the user types
    assert "深创投" in html and "星河半导体" in html and "红杉中国" not in html
    assert 'data-remote="/api/v1/catalog/investors/"' in html
    response = client.post(
        reverse("deals:deal_edit", args=[deal.pk]),
        {
            "name": deal.name,
            "deal_type": "ipo",
            "stage": "initiation",
            "status": "active",
            "lead": admin_user.pk,
            "project": project.pk,
            "investors": [kept.pk, other.pk],
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    assert set(deal.investors.all()) == {kept, other}
