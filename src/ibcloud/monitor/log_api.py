"""API of the system log: ``/api/v1/monitor/logs/`` (mounted by ``monitor/api.py``'s owner).

``GET logs/``: entries of the application log, newest first, filtered like the page
(``since``, ``until``, ``level``, ``module``, ``q``, ``limit``) and paged by ``cursor`` (the
``next_cursor`` of the previous answer). ``GET logs/files/``: the log file and its rotated
predecessors. Both need ``monitor.view_log``. The query is validated by the page's form, so the
page and the API accept and refuse the same input.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from ibcloud.monitor import logs
from ibcloud.monitor.log_forms import PAGE_SIZES, LogFilterForm
from ibcloud.monitor.log_views import VIEW_LOG


class CanViewLogs(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm(VIEW_LOG)


class LogEntrySerializer(serializers.Serializer):
    time = serializers.DateTimeField(allow_null=True)
    level = serializers.CharField(help_text="DEBUG, INFO, WARNING, ERROR, CRITICAL.")
    logger = serializers.CharField(help_text="The module that logged it.")
    message = serializers.CharField()
    exc = serializers.CharField(help_text="Traceback, when the record has one.")
    process = serializers.IntegerField(allow_null=True)
    host = serializers.CharField()
    file = serializers.CharField(help_text="The log file it was read from.")


class LogPageSerializer(serializers.Serializer):
    results = LogEntrySerializer(many=True)
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Pass as `cursor` for the next, older page; null at the end."
    )
    scanned_bytes = serializers.IntegerField()
    scan_limited = serializers.BooleanField(
        help_text="The page stopped at the scan limit before it was full: ask for the next one."
    )
    expired = serializers.BooleanField(help_text="The cursor's file has been rotated away.")


class LogFileSerializer(serializers.Serializer):
    name = serializers.CharField()
    size = serializers.IntegerField()
    modified = serializers.DateTimeField()


QUERY_PARAMETERS = [
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="Entries at or after."),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="Entries at or before."),
    OpenApiParameter(
        "level", OpenApiTypes.STR, enum=list(logs.LEVELS), description="Lowest level."
    ),
    OpenApiParameter(
        "module",
        OpenApiTypes.STR,
        description="Logger name or whole dotted part of it (`ibcloud.crawler`, `crawler`).",
    ),
    OpenApiParameter("q", OpenApiTypes.STR, description="Text in the message or traceback."),
    OpenApiParameter("limit", OpenApiTypes.INT, enum=list(PAGE_SIZES), description="Page size."),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="`next_cursor` of the last page."),
]


class LogViewSet(viewsets.ViewSet):
    """The application log (a system record: administrators' roles hold ``view_log``)."""

    permission_classes = [permissions.IsAuthenticated, CanViewLogs]
    filter_backends: list = []
    pagination_class = None

    @extend_schema(parameters=QUERY_PARAMETERS, responses=LogPageSerializer)
    def list(self, request):
        """Entries newest first; a page stops early after scanning 16 MB of log (``scan_limited``:
        ask again with ``next_cursor`` to search further)."""
        form = LogFilterForm(request.query_params)
        if not form.is_valid():
            raise exceptions.ValidationError(
                {
                    "non_field_errors" if name == "__all__" else name: list(errors)
                    for name, errors in form.errors.items()
                }
            )
        page = logs.read_page(
            form.log_filter(), form.cleaned_data["cursor"], limit=form.cleaned_data["limit"]
        )
        return Response(
            {
                "results": [LogEntrySerializer(entry).data for entry in page.entries],
                "next_cursor": str(page.next_cursor) if page.next_cursor else None,
                "scanned_bytes": page.scanned_bytes,
                "scan_limited": page.scan_limited,
                "expired": page.expired,
            }
        )

    @extend_schema(responses=LogFileSerializer(many=True))
    @action(detail=False, methods=["get"])
    def files(self, request):
        """The current log file and its rotated predecessors, newest first."""
        return Response(LogFileSerializer(logs.log_files(), many=True).data)


router = DefaultRouter()
router.include_root_view = False
router.register("logs", LogViewSet, basename="log")
