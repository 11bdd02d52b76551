"""Catalog REST API (``/api/v1/catalog/``): projects, investors and saved queries.

* ``projects/`` and ``investors/``: the canonical records (CRUD, scoped by the data scope), with
  the list page's filters (``industry``, ``province``, ``city``, ``round``, ``amount_min`` /
  ``amount_max`` in CNY, dates, ``source``, ``tag``, ...) and keyword search ``q`` (AND / OR /
  NOT, "phrases", parentheses; a query that does not parse answers 400). ``export/`` answers the
  filtered list as xlsx or csv (audited). Amounts are whole yuan. Fields written through the API
  are marked as set by hand in the record's ``provenance``, so later crawls keep them. Round
  history (``rounds``) and yearly financials (``financials``) are read-only here.
* ``saved-queries/``: named list queries. A user sees their own and the shared ones of the
  lists they may open; only the owner changes or deletes one.

Quarantine, rules, merge and split are in ``quality_api``; statistics in ``dashboard_api``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import permissions, serializers, viewsets
from rest_framework.routers import DefaultRouter

from ibcloud.accounts.models import Department, User
from ibcloud.accounts.services import departments_in_reach, users_in_reach
from ibcloud.catalog.filters import (
    MAX_AMOUNT,
    InvestorFilterSet,
    ProjectFilterSet,
    SavedQueryFilterSet,
    capital_type_choices,
    city_choices,
    industry_choices,
    investor_type_choices,
    province_choices,
    round_choices,
    visible_saved_queries,
)
from ibcloud.catalog.forms import (
    MAX_ALIASES,
    MAX_TAGS,
    clean_credit_code,
    clean_query_string,
    prepare_derived_columns,
    record_manual_edit,
)
from ibcloud.catalog.models import (
    FundingRound,
    Investor,
    Project,
    ProjectFinancial,
    SavedQuery,
    Tag,
)
from ibcloud.catalog.search import SearchPagination
from ibcloud.catalog.tables import InvestorTable, ProjectTable
from ibcloud.catalog.templatetags import catalog_format as fmt
from ibcloud.core.api import ScopedModelViewSet


def _codes(choices) -> set[str]:
    return {str(code) for code, _label in choices}


def _city_codes() -> dict[str, str]:
    return {code: name for _group, entries in city_choices() for code, name in entries}


def _amount_field(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_AMOUNT, help_text=help_text
    )


class FundingRoundSerializer(serializers.ModelSerializer):
    investor_ids = serializers.PrimaryKeyRelatedField(source="investors", many=True, read_only=True)

    class Meta:
        model = FundingRound
        fields = [
            "id",
            "round",
            "announced_on",
            "amount_low",
            "amount_high",
            "amount_currency",
            "amount_text",
            "investor_names",
            "investor_ids",
        ]
        read_only_fields = fields


class FinancialSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProjectFinancial
        fields = ["year", "revenue", "net_profit", "total_assets", "net_assets"]
        read_only_fields = fields


class TagNamesField(serializers.ListField):
    """Tags read and written as a list of names."""

    def get_attribute(self, instance):
        return [tag.name for tag in instance.tags.all()]


class EntitySerializer(serializers.ModelSerializer):
    """What both share: place codes (names filled in), tags by name, owner and department, and
    the unified social credit code checked like in the form."""

    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.none(),
        allow_null=True,
        required=False,
        help_text="User id; default: the caller.",
    )
    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.none(),
        allow_null=True,
        required=False,
        help_text="Department id deciding who else sees it; default: the caller's department.",
    )
    tags = TagNamesField(
        child=serializers.CharField(max_length=50),
        max_length=MAX_TAGS,
        required=False,
        help_text='Tag names, e.g. ["专精特新"].',
    )
    province_code = serializers.CharField(
        max_length=6, required=False, allow_blank=True, help_text="6-digit code, e.g. 440000."
    )
    city_code = serializers.CharField(
        max_length=6, required=False, allow_blank=True, help_text="6-digit code, e.g. 440300."
    )
    credit_code = serializers.CharField(max_length=18, required=False, allow_blank=True)
    region = serializers.SerializerMethodField(help_text='e.g. "广东·深圳".')

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        actor = getattr(request, "user", None)
        if actor is not None and actor.is_authenticated:
            instance = self.instance if isinstance(self.instance, self.Meta.model) else None
            self.fields["owner"].queryset = users_in_reach(
                actor, include=[instance.owner_id] if instance else []
            )
            self.fields["department"].queryset = departments_in_reach(
                actor, include=[instance.department_id] if instance else []
            )

    def get_region(self, obj) -> str:
        return fmt.format_region(obj.province, obj.city)

    def validate_credit_code(self, value: str) -> str:
        instance = self.instance if isinstance(self.instance, self.Meta.model) else None
        try:
            return clean_credit_code(self.Meta.model, value, instance)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def validate_province_code(self, value: str) -> str:
        if value and value not in _codes(province_choices()):
            raise serializers.ValidationError(_("Unknown province code."))
        return value

    def validate_city_code(self, value: str) -> str:
        if value and value not in _city_codes():
            raise serializers.ValidationError(_("Unknown city code."))
        return value

    def validate_tags(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(name.strip() for name in value if name.strip()))

    def current(self, attrs: dict, name: str):
        """The value ``name`` will have: from ``attrs`` or else the stored one."""
        if name in attrs:
            return attrs[name]
        return getattr(self.instance, name, None) if self.instance is not None else None

    def check_range(self, attrs: dict, low_name: str, high_name: str) -> None:
        low, high = self.current(attrs, low_name), self.current(attrs, high_name)
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError(
                {high_name: [_("The upper bound is below the lower bound.")]}
            )

    def validate(self, attrs):
        province = self.current(attrs, "province_code") or ""
        city = self.current(attrs, "city_code") or ""
        if "province_code" in attrs or "city_code" in attrs:
            if city and not province:
                province = attrs["province_code"] = city[:2] + "0000"
            if city and city[:2] != province[:2]:
                raise serializers.ValidationError(
                    {"city_code": [_("This city is not in the province chosen.")]}
                )
            attrs["province"] = dict(province_choices()).get(province, "") if province else ""
            attrs["city"] = _city_codes().get(city, "") if city else ""
        return attrs

    def create(self, validated_data):
        tags = validated_data.pop("tags", None)
        instance = super().create(validated_data)
        if tags is not None:
            _set_tags(instance, tags)
        return instance

    def update(self, instance, validated_data):
        tags = validated_data.pop("tags", None)
        instance = super().update(instance, validated_data)
        if tags is not None:
            _set_tags(instance, tags)
        return instance


def _set_tags(entity, names: list[str]) -> None:
    entity.tags.set([Tag.objects.get_or_create(name=name)[0] for name in names])


ENTITY_READ_ONLY = ["provenance", "first_seen_at", "last_seen_at", "created_at", "updated_at"]


class ProjectSerializer(EntitySerializer):
    industry = serializers.CharField(
        max_length=2,
        required=False,
        allow_blank=True,
        help_text='GB/T 4754 division (two digits, e.g. "65") or section letter (e.g. "I").',
    )
    round = serializers.CharField(
        max_length=20, required=False, allow_blank=True, help_text='financing_round code, e.g. "a".'
    )
    amount_low = _amount_field("Amount sought from, CNY.")
    amount_high = _amount_field("Amount sought up to, CNY; empty: open-ended.")
    valuation = _amount_field("Valuation, CNY.")
    share_offered = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        required=False,
        allow_null=True,
    )
    amount_display = serializers.SerializerMethodField(help_text='e.g. "1,000万–1亿".')
    industry_label = serializers.SerializerMethodField()
    round_label = serializers.SerializerMethodField()
    rounds = FundingRoundSerializer(many=True, read_only=True)
    financials = FinancialSerializer(many=True, read_only=True)

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "full_name",
            "credit_code",
            "province_code",
            "province",
            "city_code",
            "city",
            "region",
            "industry_section",
            "industry",
            "industry_label",
            "round",
            "round_label",
            "amount_low",
            "amount_high",
            "amount_currency",
            "amount_text",
            "amount_display",
            "valuation",
            "share_offered",
            "use_of_funds",
            "summary",
            "website",
            "founded_on",
            "published_at",
            "tags",
            "rounds",
            "financials",
            "owner",
            "department",
            *ENTITY_READ_ONLY,
        ]
        read_only_fields = ["province", "city", "industry_section", *ENTITY_READ_ONLY]
        extra_kwargs = {"amount_currency": {"help_text": "ISO 4217 code as published."}}

    def get_amount_display(self, obj) -> str:
        return fmt.format_range(obj.amount_low, obj.amount_high, obj.amount_text)

    def get_industry_label(self, obj) -> str:
        return fmt.industry_label(obj.industry or obj.industry_section)

    def get_round_label(self, obj) -> str:
        return fmt.round_label(obj.round)

    def validate_industry(self, value: str) -> str:
        if value and value not in _codes(industry_choices()):
            raise serializers.ValidationError(_("Unknown industry code."))
        return value

    def validate_round(self, value: str) -> str:
        if value and value not in _codes(round_choices()):
            raise serializers.ValidationError(_("Unknown round."))
        return value

    def validate(self, attrs):
        attrs = super().validate(attrs)
        self.check_range(attrs, "amount_low", "amount_high")
        if "industry" in attrs:
            code = attrs["industry"]
            attrs["industry_section"] = fmt.industry_section_of(code)
            attrs["industry"] = code if code.isdigit() else ""
        return attrs


def _code_list(what: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=20),
        max_length=200,
        required=False,
        help_text=what,
    )


class InvestorSerializer(EntitySerializer):
    aliases = serializers.ListField(
        child=serializers.CharField(max_length=200), max_length=MAX_ALIASES, required=False
    )
    investor_type = serializers.CharField(
        max_length=20, required=False, allow_blank=True, help_text="investor_type code (vc, pe...)."
    )
    capital_type = serializers.CharField(
        max_length=10, required=False, allow_blank=True, help_text="capital_type code (rmb...)."
    )
    fund_size_low = _amount_field("Fund size from, CNY.")
    fund_size_high = _amount_field("Fund size up to, CNY.")
    ticket_min = _amount_field("Ticket from, CNY.")
    ticket_max = _amount_field("Ticket up to, CNY.")
    preferred_industries = _code_list('Industry codes: divisions ("65") or sections ("I").')
    preferred_rounds = _code_list("financing_round codes.")
    preferred_regions = _code_list("Province codes (6 digits).")
    coverage_banker = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.none(), allow_null=True, required=False, help_text="User id."
    )
    coverage_banker_name = serializers.CharField(
        source="coverage_banker", read_only=True, default=None
    )
    ticket_display = serializers.SerializerMethodField()

    class Meta:
        model = Investor
        fields = [
            "id",
            "name",
            "full_name",
            "aliases",
            "credit_code",
            "investor_type",
            "capital_type",
            "fund_size_low",
            "fund_size_high",
            "fund_size_text",
            "province_code",
            "province",
            "city_code",
            "city",
            "region",
            "description",
            "website",
            "founded_on",
            "preferred_industries",
            "preferred_rounds",
            "preferred_regions",
            "nationwide",
            "ticket_min",
            "ticket_max",
            "ticket_text",
            "ticket_display",
            "revealed_preferences",
            "last_active_on",
            "coverage_banker",
            "coverage_banker_name",
            "published_at",
            "tags",
            "owner",
            "department",
            *ENTITY_READ_ONLY,
        ]
        read_only_fields = [
            "province",
            "city",
            "revealed_preferences",
            "last_active_on",
            *ENTITY_READ_ONLY,
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        actor = getattr(request, "user", None)
        if actor is not None and actor.is_authenticated:
            instance = self.instance if isinstance(self.instance, Investor) else None
            current = instance.coverage_banker_id if instance else None
            bankers = users_in_reach(actor, include=[current] if current else [])
            self.fields["coverage_banker"].queryset = bankers.filter(
                is_active=True
            ) | bankers.filter(pk=current or 0)

    @extend_schema_field(serializers.CharField())
    def get_ticket_display(self, obj) -> str:
        return fmt.format_range(obj.ticket_min, obj.ticket_max, obj.ticket_text)

    def _check_codes(self, value: list[str], choices, message: str) -> list[str]:
        known = _codes(choices)
        unknown = [code for code in value if code not in known]
        if unknown:
            raise serializers.ValidationError(message % {"codes": ", ".join(unknown[:10])})
        return list(dict.fromkeys(value))

    def validate_preferred_industries(self, value):
        return self._check_codes(value, industry_choices(), _("Unknown industry codes: %(codes)s"))

    def validate_preferred_rounds(self, value):
        return self._check_codes(value, round_choices(), _("Unknown rounds: %(codes)s"))

    def validate_preferred_regions(self, value):
        return self._check_codes(value, province_choices(), _("Unknown province codes: %(codes)s"))

    def validate_investor_type(self, value: str) -> str:
        if value and value not in _codes(investor_type_choices()):
            raise serializers.ValidationError(_("Unknown investor type."))
        return value

    def validate_capital_type(self, value: str) -> str:
        if value and value not in _codes(capital_type_choices()):
            raise serializers.ValidationError(_("Unknown capital type."))
        return value

    def validate_aliases(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(name.strip() for name in value if name.strip()))

    def validate(self, attrs):
        attrs = super().validate(attrs)
        self.check_range(attrs, "fund_size_low", "fund_size_high")
        self.check_range(attrs, "ticket_min", "ticket_max")
        return attrs


#: serializer field → model fields it sets (for the manual-provenance list)
FIELD_MAP = {
    "province_code": ("province_code", "province"),
    "city_code": ("city_code", "city"),
    "industry": ("industry", "industry_section"),
}


class EntityViewSet(ScopedModelViewSet):
    """Saves mark the fields sent as set by hand and refresh the derived columns."""

    lookup_value_regex = r"\d+"
    # a keyword search's count may be an estimate (``count_is_exact``): docs/catalog-search.md
    pagination_class = SearchPagination

    def _save(self, serializer, **extra):
        created = serializer.instance is None
        sent = [name for name in serializer.validated_data if name not in ("owner", "department")]
        instance = serializer.save(**extra)
        if created:
            from django.utils import timezone

            type(instance).objects.filter(pk=instance.pk).update(first_seen_at=timezone.now())
            instance.first_seen_at = timezone.now()
        changed: list[str] = []
        for name in sent:
            if name in ("province", "city", "industry_section"):
                continue
            changed.extend(FIELD_MAP.get(name, (name,)))
        prepare_derived_columns(instance, self.request.user)
        record_manual_edit(instance, list(dict.fromkeys(changed)), self.request.user)
        self.check_saved_object_visible(instance)
        return instance

    def perform_create(self, serializer):
        from ibcloud.core.scoping import ownership_defaults

        with transaction.atomic():
            defaults = ownership_defaults(
                serializer.Meta.model, self.request.user, set(serializer.validated_data)
            )
            self._save(serializer, **defaults)

    def perform_update(self, serializer):
        with transaction.atomic():
            self._save(serializer)


class ProjectViewSet(EntityViewSet):
    """Projects seeking capital (项目方), newest published first."""

    queryset = Project.objects.prefetch_related("tags", "rounds__investors", "financials").defer(
        "search_text"
    )
    serializer_class = ProjectSerializer
    filterset_class = ProjectFilterSet
    table_class = ProjectTable
    ordering_fields = [
        "name",
        "published_at",
        "first_seen_at",
        "amount_low",
        "amount_high",
        "valuation",
        "updated_at",
    ]


class InvestorViewSet(EntityViewSet):
    """Investors (投资方) with stated and revealed preferences, by name."""

    queryset = (
        Investor.objects.select_related("coverage_banker")
        .prefetch_related("tags")
        .defer("search_text")
    )
    serializer_class = InvestorSerializer
    filterset_class = InvestorFilterSet
    table_class = InvestorTable
    ordering_fields = ["name", "ticket_min", "ticket_max", "last_active_on", "updated_at"]


# --- Saved queries --------------------------------------------------------------------------------


class SavedQuerySerializer(serializers.ModelSerializer):
    owner_name = serializers.CharField(source="owner", read_only=True, default=None)
    query_string = serializers.CharField(
        max_length=4000,
        required=False,
        allow_blank=True,
        help_text='The list\'s query string, e.g. "round=a&industry=I&q=人工智能".',
    )

    class Meta:
        model = SavedQuery
        fields = [
            "id",
            "name",
            "kind",
            "query_string",
            "shared",
            "owner",
            "owner_name",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["owner", "created_at", "updated_at"]

    def validate_query_string(self, value: str) -> str:
        try:
            return clean_query_string(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def validate_kind(self, value: str) -> str:
        request = self.context.get("request")
        if request is not None and not request.user.has_perm(f"catalog.view_{value}"):
            raise serializers.ValidationError(_("You may not open this list."))
        return value


class SavedQueryViewSet(viewsets.ModelViewSet):
    """Saved list queries: your own and the shared ones; only the owner changes or deletes."""

    serializer_class = SavedQuerySerializer
    filterset_class = SavedQueryFilterSet
    permission_classes = [permissions.IsAuthenticated]
    ordering_fields = ["name", "updated_at"]
    lookup_value_regex = r"\d+"
    queryset = SavedQuery.objects.none()

    def get_queryset(self):
        action = getattr(self, "action", None)
        write = action in ("update", "partial_update", "destroy")
        return visible_saved_queries(self.request.user, action="change" if write else "view")

    def perform_create(self, serializer):
        user = self.request.user
        serializer.save(owner=user, department=user.department)


router = DefaultRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("investors", InvestorViewSet, basename="investor")
router.register("saved-queries", SavedQueryViewSet, basename="savedquery")
