"""``{% object_history obj request.user %}``: an object's recent audit entries, scoped."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from ibcloud.audit.models import AuditEntry
from ibcloud.core.scoping import permission_name, restrict

register = template.Library()


@register.inclusion_tag("audit/includes/object_history.html")
def object_history(obj, user, limit: int = 10) -> dict:
    """The last ``limit`` entries about ``obj`` that ``user`` may see (nothing without the
    permission to view the audit log)."""
    can_view = bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.has_perm(permission_name(AuditEntry, "view"))
        and getattr(obj, "pk", None) is not None
    )
    if not can_view:
        return {"can_view": False}
    content_type = ContentType.objects.get_for_model(type(obj))
    entries = restrict(
        AuditEntry.objects.filter(content_type=content_type, object_pk=str(obj.pk)),
        user,
        "view",
    ).select_related("actor", "content_type")
    query = urlencode(
        {"model": f"{content_type.app_label}.{content_type.model}", "object_id": obj.pk}
    )
    return {
        "can_view": True,
        "entries": list(entries[:limit]),
        "list_url": f"{reverse('audit:entry_list')}?{query}",
    }
