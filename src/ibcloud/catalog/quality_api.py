"""Data-quality API of the catalog (``/api/v1/catalog/``).

* ``ingestions/``: what became of each raw item (read-only, scoped by the raw item's source);
  filter ``outcome=quarantined`` for the quarantine. ``{id}/reprocess/`` re-processes one
  quarantined record, ``reprocess/`` (``{"ids": [...]}``) several, through the current rules
  (``catalog.reprocess_ingestion``; audited).
* ``normalize/``: POST ``{"item_type": "project"|"investor", "data": {...}}`` answers each field's
  raw and normalized value with the rule that produced it, the keys no rule knows and whether
  cleaning would quarantine the record. Nothing is stored (``catalog.view_project``).
* ``exchange-rates/``, ``industry-keywords/``, ``round-aliases/``: the editable normalization
  rules (CRUD, model permissions, global scope, audited by the model audit).
* ``project-merges/`` (``{"target", "others"}``), ``project-splits/`` (``{"project",
  "ingestions"}``) and the same for investors: manual merge and split
  (``catalog.merge_project`` / ``catalog.merge_investor``; every record involved must be within
  the caller's reach for a change, else 400 naming the field).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from ibcloud.catalog import services
from ibcloud.catalog.models import (
    ExchangeRate,
    IndustryKeyword,
    Ingestion,
    Investor,
    Project,
    RoundAlias,
)
from ibcloud.catalog.quality_filters import (
    ExchangeRateFilterSet,
    IndustryKeywordFilterSet,
    IngestionFilterSet,
    RoundAliasFilterSet,
)
from ibcloud.catalog.quality_forms import (
    ITEM_TYPES,
    MAX_MERGE,
    check_raw_record,
    industry_division_choices,
    round_choices,
    validate_currency,
    validate_rate,
)
from ibcloud.catalog.quality_tables import (
    ExchangeRateTable,
    IndustryKeywordTable,
    IngestionTable,
    RoundAliasTable,
)
from ibcloud.catalog.quality_views import REPROCESS_PERMISSION, preview_record, reprocess
from ibcloud.core.api import EmptySerializer, ScopedModelViewSet, ScopedReadOnlyViewSet
from ibcloud.core.scoping import explicit_order, restrict

#: ingestions re-processed by one ``reprocess/`` call at most
MAX_REPROCESS_IDS = 1000


def _drf_error(exc: DjangoValidationError) -> serializers.ValidationError:
    if hasattr(exc, "error_dict"):
        return serializers.ValidationError(exc.message_dict)
    return serializers.ValidationError({"non_field_errors": exc.messages})


class HasPermission(permissions.BasePermission):
    """The view's ``required_permission`` (a custom action permission)."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.has_perm(view.required_permission))


# --- Ingestions -----------------------------------------------------------------------------------


class IngestionSerializer(serializers.ModelSerializer):
    source = serializers.IntegerField(source="raw_item.source_id", read_only=True)
    source_name = serializers.CharField(source="raw_item.source.name", read_only=True)
    item_type = serializers.CharField(source="raw_item.item_type", read_only=True)
    url = serializers.CharField(source="raw_item.url", read_only=True)
    fetched_at = serializers.DateTimeField(source="raw_item.fetched_at", read_only=True)
    data = serializers.JSONField(
        source="raw_item.data", read_only=True, help_text="The raw record as crawled."
    )

    class Meta:
        model = Ingestion
        fields = [
            "id",
            "raw_item",
            "source",
            "source_name",
            "item_type",
            "url",
            "fetched_at",
            "outcome",
            "reason_code",
            "reason",
            "project",
            "investor",
            "normalized",
            "data",
            "processed_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "normalized": {
                "help_text": 'Schema field → {"value": normalized value, "raw": value as '
                'found, "rule": the rule applied}.'
            }
        }


class ReprocessSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**62),
        min_length=1,
        max_length=MAX_REPROCESS_IDS,
        help_text="Ingestions to re-process (quarantined ones; others are skipped).",
    )


class ReprocessResultSerializer(serializers.Serializer):
    reprocessed = serializers.IntegerField(help_text="Quarantined records re-processed.")
    created = serializers.IntegerField(required=False)
    merged = serializers.IntegerField(required=False)
    duplicate = serializers.IntegerField(required=False)
    quarantined = serializers.IntegerField(required=False, help_text="Still quarantined.")


