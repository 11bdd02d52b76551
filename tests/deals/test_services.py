"""Opening, editing and closing deals (services.py)."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from ibcloud.deals import services
from ibcloud.deals.models import Deal, DealActivity
from ibcloud.matching.models import Match
from tests.deals.factories import MilestoneFactory
from tests.matching.factories import MatchFactory

pytestmark = pytest.mark.django_db


def test_a_new_deal_starts_at_its_types_first_stage_led_by_its_creator(admin_user):
    deal = services.create_deal(admin_user, name="某某科技IPO", deal_type="ipo")
    assert deal.stage == "initiation"
    assert deal.lead == admin_user and deal.owner == admin_user
    assert deal.code.startswith(f"D{timezone.localdate().year}-")
    assert deal.activities.filter(kind=DealActivity.Kind.CREATED).count() == 1


def test_codes_are_numbered_within_the_year(admin_user):
    first = services.create_deal(admin_user, name="甲", deal_type="bond")
    second = services.create_deal(admin_user, name="乙", deal_type="bond")
    assert int(second.code.split("-")[1]) == int(first.code.split("-")[1]) + 1


def test_a_stage_outside_the_types_list_is_refused(admin_user):
    with pytest.raises(ValidationError) as error:
        services.create_deal(admin_user, name="甲", deal_type="ipo", stage="negotiation")
    assert "stage" in error.value.message_dict


def test_stage_change_goes_on_the_timeline_and_closing_dates_the_deal(admin_user):
    deal = services.create_deal(admin_user, name="甲", deal_type="ipo")
    services.change_stage(deal, "due_diligence", admin_user)
    services.update_deal(deal, admin_user, status=Deal.Status.COMPLETED)
    deal.refresh_from_db()
    assert deal.closed_on == timezone.localdate()
    kinds = list(deal.activities.values_list("kind", flat=True))
    assert DealActivity.Kind.STAGE in kinds and DealActivity.Kind.STATUS in kinds
    services.update_deal(deal, admin_user, status=Deal.Status.ACTIVE)
    deal.refresh_from_db()
    assert deal.closed_on is None


def test_a_deal_from_an_approved_match_carries_its_project_and_investor(admin_user):
    match = MatchFactory(status=Match.Status.APPROVED, assignee=admin_user)
    deal = services.open_deal_from_match(match, admin_user)
    assert deal.project == match.project
    assert list(deal.investors.all()) == [match.investor]
    match.refresh_from_db()
    assert match.converted_at is not None


def test_a_pending_match_cannot_become_a_deal(admin_user):
    with pytest.raises(ValidationError):
        services.open_deal_from_match(MatchFactory(), admin_user)


def test_overdue_means_open_and_past_due():
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    late = MilestoneFactory(due_date=yesterday).deal
    done = MilestoneFactory(due_date=yesterday, status="done").deal
    MilestoneFactory(deal=done, due_date=timezone.localdate())  # due today: not late yet
    flags = dict(services.with_overdue(Deal.objects.all()).values_list("pk", "is_overdue"))
    assert flags == {late.pk: True, done.pk: False}
