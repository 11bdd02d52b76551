"""Own profile page: contact details, read-only organisation, own API tokens; password page."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from ibcloud.accounts.models import ApiToken
from tests.factories import PASSWORD, DepartmentFactory, RoleFactory, UserFactory, token_for

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_profile_shows_department_and_roles_and_saves_contact_details():
    department = DepartmentFactory(name="投资银行一部")
    user = UserFactory(department=department, roles=[RoleFactory(name="项目经理")])
    client = browser(user)
    page = client.get(reverse("accounts:profile"))
    html = page.content.decode()
    assert "投资银行一部" in html and "项目经理" in html
    assert set(page.context["form"].fields) == {"name", "phone", "email", "position", "language"}

    other = DepartmentFactory()
    response = client.post(
        reverse("accounts:profile"),
        {
            "name": "王五",
            "phone": "010-1234",
            "email": "wang@example.com",
            "position": "MD",
            "department": other.pk,
            "is_superuser": "on",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.name, user.phone, user.email, user.position) == (
        "王五",
        "010-1234",
        "wang@example.com",
        "MD",
    )
    assert user.department == department and not user.is_superuser


def test_profile_shows_field_errors():
    user = UserFactory()
    response = browser(user).post(reverse("accounts:profile"), {"email": "not-an-email"})
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert b'data-field-error="email"' in response.content


def test_profile_needs_login():
    response = Client().get(reverse("accounts:profile"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_new_token_key_is_shown_once_and_works():
    user = UserFactory()
    client = browser(user)
    response = client.post(
        reverse("accounts:profile"), {"action": "create_token", "name": "CRM sync"}
    )
    key = response.context["new_key"]
    assert key and key in response.content.decode()
    token = ApiToken.objects.get(user=user, name="CRM sync")
    assert token.key_hash == ApiToken.hash_key(key)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/auth/me/").status_code == 200
    # Never again: the page lists the token by its prefix only.
    again = client.get(reverse("accounts:profile")).content.decode()
    assert key not in again and token.prefix in again


def test_token_name_is_required():
    user = UserFactory()
    response = browser(user).post(reverse("accounts:profile"), {"action": "create_token"})
    assert "name" in response.context["token_form"].errors
    assert not ApiToken.objects.filter(user=user).exists()


def test_revoke_own_token_but_not_someone_elses():
    user = UserFactory()
    other = UserFactory()
    key = token_for(user)
    own = ApiToken.objects.get(user=user)
    foreign = ApiToken.issue(other)[0]
    client = browser(user)
    assert (
        client.post(reverse("accounts:profile_token_revoke", args=[foreign.pk])).status_code == 404
    )
    assert ApiToken.objects.filter(pk=foreign.pk).exists()
    assert client.post(reverse("accounts:profile_token_revoke", args=[own.pk])).status_code == 302
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/auth/me/").status_code == 401


def test_password_page_shows_policy_errors_as_field_errors():
    user = UserFactory()
    client = browser(user)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": "zhqxwvkmtp", "new_password2": "zhqxwvkmtp"},
    )
    assert response.status_code == 200
    assert {e.code for e in response.context["form"].errors.as_data()["new_password2"]} == {
        "password_too_simple"
    }
    assert b'data-field-error="new_password2"' in response.content
    wrong_old = client.post(
        reverse("accounts:password_change"),
        {"old_password": "nope", "new_password1": "N3w!Secret", "new_password2": "N3w!Secret"},
    )
    assert "old_password" in wrong_old.context["form"].errors
    user.refresh_from_db()
    assert user.check_password(PASSWORD) and user.password_changed_at is None


def test_password_change_keeps_this_session_and_records_the_time():
    user = UserFactory()
    client = browser(user)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": "N3w!Secret", "new_password2": "N3w!Secret"},
    )
    assert response.status_code == 302
    assert client.get(reverse("accounts:profile")).status_code == 200
    user.refresh_from_db()
    assert user.password_changed_at is not None
