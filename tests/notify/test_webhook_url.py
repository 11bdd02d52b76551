"""Robot webhook URLs carry their credential (DingTalk ``access_token``, WeCom ``key``, Feishu hook
token): they are encrypted at rest, write-only in the API, never rendered in the pages and never
written to the audit log, while robots still deliver to them."""

from __future__ import annotations

import importlib

import pytest
from auditlog import get_logentry_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from ibcloud.notify.models import Channel, Delivery
from ibcloud.notify.services import notify
from tests.conftest import make_org
from tests.notify.conftest import ChannelFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/notify"
PERMS = [
    "notify.view_channel",
    "notify.add_channel",
    "notify.change_channel",
    "notify.delete_channel",
]
TOKEN = "tok9f3a1c77e2"
DINGTALK_URL = f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"
FEISHU_URL = f"https://open.feishu.cn/open-apis/bot/v2/hook/{TOKEN}"


def raw_column(channel_id: int, column: str = "webhook_url") -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM notify_channel WHERE id = %s", [channel_id])  # noqa: S608
        return cursor.fetchone()[0]


def audit_text(channel: Channel) -> str:
    """Everything the audit log holds about ``channel``, as one string."""
    entries = get_logentry_model().objects.filter(
        object_pk=str(channel.pk), content_type__model="channel"
    )
    assert entries.exists()
    return " ".join(
        str(value)
        for entry in entries
        for value in (entry.changes, entry.changes_text, entry.additional_data, entry.object_repr)
    )


# --- At rest ------------------------------------------------------------------------------------


def test_url_is_encrypted_in_the_database_and_clear_in_python():
    channel = ChannelFactory(kind="dingtalk", webhook_url=DINGTALK_URL)
    stored = raw_column(channel.pk)
    assert TOKEN not in stored and "dingtalk" not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert TOKEN not in raw_column(channel.pk, "config")
    assert Channel.objects.get(pk=channel.pk).webhook_url == DINGTALK_URL


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        (DINGTALK_URL, "https://oapi.dingtalk.com/…"),
        (FEISHU_URL, "https://open.feishu.cn/…"),  # the token is in the path
        ("http://user:pw@10.1.2.3:8080/hook?key=k", "http://10.1.2.3:8080/…"),
        ("", ""),
    ],
)
def test_hint_shows_scheme_and_host_only(url, hint):
    assert Channel(kind="webhook", webhook_url=url).webhook_hint == hint


def test_migration_moves_config_url_into_the_encrypted_field():
    module = importlib.import_module(
        "ibcloud.notify.migrations.0003_move_webhook_url_out_of_config"
    )
    state = MigrationExecutor(connection).loader.project_state(
        ("notify", "0002_channel_webhook_url")
    )
    robot = Channel.objects.create(
        name="old robot", kind="wecom", config={"url": DINGTALK_URL, "msgtype": "markdown"}
    )
    mail = Channel.objects.create(name="mail", kind="email", config={"host": "smtp.bank.test"})

    module.move_url_to_webhook_url(state.apps, None)

    robot.refresh_from_db()
    assert robot.config == {"msgtype": "markdown"}
    assert robot.webhook_url == DINGTALK_URL
    assert TOKEN not in raw_column(robot.pk) and TOKEN not in raw_column(robot.pk, "config")
    mail.refresh_from_db()
    assert (mail.config, mail.webhook_url) == ({"host": "smtp.bank.test"}, "")

    module.move_webhook_url_back_to_config(state.apps, None)
    robot.refresh_from_db()
    assert robot.config == {"msgtype": "markdown", "url": DINGTALK_URL}
    assert robot.webhook_url == ""


# --- API ----------------------------------------------------------------------------------------


