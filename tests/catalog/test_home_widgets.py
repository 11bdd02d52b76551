"""The home page counts the projects found in the last seven days that the user may see, and
links to the project list showing them."""

import datetime

import pytest
from django.utils import timezone

from tests.catalog.factories import ProjectFactory
from tests.conftest import make_org
from tests.home_cards import home_cards, rows_listed

pytestmark = pytest.mark.django_db


def test_projects_found_in_seven_days_within_the_data_scope(client):
    org = make_org(["catalog.view_project"])
    today = timezone.localdate()

    def seen(days_ago: int, **kwargs):
        day = today - datetime.timedelta(days=days_ago)
        moment = timezone.make_aware(datetime.datetime.combine(day, datetime.time(9)))
        return ProjectFactory(first_seen_at=moment, **kwargs)

    seen(0, owner=org.self_user, department=org.dept_a)
    seen(6, owner=org.self_user, department=org.dept_a)  # the seventh day back counts
    seen(7, owner=org.self_user, department=org.dept_a)  # the eighth does not
    seen(1, owner=org.b_user, department=org.dept_b)

    client.force_login(org.all_user)
    number, link = home_cards(client)["projects_new"]
    assert number == 3
    assert rows_listed(client, link) == 3

    client.force_login(org.self_user)
    number, link = home_cards(client)["projects_new"]
    assert number == 2
    assert rows_listed(client, link) == 2
