"""The department tree in the browser: scoped tree page, add, edit, move, delete, export."""

import pytest
from django.urls import reverse

from ibcloud.accounts.models import Department
from tests.accounts.factories import (
    browser,
    events_named,
    export_text,
    sensitive_actions,
)
from tests.conftest import make_org
from tests.factories import DepartmentFactory, RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

MANAGE = [
    "accounts.view_department",
    "accounts.add_department",
    "accounts.change_department",
    "accounts.delete_department",
]


def tree_rows(response) -> list[tuple[str, int]]:
    return [(department.code, level) for department, level in response.context["rows"]]


def department_form(**values) -> dict:
    data = {"name": "", "code": "", "phone": "", "email": "", "managers": [], "is_active": "on"}
    data.update(values)
    return data


def parent_of(department: Department) -> Department | None:
    return Department.objects.get_parent(Department.objects.get(pk=department.pk))


# --- Tree page -----------------------------------------------------------------------------------


def test_the_tree_shows_the_departments_in_reach_indented():
    org = make_org(MANAGE)
    url = reverse("accounts:department_list")
    assert tree_rows(browser(org.admin).get(url)) == [("a", 0), ("a1", 1), ("b", 0)]
    assert tree_rows(browser(org.dept_and_below_user).get(url)) == [("a", 0), ("a1", 1)]
    assert tree_rows(browser(org.dept_user).get(url)) == [("a", 0)]
    assert tree_rows(browser(org.custom_user).get(url)) == [("b", 0)]
    assert tree_rows(browser(org.self_user).get(url)) == []


def test_the_tree_shows_member_counts_and_managers():
    org = make_org(MANAGE)
    boss = UserFactory(name="赵经理", department=org.dept_a1)
    org.dept_a1.managers.add(boss)
    response = browser(org.admin).get(reverse("accounts:department_list"))
    counts = {
        department.code: department.member_count for department, _ in response.context["rows"]
    }
    # A holds the five scoped users of make_org; A1 only the manager.
    assert counts == {"a": 5, "a1": 1, "b": 1}
    assert "赵经理" in response.content.decode()


def test_the_tree_needs_the_view_permission():
    org = make_org([])
    assert browser(org.all_user).get(reverse("accounts:department_list")).status_code == 403


def test_the_export_holds_only_departments_in_reach():
    org = make_org(MANAGE)
    body = export_text(
        browser(org.dept_and_below_user).get(reverse("accounts:department_list"), {"export": "csv"})
    )
    assert org.dept_a1.full_name in body
    assert org.dept_b.name not in body


def test_buttons_show_only_with_the_permissions():
    org = make_org(["accounts.view_department"])
    page = browser(org.all_user).get(reverse("accounts:department_list")).content.decode()
    assert org.dept_a.get_edit_url() not in page and org.dept_a.get_delete_url() not in page
    page = browser(org.admin).get(reverse("accounts:department_list")).content.decode()
    assert org.dept_a.get_edit_url() in page and org.dept_a.get_move_url() in page


# --- Add and edit --------------------------------------------------------------------------------


def test_adding_a_department_under_a_parent():
    org = make_org(MANAGE)
    response = browser(org.dept_and_below_user).post(
        reverse("accounts:department_add"),
        department_form(parent=org.dept_a.pk, name="资本市场组", code="a2"),
    )
    assert response.status_code == 302, response.context and response.context["form"].errors
    created = Department.objects.get(code="a2")
    assert parent_of(created) == org.dept_a
    assert created.full_name == f"{org.dept_a.name} / 资本市场组"


