"""A person's language: the header switch remembers it on the account, signing in on another
browser brings it back, and the reminders and reports sent to them speak it."""

import datetime

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ibcloud.deals import milestones, reports
from ibcloud.notify.models import Notification
from tests.deals.factories import DealFactory, MilestoneFactory
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_the_switch_remembers_the_language_on_the_account():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    user.refresh_from_db()
    assert user.language == "en"
    # A language the site does not offer changes nothing.
    client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    user.refresh_from_db()
    assert user.language == "en"


def test_signing_in_on_another_browser_speaks_the_persons_language():
    user = UserFactory(username="english-speaker", language="en")
    client = Client()
    response = client.post(
        reverse("accounts:login"), {"username": "english-speaker", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert 'lang="en"' in client.get("/").content.decode()
    # Without a language of their own, a person gets the site's.
    UserFactory(username="site-default")
    other = Client()
    response = other.post(
        reverse("accounts:login"), {"username": "site-default", "password": PASSWORD}
    )
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert 'lang="zh-hans"' in other.get("/").content.decode()
    assert user.preferred_language == "en"


def test_the_profile_sets_the_language():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    page = client.get(reverse("accounts:profile")).content.decode()
    assert 'name="language"' in page
    client.post(
        reverse("accounts:profile"),
        {"name": "王五", "email": "wang@example.com", "language": "en"},
    )
    user.refresh_from_db()
    assert user.language == "en"


def test_reminders_digests_and_reports_speak_the_recipients_language(settings):
    today = timezone.localdate()
    english = UserFactory(language="en", is_superuser=True)
    chinese = UserFactory(is_superuser=True)
    for owner in (english, chinese):
        MilestoneFactory(
            owner=owner, deal=DealFactory(lead=owner), due_date=today + datetime.timedelta(days=1)
        )
    assert milestones.send_reminders(today) == 2
    assert milestones.send_digests(today) == 2
    reports.send_weekly_report(english, today)
    reports.send_weekly_report(chinese, today)

    def titles(user):
        return [n.title for n in Notification.objects.filter(recipient=user).order_by("pk")]

    reminder, digest, report = titles(english)
    assert "is due in 1 day" in reminder
    assert digest.startswith("Milestones:")
    assert report.startswith("Weekly deal report")
    reminder, digest, report = titles(chinese)
    assert "Milestone" not in reminder and "里程碑" in reminder
    assert "Weekly" not in report


def test_the_pages_speak_chinese_whatever_the_browsers_language():
    """The UI is Chinese until a person picks English: an English browser does not decide."""
    english_browser = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert 'lang="zh-hans"' in english_browser.get(reverse("accounts:login")).content.decode()
    user = UserFactory()
    english_browser.force_login(user)
    assert 'lang="zh-hans"' in english_browser.get("/").content.decode()
    # The person's own choice decides, even once the switch's cookie is gone (a browser restart
    # ends that cookie, not the session).
    user.language = "en"
    user.save(update_fields=["language"])
    chinese_browser = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    chinese_browser.force_login(user)
    assert 'lang="en"' in chinese_browser.get("/").content.decode()
    # Before signing in, the login page's switch (its cookie) decides.
    anonymous = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    anonymous.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert 'lang="en"' in anonymous.get(reverse("accounts:login")).content.decode()


def test_api_clients_may_ask_for_a_language():
    """An API client has no switch: its Accept-Language chooses the language of the errors."""
    url = "/api/v1/catalog/projects/"
    english = Client(HTTP_ACCEPT_LANGUAGE="en").get(url)
    chinese = Client().get(url)
    assert english.status_code == chinese.status_code == 401
    assert english.json() != chinese.json()
    assert english.headers["Content-Language"] == "en"
    assert chinese.headers["Content-Language"] == "zh-hans"
