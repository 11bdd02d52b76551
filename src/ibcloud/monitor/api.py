"""API of operations: ``/api/v1/monitor/``.

``backups/``: list, detail, export, delete; ``backups/run/`` queues a backup (202 with the job);
``backups/{id}/download/`` streams the archive (``monitor.download_backup``, audited).
Restoring has no endpoint: it replaces the database under the running server (CLI only).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from ibcloud.core.api import ScopedReadOnlyViewSet
from ibcloud.core.api_views import JobSerializer
from ibcloud.core.rest import Conflict
from ibcloud.monitor import views
from ibcloud.monitor.filters import BackupFilterSet
from ibcloud.monitor.models import Backup
from ibcloud.monitor.tables import BackupTable


class BackupSerializer(serializers.ModelSerializer):
    created_by_name = serializers.CharField(source="created_by", read_only=True, default=None)
    file_count = serializers.IntegerField(read_only=True)
    row_total = serializers.IntegerField(read_only=True)

    class Meta:
        model = Backup
        fields = [
            "id",
            "file_name",
            "size",
            "sha256",
            "vendor",
            "includes_media",
            "status",
            "error",
            "kind",
            "file_count",
            "row_total",
            "manifest",
            "created_by",
            "created_by_name",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class BackupRunSerializer(serializers.Serializer):
    include_media = serializers.BooleanField(
        default=True, help_text="Also archive the uploaded files (default true)."
    )


class CanAddBackups(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("monitor.add_backup")


class CanDownloadBackups(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("monitor.download_backup")


class BackupViewSet(mixins.DestroyModelMixin, ScopedReadOnlyViewSet):
    """Backups (a system record: administrators' roles hold its permissions)."""

    queryset = Backup.objects.select_related("created_by")
    serializer_class = BackupSerializer
    filterset_class = BackupFilterSet
    table_class = BackupTable
    ordering_fields = ["started_at", "finished_at", "size"]
    lookup_value_regex = r"\d+"

    def perform_destroy(self, instance):
        refusal = views.deletion_refusal(instance)
        if refusal:
            raise Conflict(refusal)
        instance.delete()

    @extend_schema(request=BackupRunSerializer, responses={202: JobSerializer})
    @action(
        detail=False,
        methods=["post"],
        permission_classes=[permissions.IsAuthenticated, CanAddBackups],
        filter_backends=[],
        pagination_class=None,
    )
    def run(self, request):
        """Queue a backup now; answers 202 with the job to follow (``/api/v1/system/jobs/``).
        The backup row appears in the list when the job starts."""
        body = BackupRunSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        job = views.start_backup(request, include_media=body.validated_data["include_media"])
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    @action(
        detail=True,
        methods=["get"],
        permission_classes=[permissions.IsAuthenticated, CanDownloadBackups],
        filter_backends=[],
    )
    def download(self, request, pk=None):
        """The archive of a successful backup (audited)."""
        backup = self.get_object()
        if backup.status != Backup.Status.SUCCEEDED:
            raise exceptions.NotFound()
        return views.download_response(request, backup)


router = DefaultRouter()
router.register("backups", BackupViewSet, basename="backup")