def test_adding_a_top_level_department_needs_reach_over_it():
    org = make_org(MANAGE)
    response = browser(org.dept_and_below_user).post(
        reverse("accounts:department_add"), department_form(name="新部门", code="new")
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not Department.objects.filter(code="new").exists()

    browser(org.all_user).post(
        reverse("accounts:department_add"), department_form(name="新部门", code="new")
    )
    assert parent_of(Department.objects.get(code="new")) is None


def test_a_department_cannot_be_added_under_a_parent_out_of_reach():
    org = make_org(MANAGE)
    response = browser(org.dept_user).post(
        reverse("accounts:department_add"),
        department_form(parent=org.dept_b.pk, name="越权", code="x"),
    )
    assert response.context["form"].errors["parent"]
    assert not Department.objects.filter(code="x").exists()


def test_blank_codes_do_not_collide():
    org = make_org(MANAGE)
    client = browser(org.admin)
    for name in ("甲", "乙"):
        response = client.post(
            reverse("accounts:department_add"), department_form(parent=org.dept_b.pk, name=name)
        )
        assert response.status_code == 302
    assert Department.objects.filter(name__in=["甲", "乙"], code__isnull=True).count() == 2


def test_editing_a_department_and_its_managers():
    org = make_org(MANAGE)
    boss = UserFactory(department=org.dept_a)
    response = browser(org.dept_user).post(
        org.dept_a.get_edit_url(),
        department_form(name="投行一部(新)", code="a", managers=[boss.pk], phone="010-1"),
    )
    assert response.status_code == 302
    org.dept_a.refresh_from_db()
    assert org.dept_a.name == "投行一部(新)"
    assert list(org.dept_a.managers.all()) == [boss]


def test_managers_are_chosen_among_users_in_reach():
    org = make_org(MANAGE)
    response = browser(org.dept_user).post(
        org.dept_a.get_edit_url(),
        department_form(name=org.dept_a.name, code="a", managers=[org.b_user.pk]),
    )
    assert response.context["form"].errors["managers"]
    assert not org.dept_a.managers.exists()


def test_departments_out_of_reach_cannot_be_edited_or_deleted():
    org = make_org(MANAGE)
    client = browser(org.dept_user)
    assert client.get(org.dept_b.get_edit_url()).status_code == 404
    assert client.post(org.dept_b.get_edit_url(), department_form(name="x")).status_code == 404
    assert client.post(org.dept_b.get_move_url(), {"parent": org.dept_a.pk}).status_code == 404
    assert client.post(org.dept_b.get_delete_url()).status_code == 404
    org.dept_b.refresh_from_db()
    assert org.dept_b.name != "x"


# --- Move ----------------------------------------------------------------------------------------


def test_moving_a_department_under_another():
    org = make_org(MANAGE)
    with sensitive_actions() as events:
        response = browser(org.admin).post(org.dept_a1.get_move_url(), {"parent": org.dept_b.pk})
    assert response.status_code == 302
    assert parent_of(org.dept_a1) == org.dept_b
    assert events_named(events, "department_move")[0]["details"]["after"] == org.dept_b.full_name
    # The subtree moved: B now reaches A1 (and A1's members with it).
    assert org.dept_a1.pk in Department.objects.get(pk=org.dept_b.pk).subtree_ids()


def test_moving_to_the_top_level():
    org = make_org(MANAGE)
    browser(org.admin).post(org.dept_a1.get_move_url(), {"parent": ""})
    assert parent_of(org.dept_a1) is None


@pytest.mark.usefixtures("english")
@pytest.mark.parametrize("target", ["itself", "descendant"])
def test_a_department_cannot_move_under_itself_or_a_descendant(target):
    org = make_org(MANAGE)
    parent = org.dept_a if target == "itself" else org.dept_a1
    response = browser(org.admin).post(org.dept_a.get_move_url(), {"parent": parent.pk})
    assert response.status_code == 200
    assert "cannot move under itself" in str(response.context["form"].errors["parent"])
    assert parent_of(org.dept_a) is None
    assert parent_of(org.dept_a1) == org.dept_a


def test_a_department_cannot_move_out_of_ones_reach():
    org = make_org(MANAGE)
    # Moving A1 to the top level would take it out of the mover's "A and below".
    response = browser(org.dept_and_below_user).post(org.dept_a1.get_move_url(), {"parent": ""})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert parent_of(org.dept_a1) == org.dept_a


# --- Delete --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("english")
def test_a_department_with_members_is_not_deleted():
    org = make_org(MANAGE)
    client = browser(org.admin)
    page = client.get(org.dept_b.get_delete_url())
    assert "member" in page.context["refusal"]
    response = client.post(org.dept_b.get_delete_url(), follow=True)
    assert Department.objects.filter(pk=org.dept_b.pk).exists()
    assert any("member" in str(m) for m in response.context["messages"])


@pytest.mark.usefixtures("english")
def test_a_department_with_sub_departments_is_not_deleted():
    org = make_org(MANAGE)
    parent = DepartmentFactory(name="空部门", code="empty")
    DepartmentFactory(name="子部门", code="child", parent=parent)
    parent.refresh_from_db()
    response = browser(org.admin).post(parent.get_delete_url(), follow=True)
    assert Department.objects.filter(pk=parent.pk).exists()
    assert any("sub-departments" in str(m) for m in response.context["messages"])


def test_an_empty_department_is_deleted():
    org = make_org(MANAGE)
    leaf = DepartmentFactory(name="临时组", code="tmp", parent=org.dept_a)
    response = browser(org.dept_and_below_user).post(leaf.get_delete_url())
    assert response.status_code == 302
    assert not Department.objects.filter(pk=leaf.pk).exists()
    org.dept_a.refresh_from_db()
    # The tree stays consistent (treebeard's child count on the parent).
    assert Department.objects.get_children(org.dept_a).count() == 1


def test_the_department_admin_role_sees_only_its_part():
    dept = DepartmentFactory(name="总部", code="hq")
    admin = UserFactory(
        department=dept, roles=[RoleFactory(data_scope="dept_and_below", perms=MANAGE)]
    )
    other = DepartmentFactory(name="分部", code="branch")
    page = browser(admin).get(reverse("accounts:department_list")).content.decode()
    assert f'id="department-{dept.pk}"' in page
    assert f'id="department-{other.pk}"' not in page


def test_every_department_page_opens():
    org = make_org(MANAGE)
    client = browser(org.admin)
    for url in (
        reverse("accounts:department_list"),
        reverse("accounts:department_add") + f"?parent={org.dept_a.pk}",
        org.dept_a1.get_edit_url(),
        org.dept_a1.get_move_url(),
        org.dept_a1.get_delete_url(),
    ):
        assert client.get(url).status_code == 200, url
    form = client.get(reverse("accounts:department_add") + f"?parent={org.dept_a.pk}").context[
        "form"
    ]
    assert form.initial["parent"] == org.dept_a.pk
