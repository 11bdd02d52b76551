"""Every change a person makes, through the UI or the API, is recorded: who, what, before/after,
IP, user agent, time; secrets never enter the log."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import RequestFactory

from ibcloud.accounts.models import User
from ibcloud.audit.models import AuditEntry
from ibcloud.core.signals import record_sensitive_action
from tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.urls("tests.audit.urls")


def entries_for(obj, event):
    return AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(type(obj)),
        object_pk=str(obj.pk),
        event=event,
    )


class TestUserChangesThroughTheUI:
    def test_create_records_actor_ip_department_and_new_values(self, org, client):
        client.force_login(org.dept_user)
        response = client.post(
            "/test-users/add/",
            {
                "username": "newbie",
                "name": "新人",
                "email": "n@example.com",
                "department": org.dept_a.pk,
            },
            REMOTE_ADDR="10.1.2.3",
            HTTP_USER_AGENT="Browser/1.0",
        )
        assert response.status_code == 302
        created = User.objects.get(username="newbie")
        entry = entries_for(created, "create").get()
        assert entry.actor == org.dept_user
        assert entry.actor_department == org.dept_a
        assert entry.remote_addr == "10.1.2.3"
        assert entry.user_agent == "Browser/1.0"
        assert entry.action == AuditEntry.Action.CREATE
        assert entry.changes["username"] == [None, "newbie"]
        assert entry.changes["name"] == [None, "新人"]
        # Reverse relations (api_tokens, login_logs, ...) are no fields of the user.
        assert "api_tokens" not in entry.changes

    def test_update_records_before_and_after_of_changed_fields_only(self, org, client):
        target = UserFactory(username="target", name="旧名", department=org.dept_a)
        role = RoleFactory(name="分析师")
        client.force_login(org.dept_user)
        response = client.post(
            f"/test-users/{target.pk}/edit/",
            {
                "username": "target",
                "name": "新名",
                "email": target.email,
                "department": org.dept_a.pk,
                "roles": [role.pk],
            },
            REMOTE_ADDR="10.9.8.7",
        )
        assert response.status_code == 302
        entries = entries_for(target, "update")
        field_change = next(e for e in entries if "name" in e.changes)
        assert field_change.changes == {"name": ["旧名", "新名"]}
        assert field_change.actor == org.dept_user
        assert field_change.remote_addr == "10.9.8.7"
        role_change = next(e for e in entries if "roles" in e.changes)
        assert role_change.changes["roles"]["operation"] == "add"
        assert role_change.changes["roles"]["objects"] == ["分析师"]
        assert role_change.actor == org.dept_user

    def test_delete_records_the_values_the_object_had(self, org, client):
        target = UserFactory(username="leaver", name="离职者", department=org.dept_a)
        target_pk = target.pk
        client.force_login(org.dept_user)
        response = client.post(f"/test-users/{target_pk}/delete/", REMOTE_ADDR="10.0.0.5")
        assert response.status_code == 302
        assert not User.objects.filter(pk=target_pk).exists()
        entry = AuditEntry.objects.get(
            content_type=ContentType.objects.get_for_model(User),
            object_pk=str(target_pk),
            event="delete",
        )
        assert entry.object_repr == "离职者"
        assert entry.changes["username"] == ["leaver", None]
        assert entry.actor == org.dept_user
        assert entry.remote_addr == "10.0.0.5"

    def test_forged_forwarded_for_header_is_not_recorded_as_the_ip(self, org, client):
        client.force_login(org.dept_user)
        client.post(
            "/test-users/add/",
            {
                "username": "spoof",
                "name": "x",
                "email": "s@example.com",
                "department": org.dept_a.pk,
            },
            REMOTE_ADDR="10.1.1.1",
            HTTP_X_FORWARDED_FOR="1.2.3.4",
        )
        entry = entries_for(User.objects.get(username="spoof"), "create").get()
        assert entry.remote_addr == "10.1.1.1"


class TestUserChangesThroughTheAPI:
    def test_create_update_delete_with_a_token_record_the_token_user(self, org, api):
        client = api.as_user(org.dept_user)
        response = client.post(
            "/test-api/users/",
            {
                "username": "apiuser",
                "name": "接口用户",
                "department": org.dept_a.pk,
                "password": "Xy!9876543210",
            },
            format="json",
            REMOTE_ADDR="172.16.0.9",
            HTTP_USER_AGENT="client-sdk/2",
        )
        assert response.status_code == 201, response.json()
        created = User.objects.get(username="apiuser")
        create = entries_for(created, "create").get()
        assert create.actor == org.dept_user
        assert create.actor_department == org.dept_a
        assert create.remote_addr == "172.16.0.9"
        assert create.user_agent == "client-sdk/2"
        assert create.changes["name"] == [None, "接口用户"]

        response = client.patch(
            f"/test-api/users/{created.pk}/",
            {"name": "改名"},
            format="json",
            REMOTE_ADDR="172.16.0.9",
        )
        assert response.status_code == 200
        update = entries_for(created, "update").get()
        assert update.changes == {"name": ["接口用户", "改名"]}
        assert update.actor == org.dept_user

        response = client.delete(f"/test-api/users/{created.pk}/", REMOTE_ADDR="172.16.0.9")
        assert response.status_code == 204
        delete = entries_for(created, "delete").get()
        assert delete.actor == org.dept_user
        assert delete.changes["name"] == ["改名", None]

    def test_password_never_enters_the_log(self, org, api):
        client = api.as_user(org.dept_user)
        client.post(
            "/test-api/users/",
            {"username": "pwuser", "department": org.dept_a.pk, "password": "Xy!9876543210"},
            format="json",
        )
        user = User.objects.get(username="pwuser")
        client.patch(f"/test-api/users/{user.pk}/", {"password": "Zz!1234567890"}, format="json")
        user.refresh_from_db()
        user.set_password("Another!Passw0rd")
        user.save()
        user.refresh_from_db()
        for entry in AuditEntry.objects.all():
            text = " ".join(
                str(value) for value in (entry.changes, entry.changes_text, entry.additional_data)
            )
            assert user.password not in text
            assert "md5$" not in text and "pbkdf2" not in text
            assert "Xy!9876543210" not in text and "Zz!1234567890" not in text


class TestSensitiveActions:
    def request(self, user, ip="192.168.5.5", agent="Browser/2.0"):
        request = RequestFactory().post("/x", REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
        request.user = user
        return request

    def test_action_on_a_target_is_recorded_with_details(self, org):
        target = UserFactory(username="locked", department=org.dept_a)
        record_sensitive_action(
            self.request(org.dept_user),
            "unlock",
            target=target,
            description="Unlocked",
            reason="called",
        )
        entry = entries_for(target, "unlock").get()
        assert entry.action == AuditEntry.Action.EVENT
        assert entry.actor == org.dept_user
        assert entry.actor_department == org.dept_a
        assert entry.remote_addr == "192.168.5.5"
        assert entry.user_agent == "Browser/2.0"
        assert entry.description == "Unlocked"
        assert entry.additional_data == {"reason": "called"}
        assert entry.object_repr == str(target)

    def test_action_without_target_is_filed_under_the_actor(self, org):
        record_sensitive_action(self.request(org.b_user), "logout")
        entry = entries_for(org.b_user, "logout").get()
        assert entry.content_type == ContentType.objects.get_for_model(User)
        assert entry.actor == org.b_user
        assert entry.actor_department == org.dept_b

    def test_anonymous_failed_login_is_recorded_without_actor(self, db):
        from django.contrib.auth.models import AnonymousUser

        record_sensitive_action(
            self.request(AnonymousUser()), "login_failed", description="ghost", username="ghost"
        )
        entry = AuditEntry.objects.get(event="login_failed")
        assert entry.actor is None
        assert entry.object_repr == "ghost"
        assert entry.additional_data == {"username": "ghost"}
        assert entry.remote_addr == "192.168.5.5"

    def test_secret_details_are_masked_and_odd_values_stored_as_text(self, org):
        record_sensitive_action(
            self.request(org.dept_user),
            "password_reset",
            target=org.self_user,
            new_password="S3cret!value",
            api_token="abcdef",
            must_change_password=True,
            roles={"b", "a"},
            department=org.dept_a,
        )
        entry = entries_for(org.self_user, "password_reset").get()
        data = entry.additional_data
        assert data["new_password"] == "******"
        assert data["api_token"] == "******"
        assert data["must_change_password"] is True
        assert data["roles"] == ["a", "b"]
        assert data["department"] == str(org.dept_a)

    def test_actor_department_is_kept_when_the_actor_moves(self, org):
        record_sensitive_action(self.request(org.dept_user), "export")
        org.dept_user.department = org.dept_b
        org.dept_user.save()
        entry = AuditEntry.objects.get(event="export")
        assert entry.actor_department == org.dept_a


def test_many_to_many_hidden_rows_are_not_audited_separately(org):
    role = RoleFactory()
    org.self_user.roles.add(role)
    org.self_user.roles.remove(role)
    through = ContentType.objects.get_for_model(User.roles.through)
    assert not AuditEntry.objects.filter(content_type=through).exists()
    operations = [
        e.changes["roles"]["operation"]
        for e in entries_for(org.self_user, "update")
        if e.changes["roles"]["objects"] == [role.name]
    ]
    assert sorted(operations) == ["add", "delete"]


class TestThroughTheAccountsModule:
    """The same guarantees on the real user pages and API of the accounts module."""

    STRONG = "Str0ng!Passw0rd#2026"

    def test_user_page_create_edit_delete(self, org, client):
        client.force_login(org.admin)
        response = client.post(
            "/accounts/users/add/",
            {
                "username": "pageuser",
                "name": "页面用户",
                "email": "p@example.com",
                "department": org.dept_a.pk,
                "password1": self.STRONG,
                "password2": self.STRONG,
            },
            REMOTE_ADDR="10.2.2.2",
        )
        assert response.status_code in (200, 302, 204)
        user = User.objects.get(username="pageuser")
        create = entries_for(user, "create").get()
        assert (create.actor, create.remote_addr) == (org.admin, "10.2.2.2")
        assert user.password not in create.changes_text

        client.post(
            f"/accounts/users/{user.pk}/edit/",
            {
                "username": "pageuser",
                "name": "改过",
                "email": "p@example.com",
                "department": org.dept_a.pk,
            },
            REMOTE_ADDR="10.2.2.2",
        )
        update = next(e for e in entries_for(user, "update") if "name" in e.changes)
        assert update.changes["name"] == ["页面用户", "改过"]
        assert update.actor == org.admin

        pk = user.pk
        client.post(f"/accounts/users/{pk}/delete/", REMOTE_ADDR="10.2.2.2")
        assert not User.objects.filter(pk=pk).exists()
        delete = AuditEntry.objects.get(
            object_pk=str(pk), event="delete", content_type=create.content_type
        )
        assert delete.actor == org.admin

    def test_user_api_create_edit_delete(self, org, api):
        client = api.as_user(org.admin)
        url = "/api/v1/accounts/users/"
        response = client.post(
            url,
            {
                "username": "apiuser2",
                "name": "接口",
                "department": org.dept_a.pk,
                "password": self.STRONG,
            },
            format="json",
            REMOTE_ADDR="10.3.3.3",
        )
        assert response.status_code == 201, response.content
        user = User.objects.get(username="apiuser2")
        create = entries_for(user, "create").get()
        assert (create.actor, create.remote_addr) == (org.admin, "10.3.3.3")

        assert client.patch(f"{url}{user.pk}/", {"name": "改"}, format="json").status_code == 200
        update = next(e for e in entries_for(user, "update") if "name" in e.changes)
        assert update.changes["name"] == ["接口", "改"]
        assert update.actor == org.admin

        pk = user.pk
        assert client.delete(f"{url}{pk}/").status_code == 204
        delete = AuditEntry.objects.get(
            object_pk=str(pk), event="delete", content_type=create.content_type
        )
        assert delete.actor == org.admin


@pytest.mark.django_db
def test_the_matching_engines_own_index_is_not_audited():
    from ibcloud.matching.engine import refresh_investor_index
    from ibcloud.matching.engine_models import EngineState, InvestorMatchIndex
    from tests.catalog.factories import InvestorFactory

    InvestorFactory()
    refresh_investor_index()
    refresh_investor_index(
        investor_ids=list(InvestorMatchIndex.objects.values_list("pk", flat=True))
    )
    for model in (InvestorMatchIndex, EngineState):
        assert not AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(model)
        ).exists()