class IngestionViewSet(ScopedReadOnlyViewSet):
    """What became of each raw item, newest first: created, merged, duplicate or quarantined
    with the reason, and the normalized values with their rules."""

    queryset = Ingestion.objects.select_related("raw_item__source")
    serializer_class = IngestionSerializer
    filterset_class = IngestionFilterSet
    table_class = IngestionTable
    ordering_fields = ["processed_at", "outcome", "reason_code"]
    lookup_value_regex = r"\d+"
    required_permission = REPROCESS_PERMISSION

    def get_queryset(self):
        if getattr(self, "action", None) in ("reprocess", "reprocess_many"):
            return explicit_order(restrict(self.queryset.all(), self.request.user, "reprocess"))
        return super().get_queryset()

    @extend_schema(request=EmptySerializer, responses=ReprocessResultSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[permissions.IsAuthenticated, HasPermission],
        filter_backends=[],
    )
    def reprocess(self, request, pk=None):
        """Re-process one quarantined record through the current rules (409 if it is not
        quarantined). Audited."""
        from ibcloud.core.rest import Conflict

        ingestion = self.get_object()
        if ingestion.outcome != Ingestion.Outcome.QUARANTINED:
            raise Conflict(_("Only quarantined records are re-processed."))
        counts = reprocess(request, self.get_queryset().filter(pk=ingestion.pk))
        return Response(counts)

    @extend_schema(
        operation_id="catalog_ingestions_reprocess_many",
        request=ReprocessSerializer,
        responses=ReprocessResultSerializer,
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="reprocess",
        url_name="reprocess-many",
        permission_classes=[permissions.IsAuthenticated, HasPermission],
        filter_backends=[],
    )
    def reprocess_many(self, request):
        """Re-process the quarantined records among ``ids`` (others, and ids out of reach, are
        skipped) through the current rules. Audited."""
        body = ReprocessSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        counts = reprocess(request, self.get_queryset().filter(pk__in=body.validated_data["ids"]))
        return Response(counts)


# --- Normalization preview ------------------------------------------------------------------------


