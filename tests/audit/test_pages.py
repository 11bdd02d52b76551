"""What a reader of the audit log relies on: filters, the entry page, exports being logged, the
history panel on other pages, the menu and the API's answers to odd input."""

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone

from ibcloud.accounts.models import Role, User
from ibcloud.audit.models import AuditEntry
from ibcloud.core.menu import visible_menu
from ibcloud.core.signals import record_sensitive_action
from tests.audit.conftest import make_entry
from tests.factories import RoleFactory, UserFactory


def api_ids(client, query: str) -> set[int]:
    response = client.get(f"/api/v1/audit/entries/?page_size=500&{query}")
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


class TestFilters:
    @pytest.fixture
    def setup(self, org):
        role = RoleFactory(name="审核员")
        now = timezone.now()
        return {
            "old": make_entry(
                actor=org.dept_user,
                event="update",
                timestamp=now - datetime.timedelta(days=10),
                changes={"name": ["甲", "乙"]},
                remote_addr="10.0.0.1",
            ),
            "login": make_entry(actor=org.dept_user, event="login", remote_addr="10.0.0.2"),
            "role": make_entry(
                actor=org.all_user, event="create", target=role, remote_addr="192.168.1.1"
            ),
            "b": make_entry(actor=org.b_user, event="update", changes={"phone": ["1", "2"]}),
            "now": now,
        }

    def test_each_filter_narrows_the_api_list(self, org, api, setup):
        client = api.as_user(org.admin)
        old, login, role, b = setup["old"], setup["login"], setup["role"], setup["b"]
        today = timezone.localdate(setup["now"])

        assert api_ids(client, "event=login") & {old.pk, login.pk, role.pk, b.pk} == {login.pk}
        assert {old.pk, login.pk} <= api_ids(client, f"actor={org.dept_user.pk}")
        assert b.pk not in api_ids(client, f"actor={org.dept_user.pk}")
        by_department = api_ids(client, f"actor_department={org.dept_b.pk}")
        assert b.pk in by_department and old.pk not in by_department
        assert api_ids(client, "model=accounts.role") >= {role.pk}
        assert old.pk not in api_ids(client, "model=accounts.role")
        one_role = api_ids(client, f"model=accounts.role&object_id={role.object_pk}")
        assert role.pk in one_role
        about = AuditEntry.objects.filter(pk__in=one_role)
        assert set(about.values_list("content_type__model", "object_pk")) == {
            ("role", role.object_pk)
        }
        assert api_ids(client, "ip=192.168.") == {role.pk}
        assert api_ids(client, "ip=10.0.0.1") == {old.pk}
        assert api_ids(client, "q=乙") & {old.pk, b.pk} == {old.pk}
        assert role.pk in api_ids(client, "object_repr=审核")
        recent = api_ids(client, f"date_from={today - datetime.timedelta(days=1)}")
        assert old.pk not in recent and login.pk in recent
        earlier = api_ids(client, f"date_to={today - datetime.timedelta(days=5)}")
        assert old.pk in earlier and login.pk not in earlier

    def test_list_page_uses_the_same_filters(self, org, client, setup):
        client.force_login(org.admin)
        page = client.get("/audit/?event=login").content.decode()
        assert f'href="/audit/{setup["login"].pk}/"' in page
        assert f'href="/audit/{setup["old"].pk}/"' not in page
        assert (
            client.get(
                "/audit/?q=乙", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="object-table"
            ).status_code
            == 200
        )

    @pytest.mark.parametrize(
        "query",
        [
            "actor=99999999999999999999999",
            "actor=abc",
            "actor_department=-1",
            "date_from=not-a-date",
        ],
    )
    def test_bad_filter_values_answer_400(self, org, api, query):
        response = api.as_user(org.admin).get(f"/api/v1/audit/entries/?{query}")
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"

    @pytest.mark.parametrize(
        "query",
        [
            "date_from=0001-01-01",
            "date_to=9999-12-31",
            "ip=' or 1=1",
            "model=nomodel",
            "event=unknown",
            "ordering=-nonexistent",
            "object_id=99999999999999999999999",
        ],
    )
    def test_odd_but_valid_values_answer_200(self, org, api, setup, query):
        assert api.as_user(org.admin).get(f"/api/v1/audit/entries/?{query}").status_code == 200

    def test_unknown_ids_answer_404(self, org, api, client):
        for pk in ("99999999999999999999999", "abc", "0"):
            response = api.as_user(org.admin).get(f"/api/v1/audit/entries/{pk}/")
            assert response.status_code == 404
        client.force_login(org.admin)
        assert client.get("/audit/99999999999999999999999/").status_code == 404


