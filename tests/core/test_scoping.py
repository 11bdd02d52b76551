"""The data scope decides which rows a user sees; several roles combine with OR."""

import pytest
from django.contrib.auth import get_user_model

from ibcloud.accounts.models import Department
from ibcloud.core.scoping import restrict
from tests.conftest import make_org
from tests.factories import RoleFactory

User = get_user_model()
pytestmark = pytest.mark.django_db


def visible_usernames(user) -> set[str]:
    return set(restrict(User.objects.all(), user).values_list("username", flat=True))


def test_each_scope_sees_its_rows():
    org = make_org(["accounts.view_user"])
    UserPlain = User.objects.create(username="a1_member", department=org.dept_a1)
    everyone = set(User.objects.values_list("username", flat=True))

    assert visible_usernames(org.admin) == everyone
    assert visible_usernames(org.all_user) == everyone
    in_a = {"all_user", "below_user", "dept_user", "self_user", "custom_user"}
    assert visible_usernames(org.dept_and_below_user) == in_a | {UserPlain.username}
    assert visible_usernames(org.dept_user) == in_a
    assert visible_usernames(org.self_user) == {"self_user"}
    assert visible_usernames(org.custom_user) == {"b_user"}
    assert visible_usernames(org.b_user) == {"b_user"}


def test_no_permission_means_no_rows():
    org = make_org([])
    assert visible_usernames(org.all_user) == set()


def test_disabled_user_sees_nothing():
    org = make_org(["accounts.view_user"])
    org.all_user.is_active = False
    assert visible_usernames(org.all_user) == set()


def test_roles_combine_with_or():
    org = make_org(["accounts.view_user"])
    wider = RoleFactory(data_scope="custom", perms=["accounts.view_user"], departments=[org.dept_b])
    org.self_user.roles.add(wider)
    user = User.objects.get(pk=org.self_user.pk)
    assert visible_usernames(user) == {"self_user", "b_user"}


def test_department_scope_uses_the_tree():
    org = make_org(["accounts.view_department"])
    seen = set(
        restrict(Department.objects.all(), org.dept_and_below_user).values_list("code", flat=True)
    )
    assert seen == {"a", "a1"}