def test_api_url_is_write_only_and_answered_as_a_hint(api):
    org = make_org(PERMS)
    client = api.as_user(org.dept_user)
    created = client.post(
        f"{BASE}/channels/",
        {
            "name": "Deals robot",
            "kind": "dingtalk",
            "webhook_url": DINGTALK_URL,
            "config": {"msgtype": "text"},
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert "webhook_url" not in body
    assert body["webhook_hint"] == "https://oapi.dingtalk.com/…"
    assert body["config"] == {"msgtype": "text"}
    pk = body["id"]
    assert Channel.objects.get(pk=pk).webhook_url == DINGTALK_URL

    responses = [
        created,
        client.get(f"{BASE}/channels/"),
        client.get(f"{BASE}/channels/{pk}/"),
        client.patch(f"{BASE}/channels/{pk}/", {"name": "Deals"}, format="json"),
        client.get(f"{BASE}/channels/export/", {"file_format": "csv"}),
    ]
    for response in responses:
        assert response.status_code == 200 or response is created
        assert TOKEN not in response.content.decode("utf-8-sig")
    # Omitted or blank: the stored URL is kept.
    client.patch(f"{BASE}/channels/{pk}/", {"webhook_url": ""}, format="json")
    assert Channel.objects.get(pk=pk).webhook_url == DINGTALK_URL

    new_url = "https://oapi.dingtalk.com/robot/send?access_token=rotated42"
    response = client.patch(f"{BASE}/channels/{pk}/", {"webhook_url": new_url}, format="json")
    assert response.status_code == 200
    assert "rotated42" not in response.content.decode()
    assert Channel.objects.get(pk=pk).webhook_url == new_url


def test_api_validates_a_new_url_and_keeps_the_old_one_on_error(api):
    org = make_org(PERMS)
    channel = ChannelFactory(kind="webhook", webhook_url=DINGTALK_URL, department=org.dept_a)
    client = api.as_user(org.dept_user)
    response = client.patch(
        f"{BASE}/channels/{channel.pk}/",
        {"webhook_url": "http://169.254.169.254/latest/meta-data/"},
        format="json",
    )
    assert response.status_code == 400
    assert "webhook_url" in response.json()["details"]
    assert Channel.objects.get(pk=channel.pk).webhook_url == DINGTALK_URL


def test_api_changing_the_kind_needs_a_new_url_and_email_drops_it(api):
    org = make_org(PERMS)
    channel = ChannelFactory(kind="dingtalk", webhook_url=DINGTALK_URL, department=org.dept_a)
    client = api.as_user(org.dept_user)
    # Another provider's URL would be wrong: a kind change does not carry the old one over.
    response = client.patch(f"{BASE}/channels/{channel.pk}/", {"kind": "feishu"}, format="json")
    assert response.status_code == 400
    assert "webhook_url" in response.json()["details"]
    response = client.patch(
        f"{BASE}/channels/{channel.pk}/",
        {"kind": "email", "config": {"host": "smtp.bank.test"}},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["webhook_hint"] == ""
    assert Channel.objects.get(pk=channel.pk).webhook_url == ""


def test_api_refuses_the_url_inside_config(api):
    org = make_org(PERMS)
    response = api.as_user(org.dept_user).post(
        f"{BASE}/channels/",
        {"name": "x", "kind": "webhook", "config": {"url": DINGTALK_URL}},
        format="json",
    )
    assert response.status_code == 400
    assert "config" in response.json()["details"]
    assert TOKEN not in response.content.decode()
    assert not Channel.objects.exists()


# --- Pages --------------------------------------------------------------------------------------


def test_pages_show_the_hint_never_the_url(client):
    org = make_org(PERMS)
    channel = ChannelFactory(
        name="Feishu group", kind="feishu", webhook_url=FEISHU_URL, department=org.dept_a
    )
    client.force_login(org.dept_user)
    listing = client.get(reverse("notify:channel_list")).content.decode()
    assert "Feishu group" in listing
    assert "https://open.feishu.cn/…" in listing
    assert TOKEN not in listing
    edit = client.get(reverse("notify:channel_edit", args=[channel.pk])).content.decode()
    assert 'id="webhook-url-set"' in edit and "https://open.feishu.cn/…" in edit
    assert TOKEN not in edit


def test_form_does_not_echo_a_submitted_url_on_error(client):
    org = make_org(PERMS)
    client.force_login(org.dept_user)
    response = client.post(
        reverse("notify:channel_add"), {"name": "", "kind": "dingtalk", "webhook_url": DINGTALK_URL}
    )
    assert response.status_code == 200
    assert 'data-field-error="name"' in response.content.decode()
    assert TOKEN not in response.content.decode()
    assert not Channel.objects.exists()


def test_form_blank_url_keeps_the_stored_one_and_a_new_one_is_validated(client):
    org = make_org(PERMS)
    channel = ChannelFactory(kind="wecom", webhook_url=DINGTALK_URL, department=org.dept_a)
    client.force_login(org.dept_user)
    edit_url = reverse("notify:channel_edit", args=[channel.pk])
    fields = {"name": "Renamed", "kind": "wecom", "msgtype": "text"}

    assert client.post(edit_url, fields).status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.webhook_url) == ("Renamed", DINGTALK_URL)

    refused = client.post(edit_url, {**fields, "webhook_url": "http://127.0.0.1:6379/"})
    assert refused.status_code == 200
    assert 'data-field-error="webhook_url"' in refused.content.decode()
    assert Channel.objects.get(pk=channel.pk).webhook_url == DINGTALK_URL

    new_url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=newkey77"
    assert client.post(edit_url, {**fields, "webhook_url": new_url}).status_code == 302
    assert Channel.objects.get(pk=channel.pk).webhook_url == new_url


def test_switching_a_robot_to_email_in_the_form_drops_the_url(client):
    org = make_org(PERMS)
    channel = ChannelFactory(kind="webhook", webhook_url=DINGTALK_URL, department=org.dept_a)
    client.force_login(org.dept_user)
    response = client.post(
        reverse("notify:channel_edit", args=[channel.pk]),
        {"name": channel.name, "kind": "email", "host": "smtp.bank.test"},
    )
    assert response.status_code == 302
    assert Channel.objects.get(pk=channel.pk).webhook_url == ""


# --- Audit log ----------------------------------------------------------------------------------


def test_audit_log_never_holds_the_url(client, api):
    org = make_org(PERMS)
    client.force_login(org.dept_user)
    client.post(
        reverse("notify:channel_add"),
        {"name": "Form robot", "kind": "dingtalk", "webhook_url": DINGTALK_URL, "msgtype": "text"},
    )
    form_channel = Channel.objects.get(name="Form robot")
    rotated = DINGTALK_URL.replace(TOKEN, "formrotated55")
    client.post(
        reverse("notify:channel_edit", args=[form_channel.pk]),
        {"name": "Form robot", "kind": "dingtalk", "webhook_url": rotated, "msgtype": "markdown"},
    )
    assert Channel.objects.get(pk=form_channel.pk).webhook_url == rotated

    api_client = api.as_user(org.dept_user)
    pk = api_client.post(
        f"{BASE}/channels/",
        {"name": "API hook", "kind": "feishu", "webhook_url": FEISHU_URL},
        format="json",
    ).json()["id"]
    api_channel = Channel.objects.get(pk=pk)
    api_client.patch(
        f"{BASE}/channels/{pk}/",
        {"webhook_url": FEISHU_URL.replace(TOKEN, "apirotated66")},
        format="json",
    )
    api_client.delete(f"{BASE}/channels/{pk}/")

    for channel in (form_channel, api_channel):
        text = audit_text(channel)
        for leaked in (TOKEN, "formrotated55", "apirotated66", "webhook_url", "access_token"):
            assert leaked not in text
    # The rest of the change is still recorded.
    assert "markdown" in audit_text(form_channel)


# --- Delivery -----------------------------------------------------------------------------------


def test_robot_delivers_to_the_stored_url(receiver, allow_local, run_jobs):
    ChannelFactory(kind="wecom", webhook_url=receiver.url + "/cgi-bin/webhook/send?key=k42")
    with run_jobs():
        notify([], "Deal closed")
    delivery = Delivery.objects.get()
    assert delivery.status == "sent"
    request = receiver.requests[0]
    assert (request.path, request.query["key"]) == ("/cgi-bin/webhook/send", ["k42"])
    assert "k42" not in delivery.target + delivery.last_error


@pytest.mark.usefixtures("english")
def test_robot_without_url_fails_without_retrying(run_jobs):
    ChannelFactory(kind="dingtalk", webhook_url="")
    with run_jobs():
        notify([], "Deal closed")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "webhook URL" in delivery.last_error
