"""The login log lists attempts within the viewer's data scope: list page, export and API."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ibcloud.accounts.auth_services import record_login_event
from ibcloud.accounts.models import LoginLog
from tests.conftest import make_org
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/accounts/login-logs/"


def log_rows(org):
    """One row per user of each department, plus an unknown username."""
    a = record_login_event(None, "success", user=org.dept_user, ip="10.1.0.5")
    b = record_login_event(None, "bad_password", user=org.b_user, ip="10.2.0.7")
    unknown = record_login_event(None, "unknown_user", username="ghost", ip="10.9.9.9")
    return a, b, unknown


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    LoginLog.objects.filter(user=user, result="success", ip=None).delete()  # force_login's row
    return client


def test_own_department_viewer_sees_no_other_department_rows(api):
    org = make_org(["accounts.view_loginlog"])
    a, b, unknown = log_rows(org)
    client = browser(org.dept_user)

    page = client.get(reverse("accounts:loginlog_list"))
    assert page.status_code == 200
    shown = {row.record.pk for row in page.context["table"].rows}
    assert a.pk in shown and b.pk not in shown and unknown.pk not in shown

    export = client.get(reverse("accounts:loginlog_list"), {"export": "csv"})
    text = export.content.decode("utf-8-sig")
    assert "dept_user" in text and "b_user" not in text and "ghost" not in text

    api_client = api.as_user(org.dept_user)
    listed = api_client.get(LIST).json()["results"]
    assert {row["id"] for row in listed} >= {a.pk}
    assert b.pk not in {row["id"] for row in listed}
    assert api_client.get(f"{LIST}{a.pk}/").status_code == 200
    hidden = api_client.get(f"{LIST}{b.pk}/")
    assert hidden.status_code == 404
    assert set(hidden.json()) == {"code", "message", "details"}
    assert api_client.get(f"{LIST}{unknown.pk}/").status_code == 404

    api_export = api_client.get(f"{LIST}export/", {"file_format": "csv"})
    assert api_export.status_code == 200
    rows = list(csv.reader(io.StringIO(api_export.content.decode("utf-8-sig"))))
    usernames = {row[1] for row in rows[1:]}
    assert "dept_user" in usernames and "b_user" not in usernames


def test_all_scope_sees_every_row_including_unknown_usernames(api):
    org = make_org(["accounts.view_loginlog"])
    rows = log_rows(org)
    ids = {row["id"] for row in api.as_user(org.all_user).get(LIST).json()["results"]}
    assert {r.pk for r in rows} <= ids


def test_self_scope_sees_only_own_rows(api):
    org = make_org(["accounts.view_loginlog"])
    log_rows(org)
    mine = record_login_event(None, "logout", user=org.self_user)
    ids = {row["id"] for row in api.as_user(org.self_user).get(LIST).json()["results"]}
    assert ids == {mine.pk}


def test_without_permission_nothing(api):
    org = make_org([])
    log_rows(org)
    assert browser(org.all_user).get(reverse("accounts:loginlog_list")).status_code == 403
    response = api.as_user(org.all_user).get(LIST)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_filters_by_result_channel_ip_username_and_date(api):
    admin = UserFactory(is_superuser=True)
    zhang = UserFactory(username="zhang")
    web = record_login_event(None, "success", user=zhang, ip="10.1.0.5", channel="web")
    api_row = record_login_event(None, "bad_password", user=zhang, ip="192.168.3.4", channel="api")
    client = api.as_user(admin)

    def ids(**params):
        return {row["id"] for row in client.get(LIST, params).json()["results"]}

    assert ids(result="bad_password") == {api_row.pk}
    assert ids(channel="web", username="zhan") == {web.pk}
    assert ids(ip="10.1.") == {web.pk}
    assert ids(user=zhang.pk) == {web.pk, api_row.pk}
    today = timezone.localdate(web.time).isoformat()  # the filter reads dates in local time
    assert {web.pk, api_row.pk} <= ids(time_from=today, time_to=today)
    assert ids(time_to="2000-01-01") == set()

    page = browser(admin).get(reverse("accounts:loginlog_list"), {"result": "bad_password"})
    assert [row.record.pk for row in page.context["table"].rows] == [api_row.pk]


def test_bad_filter_values_answer_400(api):
    admin = UserFactory(is_superuser=True)
    client = api.as_user(admin)
    for params in ({"result": "nonsense"}, {"time_from": "yesterday"}, {"user": "abc"}):
        response = client.get(LIST, params)
        assert response.status_code == 400, params
        assert set(response.json()) == {"code", "message", "details"}
    assert client.get(LIST, {"user": "9" * 30}).status_code == 400
    assert client.get(f"{LIST}{'9' * 30}/").status_code == 404


def test_the_log_is_read_only(api):
    admin = UserFactory(is_superuser=True)
    row = record_login_event(None, "success", user=admin)
    client = api.as_user(admin)
    assert client.delete(f"{LIST}{row.pk}/").status_code == 405
    assert client.post(LIST, {}, format="json").status_code == 405
    assert LoginLog.objects.filter(pk=row.pk).exists()
