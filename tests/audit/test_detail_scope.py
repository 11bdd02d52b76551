"""An audit entry's before/after never names a linked record the viewer may not see."""

import pytest
from django.contrib.contenttypes.models import ContentType

from ibcloud.audit.models import AuditEntry
from tests.conftest import make_org

pytestmark = pytest.mark.django_db


def test_a_department_outside_reach_shows_as_its_id_only(client):
    org = make_org(["audit.view_auditentry", "accounts.view_department"])
    org.dept_b.name = "秘密投行部"
    org.dept_b.save()
    entry = AuditEntry.objects.create(
        content_type=ContentType.objects.get_for_model(type(org.self_user)),
        object_pk=str(org.self_user.pk),
        object_id=org.self_user.pk,
        object_repr=str(org.self_user),
        action=AuditEntry.Action.UPDATE,
        event="update",
        changes={"department": [str(org.dept_a.pk), str(org.dept_b.pk)]},
        actor=org.dept_user,
        actor_department=org.dept_a,
    )
    client.force_login(org.dept_user)
    page = client.get(f"/audit/{entry.pk}/").content.decode()
    assert org.dept_a.name in page
    assert "秘密投行部" not in page and f"#{org.dept_b.pk}" in page

    client.force_login(org.all_user)
    assert "秘密投行部" in client.get(f"/audit/{entry.pk}/").content.decode()