class NormalizeRequestSerializer(serializers.Serializer):
    item_type = serializers.ChoiceField(choices=ITEM_TYPES)
    data = serializers.JSONField(
        help_text="The raw record: field names and values as crawled (text, numbers, lists)."
    )

    def validate_data(self, value):
        try:
            return check_raw_record(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


class NormalizedFieldSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Schema field name.")
    raw = serializers.JSONField(help_text="The value as found.")
    value = serializers.JSONField(help_text="The normalized value (null when not recognized).")
    rule = serializers.CharField(help_text="The rule applied.")
    problem = serializers.CharField(help_text="Why the value was not recognized, if it was not.")


class VerdictSerializer(serializers.Serializer):
    quarantined = serializers.BooleanField()
    reason_code = serializers.CharField()
    reason = serializers.CharField()


class NormalizeResultSerializer(serializers.Serializer):
    item_type = serializers.CharField()
    fields = NormalizedFieldSerializer(many=True)
    ignored = serializers.ListField(child=serializers.CharField(), help_text="Unknown keys.")
    verdict = VerdictSerializer(help_text="Whether cleaning would quarantine the record.")


class NormalizeViewSet(viewsets.ViewSet):
    """The normalization preview: nothing is stored."""

    permission_classes = [permissions.IsAuthenticated, HasPermission]
    required_permission = "catalog.view_project"

    @extend_schema(
        request=NormalizeRequestSerializer,
        responses=NormalizeResultSerializer,
        examples=[
            OpenApiExample(
                "A project listing",
                value={
                    "item_type": "project",
                    "data": {"name": "云图智能", "amount": "数千万元", "round": "A轮"},
                },
                request_only=True,
            )
        ],
    )
    def create(self, request):
        """Normalize a raw record with the current rules and answer, per field, the raw value,
        the normalized value and the rule that produced it."""
        body = NormalizeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(
            preview_record(body.validated_data["item_type"], body.validated_data["data"])
        )


# --- Rules ----------------------------------------------------------------------------------------


class UniqueTextMixin:
    """Unique text fields are compared after tidying (upper-case codes, single spaces), so the
    check must run on the tidied value: a clash would otherwise reach the database."""

    unique_field = ""

    def check_unique(self, value: str) -> str:
        model = self.Meta.model
        clash = model.objects.filter(**{self.unique_field: value})
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(_("This value is already in use."))
        return value


class ExchangeRateSerializer(UniqueTextMixin, serializers.ModelSerializer):
    unique_field = "currency"
    rate_to_cny = serializers.DecimalField(
        max_digits=14,
        decimal_places=6,
        min_value=0,
        help_text="CNY per one unit of the currency (> 0).",
    )

    class Meta:
        model = ExchangeRate
        fields = ["id", "currency", "rate_to_cny", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"currency": {"validators": [], "help_text": "ISO 4217 code, e.g. USD."}}

    def validate_currency(self, value: str) -> str:
        try:
            code = validate_currency(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return self.check_unique(code)

    def validate_rate_to_cny(self, value):
        try:
            return validate_rate(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


class IndustryKeywordSerializer(UniqueTextMixin, serializers.ModelSerializer):
    unique_field = "keyword"
    industry = serializers.CharField(
        max_length=2, help_text="GB/T 4754 division code (two digits), e.g. 65."
    )
    industry_label = serializers.SerializerMethodField()
    priority = serializers.IntegerField(min_value=-32768, max_value=32767, default=0)

    class Meta:
        model = IndustryKeyword
        fields = [
            "id",
            "keyword",
            "industry",
            "industry_label",
            "priority",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"keyword": {"validators": []}}

    def get_industry_label(self, obj) -> str:
        return dict(industry_division_choices()).get(obj.industry, obj.industry)

    def validate_keyword(self, value: str) -> str:
        keyword = " ".join(value.split())
        if not keyword:
            raise serializers.ValidationError(_("Enter a keyword."))
        return self.check_unique(keyword)

    def validate_industry(self, value: str) -> str:
        if value not in dict(industry_division_choices()):
            raise serializers.ValidationError(
                _("Choose a GB/T 4754 division code, e.g. 65 (software and IT services).")
            )
        return value


class RoundAliasSerializer(UniqueTextMixin, serializers.ModelSerializer):
    unique_field = "alias"
    round = serializers.CharField(max_length=20, help_text="A financing_round code, e.g. a_plus.")

    class Meta:
        model = RoundAlias
        fields = ["id", "alias", "round", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"alias": {"validators": []}}

    def validate_alias(self, value: str) -> str:
        alias = " ".join(value.split())
        if not alias:
            raise serializers.ValidationError(_("Enter an alias."))
        return self.check_unique(alias)

    def validate_round(self, value: str) -> str:
        if value not in dict(round_choices()):
            raise serializers.ValidationError(_("Choose a financing round code."))
        return value


class ExchangeRateViewSet(ScopedModelViewSet):
    """Exchange rates used to convert amounts to CNY."""

    queryset = ExchangeRate.objects.all()
    serializer_class = ExchangeRateSerializer
    filterset_class = ExchangeRateFilterSet
    table_class = ExchangeRateTable
    ordering_fields = ["currency", "updated_at"]
    lookup_value_regex = r"\d+"


class IndustryKeywordViewSet(ScopedModelViewSet):
    """Words that put a record in an industry division (longest match wins, then priority)."""

    queryset = IndustryKeyword.objects.all()
    serializer_class = IndustryKeywordSerializer
    filterset_class = IndustryKeywordFilterSet
    table_class = IndustryKeywordTable
    ordering_fields = ["keyword", "industry", "priority", "updated_at"]
    lookup_value_regex = r"\d+"


class RoundAliasViewSet(ScopedModelViewSet):
    """Extra spellings of financing rounds, checked before the built-in rules."""

    queryset = RoundAlias.objects.all()
    serializer_class = RoundAliasSerializer
    filterset_class = RoundAliasFilterSet
    table_class = RoundAliasTable
    ordering_fields = ["alias", "round", "updated_at"]
    lookup_value_regex = r"\d+"


# --- Merge and split ------------------------------------------------------------------------------


class ScopedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A record id within the caller's reach for a change (others are "not found")."""

    def __init__(self, model, **kwargs):
        self.model = model
        kwargs.setdefault("queryset", model.objects.none())
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return restrict(self.model.objects.all(), user, "change")

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if isinstance(data, str) and not (data.isascii() and data.isdigit() and len(data) < 19):
            self.fail("does_not_exist", pk_value=data)
        if isinstance(data, int) and not 0 < data < 2**62:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class EntityResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    ingestions = serializers.ListField(child=serializers.IntegerField())


def _entity_result(entity) -> dict:
    return {
        "id": entity.pk,
        "name": entity.name,
        "ingestions": sorted(entity.ingestions.values_list("pk", flat=True)),
    }


def merge_serializer(model):
    class MergeSerializer(serializers.Serializer):
        target = ScopedPrimaryKeyField(model, help_text="The record the others merge into.")
        others = serializers.ListField(
            child=ScopedPrimaryKeyField(model),
            min_length=1,
            max_length=MAX_MERGE,
            help_text="The records merged into the target (removed afterwards).",
        )

        def validate(self, attrs):
            others = list(dict.fromkeys(attrs["others"]))
            if attrs["target"] in others:
                raise serializers.ValidationError(
                    {"others": [_("A record cannot be merged into itself.")]}
                )
            attrs["others"] = others
            return attrs

    MergeSerializer.__name__ = f"{model.__name__}MergeSerializer"
    return MergeSerializer


class SplitSerializer(serializers.Serializer):
    """``{link_field: id, "ingestions": [ids]}``; the ingestions must belong to the record and
    at least one must stay."""

    link_field = ""

    ingestions = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**62),
        min_length=1,
        max_length=1000,
        help_text="Ingestions (source records) of the record to split off into a new one.",
    )

    def validate(self, attrs):
        entity = attrs[self.link_field]
        linked = Ingestion.objects.filter(**{self.link_field: entity})
        chosen = list(linked.filter(pk__in=attrs["ingestions"]))
        if len(chosen) != len(set(attrs["ingestions"])):
            raise serializers.ValidationError(
                {"ingestions": [_("Choose source records of this record.")]}
            )
        if len(chosen) >= linked.count():
            raise serializers.ValidationError(
                {
                    "ingestions": [
                        _(
                            "Leave at least one source record on this record; to move all, "
                            "merge instead."
                        )
                    ]
                }
            )
        attrs["ingestions"] = chosen
        return attrs


class ProjectSplitSerializer(SplitSerializer):
    link_field = "project"
    project = ScopedPrimaryKeyField(Project, help_text="The project to split.")


class InvestorSplitSerializer(SplitSerializer):
    link_field = "investor"
    investor = ScopedPrimaryKeyField(Investor, help_text="The investor to split.")


ProjectMergeSerializer = merge_serializer(Project)
InvestorMergeSerializer = merge_serializer(Investor)


class MergeSplitViewSet(viewsets.ViewSet):
    """POST-only: one manual merge or split per call; the services audit it."""

    permission_classes = [permissions.IsAuthenticated, HasPermission]
    required_permission = ""
    body_class = serializers.Serializer

    def run(self, data, user):  # pragma: no cover - overridden
        raise NotImplementedError

    def create(self, request):
        body = self.body_class(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        try:
            entity = self.run(body.validated_data, request.user)
        except DjangoValidationError as exc:
            raise _drf_error(exc) from exc
        return Response(_entity_result(entity), status=status.HTTP_201_CREATED)


class ProjectMergeViewSet(MergeSplitViewSet):
    required_permission = "catalog.merge_project"
    body_class = ProjectMergeSerializer

    @extend_schema(request=ProjectMergeSerializer, responses={201: EntityResultSerializer})
    def create(self, request):
        """Merge ``others`` into ``target``; answers the merged project."""
        return super().create(request)

    def run(self, data, user):
        return services.merge_projects(data["target"], data["others"], user, request=self.request)


class ProjectSplitViewSet(MergeSplitViewSet):
    required_permission = "catalog.merge_project"
    body_class = ProjectSplitSerializer

    @extend_schema(request=ProjectSplitSerializer, responses={201: EntityResultSerializer})
    def create(self, request):
        """Split ``ingestions`` off ``project`` into a new project; answers the new one."""
        return super().create(request)

    def run(self, data, user):
        return services.split_project(
            data["project"], data["ingestions"], user, request=self.request
        )


class InvestorMergeViewSet(MergeSplitViewSet):
    required_permission = "catalog.merge_investor"
    body_class = InvestorMergeSerializer

    @extend_schema(request=InvestorMergeSerializer, responses={201: EntityResultSerializer})
    def create(self, request):
        """Merge ``others`` into ``target``; answers the merged investor."""
        return super().create(request)

    def run(self, data, user):
        return services.merge_investors(data["target"], data["others"], user, request=self.request)


class InvestorSplitViewSet(MergeSplitViewSet):
    required_permission = "catalog.merge_investor"
    body_class = InvestorSplitSerializer

    @extend_schema(request=InvestorSplitSerializer, responses={201: EntityResultSerializer})
    def create(self, request):
        """Split ``ingestions`` off ``investor`` into a new investor; answers the new one."""
        return super().create(request)

    def run(self, data, user):
        return services.split_investor(
            data["investor"], data["ingestions"], user, request=self.request
        )


router = DefaultRouter()
router.include_root_view = False
router.register("ingestions", IngestionViewSet, basename="ingestion")
router.register("normalize", NormalizeViewSet, basename="normalize")
router.register("exchange-rates", ExchangeRateViewSet, basename="exchangerate")
router.register("industry-keywords", IndustryKeywordViewSet, basename="industrykeyword")
router.register("round-aliases", RoundAliasViewSet, basename="roundalias")
router.register("project-merges", ProjectMergeViewSet, basename="project-merge")
router.register("project-splits", ProjectSplitViewSet, basename="project-split")
router.register("investor-merges", InvestorMergeViewSet, basename="investor-merge")
router.register("investor-splits", InvestorSplitViewSet, basename="investor-split")