class TestEntryPage:
    def test_update_shows_each_changed_field_before_and_after(self, org, client):
        target = UserFactory(username="shown", name="旧", department=org.dept_a)
        target.name = "新"
        target.department = org.dept_b
        target.save()
        entry = AuditEntry.objects.filter(object_pk=str(target.pk), event="update").latest()
        client.force_login(org.admin)
        page = client.get(f"/audit/{entry.pk}/").content.decode()
        table = page[page.index('id="change-table"') :]
        assert "旧" in table and "新" in table
        # A foreign key shows the related object's name, not only its id.
        assert f"{org.dept_a.name} (#{org.dept_a.pk})" in table
        assert f"{org.dept_b.name} (#{org.dept_b.pk})" in table

    def test_details_are_shown_escaped_with_before_after_lists(self, org, client):
        request = RequestFactory().get("/")
        request.user = org.admin
        record_sensitive_action(
            request,
            "role_change",
            target=org.self_user,
            description="roles changed",
            before=["分析师"],
            after=["分析师", "<script>alert(1)</script>"],
        )
        entry = AuditEntry.objects.get(event="role_change")
        client.force_login(org.admin)
        page = client.get(f"/audit/{entry.pk}/").content.decode()
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        rows = page[page.index('id="detail-change-table"') :]
        assert "分析师, &lt;script&gt;" in rows
        assert 'id="entry-details"' in page


def test_exporting_a_list_is_itself_logged(org, client, api):
    make_entry(actor=org.dept_user, event="update")
    client.force_login(org.dept_user)
    response = client.get("/audit/?export=xlsx&event=update", REMOTE_ADDR="10.7.7.7")
    assert response.status_code == 200
    entry = AuditEntry.objects.filter(event="export").latest()
    assert entry.actor == org.dept_user
    assert entry.remote_addr == "10.7.7.7"
    assert entry.additional_data["model"] == "audit.auditentry"
    assert entry.additional_data["filters"] == {"event": "update"}

    api.as_user(org.dept_user).get("/api/v1/audit/entries/export/?file_format=csv")
    assert AuditEntry.objects.filter(event="export", actor=org.dept_user).count() == 2


def test_api_export_refuses_unknown_formats(org, api):
    response = api.as_user(org.admin).get("/api/v1/audit/entries/export/?file_format=pdf")
    assert response.status_code == 400
    assert response.json()["details"]["file_format"]


class TestObjectHistory:
    template = Template("{% load audit_tags %}{% object_history obj user %}")

    def render(self, obj, user) -> str:
        return self.template.render(Context({"obj": obj, "user": user}))

    def test_shows_the_objects_entries_within_the_viewers_scope(self, org):
        role = Role.objects.create(name="复核岗", code="reviewer")
        make_entry(actor=org.dept_user, event="update", target=role, changes={"name": ["a", "b"]})
        make_entry(actor=org.b_user, event="update", target=role, changes={"code": ["x", "y"]})
        html = self.render(role, org.dept_user)
        assert 'id="object-history"' in html
        assert str(org.dept_user) in html
        assert str(org.b_user) not in html
        assert "model=accounts.role" in html

    def test_hidden_without_permission(self, org):
        plain = UserFactory(username="plain", department=org.dept_a)
        assert 'id="object-history"' not in self.render(org.dept_user, plain)


def test_menu_offers_the_audit_log_to_those_who_may_read_it(org):
    def labels(user):
        return [item["url"] for group in visible_menu(user) for item in group["items"]]

    assert "/audit/" in labels(org.dept_user)
    assert "/audit/" not in labels(UserFactory(username="nobody"))


def test_api_rows_carry_model_actor_and_department(org, api):
    entry = make_entry(actor=org.dept_user, event="update", changes={"name": ["a", "b"]})
    row = api.as_user(org.dept_user).get(f"/api/v1/audit/entries/{entry.pk}/").json()
    assert row["model"] == "accounts.user"
    assert row["actor"] == org.dept_user.pk
    assert row["actor_username"] == "dept_user"
    assert row["actor_department_name"] == org.dept_a.name
    assert row["changes"] == {"name": ["a", "b"]}
    assert row["event_label"]
    assert ContentType.objects.get_for_model(User)  # the entry's model still exists
