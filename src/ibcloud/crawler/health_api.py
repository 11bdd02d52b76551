"""Monitoring API (``/api/v1/crawler/``): alerts and statistics.

* ``alerts/``: source alerts, read-only, scoped through their source, with filters
  (``source``, ``rule``, ``status``, ``field``, ``q``), ordering and ``export/``;
  ``POST alerts/{id}/acknowledge/`` (``crawler.acknowledge_sourcealert``; a resolved alert
  answers 409).
* ``statistics/``: figures across the sources the caller may see (the dashboard);
  ``statistics/{source id}/``: one source's runs, totals and field fill rates. Both take
  ``?days=`` and need ``crawler.view_crawlsource``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from ibcloud.core.api import EmptySerializer, ScopedReadOnlyViewSet
from ibcloud.core.rest import Conflict, ModelPermissions
from ibcloud.core.scoping import restrict
from ibcloud.crawler import alerts
from ibcloud.crawler.health_filters import SourceAlertFilterSet
from ibcloud.crawler.health_tables import SourceAlertTable
from ibcloud.crawler.models import CrawlSource, SourceAlert

# --- Alerts ---------------------------------------------------------------------------------------


class SourceAlertSerializer(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True)
    rule_label = serializers.CharField(source="get_rule_display", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    acknowledged_by_name = serializers.CharField(
        source="acknowledged_by", read_only=True, default=None
    )
    evidence = serializers.DictField(
        read_only=True,
        help_text="What the rule found: summary, figures before/after, sample_urls, and for a "
        "structure change the unified diff of the last good sample page against the new one.",
    )

    class Meta:
        model = SourceAlert
        fields = [
            "id",
            "source",
            "source_name",
            "rule",
            "rule_label",
            "field",
            "status",
            "status_label",
            "title",
            "evidence",
            "occurrences",
            "last_job",
            "first_seen_at",
            "last_seen_at",
            "acknowledged_by",
            "acknowledged_by_name",
            "acknowledged_at",
            "resolved_at",
        ]
        read_only_fields = fields


class AlertPermissions(ModelPermissions):
    """Reading needs ``view_sourcealert``; acknowledging (POST) ``acknowledge_sourcealert``."""

    perms_map = {
        **ModelPermissions.perms_map,
        "POST": ["%(app_label)s.acknowledge_%(model_name)s"],
    }


class SourceAlertViewSet(ScopedReadOnlyViewSet):
    """Health alerts of the sources the caller may see, newest first."""

    queryset = SourceAlert.objects.select_related("source", "acknowledged_by")
    serializer_class = SourceAlertSerializer
    filterset_class = SourceAlertFilterSet
    table_class = SourceAlertTable
    permission_classes = [permissions.IsAuthenticated, AlertPermissions]
    ordering_fields = ["last_seen_at", "first_seen_at", "occurrences", "status", "rule"]
    lookup_value_regex = r"\d+"

    @extend_schema(request=EmptySerializer, responses=SourceAlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        """Acknowledge an open alert (someone is on it); it still resolves itself when the source
        is healthy again. Acknowledging twice changes nothing; a resolved alert answers 409."""
        alert = get_object_or_404(restrict(self.queryset, request.user, "acknowledge"), pk=pk)
        try:
            alerts.acknowledge(alert, request.user, request=request)
        except DjangoValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from exc
        alert.refresh_from_db()
        return Response(SourceAlertSerializer(alert, context=self.get_serializer_context()).data)


# --- Statistics -----------------------------------------------------------------------------------


class PeriodSerializer(serializers.Serializer):
    days = serializers.IntegerField(
        required=False, min_value=1, max_value=365, help_text="Period in days, up to today."
    )


class CrawlRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    label = serializers.CharField()
    status = serializers.CharField()
    pages = serializers.IntegerField()
    items = serializers.IntegerField()
    new_items = serializers.IntegerField()
    errors = serializers.IntegerField()
    requests = serializers.IntegerField()
    error_rate = serializers.FloatField(allow_null=True)
    duration = serializers.FloatField(allow_null=True, help_text="Seconds.")
    fill_rates = serializers.DictField(
        child=serializers.FloatField(allow_null=True), help_text="Field name → filled share (0–1)."
    )


class FieldNameSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()


class SourceRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SourceStatisticsSerializer(serializers.Serializer):
    source = SourceRefSerializer()
    days = serializers.IntegerField()
    since = serializers.DateTimeField()
    runs = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    pages = serializers.IntegerField()
    items = serializers.IntegerField()
    new_items = serializers.IntegerField()
    errors = serializers.IntegerField()
    requests = serializers.IntegerField()
    error_rate = serializers.FloatField(allow_null=True)
    average_duration = serializers.FloatField(allow_null=True, help_text="Seconds.")
    last_run = CrawlRunSerializer(allow_null=True)
    open_alerts = serializers.IntegerField()
    fields = FieldNameSerializer(many=True)
    series = CrawlRunSerializer(
        many=True, help_text="Runs of the period, oldest first (up to 300)."
    )


class DaySeriesSerializer(serializers.Serializer):
    source_id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    data = serializers.ListField(child=serializers.IntegerField())


class ItemsPerDaySerializer(serializers.Serializer):
    days = serializers.ListField(child=serializers.DateField())
    series = DaySeriesSerializer(many=True)


class StatusCountSerializer(serializers.Serializer):
    status = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField()


class SourceRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    enabled = serializers.BooleanField()
    schedule = serializers.CharField()
    last_job_id = serializers.IntegerField(allow_null=True)
    last_status = serializers.CharField(allow_null=True)
    last_status_label = serializers.CharField()
    last_finished_at = serializers.DateTimeField(allow_null=True)
    last_items = serializers.IntegerField(allow_null=True)
    error_rate = serializers.FloatField(allow_null=True)
    open_alerts = serializers.IntegerField()


class DashboardStatisticsSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    sources = serializers.IntegerField()
    enabled_sources = serializers.IntegerField()
    runs_today = serializers.IntegerField()
    items_today = serializers.IntegerField()
    open_alerts = serializers.IntegerField()
    can_view_alerts = serializers.BooleanField()
    items_per_day = ItemsPerDaySerializer()
    jobs_by_status = StatusCountSerializer(many=True)
    table = SourceRowSerializer(many=True)


class CanViewSources(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("crawler.view_crawlsource")


class StatisticsViewSet(viewsets.ViewSet):
    """Crawl statistics: across the caller's sources, or for one source (by its id)."""

    permission_classes = [permissions.IsAuthenticated, CanViewSources]
    filter_backends: list = []
    pagination_class = None
    lookup_value_regex = r"\d+"

    def _days(self, request, default: int) -> int:
        period = PeriodSerializer(data=request.query_params)
        period.is_valid(raise_exception=True)
        return period.validated_data.get("days", default)

    @extend_schema(parameters=[PeriodSerializer], responses=DashboardStatisticsSerializer)
    def list(self, request):
        """Counts, today's runs and items, open alerts, items per day per source (default 14
        days), runs by status, and one row per source with its last run."""
        return Response(alerts.dashboard_statistics(request.user, days=self._days(request, 14)))

    @extend_schema(parameters=[PeriodSerializer], responses=SourceStatisticsSerializer)
    def retrieve(self, request, pk=None):
        """One source over the period (default 30 days): runs, pages, items, errors, average
        duration, the runs as a series, and each field's fill rate per run."""
        days = self._days(request, 30)
        source = get_object_or_404(restrict(CrawlSource.objects.all(), request.user, "view"), pk=pk)
        return Response(alerts.source_statistics(source, days=days))


router = DefaultRouter()
router.include_root_view = False
router.register("alerts", SourceAlertViewSet, basename="sourcealert")
router.register("statistics", StatisticsViewSet, basename="crawlstatistics")
