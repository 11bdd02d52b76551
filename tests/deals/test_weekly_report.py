"""The weekly deal report: every Monday each manager (holder of ``deals.export_deal_report``) is
emailed the figures of their own data scope (deals opened and closed last week, stage moves,
overdue milestones, milestones due in the coming week) with a link to the dashboard; people
without the permission get nothing; the preview page says the same."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from ibcloud.core.models import Job
from ibcloud.deals import report_tasks, reports, services
from ibcloud.deals.models import Deal, DealActivity, Milestone
from ibcloud.notify import events
from ibcloud.notify.models import Notification
from tests.conftest import make_org
from tests.deals.factories import DealFactory, MilestoneFactory
from tests.factories import RoleFactory, UserFactory
from tests.notify.conftest import (  # noqa: F401 - fixtures
    email_channel,
    run_jobs,
    smtp_server,
)

pytestmark = pytest.mark.django_db

PERMS = ["deals.view_deal", "deals.view_milestone", "deals.export_deal_report"]
MONDAY = datetime.date(2026, 11, 23)  # the report's day; last week is 16–22 November


@pytest.fixture
def org():
    return make_org(PERMS)


@pytest.fixture
def world(org):
    """Department A: a deal opened last week that moved a stage, one closed last week, one
    overdue milestone and two due this week; department B: one deal opened last week."""
    a, b = org.dept_user, org.b_user
    new = DealFactory(lead=a, name="甲新项目", opened_on=datetime.date(2026, 11, 17))
    DealFactory(
        lead=a,
        name="甲已完成",
        opened_on=datetime.date(2026, 3, 1),
        status=Deal.Status.COMPLETED,
        closed_on=datetime.date(2026, 11, 20),
    )
    DealFactory(lead=a, name="甲旧项目", opened_on=datetime.date(2026, 11, 10))
    move = DealActivity.objects.create(
        deal=new, kind=DealActivity.Kind.STAGE, author=a, text="立项 → 尽职调查"
    )
    DealActivity.objects.filter(pk=move.pk).update(
        created_at=timezone.make_aware(datetime.datetime(2026, 11, 18, 15))
    )
    MilestoneFactory(deal=new, name="内核", due_date=datetime.date(2026, 11, 20), owner=a)
    MilestoneFactory(deal=new, name="申报", due_date=MONDAY, owner=a)
    MilestoneFactory(deal=new, name="反馈", due_date=datetime.date(2026, 11, 29), owner=a)
    MilestoneFactory(deal=new, name="以后", due_date=datetime.date(2026, 11, 30), owner=a)
    MilestoneFactory(deal=new, due_date=datetime.date(2026, 11, 24), status=Milestone.Status.DONE)
    DealFactory(lead=b, name="乙新项目", opened_on=datetime.date(2026, 11, 22))
    return new


def summary_for(user):
    return reports.weekly_summary(
        Deal.objects.restrict(user, "view"), Milestone.objects.restrict(user, "view"), MONDAY
    )


def test_a_managers_summary_holds_only_his_scopes_figures(org, world):
    summary = summary_for(org.dept_user)
    assert summary["period"]["last_from"] == "2026-11-16"
    assert summary["period"]["last_to"] == "2026-11-22"
    assert [d["name"] for d in summary["opened"]["items"]] == ["甲新项目"]
    assert [d["name"] for d in summary["closed"]["items"]] == ["甲已完成"]
    assert summary["stage_moves"]["count"] == 1
    assert [m["name"] for m in summary["overdue_milestones"]["items"]] == ["内核"]
    # open milestones due Monday to Sunday; the done one is not coming up
    assert [m["name"] for m in summary["due_next_week"]["items"]] == ["申报", "反馈"]
    theirs = summary_for(org.b_user)
    assert [d["name"] for d in theirs["opened"]["items"]] == ["乙新项目"]
    assert theirs["stage_moves"]["count"] == theirs["overdue_milestones"]["count"] == 0


def test_overdue_means_the_one_definition(org, world):
    overdue = Milestone.objects.filter(services.overdue_q(today=MONDAY))
    assert summary_for(org.all_user)["overdue_milestones"]["count"] == overdue.count()


def test_managers_are_emailed_their_own_figures_and_others_nothing(
    org,
    world,
    email_channel,  # noqa: F811 - fixture
    smtp_server,  # noqa: F811 - fixture
    run_jobs,  # noqa: F811 - fixture
    english,
):
    viewer = UserFactory(username="viewer", roles=[RoleFactory(data_scope="all", perms=PERMS[:2])])
    managers = {u.pk for u in reports.managers()}
    assert org.dept_user.pk in managers and viewer.pk not in managers

    with run_jobs():
        sent = reports.send_weekly_reports(MONDAY)

    assert sent == len(managers)
    notices = Notification.objects.filter(event=reports.WEEKLY_EVENT)
    assert viewer.pk not in {n.recipient_id for n in notices}
    assert notices.get(recipient=org.dept_user).url == reverse("deals:dashboard")
    mails = {m.recipients[0]: m for m in smtp_server.messages}
    assert viewer.email not in mails
    mine = mails[org.dept_user.email].body
    assert "Weekly deal report 2026-11-16 to 2026-11-22" in mails[org.dept_user.email].subject
    assert "- deals opened: 1" in mine and "- deals closed: 1" in mine
    assert "- stage moves: 1" in mine and "Overdue milestones now: 1" in mine
    assert "Milestones due 2026-11-23 to 2026-11-29: 2" in mine
    assert "内核" in mine and reverse("deals:dashboard") in mine
    assert reverse("deals:deal_summary_export") in mine
    assert "乙新项目" not in mine
    theirs = mails[org.b_user.email].body
    assert "- deals opened: 1" in theirs and "- stage moves: 0" in theirs
    assert "内核" not in theirs


def test_one_managers_failure_does_not_stop_the_others(org, world, monkeypatch):
    real = reports.weekly_summary

    def failing_for_b(deals, milestones, today=None):
        if (
            deals.filter(department=org.dept_b).exists()
            and not deals.filter(department=org.dept_a).exists()
        ):
            raise RuntimeError("boom")
        return real(deals, milestones, today)

    monkeypatch.setattr(reports, "weekly_summary", failing_for_b)
    sent = reports.send_weekly_reports(MONDAY)
    recipients = set(
        Notification.objects.filter(event=reports.WEEKLY_EVENT).values_list(
            "recipient_id", flat=True
        )
    )
    assert org.b_user.pk not in recipients and org.dept_user.pk in recipients
    assert sent == len(recipients) == len(reports.managers()) - 2  # b_user and custom_user (B)


def test_a_disabled_manager_gets_nothing(org, world):
    org.dept_user.is_active = False
    org.dept_user.save()
    assert org.dept_user.pk not in {u.pk for u in reports.managers()}


def test_the_preview_page_says_what_the_email_says(org, world, client, english):
    client.force_login(org.dept_user)
    response = client.get(reverse("deals:weekly_report"))
    assert response.status_code == 200
    html = response.content.decode()
    summary = reports.weekly_summary(
        Deal.objects.restrict(org.dept_user, "view"),
        Milestone.objects.restrict(org.dept_user, "view"),
    )
    for key in ("opened", "closed", "stage_moves", "overdue_milestones", "due_next_week"):
        assert f'data-figure="{key}">{summary[key]["count"]}<' in html
    assert "乙新项目" not in html


def test_the_preview_needs_the_report_permission(client):
    viewer = UserFactory(roles=[RoleFactory(data_scope="all", perms=PERMS[:2])])
    client.force_login(viewer)
    assert client.get(reverse("deals:weekly_report")).status_code == 403


def test_the_weekly_job_runs_on_monday_at_eight_and_records_what_it_sent(org, world):
    task = report_tasks.weekly_report_job.task
    runs = task.s().validate_datetime  # the scheduler's question, in local time
    assert runs(datetime.datetime(2026, 11, 23, 8, 0))
    assert not runs(datetime.datetime(2026, 11, 23, 9, 0))
    assert not runs(datetime.datetime(2026, 11, 24, 8, 0))
    assert events.is_registered(reports.WEEKLY_EVENT)

    task()

    row = Job.objects.get(name=report_tasks.weekly_report_job.job_name)
    assert row.status == Job.Status.SUCCEEDED
    assert row.result == {"sent": len(reports.managers())}
