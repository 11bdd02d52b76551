"""The inbox: a person's assigned matches by progress, with counts, where they record progress
with notes; nobody sees another person's inbox."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from ibcloud.matching.models import Match, MatchNote
from tests.catalog.factories import ProjectFactory
from tests.factories import DepartmentFactory, RoleFactory, UserFactory
from tests.matching.factories import MatchFactory

pytestmark = pytest.mark.django_db

BANKER_PERMS = ["matching.view_match", "matching.change_match"]


@pytest.fixture
def bankers():
    department = DepartmentFactory(name="投行一部")
    role = RoleFactory(data_scope="self", perms=BANKER_PERMS)
    return (
        UserFactory(username="ann", department=department, roles=[role]),
        UserFactory(username="bob", department=department, roles=[role]),
    )


def assigned(user, name: str, **kwargs) -> Match:
    return MatchFactory(
        project=ProjectFactory(name=name),
        status=Match.Status.APPROVED,
        assignee=user,
        owner=user,
        department=user.department,
        **kwargs,
    )


def names(response) -> set[str]:
    return set(re.findall(r"mark-(\w+)", response.content.decode()))


def test_the_inbox_lists_my_assigned_approved_matches_only(bankers, client):
    ann, bob = bankers
    assigned(ann, "mark-mine")
    taken_back = assigned(ann, "mark-unmatched")
    taken_back.status = Match.Status.UNMATCHED
    taken_back.save()
    assigned(bob, "mark-bobs")
    client.force_login(ann)

    response = client.get(reverse("matching:inbox"))

    assert response.status_code == 200
    assert names(response) == {"mine"}


def test_the_inbox_counts_matches_per_progress_and_filters_by_it(bankers, client):
    ann, _bob = bankers
    assigned(ann, "mark-new1")
    assigned(ann, "mark-new2")
    assigned(ann, "mark-talking", work_status="contacted")
    assigned(ann, "mark-won", work_status="won")
    client.force_login(ann)

    html = client.get(reverse("matching:inbox")).content.decode()
    counts = dict(
        re.findall(r'data-work-status="(\w+)">[^<]*<span class="badge[^"]*">(\d+)<', html)
    )
    assert counts == {"new": "2", "contacted": "1", "in_progress": "0", "won": "1", "lost": "0"}

    response = client.get(reverse("matching:inbox"), {"work_status": "contacted"})
    assert names(response) == {"talking"}


def test_progress_is_recorded_from_the_inbox_with_a_note(bankers, client):
    ann, _bob = bankers
    match = assigned(ann, "mark-deal")
    client.force_login(ann)
    inbox = reverse("matching:inbox")

    response = client.post(
        reverse("matching:match_progress", args=[match.pk]),
        {"work_status": "in_progress", "note": "已签保密协议", "next": inbox},
    )

    assert response.status_code == 302 and response["Location"] == inbox
    match.refresh_from_db()
    assert match.work_status == "in_progress"
    note = MatchNote.objects.get(match=match)
    assert (note.text, note.author, note.work_status) == ("已签保密协议", ann, "in_progress")


def test_nobody_records_progress_on_a_match_out_of_their_reach(bankers, client):
    ann, bob = bankers
    match = assigned(bob, "mark-bobs")
    client.force_login(ann)

    response = client.post(
        reverse("matching:match_progress", args=[match.pk]),
        {"work_status": "won", "note": "x"},
    )

    assert response.status_code == 404
    assert Match.objects.get(pk=match.pk).work_status == "new"


def test_people_who_may_only_view_get_no_progress_form(bankers, client):
    viewer = UserFactory(roles=[RoleFactory(data_scope="self", perms=["matching.view_match"])])
    assigned(viewer, "mark-viewonly")
    client.force_login(viewer)

    html = client.get(reverse("matching:inbox")).content.decode()

    assert "mark-viewonly" in html
    assert 'name="work_status"' not in html.split('id="object-table"')[1]
