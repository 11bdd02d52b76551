"""The client address recorded in logs cannot be forged through X-Forwarded-For."""

from django.test import RequestFactory

from ibcloud.core.network import client_ip


def request(forwarded: str = "", remote: str = "10.0.0.9"):
    meta = {"REMOTE_ADDR": remote}
    if forwarded:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def test_without_a_trusted_proxy_the_header_is_ignored(settings):
    settings.AXES_IPWARE_PROXY_COUNT = None
    assert client_ip(request("1.2.3.4")) == "10.0.0.9"


def test_behind_one_proxy_the_address_it_saw_counts_not_what_the_client_wrote(settings):
    settings.AXES_IPWARE_PROXY_COUNT = 1
    # The client sent "X-Forwarded-For: 6.6.6.6"; nginx appended the real peer 203.0.113.7.
    assert client_ip(request("6.6.6.6, 203.0.113.7")) == "203.0.113.7"
    assert client_ip(request("203.0.113.7")) == "203.0.113.7"


def test_garbage_is_no_address(settings):
    settings.AXES_IPWARE_PROXY_COUNT = 1
    assert client_ip(request("not-an-ip")) is None
