"""Online users: who is logged in (sessions, API clients) and forcing them out."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from user_sessions.models import Session

from ibcloud.accounts.auth_services import session_id
from ibcloud.accounts.models import ApiToken, LoginLog
from tests.accounts.auth_support import captured_sensitive_actions, web_login
from tests.conftest import make_org
from tests.factories import RoleFactory, UserFactory, token_for

pytestmark = pytest.mark.django_db

ONLINE = ["accounts.view_user", "accounts.view_online_users", "accounts.force_logout"]
SESSIONS = "/api/v1/accounts/sessions/"
TOKENS = "/api/v1/accounts/tokens/"


def logged_in(username: str, agent: str = "Firefox/140") -> Client:
    """A browser that logged in through the login page."""
    client = Client(HTTP_USER_AGENT=agent)
    assert web_login(client, username).status_code == 302
    return client


def session_of(user) -> Session:
    return Session.objects.get(user=user)


def admin_browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_online_page_lists_sessions_within_reach_without_session_keys():
    org = make_org(ONLINE)
    logged_in("dept_user")
    logged_in("b_user")
    viewer = admin_browser(org.dept_and_below_user)
    page = viewer.get(reverse("accounts:session_list"))
    assert page.status_code == 200
    users = {row.record.user.username for row in page.context["sessions"].rows}
    assert users == {"dept_user", "below_user"}
    html = page.content.decode()
    for session in Session.objects.all():
        assert session.session_key not in html
    assert session_id(session_of(org.dept_user).session_key)[:8] in html
    assert "Firefox/140" in html


def test_online_page_needs_its_permission():
    org = make_org(["accounts.view_user"])
    assert admin_browser(org.all_user).get(reverse("accounts:session_list")).status_code == 403


def test_force_logout_ends_the_session():
    org = make_org(ONLINE)
    victim = logged_in("b_user")
    assert victim.get(reverse("core:home")).status_code == 200
    sid = session_id(session_of(org.b_user).session_key)
    admin = admin_browser(org.all_user)
    with captured_sensitive_actions() as events:
        response = admin.post(reverse("accounts:session_logout", args=[sid]))
    assert response.status_code == 302
    # The victim's next request is anonymous.
    home = victim.get(reverse("core:home"))
    assert home.status_code == 302 and home.url.startswith(reverse("accounts:login"))
    assert [(e["event"], e["target"]) for e in events] == [("force_logout", org.b_user)]
    row = LoginLog.objects.filter(username="b_user").latest("id")
    assert (row.result, row.user_agent) == ("forced_logout", "Firefox/140")


def test_force_logout_needs_permission_and_reach():
    org = make_org(["accounts.view_user", "accounts.view_online_users"])
    victim = logged_in("b_user")
    sid = session_id(session_of(org.b_user).session_key)
    url = reverse("accounts:session_logout", args=[sid])
    assert admin_browser(org.all_user).post(url).status_code == 403

    narrow = UserFactory(
        department=org.dept_a, roles=[RoleFactory(data_scope="dept", perms=ONLINE)]
    )
    assert admin_browser(narrow).post(url).status_code == 404
    assert (
        admin_browser(narrow).post(reverse("accounts:session_logout", args=["x"])).status_code
        == 404
    )
    assert victim.get(reverse("core:home")).status_code == 200


def test_expired_sessions_are_not_online():
    org = make_org(ONLINE)
    logged_in("dept_user")
    Session.objects.filter(user=org.dept_user).update(
        expire_date=timezone.now() - datetime.timedelta(minutes=1)
    )
    page = admin_browser(org.admin).get(reverse("accounts:session_list"))
    assert "dept_user" not in {row.record.user.username for row in page.context["sessions"].rows}


def test_recently_used_tokens_are_online_and_can_be_revoked(api):
    org = make_org(ONLINE)
    key = token_for(org.dept_user)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}", HTTP_USER_AGENT="ibcloud-app/2")
    api.get("/api/v1/auth/me/")
    idle = ApiToken.issue(org.dept_user, name="idle")[0]
    admin = admin_browser(org.all_user)
    page = admin.get(reverse("accounts:session_list"))
    listed = [row.record for row in page.context["tokens"].rows]
    assert [t.user for t in listed] == [org.dept_user]
    assert idle not in listed
    assert key not in page.content.decode()

    with captured_sensitive_actions() as events:
        response = admin.post(reverse("accounts:token_logout", args=[listed[0].pk]))
    assert response.status_code == 302
    assert api.get("/api/v1/auth/me/").status_code == 401
    assert [e["event"] for e in events] == ["force_logout"]
    row = LoginLog.objects.filter(username="dept_user").latest("id")
    assert (row.result, row.channel, row.user_agent) == ("forced_logout", "api", "ibcloud-app/2")


def test_sessions_api_lists_within_reach_and_delete_forces_logout(api):
    org = make_org(ONLINE)
    victim = logged_in("dept_user")
    logged_in("b_user")
    client = api.as_user(org.dept_and_below_user)
    listed = client.get(SESSIONS).json()["results"]
    assert [row["username"] for row in listed] == ["dept_user"]
    key = session_of(org.dept_user).session_key
    assert key not in str(listed)
    sid = listed[0]["id"]
    assert sid == session_id(key)

    other = session_id(session_of(org.b_user).session_key)
    assert client.delete(f"{SESSIONS}{other}/").status_code == 404
    assert client.delete(f"{SESSIONS}nonsense/").status_code == 404
    assert client.delete(f"{SESSIONS}{sid}/").status_code == 204
    assert victim.get(reverse("core:home")).status_code == 302
    assert client.get(SESSIONS).json()["results"] == []


def test_sessions_api_permissions(api):
    org = make_org(["accounts.view_user", "accounts.view_online_users"])
    logged_in("dept_user")
    client = api.as_user(org.all_user)
    sid = client.get(SESSIONS).json()["results"][0]["id"]
    response = client.delete(f"{SESSIONS}{sid}/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    nobody = make_org_user_without_perms()
    assert api.as_user(nobody).get(SESSIONS).status_code == 403


def make_org_user_without_perms():
    return UserFactory(roles=[RoleFactory(data_scope="all", perms=[])])


def test_tokens_api_lists_scoped_and_delete_revokes(api):
    org = make_org(["accounts.view_apitoken", "accounts.delete_apitoken"])
    a_key = token_for(org.dept_user)
    b_key = token_for(org.b_user)
    client = api.as_user(org.dept_user)
    listed = client.get(TOKENS).json()["results"]
    assert {row["username"] for row in listed} == {"dept_user"}
    assert all(a_key not in str(row) and "key_hash" not in row for row in listed)

    b_token = ApiToken.objects.filter(user=org.b_user).first()
    assert client.delete(f"{TOKENS}{b_token.pk}/").status_code == 404
    a_token = ApiToken.objects.filter(user=org.dept_user, key_hash=ApiToken.hash_key(a_key)).get()
    assert client.delete(f"{TOKENS}{a_token.pk}/").status_code == 204
    from rest_framework.test import APIClient

    revoked = APIClient()
    revoked.credentials(HTTP_AUTHORIZATION=f"Token {a_key}")
    assert revoked.get("/api/v1/auth/me/").status_code == 401
    still = APIClient()
    still.credentials(HTTP_AUTHORIZATION=f"Token {b_key}")
    assert still.get("/api/v1/auth/me/").status_code == 200


def test_viewer_without_force_logout_sees_no_buttons():
    org = make_org(["accounts.view_user", "accounts.view_online_users"])
    logged_in("dept_user")
    page = admin_browser(org.all_user).get(reverse("accounts:session_list"))
    assert page.status_code == 200
    assert "dept_user" in {row.record.user.username for row in page.context["sessions"].rows}
    assert "/logout/" not in page.content.decode().replace(reverse("accounts:logout"), "")


def test_tokens_api_rejects_bad_user_filters(api):
    admin = UserFactory(is_superuser=True)
    client = api.as_user(admin)
    for value in ("abc", "9" * 30, "9223372036854775808", "1.5"):
        response = client.get(TOKENS, {"user": value})
        assert response.status_code == 400, value
        assert "user" in response.json()["details"]
    assert client.get(TOKENS, {"user": admin.pk}).status_code == 200
