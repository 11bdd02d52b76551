"""API of deals: ``/api/v1/deals/``.

* ``deals/``: CRUD over the deals in the caller's scope, filtered with the deal list's
  parameters (``q``, ``deal_type``, ``stage``, ``status``, ``department``, ``lead``,
  ``industry``, ``overdue``, ``opened_after`` ...); ``stage`` must be a stage of ``deal_type``
  (empty: the type's first); ``code``, ``owner`` (= the lead) and ``closed_on`` are read-only.
  Create and update go through ``services`` (timeline entries, closing dates, audit).
* ``deals/export/?file_format=xlsx|csv``: the filtered list as the list page exports it.
* ``deals/{id}/move/`` POST ``{"stage"}``: the kanban's stage change (``deals.change_deal``).
* ``deals/{id}/notes/``: GET the timeline, POST ``{"text"}`` a note (``deals.change_deal``).
* ``deals/{id}/attachments/``: GET the files, POST one (multipart ``file``, ``description``;
  ``deals.add_dealattachment``; at most 50 MB).
* ``attachments/{id}/download/``: the file (``deals.view_dealattachment``, scoped).
* ``deals/from-match/`` POST ``{"match", ...deal fields}``: open a deal from an approved match.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from ibcloud.accounts.models import Department, User
from ibcloud.accounts.services import departments_in_reach, users_in_reach
from ibcloud.catalog.filters import industry_choices
from ibcloud.catalog.models import Investor, Project, Tag
from ibcloud.core import dictionaries
from ibcloud.core.api import ScopedModelViewSet, ScopedViewSetMixin
from ibcloud.core.scoping import explicit_order, restrict
from ibcloud.deals import services
from ibcloud.deals.attachments import add_attachment, check_attachment_size, delete_attachment
from ibcloud.deals.filters import DealFilterSet
from ibcloud.deals.models import Deal, DealActivity, DealAttachment
from ibcloud.deals.tables import DealTable, is_red
from ibcloud.deals.views import download_response
from ibcloud.matching.models import Match


def _service_errors(error: DjangoValidationError) -> serializers.ValidationError:
    if hasattr(error, "error_dict"):
        return serializers.ValidationError(error.message_dict)
    return serializers.ValidationError({"non_field_errors": error.messages})


# --- Serializers ----------------------------------------------------------------------------------


class DealSerializer(serializers.ModelSerializer):
    deal_type = serializers.CharField(
        max_length=30, help_text="Value of dictionary deal_type: ipo, ma, private_placement, ..."
    )
    stage = serializers.CharField(
        max_length=30,
        required=False,
        allow_blank=True,
        help_text="A stage of the type's list; empty: the type's first stage.",
    )
    industry = serializers.CharField(
        max_length=2,
        required=False,
        allow_blank=True,
        help_text="GB/T 4754 section letter or division code.",
    )
    deal_size = serializers.DecimalField(
        max_digits=18, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    expected_fee = serializers.DecimalField(
        max_digits=16, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    project = serializers.PrimaryKeyRelatedField(
        queryset=Project.objects.none(), required=False, allow_null=True
    )
    investors = serializers.PrimaryKeyRelatedField(
        queryset=Investor.objects.none(), many=True, required=False
    )
    lead = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.none(), required=False, help_text="Default: the caller."
    )
    members = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.none(), many=True, required=False
    )
    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.none(),
        required=False,
        allow_null=True,
        help_text="Default: the lead's department.",
    )
    tags = serializers.PrimaryKeyRelatedField(queryset=Tag.objects.all(), many=True, required=False)
    is_overdue = serializers.SerializerMethodField(
        help_text="Open, with a milestone past due that is not done."
    )
    type_label = serializers.SerializerMethodField()
    stage_label = serializers.SerializerMethodField()

    class Meta:
        model = Deal
        fields = [
            "id",
            "code",
            "name",
            "deal_type",
            "type_label",
            "stage",
            "stage_label",
            "status",
            "client",
            "project",
            "investors",
            "match",
            "lead",
            "members",
            "department",
            "owner",
            "industry",
            "deal_size",
            "expected_fee",
            "tags",
            "description",
            "opened_on",
            "expected_close_on",
            "closed_on",
            "stage_changed_at",
            "is_overdue",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "code",
            "match",
            "owner",
            "closed_on",
            "stage_changed_at",
            "created_at",
            "updated_at",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        actor = getattr(request, "user", None)
        if actor is None or not actor.is_authenticated:
            return
        deal = self.instance if isinstance(self.instance, Deal) else None
        self.fields["project"].queryset = restrict(Project.objects.all(), actor, "view")
        self.fields["investors"].child_relation.queryset = restrict(
            Investor.objects.all(), actor, "view"
        )
        self.fields["lead"].queryset = users_in_reach(actor, include=[deal.lead_id] if deal else [])
        self.fields["members"].child_relation.queryset = users_in_reach(
            actor, include=list(deal.members.values_list("pk", flat=True)) if deal else []
        )
        self.fields["department"].queryset = departments_in_reach(
            actor, include=[deal.department_id] if deal else []
        )

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_is_overdue(self, obj: Deal) -> bool:
        if not hasattr(obj, "is_overdue"):
            obj = services.with_overdue(Deal.objects.filter(pk=obj.pk)).get()
        return is_red(obj)

    def get_type_label(self, obj: Deal) -> str:
        return services.type_label(obj.deal_type)

    def get_stage_label(self, obj: Deal) -> str:
        return services.stage_label(obj.deal_type, obj.stage)

    def validate_deal_type(self, value: str) -> str:
        if value not in dict(dictionaries.choices("deal_type")):
            raise serializers.ValidationError(_("Choose a deal type from the list."))
        return value

    def validate_industry(self, value: str) -> str:
        if value and value not in dict(industry_choices()):
            raise serializers.ValidationError(_("Choose an industry from the list."))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        deal = self.instance if isinstance(self.instance, Deal) else None
        if not attrs.get("stage"):
            attrs.pop("stage", None)
        deal_type = attrs.get("deal_type") or (deal.deal_type if deal else "private_placement")
        if "stage" in attrs or (deal is not None and "deal_type" in attrs):
            stage = attrs.get("stage") or (
                deal.stage
                if deal and deal.deal_type == deal_type
                else services.first_stage(deal_type)
            )
            try:
                services.check_type_and_stage(deal_type, stage)
            except DjangoValidationError as error:
                raise _service_errors(error) from error
        opened = attrs.get("opened_on", deal.opened_on if deal else None)
        expected = attrs.get("expected_close_on", deal.expected_close_on if deal else None)
        if opened and expected and expected < opened:
            raise serializers.ValidationError(
                {"expected_close_on": [_("The expected close cannot be before the opening date.")]}
            )
        if "department" in attrs and attrs["department"] is None:
            # as in the form: no department means the lead's
            lead = attrs.get("lead") or (deal.lead if deal else self.context["request"].user)
            attrs["department"] = getattr(lead, "department", None)
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Deal:
        user = self.context["request"].user
        try:
            return services.create_deal(user, **validated_data)
        except DjangoValidationError as error:
            raise _service_errors(error) from error

    def update(self, instance: Deal, validated_data: dict[str, Any]) -> Deal:
        user = self.context["request"].user
        try:
            # a fresh copy: services compare the stage and status before and after
            return services.update_deal(Deal.objects.get(pk=instance.pk), user, **validated_data)
        except DjangoValidationError as error:
            raise _service_errors(error) from error


class DealFromMatchSerializer(DealSerializer):
    """An approved match the caller can see, plus any deal field to set differently from the
    match's defaults (name, type, stage, lead, ...)."""

    match = serializers.PrimaryKeyRelatedField(queryset=Match.objects.none())

    class Meta(DealSerializer.Meta):
        read_only_fields = [
            name for name in DealSerializer.Meta.read_only_fields if name != "match"
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False
        self.fields["deal_type"].required = False
        request = self.context.get("request")
        actor = getattr(request, "user", None)
        if actor is not None and actor.is_authenticated:
            self.fields["match"].queryset = restrict(Match.objects.all(), actor, "view")

    def validate_match(self, match: Match) -> Match:
        if match.status != Match.Status.APPROVED:
            raise serializers.ValidationError(
                _("Only an approved match can be turned into a deal.")
            )
        return match

    def create(self, validated_data: dict[str, Any]) -> Deal:
        user = self.context["request"].user
        match = validated_data.pop("match")
        try:
            return services.open_deal_from_match(match, user, **validated_data)
        except DjangoValidationError as error:
            raise _service_errors(error) from error


class DealMoveSerializer(serializers.Serializer):
    stage = serializers.CharField(max_length=30, help_text="A stage of the deal's type.")


class DealActivitySerializer(serializers.ModelSerializer):
    author_name = serializers.CharField(source="author", read_only=True, default=None)

    class Meta:
        model = DealActivity
        fields = ["id", "deal", "kind", "author", "author_name", "text", "data", "created_at"]
        read_only_fields = fields


class DealNoteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=services.MAX_NOTE)


class DealAttachmentSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = DealAttachment
        fields = [
            "id",
            "deal",
            "name",
            "size",
            "content_type",
            "description",
            "uploaded_by",
            "created_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, obj: DealAttachment) -> str:
        return f"/api/v1/deals/attachments/{obj.pk}/download/"


class DealAttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(max_length=255)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)

    def validate_file(self, upload):
        try:
            check_attachment_size(upload.size)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from error
        return upload


# --- Permissions ----------------------------------------------------------------------------------


class DealActionPermission(permissions.BasePermission):
    """The deal permission an action needs: reading the timeline needs view, writing a note or
    moving a stage needs change; attachments need the attachment permissions."""

    NEEDS = {
        ("move", "POST"): "deals.change_deal",
        ("notes", "GET"): "deals.view_deal",
        ("notes", "POST"): "deals.change_deal",
        ("attachments", "GET"): "deals.view_dealattachment",
        ("attachments", "POST"): "deals.add_dealattachment",
        ("from_match", "POST"): "deals.add_deal",
    }

    def has_permission(self, request, view) -> bool:
        needed = self.NEEDS.get((view.action, request.method))
        return needed is not None and request.user.has_perm(needed)


ACTION_SCOPE = {"move": "change", "notes": "view", "attachments": "view"}


