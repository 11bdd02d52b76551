"""Deals API (milestone part), mounted under ``/api/v1/deals/``.

* ``milestones/``: CRUD over the milestones in the caller's scope, filtered with the milestone
  list's parameters (``deal``, ``owner``, ``status``, ``overdue``, ``department``, ``deal_type``,
  ``due_after``, ``due_before``, ``q``); each carries ``is_overdue``. Creating a milestone on a
  deal, or moving one to another deal, needs that deal within the caller's "change" reach
  (else 400 with ``details.deal``). ``milestones/export/?file_format=xlsx|csv`` (audited).
* ``milestones/apply-template/``: ``POST {deal, template, start}`` adds the template's
  milestones the deal lacks (201 with those added).
* ``milestone-templates/``: CRUD of the templates with their ``items`` nested (a PUT/PATCH that
  gives ``items`` replaces them all).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from ibcloud.accounts.services import users_in_reach
from ibcloud.core.api import ScopedModelViewSet
from ibcloud.core.scoping import restrict
from ibcloud.deals import milestones
from ibcloud.deals.milestone_filters import (
    MAX_ID,
    MilestoneFilterSet,
    MilestoneTemplateFilterSet,
    deal_type_choices,
)
from ibcloud.deals.milestone_forms import MAX_TEMPLATE_DAYS
from ibcloud.deals.milestone_tables import MilestoneTable, MilestoneTemplateTable
from ibcloud.deals.models import Deal, Milestone, MilestoneTemplate, MilestoneTemplateItem

MAX_ITEMS = 60


def changeable_deal(user: Any, deal_id: int) -> Deal:
    """The deal ``deal_id`` if ``user`` may change it, else a field error (400)."""
    deal = restrict(Deal.objects.all(), user, "change").filter(pk=deal_id).first()
    if deal is None:
        raise serializers.ValidationError(
            {"deal": [_("Choose a deal you may change.")]}, code="invalid"
        )
    return deal


def as_api_error(exc: DjangoValidationError) -> serializers.ValidationError:
    if hasattr(exc, "error_dict"):
        return serializers.ValidationError(exc.message_dict)
    return serializers.ValidationError({"non_field_errors": exc.messages})


# --- Milestones -----------------------------------------------------------------------------------


class MilestoneSerializer(serializers.ModelSerializer):
    deal = serializers.IntegerField(source="deal_id", min_value=1, max_value=MAX_ID)
    deal_code = serializers.CharField(source="deal.code", read_only=True)
    deal_name = serializers.CharField(source="deal.name", read_only=True)
    owner = serializers.IntegerField(
        source="owner_id", min_value=1, max_value=MAX_ID, required=False, allow_null=True
    )
    name = serializers.CharField(max_length=200)
    sort_order = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    is_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = Milestone
        fields = [
            "id",
            "deal",
            "deal_code",
            "deal_name",
            "name",
            "sort_order",
            "start_date",
            "due_date",
            "owner",
            "status",
            "completed_on",
            "note",
            "is_overdue",
            "reminded_for",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["reminded_for", "created_at", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        user = self.context["request"].user
        instance: Milestone | None = self.instance
        if "deal_id" in attrs:
            deal_id = attrs.pop("deal_id")
            if instance is None or deal_id != instance.deal_id:
                attrs["deal"] = changeable_deal(user, deal_id)
        deal = attrs.get("deal") or (instance.deal if instance else None)
        if "owner_id" in attrs:
            owner_id = attrs.pop("owner_id")
            owner = None
            if owner_id is not None:
                include = [instance.owner_id if instance else None]
                if deal is not None:
                    include += [deal.lead_id, *deal.members.values_list("pk", flat=True)]
                owner = users_in_reach(user, include).filter(pk=owner_id, is_active=True).first()
                if owner is None:
                    raise serializers.ValidationError({"owner": [_("Choose a person you reach.")]})
            attrs["owner"] = owner
        candidate = Milestone(
            deal=deal,
            name=attrs.get("name", instance.name if instance else ""),
            start_date=attrs.get("start_date", instance.start_date if instance else None),
            due_date=attrs.get("due_date", instance.due_date if instance else None),
            status=attrs.get("status", instance.status if instance else Milestone.Status.PENDING),
            completed_on=attrs.get("completed_on", instance.completed_on if instance else None),
        )
        try:
            milestones.clean_milestone(candidate)
        except DjangoValidationError as exc:
            raise as_api_error(exc) from exc
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Milestone:
        deal = validated_data.pop("deal")
        return milestones.create_milestone(deal, self.context["request"].user, **validated_data)

    def update(self, instance: Milestone, validated_data: dict[str, Any]) -> Milestone:
        return milestones.update_milestone(instance, self.context["request"].user, **validated_data)


class ApplyTemplateSerializer(serializers.Serializer):
    deal = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    template = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    start = serializers.DateField(help_text="Due dates count from this day (local date).")

    def validate_start(self, value):
        today = timezone.localdate()
        if abs(value.year - today.year) > milestones.MAX_YEARS_AHEAD:
            raise serializers.ValidationError(
                _("Give a date within %(n)d years of today.") % {"n": milestones.MAX_YEARS_AHEAD}
            )
        return value

    def validate_template(self, value: int) -> MilestoneTemplate:
        template = MilestoneTemplate.objects.filter(pk=value, is_active=True).first()
        if template is None:
            raise serializers.ValidationError(_("Choose an active template."))
        return template

    def validate_deal(self, value: int) -> Deal:
        try:
            return changeable_deal(self.context["request"].user, value)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(exc.detail["deal"]) from exc


class MilestoneViewSet(ScopedModelViewSet):
    """Milestones in the caller's scope; the deal must be within their "change" reach to add a
    milestone to it or move one there."""

    queryset = Milestone.objects.select_related("deal", "deal__department", "owner").order_by(
        "due_date", "id"
    )
    serializer_class = MilestoneSerializer
    filterset_class = MilestoneFilterSet
    table_class = MilestoneTable
    ordering_fields = ["due_date", "start_date", "status", "sort_order", "name", "updated_at"]
    lookup_value_regex = r"\d+"

    def perform_create(self, serializer):
        # no owner default: a milestone without an owner reminds the deal's lead
        with transaction.atomic():
            instance = serializer.save()
            self.check_saved_object_visible(instance)

    def perform_destroy(self, instance: Milestone) -> None:
        milestones.delete_milestone(instance, self.request.user)

    @extend_schema(request=ApplyTemplateSerializer, responses={201: MilestoneSerializer(many=True)})
    @action(detail=False, methods=["post"], url_path="apply-template")
    def apply_template(self, request, *args, **kwargs):
        """Add a template's milestones to a deal (names the deal has already are skipped)."""
        payload = ApplyTemplateSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        added = milestones.apply_template(
            data["deal"], data["template"], data["start"], request.user
        )
        return Response(
            MilestoneSerializer(added, many=True, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


# --- Templates ------------------------------------------------------------------------------------


class MilestoneTemplateItemSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=200)
    sort_order = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    offset_days = serializers.IntegerField(min_value=0, max_value=MAX_TEMPLATE_DAYS)
    duration_days = serializers.IntegerField(
        min_value=0, max_value=MAX_TEMPLATE_DAYS, required=False
    )

    class Meta:
        model = MilestoneTemplateItem
        fields = ["id", "name", "sort_order", "offset_days", "duration_days"]
        read_only_fields = ["id"]


class MilestoneTemplateSerializer(serializers.ModelSerializer):
    items = MilestoneTemplateItemSerializer(many=True, required=False)
    deal_type = serializers.CharField(required=False, allow_blank=True, max_length=30)

    class Meta:
        model = MilestoneTemplate
        fields = ["id", "name", "deal_type", "description", "is_active", "items", "updated_at"]
        read_only_fields = ["updated_at"]

    def validate_deal_type(self, value: str) -> str:
        if value and value not in dict(deal_type_choices()):
            raise serializers.ValidationError(_("Choose a deal type from the list, or none."))
        return value

    def validate_items(self, value: list[dict]) -> list[dict]:
        if len(value) > MAX_ITEMS:
            raise serializers.ValidationError(_("At most %(n)d milestones.") % {"n": MAX_ITEMS})
        names = [item["name"] for item in value]
        if len(names) != len(set(names)):
            raise serializers.ValidationError(_("Each milestone name may appear once."))
        return value

    def _write_items(self, template: MilestoneTemplate, items: list[dict] | None) -> None:
        if items is None:
            return
        template.items.all().delete()
        for number, item in enumerate(items):
            item.setdefault("sort_order", 10 * (number + 1))
            MilestoneTemplateItem.objects.create(template=template, **item)

    def create(self, validated_data: dict[str, Any]) -> MilestoneTemplate:
        items = validated_data.pop("items", [])
        with transaction.atomic():
            template = MilestoneTemplate.objects.create(**validated_data)
            self._write_items(template, items)
        return template

    def update(self, instance: MilestoneTemplate, validated_data: dict[str, Any]):
        items = validated_data.pop("items", None)
        with transaction.atomic():
            for name, value in validated_data.items():
                setattr(instance, name, value)
            instance.save()
            self._write_items(instance, items)
        return instance


class MilestoneTemplateViewSet(ScopedModelViewSet):
    """Milestone templates with their items (reference data: the permission decides)."""

    queryset = MilestoneTemplate.objects.annotate(item_count=Count("items")).prefetch_related(
        "items"
    )
    serializer_class = MilestoneTemplateSerializer
    filterset_class = MilestoneTemplateFilterSet
    table_class = MilestoneTemplateTable
    ordering_fields = ["name", "deal_type", "updated_at"]
    lookup_value_regex = r"\d+"


router = DefaultRouter()
router.include_root_view = False
router.register("milestones", MilestoneViewSet, basename="milestone")
router.register("milestone-templates", MilestoneTemplateViewSet, basename="milestonetemplate")
