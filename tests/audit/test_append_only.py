"""The audit log is append-only: no code path, page or endpoint edits or deletes an entry."""

import pytest

from ibcloud.audit.models import AppendOnlyError, AuditEntry
from tests.audit.conftest import make_entry


@pytest.fixture
def entry(org):
    return make_entry(actor=org.dept_user, event="update", object_repr="原始")


def test_saving_an_existing_entry_is_refused(entry):
    entry.object_repr = "篡改"
    with pytest.raises(AppendOnlyError):
        entry.save()
    assert AuditEntry.objects.get(pk=entry.pk).object_repr == "原始"


def test_writing_over_an_existing_id_is_refused(entry):
    forged = AuditEntry(
        pk=entry.pk,
        action=AuditEntry.Action.UPDATE,
        content_type=entry.content_type,
        object_pk=entry.object_pk,
        object_repr="篡改",
    )
    with pytest.raises(AppendOnlyError):
        forged.save()
    assert AuditEntry.objects.get(pk=entry.pk).object_repr == "原始"


def test_deleting_an_entry_is_refused(entry):
    with pytest.raises(AppendOnlyError):
        entry.delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_api_refuses_changes_to_an_entry_with_405(org, api, entry, method):
    for user in (org.admin, org.dept_user):
        response = getattr(api.as_user(user), method)(
            f"/api/v1/audit/entries/{entry.pk}/", {"object_repr": "篡改"}, format="json"
        )
        assert response.status_code == 405
        body = response.json()
        assert body["code"] == "method_not_allowed"
        assert body["message"]
        assert "details" in body
    assert AuditEntry.objects.get(pk=entry.pk).object_repr == "原始"


def test_api_refuses_creating_entries(org, api):
    response = api.as_user(org.admin).post(
        "/api/v1/audit/entries/", {"object_repr": "伪造"}, format="json"
    )
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert not AuditEntry.objects.filter(object_repr="伪造").exists()


def test_ui_detail_page_accepts_no_post(org, client, entry):
    client.force_login(org.admin)
    assert client.post(f"/audit/{entry.pk}/").status_code == 405
    assert client.post("/audit/", {"bulk_action": "delete", "pk": [entry.pk]}).status_code in (
        302,
        204,
    )
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
