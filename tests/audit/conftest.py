"""Fixtures of the audit tests: an organisation whose roles may read the audit log."""

import pytest

from tests.conftest import make_org

AUDIT_VIEWER_PERMS = [
    "audit.view_auditentry",
    "accounts.view_user",
    "accounts.add_user",
    "accounts.change_user",
    "accounts.delete_user",
]


@pytest.fixture
def org(db):
    return make_org(AUDIT_VIEWER_PERMS)


def make_entry(actor=None, event="update", timestamp=None, target=None, **fields):
    """An audit entry as the platform writes it (for list, filter and scope tests)."""
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone

    from ibcloud.audit.models import ACTION_EVENTS, AuditEntry

    target = target if target is not None else actor
    actions = {code: action for action, code in ACTION_EVENTS.items()}
    fields.setdefault("object_repr", str(target))
    entry = AuditEntry(
        action=actions.get(event, AuditEntry.Action.EVENT),
        event=event,
        content_type=ContentType.objects.get_for_model(type(target)),
        object_pk=str(target.pk),
        object_id=target.pk,
        actor=actor,
        timestamp=timestamp or timezone.now(),
        **fields,
    )
    entry.save()
    return entry
