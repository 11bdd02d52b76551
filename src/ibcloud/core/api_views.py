"""API of the system module kept by ``core``: dictionaries, parameters, jobs.

Mounted under ``/api/v1/system/``:

* ``dict-types/`` CRUD (built-in dictionaries answer 409 to DELETE) and ``dict-items/`` CRUD,
  filtered by ``?dict_type=<code>``;
* ``parameters/`` list, retrieve by key, ``PUT``/``PATCH {"value": ...}``, ``POST {key}/reset/``;
* ``jobs/`` read-only, ``POST {id}/cancel/`` and ``export/``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from ibcloud.core import dictionaries, jobs, parameters
from ibcloud.core.api import EmptySerializer, ScopedModelViewSet, ScopedReadOnlyViewSet
from ibcloud.core.filters import DictItemFilterSet, DictTypeFilterSet, JobFilterSet
from ibcloud.core.models import DictItem, DictType, Job, Parameter
from ibcloud.core.rest import Conflict, ModelPermissions
from ibcloud.core.scoping import restrict
from ibcloud.core.tables_system import DictItemTable, DictTypeTable, JobTable

# --- Dictionaries ---------------------------------------------------------------------------------


class DictTypeSerializer(serializers.ModelSerializer):
    item_count = serializers.SerializerMethodField()

    class Meta:
        model = DictType
        fields = [
            "id",
            "code",
            "name",
            "description",
            "is_system",
            "item_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["is_system", "created_at", "updated_at"]

    def get_item_count(self, obj: DictType) -> int:
        count = getattr(obj, "item_count", None)
        return count if count is not None else obj.items.count()

    def validate_code(self, value: str) -> str:
        if self.instance is not None and self.instance.is_system and value != self.instance.code:
            raise serializers.ValidationError(_("Built-in dictionaries keep their code."))
        return value


class DictTypeViewSet(ScopedModelViewSet):
    """Dictionaries (value lists). Built-in ones can be edited but not deleted."""

    # No explicit order_by: the model orders by code (the export's table re-orders a sliced
    # queryset, which Django refuses once an explicit ordering is set).
    queryset = dictionaries.with_item_counts(DictType.objects.all())
    serializer_class = DictTypeSerializer
    filterset_class = DictTypeFilterSet
    table_class = DictTypeTable
    ordering_fields = ["code", "name", "updated_at"]

    def perform_destroy(self, instance: DictType) -> None:
        refusal = dictionaries.deletion_refusal(instance)
        if refusal:
            raise Conflict(refusal)
        instance.delete()


class DictItemSerializer(serializers.ModelSerializer):
    dict_type_code = serializers.CharField(source="dict_type.code", read_only=True)
    extra = serializers.JSONField(
        required=False, help_text="Free-form attributes of the item (a JSON object)."
    )

    class Meta:
        model = DictItem
        fields = [
            "id",
            "dict_type",
            "dict_type_code",
            "value",
            "label",
            "parent",
            "sort_order",
            "is_active",
            "extra",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        # validate_item reports a duplicate value by field; the default validator would report it
        # as a non-field error.
        validators: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is not None:
            # A client can only attach items to dictionaries it may see.
            self.fields["dict_type"].queryset = restrict(DictType.objects.all(), user)
            self.fields["parent"].queryset = restrict(DictItem.objects.all(), user)

    def validate_extra(self, value: Any) -> dict:
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("Enter a JSON object."))
        return value

    def validate_sort_order(self, value: int) -> int:
        if not -(2**31) <= value < 2**31:
            raise serializers.ValidationError(
                _("Enter a number between -2147483648 and 2147483647.")
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        dict_type = attrs.get("dict_type", getattr(instance, "dict_type", None))
        value = attrs.get("value", getattr(instance, "value", ""))
        parent = attrs["parent"] if "parent" in attrs else getattr(instance, "parent", None)
        errors = dictionaries.validate_item(dict_type, value, parent, instance)
        if errors:
            raise serializers.ValidationError(errors)
        if instance is None and "sort_order" not in attrs and dict_type is not None:
            attrs["sort_order"] = dictionaries.next_sort_order(dict_type)
        return attrs


class DictItemViewSet(ScopedModelViewSet):
    """Items of the dictionaries; ``?dict_type=<code>`` lists one dictionary."""

    queryset = DictItem.objects.select_related("dict_type", "parent")
    serializer_class = DictItemSerializer
    filterset_class = DictItemFilterSet
    table_class = DictItemTable
    ordering_fields = ["sort_order", "value", "label", "updated_at"]


# --- Parameters -----------------------------------------------------------------------------------


class ParameterSerializer(serializers.Serializer):
    """A declared parameter with its current value (read)."""

    key = serializers.CharField()
    label = serializers.CharField()
    help_text = serializers.CharField()
    kind = serializers.CharField(help_text="Value type: bool, int, float or str.")
    value = serializers.JSONField()
    default = serializers.JSONField()
    minimum = serializers.FloatField(allow_null=True)
    maximum = serializers.FloatField(allow_null=True)
    choices = serializers.ListField(child=serializers.JSONField(), allow_null=True)
    overridden = serializers.BooleanField()
    updated_at = serializers.DateTimeField(allow_null=True)


@extend_schema_field({"description": "New value, of the parameter's type"})
class ParameterValueField(serializers.JSONField):
    pass


class ParameterValueSerializer(serializers.Serializer):
    """The body of PUT/PATCH: the new value, validated by the parameter's definition."""

    value = ParameterValueField()


