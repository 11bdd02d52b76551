"""The notification API: own notifications and preferences, channel admin, the delivery log."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection

from ibcloud.notify.models import Channel, Delivery, Notification, NotificationPreference
from ibcloud.notify.services import notify
from tests.conftest import make_org
from tests.factories import UserFactory
from tests.notify.conftest import ChannelFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/notify"
ADMIN_PERMS = [
    "notify.view_channel",
    "notify.add_channel",
    "notify.change_channel",
    "notify.delete_channel",
    "notify.view_delivery",
]


def test_notifications_are_own_only(api, person):
    mine = notify([person], "Mine", url="/x/")[0]
    theirs = notify([UserFactory()], "Theirs")[0]
    client = api.as_user(person)
    listing = client.get(f"{BASE}/notifications/").json()
    assert [row["title"] for row in listing["results"]] == ["Mine"]
    assert client.get(f"{BASE}/notifications/{mine.pk}/").json()["url"] == "/x/"
    response = client.get(f"{BASE}/notifications/{theirs.pk}/")
    assert response.status_code == 404
    assert set(response.json()) == {"code", "message", "details"}
    assert client.post(f"{BASE}/notifications/{theirs.pk}/read/").status_code == 404


def test_unread_count_read_and_read_all(api, person):
    first = notify([person], "One")[0]
    notify([person], "Two")
    notify([person], "Three")
    client = api.as_user(person)
    assert client.get(f"{BASE}/notifications/unread-count/").json() == {"unread": 3}
    body = client.post(f"{BASE}/notifications/{first.pk}/read/").json()
    assert body["is_read"] is True and body["read_at"]
    assert client.get(f"{BASE}/notifications/unread-count/").json() == {"unread": 2}
    unread = client.get(f"{BASE}/notifications/", {"state": "unread"}).json()
    assert {row["title"] for row in unread["results"]} == {"Two", "Three"}
    assert client.post(f"{BASE}/notifications/read-all/").json() == {"marked": 2}
    assert client.get(f"{BASE}/notifications/unread-count/").json() == {"unread": 0}


def test_bad_filter_value_is_a_400(api, person):
    response = api.as_user(person).get(f"{BASE}/notifications/", {"state": "maybe"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_preferences_get_and_put(api, person):
    client = api.as_user(person)
    current = client.get(f"{BASE}/preferences/").json()
    assert current["default"] == {"in_app": True, "email": True}
    assert {"event": "general", "inherited": True}.items() <= next(
        row for row in current["events"] if row["event"] == "general"
    ).items()
    response = client.put(
        f"{BASE}/preferences/",
        {
            "default": {"in_app": True, "email": False},
            "events": [{"event": "general", "in_app": False, "email": True}],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    general = next(row for row in response.json()["events"] if row["event"] == "general")
    assert (general["in_app"], general["email"], general["inherited"]) == (False, True, False)
    assert NotificationPreference.objects.get(user=person, event="*").email is False


def test_preferences_reject_unknown_events(api, person):
    response = api.as_user(person).put(
        f"{BASE}/preferences/",
        {
            "default": {"in_app": True, "email": True},
            "events": [{"event": "nope", "in_app": 1, "email": 0}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert "events" in response.json()["details"]


def test_channel_crud_secret_is_write_only_and_encrypted(api):
    org = make_org(ADMIN_PERMS)
    client = api.as_user(org.dept_user)
    created = client.post(
        f"{BASE}/channels/",
        {
            "name": "Ops webhook",
            "kind": "webhook",
            "webhook_url": "https://hooks.example.com/in",
            "secret": "hmac-secret-123",
            "events": ["general"],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert "secret" not in body and body["has_secret"] is True
    assert "hmac-secret-123" not in created.content.decode()
    channel = Channel.objects.get(pk=body["id"])
    assert channel.department == org.dept_a and channel.owner == org.dept_user
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM notify_channel WHERE id = %s", [channel.pk])
        assert "hmac-secret-123" not in cursor.fetchone()[0]

    # Omitted secret: kept. Null: removed.
    client.patch(f"{BASE}/channels/{channel.pk}/", {"name": "Ops"}, format="json")
    channel.refresh_from_db()
    assert (channel.name, channel.secret) == ("Ops", "hmac-secret-123")
    listing = client.get(f"{BASE}/channels/")
    assert "hmac-secret-123" not in listing.content.decode()
    client.patch(f"{BASE}/channels/{channel.pk}/", {"secret": None}, format="json")
    channel.refresh_from_db()
    assert channel.secret == ""
    assert client.delete(f"{BASE}/channels/{channel.pk}/").status_code == 204


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "x", "kind": "webhook", "webhook_url": "http://169.254.169.254/"},
        {"name": "x", "kind": "webhook", "webhook_url": "file:///etc/passwd"},
        {"name": "x", "kind": "webhook", "webhook_url": "  "},
        {"name": "x", "kind": "webhook", "config": {"url": "https://a.example/"}},
        {"name": "x", "kind": "webhook", "config": {}},
        {"name": "x", "kind": "email", "config": {"host": "smtp.bank.test", "port": 99999}},
        {"name": "x", "kind": "pigeon", "config": {}},
        {
            "name": "x",
            "kind": "webhook",
            "webhook_url": "https://a.example/",
            "events": ["nope"],
        },
    ],
)
def test_channel_validation(api, payload):
    org = make_org(ADMIN_PERMS)
    response = api.as_user(org.dept_user).post(f"{BASE}/channels/", payload, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "details"}
    assert not Channel.objects.exists()


def test_channels_are_scoped_and_need_permission(api, person):
    org = make_org(ADMIN_PERMS)
    ChannelFactory(name="A robot", department=org.dept_a, webhook_url="https://a.example/")
    theirs = ChannelFactory(name="B robot", department=org.dept_b, webhook_url="https://b.example/")
    client = api.as_user(org.dept_user)
    names = [row["name"] for row in client.get(f"{BASE}/channels/").json()["results"]]
    assert names == ["A robot"]
    assert client.get(f"{BASE}/channels/{theirs.pk}/").status_code == 404
    assert client.post(f"{BASE}/channels/{theirs.pk}/test/").status_code == 404
    assert api.as_user(person).get(f"{BASE}/channels/").status_code == 403


def test_channel_test_action(api, receiver, allow_local):
    org = make_org(ADMIN_PERMS)
    channel = ChannelFactory(department=org.dept_a, webhook_url=receiver.url, secret="k")
    response = api.as_user(org.dept_user).post(f"{BASE}/channels/{channel.pk}/test/")
    assert response.status_code == 200
    assert response.json()["status"] == "sent"
    assert receiver.requests[0].headers["X-IBCloud-Signature"].startswith("sha256=")


def test_channel_test_needs_change_permission(api):
    org = make_org(["notify.view_channel"])
    channel = ChannelFactory(department=org.dept_a, webhook_url="https://a.example/")
    assert api.as_user(org.dept_user).post(f"{BASE}/channels/{channel.pk}/test/").status_code == 403


@pytest.mark.usefixtures("english")
def test_delivery_log_is_scoped_filterable_and_exportable(api, receiver, allow_local, run_jobs):
    org = make_org(ADMIN_PERMS)
    ChannelFactory(name="A", department=org.dept_a, webhook_url=receiver.url)
    ChannelFactory(name="B", department=org.dept_b, webhook_url=receiver.url)
    with run_jobs():
        notify([], "Robots")
    assert Delivery.objects.count() == 2
    client = api.as_user(org.dept_user)
    rows = client.get(f"{BASE}/deliveries/").json()["results"]
    assert [row["target"] for row in rows] == ["A"]
    assert rows[0]["status"] == "sent" and rows[0]["attempts"] == 1
    assert client.get(f"{BASE}/deliveries/", {"status": "failed"}).json()["count"] == 0
    export = client.get(f"{BASE}/deliveries/export/", {"file_format": "csv"})
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    target = rows[0].index("Target")
    assert [row[target] for row in rows[1:]] == ["A"]
    assert api.as_user(UserFactory()).get(f"{BASE}/deliveries/").status_code == 403


def test_email_only_notifications_stay_out_of_the_inbox(api, person):
    """Notifications created with in-app off (email only) do not show in the API list."""
    Notification.objects.create(recipient=person, title="Email only", in_app=False)
    client = api.as_user(person)
    assert client.get(f"{BASE}/notifications/").json()["count"] == 0
    assert client.get(f"{BASE}/notifications/unread-count/").json() == {"unread": 0}
