"""notify() reaches people through their chosen channels and robots through theirs, as background
deliveries with retries and a delivery log."""

from __future__ import annotations

import pytest

from ibcloud.core.models import Job
from ibcloud.core.signals import notification_requested
from ibcloud.notify import events
from ibcloud.notify.models import Delivery, Notification
from ibcloud.notify.services import ChannelChoice, notify, set_preferences
from tests.factories import UserFactory
from tests.notify.conftest import ChannelFactory

pytestmark = pytest.mark.django_db


def test_in_app_notification_for_each_person(person):
    other = UserFactory()
    created = notify([person, other, person], "Deal signed", body="Project A", url="/deals/1/")
    assert {n.recipient for n in created} == {person, other}
    assert Notification.objects.get(recipient=person).title == "Deal signed"
    assert Delivery.objects.count() == 0  # no channel configured: in-app only


def test_email_reaches_the_smtp_server(person, email_channel, smtp_server, run_jobs):
    with run_jobs():
        notify([person], "Milestone due", body="Sign the NDA", url="/deals/7/")
    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert mail.subject == "Milestone due"
    assert mail.recipients == ["zhang@bank.test"]
    assert mail.sender == "ibcloud@bank.test"
    assert "Sign the NDA" in mail.body and "/deals/7/" in mail.body
    delivery = Delivery.objects.get()
    assert (delivery.kind, delivery.target, delivery.status) == ("email", person.email, "sent")
    assert delivery.attempts == 1 and delivery.sent_at is not None
    assert delivery.job.status == Job.Status.SUCCEEDED


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize(
    ("password", "status"), [("Sup3rSecret", "sent"), ("wrong-password", "failed")]
)
def test_smtp_login_uses_the_stored_password(person, smtp_auth_server, run_jobs, password, status):
    ChannelFactory(
        kind="email",
        config={"host": "127.0.0.1", "port": smtp_auth_server.port, "username": "robot"},
        secret=password,
    )
    with run_jobs():
        notify([person], "Login test")
    assert set(smtp_auth_server.logins) == {("robot", password)}
    delivery = Delivery.objects.get()
    # A refused login is permanent: no retry hammering the mail server with a bad password.
    assert (delivery.status, delivery.attempts) == (status, 1)
    assert password not in delivery.last_error
    assert len(smtp_auth_server.messages) == (1 if status == "sent" else 0)


def test_email_preference_off_means_no_email(person, email_channel, smtp_server, run_jobs):
    set_preferences(person, ChannelChoice(in_app=True, email=False))
    with run_jobs():
        notify([person], "Quiet")
    assert Delivery.objects.count() == 0
    assert smtp_server.messages == []
    assert Notification.objects.filter(recipient=person, in_app=True).count() == 1


def test_per_event_preference_wins_over_default(person, email_channel, run_jobs):
    events.register("deals.milestone_due", "Milestone due")
    set_preferences(
        person,
        ChannelChoice(in_app=True, email=False),
        {"deals.milestone_due": ChannelChoice(in_app=False, email=True)},
    )
    with run_jobs():
        notify([person], "General news")
        notify([person], "Due", event="deals.milestone_due")
    assert list(Delivery.objects.values_list("title", flat=True)) == ["Due"]
    due = Notification.objects.get(title="Due")
    assert due.in_app is False  # email only: not in the bell


def test_no_email_without_address_or_without_enabled_channel(email_channel, run_jobs):
    nobody = UserFactory(email="")
    with run_jobs():
        notify([nobody], "x")
    assert Delivery.objects.count() == 0
    email_channel.enabled = False
    email_channel.save()
    with run_jobs():
        notify([UserFactory()], "y")
    assert Delivery.objects.count() == 0


def test_one_robot_delivery_per_call_not_per_person(receiver, allow_local, run_jobs):
    ChannelFactory(kind="webhook", name="Ops", webhook_url=receiver.url + "/hook")
    with run_jobs():
        notify([UserFactory(), UserFactory(), UserFactory()], "Crawl failed", level="error")
    assert len(receiver.requests) == 1
    delivery = Delivery.objects.get()
    assert (delivery.target, delivery.status) == ("Ops", "sent")


