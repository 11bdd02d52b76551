"""API conventions every module's ``api.py`` follows.

* ``ScopedModelViewSet``: a model viewset whose queryset always passes :func:`restrict` for the
  action at hand, with model permissions checked, django-filter filtering, ordering and an
  ``export`` action (xlsx/csv, scoped, audited) that reuses the list page's table.
* Errors, permissions and pagination live in ``core.rest`` (DRF loads them from settings).
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action

from ibcloud.core.scoping import can_see, explicit_order, ownership_defaults, restrict

# --- Viewsets -------------------------------------------------------------------------------------

ACTION_PERMISSION = {
    "list": "view",
    "retrieve": "view",
    "export": "view",
    "update": "change",
    "partial_update": "change",
    "destroy": "delete",
    "cancel": "change",
}


class ScopedViewSetMixin:
    """Restricts ``get_queryset`` to the user's reach for the current action."""

    #: the UI table whose columns the export uses (list page, API export: one definition)
    table_class = None

    def get_queryset(self):
        queryset = super().get_queryset()
        action_name = ACTION_PERMISSION.get(getattr(self, "action", None) or "", "view")
        return explicit_order(restrict(queryset, self.request.user, action_name))

    def check_saved_object_visible(self, instance) -> None:
        """After a save, the object must still be within the user's reach (else roll back)."""
        if not can_see(self.request.user, instance, "view"):
            raise exceptions.PermissionDenied(
                _("You cannot save a record outside the departments you may access.")
            )

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "file_format", OpenApiTypes.STR, enum=["xlsx", "csv"], description="xlsx or csv"
            )
        ],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    @action(detail=False, methods=["get"], url_path="export")
    def export(self, request, *args, **kwargs):
        """Export the filtered list as Excel (default) or CSV. Audited."""
        from ibcloud.core.export import export_queryset

        if self.table_class is None:
            raise exceptions.NotFound()
        queryset = self.filter_queryset(self.get_queryset())
        file_format = request.query_params.get("file_format", "xlsx")
        if file_format not in ("xlsx", "csv"):
            raise exceptions.ValidationError({"file_format": [_("Choose xlsx or csv.")]})
        return export_queryset(request, queryset, self.table_class, file_format)


class ScopedModelViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    """CRUD over one model, scoped and permission-checked; saves re-check the scope."""

    def perform_create(self, serializer):
        with transaction.atomic():
            defaults = ownership_defaults(
                serializer.Meta.model, self.request.user, set(serializer.validated_data)
            )
            instance = serializer.save(**defaults)
            self.check_saved_object_visible(instance)

    def perform_update(self, serializer):
        with transaction.atomic():
            instance = serializer.save()
            self.check_saved_object_visible(instance)


class ScopedReadOnlyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """List and detail only (logs, append-only records)."""


class EmptySerializer(serializers.Serializer):
    """For actions that take no body."""
