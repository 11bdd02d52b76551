"""Audit log pages: the filtered list (with export) and one entry's before/after. Read-only."""

from __future__ import annotations

from ibcloud.audit import services
from ibcloud.audit.filters import AuditEntryFilterSet
from ibcloud.audit.models import AuditEntry
from ibcloud.audit.tables import AuditEntryTable
from ibcloud.core.views import ObjectDetailView, ObjectListView


def _entries():
    return AuditEntry.objects.select_related("actor", "actor_department", "content_type")


class EntryListView(ObjectListView):
    model = AuditEntry
    table_class = AuditEntryTable
    filterset_class = AuditEntryFilterSet

    def base_queryset(self):
        return _entries()

    def filtered(self, request):
        queryset, filterset = super().filtered(request)
        filterset.offer_choices()
        return queryset, filterset


class EntryDetailView(ObjectDetailView):
    model = AuditEntry
    template_name = "audit/entry_detail.html"

    def base_queryset(self):
        return _entries()

    def extra_context(self, obj) -> dict:
        return {
            "title": str(obj),
            "change_rows": services.change_rows(obj, self.request.user),
            "detail_rows": services.detail_rows(obj.additional_data),
            "details_json": services.pretty_json(obj.additional_data),
        }
