"""Deals API (dashboard part), mounted under ``/api/v1/deals/``; read-only.

* ``dashboard/``: every figure of the deal dashboard over what the caller may see (the same
  function as the page and the deck, ``charts.for_user``); needs ``deals.view_deal``.
* ``dashboard/pptx/``: the deck with native PowerPoint charts of those figures; needs
  ``deals.export_deal_report`` as well, and is recorded in the audit log.

Query (both): ``date_from``, ``date_to`` (inclusive local dates, on the deals' opened-on date;
default the last 12 months), ``department`` (id), ``deal_type`` (dictionary value). A bad value
answers 400 ``{"code", "message", "details"}``.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from ibcloud.accounts.services import departments_in_reach
from ibcloud.deals import charts, reports
from ibcloud.deals.dashboard_views import pptx_response

# --- Input ----------------------------------------------------------------------------------------


class DealDashboardFilterSerializer(serializers.Serializer):
    date_from = serializers.DateField(
        required=False, help_text="First opened-on day (inclusive). Default: 12 months ago."
    )
    date_to = serializers.DateField(required=False, help_text="Last opened-on day (inclusive).")
    department = serializers.IntegerField(
        required=False, min_value=1, max_value=2**31 - 1, help_text="Only this department."
    )
    deal_type = serializers.CharField(
        required=False, max_length=30, help_text="Only this deal type (dictionary value)."
    )

    def validate_department(self, value: int) -> int:
        # as on the page: only departments the caller reaches (their names go on the deck)
        user = self.context["request"].user
        if not departments_in_reach(user).filter(pk=value).exists():
            raise serializers.ValidationError(_("Choose a department within your reach."))
        return value

    def validate(self, attrs):
        errors = charts.check_filters(self.chart_filters(attrs))
        if errors:
            raise serializers.ValidationError({key: [value] for key, value in errors.items()})
        return attrs

    @staticmethod
    def chart_filters(attrs: dict) -> charts.ChartFilters:
        return charts.ChartFilters(
            date_from=attrs.get("date_from"),
            date_to=attrs.get("date_to"),
            department=attrs.get("department"),
            deal_type=attrs.get("deal_type", ""),
        )


# --- Output (for the schema) ----------------------------------------------------------------------


class DealAppliedFiltersSerializer(serializers.Serializer):
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    department = serializers.IntegerField(allow_null=True)
    deal_type = serializers.CharField(allow_blank=True)
    series_from = serializers.DateField()
    series_to = serializers.DateField()
    heatmap_from = serializers.DateField()
    heatmap_to = serializers.DateField()


class DealKpiSerializer(serializers.Serializer):
    active_deals = serializers.IntegerField()
    overdue_deals = serializers.IntegerField()
    overdue_milestones = serializers.IntegerField()
    expected_fee = serializers.FloatField(help_text="Of the active deals, CNY.")


class DealPerMonthSerializer(serializers.Serializer):
    months = serializers.ListField(child=serializers.CharField(), help_text="YYYY-MM.")
    opened = serializers.ListField(child=serializers.IntegerField())
    closed = serializers.ListField(child=serializers.IntegerField())


class DealCountSerializer(serializers.Serializer):
    code = serializers.CharField(
        allow_null=True, allow_blank=True, help_text="Filter value; null for the rest summed."
    )
    name = serializers.CharField()
    count = serializers.IntegerField()


class DealStageCountSerializer(serializers.Serializer):
    deal_type = serializers.CharField()
    stage = serializers.CharField()
    name = serializers.CharField()
    count = serializers.IntegerField()


class DealHeatmapRowSerializer(serializers.Serializer):
    code = serializers.CharField(
        allow_null=True, allow_blank=True, help_text="Department id (text); '' none; null the rest."
    )
    name = serializers.CharField()


class DealHeatmapSerializer(serializers.Serializer):
    weeks = serializers.ListField(child=serializers.DateField(), help_text="Mondays.")
    statuses = serializers.ListField(
        child=serializers.CharField(), help_text="Milestone statuses counted (the open ones)."
    )
    departments = DealHeatmapRowSerializer(many=True)
    cells = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="[week index, department index, open milestones due]",
    )
    max = serializers.IntegerField()


class DealDashboardSerializer(serializers.Serializer):
    filters = DealAppliedFiltersSerializer()
    kpis = DealKpiSerializer()
    per_month = DealPerMonthSerializer()
    by_type = DealCountSerializer(many=True)
    by_stage = DealStageCountSerializer(many=True)
    by_industry = DealCountSerializer(many=True)
    by_department = DealCountSerializer(many=True)
    milestones_heatmap = DealHeatmapSerializer()


# --- Views ----------------------------------------------------------------------------------------


class CanViewDeals(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("deals.view_deal")


class CanExportReport(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm(reports.REPORT_PERMISSION)


class DealDashboardViewSet(viewsets.ViewSet):
    """The deal dashboard's figures over the deals and milestones the caller may see."""

    permission_classes = [permissions.IsAuthenticated, CanViewDeals]
    filter_backends: list = []
    pagination_class = None

    @extend_schema(parameters=[DealDashboardFilterSerializer], responses=DealDashboardSerializer)
    def list(self, request):
        """Opened/closed per month, by type, stage, industry, department, the milestone
        heatmap and today's KPIs."""
        query = DealDashboardFilterSerializer(
            data=request.query_params, context={"request": request}
        )
        query.is_valid(raise_exception=True)
        filters = query.chart_filters(query.validated_data)
        return Response(charts.for_user(request.user, filters))

    @extend_schema(
        parameters=[DealDashboardFilterSerializer],
        responses={
            (200, reports.PPTX_TYPE): OpenApiResponse(
                OpenApiTypes.BINARY, description="The deck (native charts)."
            )
        },
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="pptx",
        permission_classes=[permissions.IsAuthenticated, CanViewDeals, CanExportReport],
    )
    def pptx(self, request):
        """The dashboard as a PowerPoint deck with native, editable charts."""
        query = DealDashboardFilterSerializer(
            data=request.query_params, context={"request": request}
        )
        query.is_valid(raise_exception=True)
        return pptx_response(request, query.chart_filters(query.validated_data))


router = DefaultRouter()
router.include_root_view = False
router.register("dashboard", DealDashboardViewSet, basename="dealdashboard")