def parameter_data(spec: parameters.ParameterDefinition, row: Parameter | None) -> dict:
    return {
        "key": spec.key,
        "label": str(spec.label),
        "help_text": str(spec.help_text),
        "kind": spec.kind.__name__,
        "value": parameters.get_parameter(spec.key),
        "default": spec.default,
        "minimum": spec.minimum,
        "maximum": spec.maximum,
        "choices": list(spec.choices) if spec.choices is not None else None,
        "overridden": row is not None,
        "updated_at": row.updated_at if row is not None else None,
    }


class ParameterPermissions(ModelPermissions):
    """Reading needs ``view_parameter``; changing or resetting needs ``change_parameter``."""

    perms_map = {
        **ModelPermissions.perms_map,
        "POST": ["%(app_label)s.change_%(model_name)s"],
    }


class ParameterViewSet(viewsets.GenericViewSet):
    """System parameters declared by the modules, with the values admins set."""

    queryset = Parameter.objects.all()
    serializer_class = ParameterSerializer
    permission_classes = [IsAuthenticated, ParameterPermissions]
    lookup_field = "key"
    lookup_value_regex = r"[A-Za-z0-9_.\-]+"
    filter_backends: list = []

    def get_definition(self, key: str) -> parameters.ParameterDefinition:
        try:
            return parameters.definition(key)
        except KeyError as exc:
            raise exceptions.NotFound(_("Unknown system parameter.")) from exc

    def _row(self, key: str) -> Parameter | None:
        return restrict(Parameter.objects.filter(key=key), self.request.user).first()

    def list(self, request, *args, **kwargs):
        stored = {row.key: row for row in restrict(Parameter.objects.all(), request.user)}
        data = [parameter_data(spec, stored.get(spec.key)) for spec in parameters.definitions()]
        page = self.paginate_queryset(data)
        if page is not None:
            return self.get_paginated_response(ParameterSerializer(page, many=True).data)
        return Response(ParameterSerializer(data, many=True).data)

    def retrieve(self, request, key: str, *args, **kwargs):
        spec = self.get_definition(key)
        return Response(ParameterSerializer(parameter_data(spec, self._row(key))).data)

    @extend_schema(request=ParameterValueSerializer, responses=ParameterSerializer)
    def update(self, request, key: str, *args, **kwargs):
        spec = self.get_definition(key)
        body = ParameterValueSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            parameters.set_parameter(key, body.validated_data["value"], actor=request.user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"value": exc.messages}) from exc
        return Response(ParameterSerializer(parameter_data(spec, self._row(key))).data)

    @extend_schema(request=ParameterValueSerializer, responses=ParameterSerializer)
    def partial_update(self, request, key: str, *args, **kwargs):
        return self.update(request, key, *args, **kwargs)

    @extend_schema(request=EmptySerializer, responses=ParameterSerializer)
    @action(detail=True, methods=["post"])
    def reset(self, request, key: str, *args, **kwargs):
        """Return the parameter to its declared default."""
        spec = self.get_definition(key)
        parameters.reset_parameter(key, actor=request.user)
        return Response(ParameterSerializer(parameter_data(spec, None)).data)


# --- Jobs -----------------------------------------------------------------------------------------


class JobSerializer(serializers.ModelSerializer):
    owner_name = serializers.CharField(source="owner", read_only=True, default=None)
    is_finished = serializers.BooleanField(read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "name",
            "queue",
            "status",
            "is_finished",
            "arguments",
            "progress",
            "message",
            "result",
            "error",
            "log",
            "attempts",
            "cancel_requested",
            "worker",
            "owner",
            "owner_name",
            "department",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
        ]
        read_only_fields = fields


class JobPermissions(ModelPermissions):
    """Cancelling (POST) is a change of the job."""

    perms_map = {**ModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


class JobViewSet(ScopedReadOnlyViewSet):
    """Background jobs: status, progress, log; cancel a pending or running one."""

    queryset = Job.objects.select_related("owner")
    serializer_class = JobSerializer
    filterset_class = JobFilterSet
    table_class = JobTable
    permission_classes = [IsAuthenticated, JobPermissions]
    ordering_fields = ["created_at", "finished_at", "status", "name"]

    @extend_schema(request=EmptySerializer, responses=JobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, *args, **kwargs):
        """Ask the job to stop: a pending one is cancelled at once, a running one at its next
        progress report. A finished job answers 409."""
        job = self.get_object()
        if job.is_finished:
            raise Conflict(_("The job has already finished."))
        jobs.request_cancel(job)
        job.refresh_from_db()
        return Response(JobSerializer(job, context=self.get_serializer_context()).data)


router = DefaultRouter()
router.register("dict-types", DictTypeViewSet, basename="dicttype")
router.register("dict-items", DictItemViewSet, basename="dictitem")
router.register("parameters", ParameterViewSet, basename="parameter")
router.register("jobs", JobViewSet, basename="job")
