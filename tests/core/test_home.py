"""The home page shows cards with the numbers each user may see."""

import re

import pytest
from django.urls import reverse

from ibcloud.core.home import WIDGETS, HomeWidget, register_widget
from ibcloud.core.models import Job
from tests.conftest import make_org
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def card_values(html: str) -> dict[str, int | None]:
    """``{widget key: number}`` of the cards on the page (``None`` for a card without one)."""
    values = {key: int(n) for key, n in re.findall(r'data-value="([^"]+)">(\d+)<', html)}
    return {key: values.get(key) for key in re.findall(r'data-widget="([^"]+)"', html)}


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("core:home"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_user_without_permissions_sees_only_their_own_unread_count(client):
    client.force_login(UserFactory())
    response = client.get(reverse("core:home"))
    assert response.status_code == 200
    assert card_values(response.content.decode()) == {"notifications_unread": 0}


def test_counts_follow_the_data_scope(client):
    org = make_org(["accounts.view_user", "accounts.view_department", "core.view_job"])
    Job.objects.create(name="a", status=Job.Status.FAILED, owner=org.self_user)
    Job.objects.create(name="b", status=Job.Status.FAILED, owner=org.b_user, department=org.dept_b)
    Job.objects.create(name="c", status=Job.Status.RUNNING, owner=org.self_user)

    client.force_login(org.all_user)
    cards = card_values(client.get(reverse("core:home")).content.decode())
    assert cards["jobs_failed"] == 2
    assert cards["jobs_running"] == 1
    assert cards["users"] == 7  # everyone in make_org is active
    assert cards["departments"] == 3

    client.force_login(org.self_user)
    cards = card_values(client.get(reverse("core:home")).content.decode())
    assert cards["jobs_failed"] == 1
    assert cards["users"] == 1


def test_apps_register_their_own_cards(client):
    register_widget(
        HomeWidget(
            key="test_card",
            label="Test card",
            permission=None,
            count=lambda user: 42,
            order=1,
        )
    )
    register_widget(
        HomeWidget(
            key="broken_card",
            label="Broken",
            permission=None,
            count=lambda user: 1 / 0,
        )
    )
    try:
        client.force_login(UserFactory())
        response = client.get(reverse("core:home"))
        cards = card_values(response.content.decode())
        # a failing card is left out, the page still works
        assert cards == {"test_card": 42, "notifications_unread": 0}
    finally:
        WIDGETS.pop("test_card")
        WIDGETS.pop("broken_card")
