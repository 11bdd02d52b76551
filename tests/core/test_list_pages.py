"""List pages survive hostile query strings and form posts (no 500)."""

import pytest

from ibcloud.core.views import positive_int
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_positive_int_accepts_only_plain_ascii_digits():
    assert positive_int("25") == 25
    assert positive_int("100000", maximum=500) == 500
    for junk in ("²", "-1", "0", "1e3", "", None, "9" * 30, "١٢"):
        assert positive_int(junk) is None


@pytest.mark.parametrize("per_page", ["²", "99999999999999999999999", "-5", "abc"])
def test_odd_page_sizes_fall_back(client, admin_user, per_page):
    client.force_login(admin_user)
    assert client.get("/accounts/users/", {"per_page": per_page}).status_code == 200


@pytest.mark.parametrize("pk", ["²", "99999999999999999999999", "x"])
def test_odd_bulk_ids_are_ignored(client, admin_user, pk):
    UserFactory(username="kept")
    client.force_login(admin_user)
    response = client.post("/accounts/users/", {"bulk_action": "disable", "pk": [pk]})
    assert response.status_code == 302


def test_odd_parent_on_add_department_is_ignored(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/accounts/departments/add/", {"parent": "²"}).status_code == 200


@pytest.mark.parametrize("url", ["/accounts/online/", "/notify/", "/system/jobs/"])
@pytest.mark.parametrize("query", [{"page": "-1"}, {"page": "999"}, {"s-page": "²"}])
def test_every_paged_page_survives_odd_page_numbers(client, admin_user, url, query):
    client.force_login(admin_user)
    assert client.get(url, query).status_code == 200
