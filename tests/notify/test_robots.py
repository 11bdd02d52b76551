"""Each group robot receives its provider's JSON format and signature; provider error codes in a
200 answer count as failures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from ibcloud.notify.models import Delivery
from ibcloud.notify.services import notify
from tests.notify.conftest import ChannelFactory

pytestmark = pytest.mark.django_db


def send(run_jobs, **kwargs):
    with run_jobs():
        notify([], "Deal closed", body="Project A signed", url="/deals/5/", **kwargs)
    return Delivery.objects.get()


def test_dingtalk_text_with_signature(receiver, allow_local, run_jobs, settings):
    settings.IBCLOUD_BASE_URL = "https://ibcloud.bank.test"
    ChannelFactory(
        kind="dingtalk",
        webhook_url=receiver.url + "/robot/send?access_token=tok123",
        config={"msgtype": "text"},
        secret="SECdingtalk",
    )
    delivery = send(run_jobs)
    assert delivery.status == "sent"
    request = receiver.requests[0]
    assert request.path == "/robot/send"
    assert request.query["access_token"] == ["tok123"]
    assert request.json == {
        "msgtype": "text",
        "text": {"content": "Deal closed\nProject A signed\nhttps://ibcloud.bank.test/deals/5/"},
    }
    # DingTalk: sign = base64(HMAC-SHA256(key=secret, msg="timestamp\nsecret")), ms timestamp.
    timestamp = request.query["timestamp"][0]
    expected = base64.b64encode(
        hmac.new(b"SECdingtalk", f"{timestamp}\nSECdingtalk".encode(), hashlib.sha256).digest()
    ).decode()
    assert request.query["sign"] == [expected]
    assert abs(int(timestamp) / 1000 - time.time()) < 60


def test_dingtalk_markdown_without_secret(receiver, allow_local, run_jobs):
    ChannelFactory(kind="dingtalk", webhook_url=receiver.url, config={"msgtype": "markdown"})
    send(run_jobs)
    request = receiver.requests[0]
    assert "sign" not in request.query
    assert request.json["msgtype"] == "markdown"
    assert request.json["markdown"]["title"] == "Deal closed"
    assert "**Deal closed**" in request.json["markdown"]["text"]


def test_dingtalk_errcode_is_a_failure(receiver, allow_local, run_jobs):
    receiver.answer((200, {"errcode": 310000, "errmsg": "sign not match"}))
    ChannelFactory(kind="dingtalk", webhook_url=receiver.url)
    delivery = send(run_jobs)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "310000" in delivery.last_error and "sign not match" in delivery.last_error


def test_dingtalk_rate_limit_code_is_retried(receiver, allow_local, run_jobs):
    receiver.answer((200, {"errcode": 130101, "errmsg": "send too fast"}), (200, {"errcode": 0}))
    ChannelFactory(kind="dingtalk", webhook_url=receiver.url)
    delivery = send(run_jobs)
    assert (delivery.status, delivery.attempts) == ("sent", 2)


@pytest.mark.parametrize("msgtype", ["text", "markdown"])
def test_wecom_formats(receiver, allow_local, run_jobs, msgtype):
    ChannelFactory(
        kind="wecom", webhook_url=receiver.url + "/send?key=k1", config={"msgtype": msgtype}
    )
    delivery = send(run_jobs)
    assert delivery.status == "sent"
    payload = receiver.requests[0].json
    assert payload["msgtype"] == msgtype
    assert "Deal closed" in payload[msgtype]["content"]
    assert receiver.requests[0].query["key"] == ["k1"]


def test_wecom_errcode_is_a_failure(receiver, allow_local, run_jobs):
    receiver.answer((200, {"errcode": 93000, "errmsg": "invalid webhook url"}))
    ChannelFactory(kind="wecom", webhook_url=receiver.url)
    delivery = send(run_jobs)
    assert (delivery.status, delivery.attempts) == ("failed", 1)


def test_feishu_text_with_signature_in_body(receiver, allow_local, run_jobs):
    receiver.answer((200, {"code": 0, "msg": "success"}))
    ChannelFactory(kind="feishu", webhook_url=receiver.url, secret="feishuSecret")
    delivery = send(run_jobs)
    assert delivery.status == "sent"
    payload = receiver.requests[0].json
    assert payload["msg_type"] == "text"
    assert payload["content"]["text"].startswith("Deal closed\nProject A signed")
    # Feishu: sign = base64(HMAC-SHA256(key="timestamp\nsecret", msg=b"")), seconds.
    key = f"{payload['timestamp']}\nfeishuSecret".encode()
    assert payload["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def test_feishu_code_is_a_failure(receiver, allow_local, run_jobs):
    receiver.answer(
        (200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"})
    )
    ChannelFactory(kind="feishu", webhook_url=receiver.url, secret="x")
    delivery = send(run_jobs)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "19021" in delivery.last_error


def test_generic_webhook_payload_and_hmac(receiver, allow_local, run_jobs, settings):
    settings.IBCLOUD_BASE_URL = "https://ibcloud.bank.test/"
    receiver.answer((204, b""))
    ChannelFactory(kind="webhook", webhook_url=receiver.url + "/in", secret="hook-secret")
    delivery = send(run_jobs, level="warning")
    assert delivery.status == "sent"
    request = receiver.requests[0]
    payload = request.json
    assert {k: payload[k] for k in ("event", "title", "body", "url", "level")} == {
        "event": "general",
        "title": "Deal closed",
        "body": "Project A signed",
        "url": "https://ibcloud.bank.test/deals/5/",
        "level": "warning",
    }
    assert payload["time"].endswith("+08:00")  # Asia/Shanghai, ISO 8601
    expected = "sha256=" + hmac.new(b"hook-secret", request.raw, hashlib.sha256).hexdigest()
    assert request.headers["X-IBCloud-Signature"] == expected


def test_generic_webhook_without_secret_has_no_signature(receiver, allow_local, run_jobs):
    ChannelFactory(kind="webhook", webhook_url=receiver.url)
    send(run_jobs)
    assert "X-IBCloud-Signature" not in receiver.requests[0].headers


def test_robot_token_in_url_is_not_written_to_the_error(allow_local, run_jobs):
    ChannelFactory(kind="dingtalk", webhook_url="http://127.0.0.1:9/robot/send?access_token=SECRET")
    delivery = send(run_jobs)
    assert delivery.status == "failed"
    assert "SECRET" not in delivery.last_error
