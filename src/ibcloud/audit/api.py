"""``/api/v1/audit/``: the operation log, read-only and scoped like the list page."""

from __future__ import annotations

from rest_framework import exceptions, serializers
from rest_framework.routers import DefaultRouter

from ibcloud.audit.filters import AuditEntryFilterSet
from ibcloud.audit.models import AuditEntry
from ibcloud.audit.tables import AuditEntryTable
from ibcloud.core.api import ScopedReadOnlyViewSet


class AuditEntrySerializer(serializers.ModelSerializer):
    event_label = serializers.CharField(read_only=True)
    model = serializers.SerializerMethodField(help_text="app_label.model of the object")
    actor_name = serializers.CharField(source="actor_display", read_only=True)
    actor_department_name = serializers.CharField(
        source="actor_department.name", read_only=True, default=None
    )

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "timestamp",
            "event",
            "event_label",
            "action",
            "model",
            "object_pk",
            "object_repr",
            "description",
            "changes",
            "additional_data",
            "actor",
            "actor_username",
            "actor_name",
            "actor_department",
            "actor_department_name",
            "remote_addr",
            "user_agent",
            "cid",
        ]
        read_only_fields = fields

    def get_model(self, obj: AuditEntry) -> str:
        return f"{obj.content_type.app_label}.{obj.content_type.model}"


class AuditEntryViewSet(ScopedReadOnlyViewSet):
    """Audit entries: every change and sensitive action by a person. Entries cannot be edited
    or deleted; any method other than GET answers 405."""

    queryset = AuditEntry.objects.select_related("actor", "actor_department", "content_type")
    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilterSet
    table_class = AuditEntryTable
    ordering_fields = ["timestamp", "id", "event", "actor_username"]
    ordering = ["-timestamp", "-id"]

    def check_permissions(self, request):
        # Writes are refused as "not allowed" for everyone, before the model-permission check
        # would answer 403 to a user without the (meaningless) change/delete permission.
        if request.method != "OPTIONS" and request.method.lower() not in self.action_map:
            raise exceptions.MethodNotAllowed(request.method)
        super().check_permissions(request)


router = DefaultRouter()
router.register("entries", AuditEntryViewSet, basename="auditentry")
