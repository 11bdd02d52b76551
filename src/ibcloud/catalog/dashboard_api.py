"""Dashboard API (``/api/v1/catalog/``), read-only; both need ``catalog.view_project``.

* ``statistics/``: every figure of the dashboard over what the caller may see (the same function
  as the page): raw items per source per week, new projects per industry section per week,
  projects per section (with divisions), the province × section heatmap, investors by type and
  region. Query: ``date_from``, ``date_to`` (inclusive, local dates; first seen / fetched) and
  ``item_type`` (``project`` / ``investor``).
* ``clusters/``: the topic clusters of the latest clustering run (``?run=`` another kept run),
  with theme words, size, growth and sample projects the caller may see; ``clusters/{id}/`` one.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, viewsets
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from ibcloud.catalog import charts, clustering
from ibcloud.catalog.models import ClusterRun, TopicCluster

# --- Input ----------------------------------------------------------------------------------------


class ChartFilterSerializer(serializers.Serializer):
    date_from = serializers.DateField(
        required=False, help_text="First day (inclusive, local date). Default: 26 weeks ago."
    )
    date_to = serializers.DateField(required=False, help_text="Last day (inclusive).")
    item_type = serializers.ChoiceField(
        choices=["project", "investor"],
        required=False,
        help_text="Only the charts and counts of this item type.",
    )

    def validate(self, attrs):
        filters = self.chart_filters(attrs)
        errors = charts.check_filters(filters)
        if errors:
            raise serializers.ValidationError({key: [value] for key, value in errors.items()})
        return attrs

    @staticmethod
    def chart_filters(attrs: dict) -> charts.ChartFilters:
        return charts.ChartFilters(
            date_from=attrs.get("date_from"),
            date_to=attrs.get("date_to"),
            item_type=attrs.get("item_type", ""),
        )


class RunFilterSerializer(serializers.Serializer):
    run = serializers.IntegerField(
        required=False, min_value=1, help_text="A clustering run's id (default: the latest)."
    )


# --- Output (for the schema) ----------------------------------------------------------------------


class SeriesSerializer(serializers.Serializer):
    key = serializers.CharField(
        allow_null=True, help_text="Source id or industry section; null for the rest summed."
    )
    name = serializers.CharField()
    data = serializers.ListField(child=serializers.IntegerField(), help_text="One per week.")


class WeeklySerializer(serializers.Serializer):
    weeks = serializers.ListField(child=serializers.DateField(), help_text="Mondays.")
    series = SeriesSerializer(many=True)


class CountSerializer(serializers.Serializer):
    code = serializers.CharField(allow_blank=True)
    name = serializers.CharField()
    count = serializers.IntegerField()


class SectionCountSerializer(CountSerializer):
    divisions = CountSerializer(many=True)


class IndustryCountsSerializer(serializers.Serializer):
    sections = SectionCountSerializer(many=True)
    total = serializers.IntegerField()


class CodeNameSerializer(serializers.Serializer):
    code = serializers.CharField(allow_blank=True)
    name = serializers.CharField()


class HeatmapSerializer(serializers.Serializer):
    provinces = CodeNameSerializer(many=True)
    sections = CodeNameSerializer(many=True)
    cells = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="[section index, province index, projects]",
    )
    max = serializers.IntegerField()


class InvestorCountsSerializer(serializers.Serializer):
    by_type = CountSerializer(many=True)
    by_region = CountSerializer(many=True)


class TotalsSerializer(serializers.Serializer):
    projects = serializers.IntegerField(allow_null=True)
    investors = serializers.IntegerField(allow_null=True)
    raw_items = serializers.IntegerField()


class AppliedFiltersSerializer(serializers.Serializer):
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    item_type = serializers.CharField(allow_blank=True)
    series_from = serializers.DateField()
    series_to = serializers.DateField()


class StatisticsSerializer(serializers.Serializer):
    filters = AppliedFiltersSerializer()
    totals = TotalsSerializer()
    items_per_source = WeeklySerializer()
    industry_over_time = WeeklySerializer(allow_null=True)
    industry_counts = IndustryCountsSerializer(allow_null=True)
    region_industry = HeatmapSerializer(allow_null=True)
    investors = InvestorCountsSerializer(allow_null=True)


class SampleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField(allow_blank=True)


class ClusterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    theme_words = serializers.ListField(child=serializers.CharField())
    size = serializers.IntegerField()
    recent = serializers.IntegerField(help_text="Projects first seen in the last window.")
    previous = serializers.IntegerField(help_text="Projects first seen in the window before.")
    growth = serializers.FloatField(
        allow_null=True, help_text="Percent; null when the window before had none."
    )
    samples = SampleSerializer(many=True)


class ClusterRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    project_count = serializers.IntegerField()
    cluster_count = serializers.IntegerField()
    parameters = serializers.DictField()


class ClusterListSerializer(serializers.Serializer):
    run = ClusterRunSerializer(allow_null=True)
    clusters = ClusterSerializer(many=True)


# --- Views ----------------------------------------------------------------------------------------


class CanViewProjects(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("catalog.view_project")


class CatalogStatisticsViewSet(viewsets.ViewSet):
    """The dashboard's figures over the projects, investors and raw items the caller may see."""

    permission_classes = [permissions.IsAuthenticated, CanViewProjects]
    filter_backends: list = []
    pagination_class = None

    @extend_schema(parameters=[ChartFilterSerializer], responses=StatisticsSerializer)
    def list(self, request):
        """Weekly series (default: the last 26 weeks), industry and region counts, investors."""
        query = ChartFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.chart_filters(query.validated_data)
        return Response(charts.dashboard_statistics(request.user, filters))


class TopicClusterViewSet(viewsets.ViewSet):
    """Topic clusters (global) with sample projects limited to the caller's data scope."""

    permission_classes = [permissions.IsAuthenticated, CanViewProjects]
    filter_backends: list = []
    pagination_class = None
    lookup_value_regex = r"\d+"

    @extend_schema(parameters=[RunFilterSerializer], responses=ClusterListSerializer)
    def list(self, request):
        """The latest clustering run (or ``?run=``) and its clusters, largest first."""
        query = RunFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        run = None
        if "run" in query.validated_data:
            run = get_object_or_404(ClusterRun.objects.all(), pk=query.validated_data["run"])
        return Response(clustering.latest_clusters(request.user, run))

    @extend_schema(responses=ClusterSerializer)
    def retrieve(self, request, pk=None):
        """One cluster of a kept run."""
        cluster = get_object_or_404(TopicCluster.objects.all(), pk=pk)
        visible = clustering.visible_samples(request.user, [cluster])
        return Response(clustering.cluster_data(cluster, visible))


router = DefaultRouter()
router.include_root_view = False
router.register("statistics", CatalogStatisticsViewSet, basename="catalogstatistics")
router.register("clusters", TopicClusterViewSet, basename="topiccluster")
