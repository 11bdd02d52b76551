"""API of the hardware monitoring: ``/api/v1/monitor/nodes/`` and ``/api/v1/monitor/node-alerts/``.

``nodes/``: list (``status=online|offline``, ``q``), detail, export, delete (a retired node);
``nodes/{id}/metrics/?range=1h|24h|7d|30d``: the chart series (minutes up to a day, hourly
averages beyond); ``node-alerts/``: the alert episodes (``status``, ``kind``, ``node``). Nodes
report themselves from their processes: there is no endpoint that writes samples.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from ibcloud.core.api import ScopedReadOnlyViewSet
from ibcloud.core.scoping import explicit_order, restrict
from ibcloud.monitor import forecast, metrics
from ibcloud.monitor.models import Node, NodeAlert
from ibcloud.monitor.node_tables import (
    NodeAlertFilterSet,
    NodeAlertTable,
    NodeFilterSet,
    NodeTable,
)


class NodeSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField(help_text="online or offline")
    role_names = serializers.ListField(child=serializers.CharField(), read_only=True)
    forecasts = serializers.SerializerMethodField(
        help_text="Disks forecast to fill up: mount, days_left, bytes_per_day."
    )

    class Meta:
        model = Node
        fields = [
            "id",
            "name",
            "status",
            "role_names",
            "roles",
            "version",
            "platform",
            "cpu_count",
            "memory_total",
            "first_seen",
            "last_heartbeat",
            "latest",
            "forecasts",
        ]
        read_only_fields = fields

    def get_status(self, obj) -> str:
        return "online" if obj.is_online() else "offline"

    def get_forecasts(self, obj) -> list[dict]:
        if self.context.get("view") and getattr(self.context["view"], "action", "") != "retrieve":
            return []  # a query per node: the detail only
        return [
            {"mount": f.mount, "days_left": round(f.days_left, 1), "bytes_per_day": f.bytes_per_day}
            for f in forecast.disk_forecasts(obj)
        ]


class NodeAlertSerializer(serializers.ModelSerializer):
    node_name = serializers.CharField(source="node.name", read_only=True)

    class Meta:
        model = NodeAlert
        fields = [
            "id",
            "node",
            "node_name",
            "kind",
            "subject",
            "status",
            "value",
            "threshold",
            "message",
            "opened_at",
            "resolved_at",
        ]
        read_only_fields = fields


class MetricsQuerySerializer(serializers.Serializer):
    range = serializers.ChoiceField(choices=list(metrics.RANGES), default=metrics.DEFAULT_RANGE)


class NodeViewSet(mixins.DestroyModelMixin, ScopedReadOnlyViewSet):
    """Nodes (system records: administrators' roles hold ``monitor.view_node``)."""

    queryset = Node.objects.all()
    serializer_class = NodeSerializer
    filterset_class = NodeFilterSet
    table_class = NodeTable
    ordering_fields = ["name", "last_heartbeat"]
    lookup_value_regex = r"\d+"

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "range", OpenApiTypes.STR, enum=list(metrics.RANGES), description="Chart range."
            )
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def metrics(self, request, pk=None):
        """The node's series over the range: times, cpu_percent, memory_percent, load1, load5,
        net_in, net_out (bytes/s) and disks (percent per mount point)."""
        query = MetricsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(metrics.series(self.get_object(), query.validated_data["range"]))


class CanViewNodes(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("monitor.view_node")


class NodeAlertViewSet(ScopedReadOnlyViewSet):
    """Alert episodes of the nodes, newest first. An alert is part of its node: whoever may view
    the node sees its alerts (``monitor.view_node``, as the notifications go to them)."""

    queryset = NodeAlert.objects.select_related("node")
    permission_classes = [permissions.IsAuthenticated, CanViewNodes]
    serializer_class = NodeAlertSerializer
    filterset_class = NodeAlertFilterSet
    table_class = NodeAlertTable
    ordering_fields = ["opened_at", "resolved_at"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        nodes = restrict(Node.objects.all(), self.request.user, "view")
        return explicit_order(self.queryset.filter(node__in=nodes))


router = DefaultRouter()
router.register("nodes", NodeViewSet, basename="node")
router.register("node-alerts", NodeAlertViewSet, basename="nodealert")