def test_robot_only_posts_subscribed_events(receiver, allow_local, run_jobs):
    events.register("crawler.alert", "Crawl alert")
    ChannelFactory(webhook_url=receiver.url, events=["crawler.alert"])
    with run_jobs():
        notify([], "not subscribed")
        notify([], "subscribed", event="crawler.alert")
    assert [r.json["title"] for r in receiver.requests] == ["subscribed"]


def test_disabled_robot_gets_nothing(receiver, allow_local, run_jobs):
    ChannelFactory(webhook_url=receiver.url, enabled=False)
    with run_jobs():
        notify([UserFactory()], "x")
    assert receiver.requests == []


def test_transient_error_is_retried_until_sent(receiver, allow_local, run_jobs):
    receiver.answer((500, {"error": "busy"}), (200, {"ok": True}))
    ChannelFactory(webhook_url=receiver.url)
    with run_jobs():
        notify([], "retry me")
    delivery = Delivery.objects.get()
    assert delivery.status == "sent"
    assert delivery.attempts == 2
    assert len(receiver.requests) == 2


def test_rate_limit_429_is_transient(receiver, allow_local, run_jobs):
    receiver.answer((429, {}), (200, {}))
    ChannelFactory(webhook_url=receiver.url)
    with run_jobs():
        notify([], "x")
    assert Delivery.objects.get().attempts == 2


def test_persistent_5xx_fails_after_all_attempts(receiver, allow_local, run_jobs):
    receiver.answer((503, {"error": "down"}))
    ChannelFactory(webhook_url=receiver.url)
    with run_jobs():
        notify([], "x")
    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.attempts == 4
    assert delivery.response_code == 503
    assert "503" in delivery.last_error


def test_permanent_4xx_fails_without_retry(receiver, allow_local, run_jobs):
    receiver.answer((400, {"error": "bad payload"}))
    ChannelFactory(webhook_url=receiver.url)
    with run_jobs():
        notify([], "x")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "bad payload" in delivery.response_excerpt
    assert len(receiver.requests) == 1


@pytest.mark.usefixtures("english")
def test_unreachable_robot_is_retried_then_fails(allow_local, run_jobs):
    ChannelFactory(webhook_url="http://127.0.0.1:9/closed")  # discard port: refused
    with run_jobs():
        notify([], "x")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 4)
    assert "Network error" in delivery.last_error


def test_metadata_webhook_is_refused_even_if_allowlisted(settings, run_jobs):
    settings.IBCLOUD_SSRF_ALLOWLIST = ["169.254.169.254", "169.254.0.0/16"]
    ChannelFactory(webhook_url="http://169.254.169.254/latest/meta-data/")
    with run_jobs():
        notify([], "x")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "SSRF" in delivery.last_error


def test_loopback_webhook_refused_unless_allowlisted(settings, receiver, run_jobs):
    settings.IBCLOUD_SSRF_ALLOWLIST = []
    ChannelFactory(webhook_url=receiver.url)
    with run_jobs():
        notify([], "blocked")
    assert receiver.requests == []
    assert Delivery.objects.get().status == "failed"
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1"]
    with run_jobs():
        notify([], "allowed")
    assert [r.json["title"] for r in receiver.requests] == ["allowed"]


def test_signal_from_lower_apps_notifies(person):
    notification_requested.send(sender=None, users=[person], title="From crawler", level="warning")
    notification = Notification.objects.get(recipient=person)
    assert (notification.title, notification.level) == ("From crawler", "warning")


def test_unknown_event_or_level_is_a_programming_error(person):
    with pytest.raises(ValueError):
        notify([person], "x", event="no.such.event")
    with pytest.raises(ValueError):
        notify([person], "x", level="catastrophic")


def test_unsafe_links_are_dropped(person):
    notification = notify([person], "x", url="javascript:alert(1)")[0]
    assert notification.url == ""
    assert notify([person], "y", url="//evil.example/")[0].url == ""
    assert notify([person], "z", url="/deals/3/")[0].url == "/deals/3/"


def test_inactive_users_are_skipped():
    inactive = UserFactory(is_active=False)
    assert notify([inactive], "x") == []
