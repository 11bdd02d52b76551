"""API of rule sets, dry runs, the match list and the matching statistics: ``/api/v1/matching/``.

* ``rule-sets/``: CRUD; ``criteria`` is validated like the form
  (``criteria_validation.validate_criteria``): a bad item answers 400 with ``details.criteria``
  keyed by the item's index (from 0), each message naming the criterion ("criterion 3
  (amount): ..."). Actions ``run/`` (202 with the full match's job) and ``dry-run/`` (202 with
  the dry run and its job; the body's configuration, or the saved one when the body is empty).
* ``dry-runs/``: read (counts, added and removed pairs), ``POST`` a configuration of a rule set
  not saved yet, and ``{id}/apply/``.
* ``matches/``: every match in the caller's scope, filtered with the match list's filters;
  ``matches/export/?file_format=xlsx|csv`` (audited).
* ``statistics/``: the dashboard's figures.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from ibcloud.accounts.models import Department
from ibcloud.accounts.services import departments_in_reach
from ibcloud.core.api import ScopedModelViewSet, ScopedReadOnlyViewSet
from ibcloud.core.api_views import JobSerializer
from ibcloud.core.rest import Conflict
from ibcloud.core.scoping import explicit_order, restrict
from ibcloud.matching import charts, views
from ibcloud.matching.filters import MatchFilterSet, MatchRuleSetFilterSet
from ibcloud.matching.forms import split_messages, validate
from ibcloud.matching.models import DryRun, Match, MatchRuleSet
from ibcloud.matching.statistics import rule_set_statistics
from ibcloud.matching.tables import MatchRuleSetTable, MatchTable

MAX_CRITERIA = 30

# --- Criteria -------------------------------------------------------------------------------------


def clean_criteria(value: Any) -> list[dict]:
    """``value`` checked by the engine's rules; errors keyed by the item's index (from 0)."""
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise serializers.ValidationError(
            _('Give the criteria as a list of {"kind", "mode", "weight", "params"} objects.')
        )
    if not value:
        raise serializers.ValidationError(_("Add at least one criterion."))
    if len(value) > MAX_CRITERIA:
        raise serializers.ValidationError(_("At most %(n)d criteria.") % {"n": MAX_CRITERIA})
    try:
        return validate(value)
    except DjangoValidationError as exc:
        by_row, general = split_messages(exc, len(value))
        details: dict[str, list[str]] = {}
        for index, messages in sorted(by_row.items()):
            item = value[index]
            # the message keeps naming the criterion, as the engine wrote it
            details[str(index)] = [
                f"criterion {index + 1} ({item.get('kind')}): {message}" for message in messages
            ]
        if general:
            details["non_field_errors"] = general
        raise serializers.ValidationError(details) from exc


class CriteriaField(serializers.JSONField):
    def to_internal_value(self, data):
        return clean_criteria(super().to_internal_value(data))


# --- Rule sets ------------------------------------------------------------------------------------


class MatchRuleSetSerializer(serializers.ModelSerializer):
    criteria = CriteriaField(
        help_text='[{"kind": "industry", "mode": "filter", "weight": 0, "params": {}}, '
        '{"kind": "amount", "mode": "score", "weight": 20, "params": {"tolerance_pct": 20}}]'
    )
    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.none(),
        allow_null=True,
        required=False,
        help_text="The department whose reviewers see its matches; null: the whole bank. "
        "Default: the caller's department.",
    )
    threshold = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, required=False
    )
    max_per_project = serializers.IntegerField(min_value=1, max_value=100, required=False)

    class Meta:
        model = MatchRuleSet
        fields = [
            "id",
            "name",
            "description",
            "is_active",
            "department",
            "owner",
            "criteria",
            "threshold",
            "max_per_project",
            "version",
            "last_run_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["owner", "version", "last_run_at", "created_at", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        actor = getattr(request, "user", None)
        if actor is not None and actor.is_authenticated:
            instance = self.instance if isinstance(self.instance, MatchRuleSet) else None
            self.fields["department"].queryset = departments_in_reach(
                actor, include=[instance.department_id] if instance else []
            )

    def update(self, instance, validated_data):
        # a new configuration gets a new version (runs and dry runs tell a stale one by it)
        changed = any(
            name in validated_data and validated_data[name] != getattr(instance, name)
            for name in ("criteria", "threshold", "max_per_project")
        )
        if changed:
            validated_data["version"] = instance.version + 1
        return super().update(instance, validated_data)


class ConfigurationSerializer(serializers.Serializer):
    """A configuration to dry-run; on a rule set, what is left out comes from the saved one."""

    criteria = CriteriaField(required=False)
    threshold = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, required=False
    )
    max_per_project = serializers.IntegerField(min_value=1, max_value=100, required=False)

    def configuration(self, rule_set: MatchRuleSet | None) -> dict:
        data = self.validated_data
        if rule_set is None and "criteria" not in data:
            raise serializers.ValidationError({"criteria": [_("This field is required.")]})
        return {
            "criteria": data["criteria"] if "criteria" in data else rule_set.criteria,
            "threshold": float(data.get("threshold", rule_set.threshold if rule_set else 60)),
            "max_per_project": data.get(
                "max_per_project", rule_set.max_per_project if rule_set else 5
            ),
        }


class DryRunSerializer(serializers.ModelSerializer):
    job = JobSerializer(read_only=True)
    added = serializers.SerializerMethodField(
        help_text="[{project, investor, score, project_name, investor_name}] (at most 500)"
    )
    removed = serializers.SerializerMethodField(help_text="As added.")

    class Meta:
        model = DryRun
        fields = [
            "id",
            "rule_set",
            "configuration",
            "created_by",
            "created_at",
            "job",
            "summary",
            "added",
            "removed",
        ]
        read_only_fields = fields

    def _pairs(self, rows, rule_set=None) -> list[dict]:
        user = self.context["request"].user
        return [
            {
                "project": pair["project_id"],
                "investor": pair["investor_id"],
                "score": pair["score"],
                "project_name": pair["project"].name if pair["project"] else None,
                "investor_name": pair["investor"].name if pair["investor"] else None,
                "summary": pair["summary"],
            }
            for pair in views.dry_run_pairs(user, rows or [], rule_set)
        ]

    def get_added(self, obj) -> list[dict]:
        return self._pairs(obj.added)

    def get_removed(self, obj) -> list[dict]:
        return self._pairs(obj.removed, obj.rule_set)


class CanChangeRuleSets(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("matching.change_matchruleset")


class CanViewRuleSets(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("matching.view_matchruleset")


class MatchRuleSetViewSet(ScopedModelViewSet):
    """Match rule sets, with the counts of their matches by status on the detail."""

    queryset = MatchRuleSet.objects.select_related("department")
    serializer_class = MatchRuleSetSerializer
    filterset_class = MatchRuleSetFilterSet
    table_class = MatchRuleSetTable
    ordering_fields = ["name", "created_at", "updated_at", "last_run_at"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "action", None) in ("run", "dry_run"):
            return explicit_order(restrict(self.queryset.all(), self.request.user, "change"))
        return super().get_queryset()

    def retrieve(self, request, *args, **kwargs):
        rule_set = self.get_object()
        body = self.get_serializer(rule_set).data
        figures = rule_set_statistics(rule_set, request.user)
        body["status_counts"] = {row["status"]: row["count"] for row in figures["status_counts"]}
        body["rejection_reasons"] = {
            row["reason"]: row["count"] for row in figures["rejection_reasons"]
        }
        return Response(body)

    @extend_schema(request=None, responses={202: JobSerializer})
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[permissions.IsAuthenticated, CanChangeRuleSets],
        filter_backends=[],
    )
    def run(self, request, pk=None):
        """Queue a full re-match of the rule set; answers 202 with the job to follow."""
        rule_set = self.get_object()
        job = views.run_rule_set(request, rule_set)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=ConfigurationSerializer, responses={202: DryRunSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path="dry-run",
        permission_classes=[permissions.IsAuthenticated, CanChangeRuleSets],
        filter_backends=[],
    )
    def dry_run(self, request, pk=None):
        """Dry-run the body's configuration (what is left out: the saved one) without changing
        anything; answers 202 with the dry run, whose counts and pairs fill in when its job
        finishes (GET dry-runs/{id}/)."""
        rule_set = self.get_object()
        body = ConfigurationSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        dry_run = views.start_dry_run(request, body.configuration(rule_set), rule_set)
        data = DryRunSerializer(dry_run, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_202_ACCEPTED)


# --- Dry runs -------------------------------------------------------------------------------------


class DryRunViewSet(
    viewsets.mixins.ListModelMixin, viewsets.mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Dry runs of the rule sets the caller may see (and the caller's own)."""

    serializer_class = DryRunSerializer
    permission_classes = [permissions.IsAuthenticated, CanViewRuleSets]
    filter_backends: list = []
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        queryset = views.visible_dry_runs(self.request.user)
        rule_set = self.request.query_params.get("rule_set", "")
        if self.action == "list" and rule_set.isascii() and rule_set.isdigit():
            queryset = queryset.filter(rule_set_id=int(rule_set[:18]))
        return queryset.order_by("-created_at", "-id")

    @extend_schema(request=ConfigurationSerializer, responses={202: DryRunSerializer})
    def create(self, request):
        """Dry-run the configuration of a rule set not saved yet (``matching.add_matchruleset``)."""
        if not request.user.has_perm("matching.add_matchruleset"):
            raise exceptions.PermissionDenied()
        body = ConfigurationSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        dry_run = views.start_dry_run(request, body.configuration(None), None)
        data = DryRunSerializer(dry_run, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def apply(self, request, pk=None):
        """Queue saving the dry run's configuration into its rule set and writing its changes;
        answers 202 with the job, whose result is the run's report (added, withdrawn, kept,
        ...) or ``{"refused": reason}`` when the data changed since the dry run. When the dry
        run has not finished or the rule set changed since, 409: start a new dry run."""
        dry_run = get_object_or_404(self.get_queryset(), pk=pk)
        if not views.may_apply(request.user, dry_run):
            raise exceptions.PermissionDenied()
        try:
            job = views.apply_dry_run(request, dry_run)
        except DjangoValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from exc
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


# --- Matches --------------------------------------------------------------------------------------


class MatchSerializer(serializers.ModelSerializer):
    project_name = serializers.CharField(source="project.name", read_only=True)
    investor_name = serializers.CharField(source="investor.name", read_only=True)
    rule_set_name = serializers.CharField(source="rule_set.name", read_only=True, default=None)
    assignee_name = serializers.CharField(source="assignee", read_only=True, default=None)
    explanation_text = serializers.SerializerMethodField(
        help_text="The explanation as plain sentences in the caller's language."
    )

    class Meta:
        model = Match
        fields = [
            "id",
            "project",
            "project_name",
            "investor",
            "investor_name",
            "rule_set",
            "rule_set_name",
            "source",
            "status",
            "score",
            "explanation",
            "explanation_text",
            "reviewed_by",
            "reviewed_at",
            "reject_reason",
            "assignee",
            "assignee_name",
            "assigned_at",
            "work_status",
            "converted_at",
            "proposed_at",
            "department",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_explanation_text(self, obj) -> list[str]:
        from ibcloud.matching.explanations import render

        try:
            return [str(line) for line in render(obj.explanation or [])]
        except (KeyError, TypeError, ValueError):
            return []


class MatchViewSet(ScopedReadOnlyViewSet):
    """Matches in the caller's scope (filters as on the match list); ``export/`` downloads them."""

    queryset = Match.objects.select_related("project", "investor", "rule_set", "assignee")
    serializer_class = MatchSerializer
    filterset_class = MatchFilterSet
    table_class = MatchTable
    ordering_fields = ["score", "proposed_at", "reviewed_at", "status"]
    lookup_value_regex = r"\d+"


# --- Statistics -----------------------------------------------------------------------------------


class ChartFilterSerializer(serializers.Serializer):
    date_from = serializers.DateField(required=False, help_text="Proposed from (local date).")
    date_to = serializers.DateField(required=False, help_text="Proposed up to (inclusive).")
    rule_set = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)

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
            rule_set=attrs.get("rule_set"),
        )


class CanViewMatches(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("matching.view_match")


class MatchStatisticsViewSet(viewsets.ViewSet):
    """The matching dashboard's figures over the matches the caller may see: per week by
    status, approval rate per rule set, conversion to deals per month, by industry and region."""

    permission_classes = [permissions.IsAuthenticated, CanViewMatches]
    filter_backends: list = []
    pagination_class = None

    @extend_schema(parameters=[ChartFilterSerializer], responses=OpenApiTypes.OBJECT)
    def list(self, request):
        query = ChartFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.chart_filters(query.validated_data)
        return Response(charts.dashboard_statistics(request.user, filters))


router = DefaultRouter()
router.include_root_view = False
router.register("rule-sets", MatchRuleSetViewSet, basename="matchruleset")
router.register("dry-runs", DryRunViewSet, basename="dryrun")
router.register("matches", MatchViewSet, basename="match")
router.register("statistics", MatchStatisticsViewSet, basename="matchstatistics")