# --- Viewsets -------------------------------------------------------------------------------------


class DealViewSet(ScopedModelViewSet):
    """Deals in the caller's scope; see the module's docstring for the actions."""

    queryset = services.with_overdue(
        Deal.objects.select_related("lead", "department", "project")
    ).prefetch_related("investors", "members", "tags")
    serializer_class = DealSerializer
    filterset_class = DealFilterSet
    table_class = DealTable
    ordering_fields = [
        "code",
        "name",
        "opened_on",
        "closed_on",
        "deal_size",
        "expected_fee",
        "stage_changed_at",
        "created_at",
    ]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        action_name = getattr(self, "action", None)
        if action_name == "notes" and self.request.method == "POST":
            scope = "change"
        else:
            scope = ACTION_SCOPE.get(action_name or "")
        if scope is None:
            return super().get_queryset()
        return explicit_order(restrict(self.queryset.all(), self.request.user, scope))

    def perform_create(self, serializer):
        # services set the owner (the lead) and the department (the lead's)
        with transaction.atomic():
            instance = serializer.save()
            self.check_saved_object_visible(instance)

    def perform_destroy(self, instance):
        services.delete_deal(instance, self.request.user)

    def _deal(self) -> Deal:
        """The deal of a detail action, scoped for the action (404 outside the reach)."""
        return get_object_or_404(self.get_queryset(), pk=self.kwargs.get("pk"))

    @extend_schema(request=DealMoveSerializer, responses={200: DealSerializer})
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[permissions.IsAuthenticated, DealActionPermission],
        filter_backends=[],
    )
    def move(self, request, pk=None):
        """Move the deal to another stage of its type (audited, on the timeline)."""
        deal = self._deal()
        body = DealMoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            deal = services.change_stage(deal, body.validated_data["stage"], request.user)
        except DjangoValidationError as error:
            raise _service_errors(error) from error
        return Response(self.get_serializer(deal).data)

    @extend_schema(
        methods=["GET"], request=None, responses={200: DealActivitySerializer(many=True)}
    )
    @extend_schema(
        methods=["POST"], request=DealNoteSerializer, responses={201: DealActivitySerializer}
    )
    @action(
        detail=True,
        methods=["get", "post"],
        permission_classes=[permissions.IsAuthenticated, DealActionPermission],
        filter_backends=[],
    )
    def notes(self, request, pk=None):
        """GET: the deal's timeline (newest first, paginated); POST ``{"text"}``: add a note."""
        deal = self._deal()
        if request.method == "POST":
            body = DealNoteSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            try:
                note = services.add_note(deal, request.user, body.validated_data["text"])
            except DjangoValidationError as error:
                raise _service_errors(error) from error
            return Response(DealActivitySerializer(note).data, status=status.HTTP_201_CREATED)
        entries = deal.activities.select_related("author").order_by("-created_at", "-id")
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(DealActivitySerializer(page, many=True).data)

    @extend_schema(
        methods=["GET"], request=None, responses={200: DealAttachmentSerializer(many=True)}
    )
    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": DealAttachmentUploadSerializer},
        responses={201: DealAttachmentSerializer},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        permission_classes=[permissions.IsAuthenticated, DealActionPermission],
        parser_classes=[MultiPartParser, FormParser],
        filter_backends=[],
    )
    def attachments(self, request, pk=None):
        """GET: the deal's attachments; POST (multipart ``file``, ``description``): add one."""
        deal = self._deal()
        if request.method == "POST":
            body = DealAttachmentUploadSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            try:
                attachment = add_attachment(
                    deal,
                    request.user,
                    body.validated_data["file"],
                    body.validated_data.get("description", ""),
                )
            except DjangoValidationError as error:
                raise serializers.ValidationError({"file": error.messages}) from error
            return Response(
                DealAttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED
            )
        files = restrict(deal.attachments.all(), request.user, "view").order_by(
            "-created_at", "-id"
        )
        page = self.paginate_queryset(files)
        return self.get_paginated_response(DealAttachmentSerializer(page, many=True).data)

    @extend_schema(request=DealFromMatchSerializer, responses={201: DealSerializer})
    @action(
        detail=False,
        methods=["post"],
        url_path="from-match",
        permission_classes=[permissions.IsAuthenticated, DealActionPermission],
        parser_classes=[JSONParser, FormParser, MultiPartParser],
        filter_backends=[],
    )
    def from_match(self, request):
        """Open a deal from an approved match: its project, investor, industry, amount and
        assignee carry over; the body's fields override them."""
        body = DealFromMatchSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            deal = body.save()
            self.check_saved_object_visible(deal)
        data = DealSerializer(deal, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)


class DealAttachmentViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Attachments of the deals in the caller's scope; ``{id}/download/`` gives the file."""

    queryset = DealAttachment.objects.select_related("uploaded_by")
    serializer_class = DealAttachmentSerializer
    filter_backends: list = []
    lookup_value_regex = r"\d+"

    def perform_destroy(self, instance):
        delete_attachment(instance, self.request.user)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The file, as an attachment under its original name."""
        attachment = self.get_object()
        if not attachment.file:
            raise exceptions.NotFound()
        return download_response(request, attachment)


router = DefaultRouter()
router.include_root_view = False
router.register("deals", DealViewSet, basename="deal")
router.register("attachments", DealAttachmentViewSet, basename="dealattachment")
