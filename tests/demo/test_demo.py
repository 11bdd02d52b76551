"""`ibcloud demo` gives a newcomer a working platform: data, logins and Chinese pages."""

import io

import pytest
from django.core.management import call_command

from ibcloud.accounts.models import Department, Role, User
from ibcloud.demo.services import DEMO_LOGINS
from ibcloud.notify.models import Notification

pytestmark = pytest.mark.django_db


def run_demo() -> str:
    out = io.StringIO()
    call_command("demo", "--no-serve", stdout=out)
    return out.getvalue()


def test_demo_prints_the_url_and_every_login():
    output = run_demo()
    assert "http://127.0.0.1:8000/" in output
    for login in DEMO_LOGINS:
        assert login.username in output and login.password in output


def test_demo_is_idempotent():
    run_demo()
    counts = (
        User.objects.count(),
        Department.objects.count(),
        Role.objects.count(),
        Notification.objects.count(),
    )
    run_demo()
    assert counts == (
        User.objects.count(),
        Department.objects.count(),
        Role.objects.count(),
        Notification.objects.count(),
    )


@pytest.mark.parametrize("login", DEMO_LOGINS, ids=lambda login: login.username)
def test_every_demo_login_opens_the_chinese_ui(client, login):
    run_demo()
    response = client.post(
        "/accounts/login/", {"username": login.username, "password": login.password}
    )
    assert response.status_code == 302
    home = client.get("/").content.decode()
    assert "首页" in home and "欢迎使用投行云" in client.get("/notify/").content.decode()
    assert "系统管理" in home  # every demo role reaches part of system management


def test_department_scoped_manager_sees_only_his_branch(client):
    run_demo()
    client.post("/accounts/login/", {"username": "manager", "password": "Manager@2026"})
    page = client.get("/accounts/users/").content.decode()
    assert "banker" in page and "analyst" in page  # 投资银行部 and its groups
    assert "auditor" not in page  # 风控合规部 is another branch


def test_the_demo_carries_the_best_matches_through_review_into_deals(
    django_capture_on_commit_callbacks,
):
    """Once crawls have produced matches, the demo's job approves the best ones as the manager
    and opens a deal from each, with the financing milestones (the whole flow, crawl to deal)."""
    from ibcloud.core.models import Job
    from ibcloud.deals.models import Deal
    from ibcloud.demo.tasks import DEMO_CONVERSIONS, convert_demo_matches
    from ibcloud.matching.models import Match
    from tests.matching.factories import MatchFactory

    run_demo()
    hand_made = Deal.objects.count()
    assert hand_made > 0 and Deal.objects.filter(milestones__isnull=False).exists()
    matches = [MatchFactory(score=90 - n) for n in range(DEMO_CONVERSIONS + 2)]
    with django_capture_on_commit_callbacks(execute=True):
        job = convert_demo_matches.enqueue()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    opened = Deal.objects.filter(match__isnull=False)
    assert opened.count() == DEMO_CONVERSIONS
    best = {m.pk for m in matches[:DEMO_CONVERSIONS]}
    assert set(opened.values_list("match", flat=True)) == best
    assert set(Match.objects.filter(pk__in=best).values_list("status", flat=True)) == {"approved"}
    assert all(deal.milestones.filter(name="NDA").exists() for deal in opened)
    with django_capture_on_commit_callbacks(execute=True):
        convert_demo_matches.enqueue()
    assert Deal.objects.count() == hand_made + DEMO_CONVERSIONS
