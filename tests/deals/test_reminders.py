"""Reminders and the daily digest: a milestone due within ``deals.reminder_days`` reminds its
owner once per due date (in-app and by email), however often the job runs; moving the date
re-arms it; done or skipped milestones never remind; the digest lists each person's overdue
and coming milestones."""

import datetime

import pytest
from django.utils import timezone

from ibcloud.core.models import Job
from ibcloud.core.parameters import set_parameter
from ibcloud.deals import milestones, tasks
from ibcloud.deals.models import Deal, Milestone
from ibcloud.notify.models import Delivery, Notification
from tests.deals.factories import DealFactory, MilestoneFactory
from tests.factories import UserFactory
from tests.notify.conftest import (  # noqa: F401 - fixtures
    email_channel,
    run_jobs,
    smtp_server,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


@pytest.fixture
def owner():
    return UserFactory(username="owner")


@pytest.fixture
def lead():
    return UserFactory(username="lead")


def reminders_of(user):
    return Notification.objects.filter(recipient=user, event=milestones.REMINDER_EVENT)


def test_a_milestone_due_in_3_days_reminds_its_owner_once_by_app_and_email(
    owner,
    lead,
    email_channel,  # noqa: F811 - fixture
    smtp_server,  # noqa: F811 - fixture
    run_jobs,  # noqa: F811 - fixture
):
    milestone = MilestoneFactory(
        deal=DealFactory(lead=lead, name="某某科技IPO"),
        name="内核",
        owner=owner,
        due_date=TODAY + 3 * DAY,
    )

    with run_jobs():
        tasks.milestone_reminders_job.task()
    with run_jobs():
        tasks.milestone_reminders_job.task()

    notice = reminders_of(owner).get()
    assert "内核" in notice.title and "某某科技IPO" in notice.title
    assert not reminders_of(lead).exists()
    assert [m.recipients for m in smtp_server.messages] == [[owner.email]]
    assert Delivery.objects.get(event=milestones.REMINDER_EVENT).status == Delivery.Status.SENT
    milestone.refresh_from_db()
    assert milestone.reminded_for == milestone.due_date
    runs = Job.objects.filter(name=tasks.milestone_reminders_job.job_name)
    assert [run.result for run in runs.order_by("id")] == [{"sent": 1}, {"sent": 0}]


def test_moving_the_due_date_rearms_the_reminder(owner):
    milestone = MilestoneFactory(owner=owner, due_date=TODAY + 2 * DAY)
    assert milestones.send_reminders() == 1

    milestones.update_milestone(milestone, owner, due_date=TODAY + DAY)

    assert milestones.send_reminders() == 1
    assert milestones.send_reminders() == 0
    assert reminders_of(owner).count() == 2


def test_only_milestones_within_the_reminder_days_remind(owner):
    set_parameter("deals.reminder_days", 5)
    MilestoneFactory(owner=owner, name="五天后", due_date=TODAY + 5 * DAY)
    MilestoneFactory(owner=owner, name="六天后", due_date=TODAY + 6 * DAY)

    assert milestones.send_reminders() == 1
    assert "五天后" in reminders_of(owner).get().title


def test_done_and_skipped_milestones_and_closed_deals_never_remind(owner):
    MilestoneFactory(owner=owner, due_date=TODAY + DAY, status=Milestone.Status.DONE)
    MilestoneFactory(owner=owner, due_date=TODAY + DAY, status=Milestone.Status.SKIPPED)
    MilestoneFactory(
        owner=owner, due_date=TODAY + DAY, deal=DealFactory(status=Deal.Status.TERMINATED)
    )

    assert milestones.send_reminders() == 0
    assert not reminders_of(owner).exists()


def test_a_milestone_without_an_owner_reminds_the_deals_lead(lead):
    MilestoneFactory(deal=DealFactory(lead=lead), owner=None, due_date=TODAY)

    assert milestones.send_reminders() == 1
    assert reminders_of(lead).count() == 1


def test_the_digest_lists_overdue_and_coming_milestones_per_person(owner, lead):
    deal = DealFactory(lead=lead)
    MilestoneFactory(deal=deal, owner=owner, name="逾期的", due_date=TODAY - 2 * DAY)
    MilestoneFactory(deal=deal, owner=owner, name="下周的", due_date=TODAY + 6 * DAY)
    MilestoneFactory(deal=deal, owner=owner, name="很久以后", due_date=TODAY + 30 * DAY)
    MilestoneFactory(
        deal=deal, owner=owner, name="做完了", due_date=TODAY, status=Milestone.Status.DONE
    )
    UserFactory(username="idle")  # has nothing due: no digest

    tasks.daily_digest_job.task()
    tasks.daily_digest_job.task()  # a repeated run the same day sends no second digest

    digest = Notification.objects.get(event=milestones.DIGEST_EVENT)
    assert digest.recipient == owner
    assert "逾期的" in digest.body and "下周的" in digest.body
    assert "很久以后" not in digest.body and "做完了" not in digest.body
    assert digest.body.index("逾期的") < digest.body.index("下周的")
