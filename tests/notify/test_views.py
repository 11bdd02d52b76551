"""The bell, my notifications, preferences, and the admin pages for channels and deliveries."""

from __future__ import annotations

import pytest
from auditlog import get_logentry_model
from django.urls import reverse

from ibcloud.notify.models import Channel, Delivery, Notification, NotificationPreference
from ibcloud.notify.services import notify
from tests.conftest import make_org
from tests.factories import UserFactory
from tests.notify.conftest import ChannelFactory

pytestmark = pytest.mark.django_db

CHANNEL_PERMS = [
    "notify.view_channel",
    "notify.add_channel",
    "notify.change_channel",
    "notify.delete_channel",
    "notify.view_delivery",
    "notify.change_delivery",
]


def test_bell_shows_unread_count_and_latest(client, person):
    for i in range(7):
        notify([person], f"Notice {i}")
    Notification.objects.filter(title="Notice 0").update(read_at="2026-01-01T00:00:00Z")
    client.force_login(person)
    html = client.get(reverse("core:home")).content.decode()
    assert 'id="notify-unread-count">6<' in html
    assert "Notice 6" in html and "Notice 2" in html
    assert "Notice 1" not in html  # only the latest five unread


def test_mark_all_read_from_the_bell(client, person):
    notify([person], "One")
    notify([person], "Two")
    client.force_login(person)
    response = client.post(reverse("notify:notification_read_all"), {"next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert Notification.objects.filter(recipient=person, read_at__isnull=True).count() == 0
    assert "notify-unread-count" not in client.get("/").content.decode()


def test_my_notifications_lists_only_mine_with_filters(client, person):
    other = UserFactory()
    notify([person], "Mine unread")
    notify([person], "Mine read")
    notify([other], "Someone else's")
    Notification.objects.filter(title="Mine read").update(read_at="2026-01-01T00:00:00Z")
    client.force_login(person)
    url = reverse("notify:notification_list")
    html = client.get(url).content.decode()
    assert "Mine unread" in html and "Mine read" in html
    assert "Someone else" not in html
    unread = client.get(url, {"state": "unread"}).content.decode()
    assert "Mine unread" in unread and "Mine read" not in unread


def test_bulk_mark_read_and_unread(client, person):
    first, second = notify([person], "A")[0], notify([person], "B")[0]
    client.force_login(person)
    url = reverse("notify:notification_list")
    client.post(url, {"bulk_action": "read", "pk": [first.pk, second.pk]})
    assert Notification.objects.filter(read_at__isnull=False).count() == 2
    client.post(url, {"bulk_action": "unread", "pk": [first.pk]})
    first.refresh_from_db()
    assert first.read_at is None


def test_opening_marks_read_and_follows_the_link(client, person):
    notification = notify([person], "Go", url="/deals/9/")[0]
    client.force_login(person)
    response = client.get(reverse("notify:notification_open", args=[notification.pk]))
    assert response["Location"] == "/deals/9/"
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_another_persons_notification_is_404(client, person):
    theirs = notify([UserFactory()], "Private")[0]
    client.force_login(person)
    assert client.get(reverse("notify:notification_open", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("notify:notification_read", args=[theirs.pk])).status_code == 404
    client.post(reverse("notify:notification_list"), {"bulk_action": "read", "pk": [theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_preferences_page_saves_choices(client, person, email_channel, run_jobs):
    client.force_login(person)
    url = reverse("notify:preferences")
    html = client.get(url).content.decode()
    assert 'name="email__*"' in html and 'name="in_app__general"' in html
    # Keep in-app, turn email off for everything.
    response = client.post(url, {"in_app__*": "on", "in_app__general": "on"})
    assert response.status_code == 302
    pref = NotificationPreference.objects.get(user=person, event="*")
    assert (pref.in_app, pref.email) == (True, False)
    # "general" followed the default before and still does: no row of its own.
    assert not NotificationPreference.objects.filter(user=person, event="general").exists()
    with run_jobs():
        notify([person], "No mail please")
    assert not Delivery.objects.exists()


def test_channel_pages_need_permissions(client, person):
    client.force_login(person)
    assert client.get(reverse("notify:channel_list")).status_code == 403
    assert client.get(reverse("notify:delivery_list")).status_code == 403
    assert client.get(reverse("notify:channel_add")).status_code == 403


def test_admin_adds_a_robot_and_the_secret_is_never_shown(client):
    org = make_org(CHANNEL_PERMS)
    client.force_login(org.dept_user)
    response = client.post(
        reverse("notify:channel_add"),
        {
            "name": "IB robot",
            "kind": "dingtalk",
            "enabled": "on",
            "webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=abc",
            "msgtype": "markdown",
            "secret": "SECsigning-secret",
            "events": ["general"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    channel = Channel.objects.get(name="IB robot")
    assert channel.secret == "SECsigning-secret"
    assert channel.webhook_url == "https://oapi.dingtalk.com/robot/send?access_token=abc"
    assert channel.config == {"msgtype": "markdown"}
    assert channel.events == ["general"]
    assert channel.department == org.dept_a

    edit = client.get(reverse("notify:channel_edit", args=[channel.pk])).content.decode()
    assert "SECsigning-secret" not in edit and "access_token=abc" not in edit
    assert 'id="secret-set"' in edit
    # Saving with the secret and URL left blank keeps them.
    client.post(
        reverse("notify:channel_edit", args=[channel.pk]),
        {"name": "IB robot 2", "kind": "dingtalk", "msgtype": "text"},
    )
    channel.refresh_from_db()
    assert (channel.name, channel.secret, channel.enabled) == (
        "IB robot 2",
        "SECsigning-secret",
        False,
    )
    assert channel.webhook_url == "https://oapi.dingtalk.com/robot/send?access_token=abc"
    # The audit log records the change but never the secret.
    entries = get_logentry_model().objects.get_for_object(channel)
    assert entries.count() == 2
    for entry in entries:
        assert "secret" not in (entry.changes or {})
        assert "SECsigning-secret" not in str(entry.changes)


def test_clear_secret(client):
    org = make_org(CHANNEL_PERMS)
    channel = ChannelFactory(
        webhook_url="https://hooks.example.com/x", secret="s", department=org.dept_a
    )
    client.force_login(org.dept_user)
    client.post(
        reverse("notify:channel_edit", args=[channel.pk]),
        {
            "name": channel.name,
            "kind": "webhook",
            "clear_secret": "on",
        },
    )
    channel.refresh_from_db()
    assert channel.secret == ""


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"kind": "webhook", "webhook_url": "http://169.254.169.254/latest/"}, "webhook_url"),
        ({"kind": "webhook"}, "webhook_url"),
        ({"kind": "email"}, "host"),
        ({"kind": "email", "host": "smtp.bank.test", "use_tls": "on", "use_ssl": "on"}, "use_ssl"),
    ],
)
def test_channel_form_errors(client, fields, error_field):
    org = make_org(CHANNEL_PERMS)
    client.force_login(org.dept_user)
    response = client.post(reverse("notify:channel_add"), {"name": "bad", **fields})
    assert response.status_code == 200
    assert f'data-field-error="{error_field}"' in response.content.decode()
    assert not Channel.objects.exists()


@pytest.mark.usefixtures("english")
def test_send_test_message_button(client, receiver, allow_local):
    org = make_org(CHANNEL_PERMS)
    channel = ChannelFactory(webhook_url=receiver.url, department=org.dept_a)
    client.force_login(org.dept_user)
    response = client.post(reverse("notify:channel_test", args=[channel.pk]), follow=True)
    assert "Test message sent" in response.content.decode()
    assert receiver.requests[0].json["event"] == "notify.test"
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.channel) == ("sent", channel)


def test_send_test_email(client, email_channel, smtp_server):
    org = make_org(CHANNEL_PERMS)
    email_channel.department = org.dept_a
    email_channel.save()
    client.force_login(org.dept_user)
    client.post(reverse("notify:channel_test", args=[email_channel.pk]), {"to": "ops@bank.test"})
    assert smtp_server.messages[0].recipients == ["ops@bank.test"]


def test_channel_out_of_scope_is_404(client):
    org = make_org(CHANNEL_PERMS)
    theirs = ChannelFactory(webhook_url="https://x.example/", department=org.dept_b)
    client.force_login(org.dept_user)
    assert client.get(reverse("notify:channel_edit", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("notify:channel_test", args=[theirs.pk])).status_code == 404
    assert theirs.name not in client.get(reverse("notify:channel_list")).content.decode()


def test_delivery_log_filters_and_retry(client, receiver, allow_local, run_jobs):
    org = make_org(CHANNEL_PERMS)
    receiver.answer((400, {"error": "nope"}))
    ChannelFactory(name="Broken hook", webhook_url=receiver.url, department=org.dept_a)
    with run_jobs():
        notify([], "Will fail")
    client.force_login(org.dept_user)
    url = reverse("notify:delivery_list")
    assert "Will fail" in client.get(url, {"status": "failed"}).content.decode()
    assert "Will fail" not in client.get(url, {"status": "sent"}).content.decode()
    receiver.answer((200, {}))
    delivery = Delivery.objects.get()
    with run_jobs():
        client.post(url, {"bulk_action": "retry", "pk": [delivery.pk]})
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)


def test_menu_shows_admin_items_only_with_permission(client, person):
    org = make_org(CHANNEL_PERMS)
    client.force_login(org.dept_user)
    assert reverse("notify:channel_list") in client.get("/").content.decode()
    client.force_login(person)
    assert reverse("notify:channel_list") not in client.get("/").content.decode()
