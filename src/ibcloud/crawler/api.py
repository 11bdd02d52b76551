"""Crawler REST API (``/api/v1/crawler/``): configure sources, try them, run them, read the results.

* ``sources/``: crawl sources (CRUD, scoped). The whole configuration is validated on save by
  ``config.validate_source``, the same check as the UI form: a bad selector, URL, cron expression
  or JSONPath answers 400 with ``details`` naming the field. ``login_form`` and ``cookies`` are
  write-only (stored encrypted; omit them to keep what is stored). ``{id}/run/`` starts a crawl
  (202 with the crawl job); ``{id}/preview/`` tries the saved source on one URL.
* ``preview/``: tries an unsaved configuration (``config``: the body of ``sources/``, plus ``url``
  and ``kind``) on one URL.
* ``jobs/``: crawl runs with live progress (read-only); the detail carries the log;
  ``{id}/cancel/`` stops a pending or running crawl.
* ``raw-items/``: every extracted record as found (read-only).
* ``proxies/``: the shared proxy pool for fetch levels L2 and L3 (CRUD; the password is
  write-only).

Running, cancelling and previewing need ``crawler.run_crawlsource`` and the source within the
caller's data scope.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from ibcloud.accounts.models import Department, User
from ibcloud.accounts.services import departments_in_reach, users_in_reach
from ibcloud.core.api import EmptySerializer, ScopedModelViewSet, ScopedReadOnlyViewSet
from ibcloud.core.rest import Conflict
from ibcloud.core.scoping import explicit_order, restrict
from ibcloud.core.ssrf import SSRFBlocked, UnresolvableHost, check_url
from ibcloud.crawler import services
from ibcloud.crawler.config import validate_source
from ibcloud.crawler.filters import (
    CrawlJobFilterSet,
    CrawlSourceFilterSet,
    ProxyFilterSet,
    RawItemFilterSet,
)
from ibcloud.crawler.forms import RULE_NAME, parse_cookies, split_proxy_url
from ibcloud.crawler.models import CrawlJob, CrawlSource, Proxy, RawItem
from ibcloud.crawler.tables import (
    CrawlJobTable,
    CrawlSourceTable,
    ProxyTable,
    RawItemTable,
    next_run_of,
    sources_with_run_state,
)

RUN_PERMISSION = "crawler.run_crawlsource"


def _drf_error(exc: DjangoValidationError) -> serializers.ValidationError:
    if hasattr(exc, "error_dict"):
        return serializers.ValidationError(exc.message_dict)
    return serializers.ValidationError({"non_field_errors": exc.messages})


class CanRunSources(permissions.BasePermission):
    """``crawler.run_crawlsource``: run, preview and cancel crawls."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.has_perm(RUN_PERMISSION))


# --- Crawl job bodies (answered by sources/run too) ---------------------------------------------


class CrawlJobSerializer(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True)
    is_finished = serializers.BooleanField(read_only=True)
    requested_by_name = serializers.CharField(source="requested_by", read_only=True, default=None)

    class Meta:
        model = CrawlJob
        fields = [
            "id",
            "source",
            "source_name",
            "status",
            "is_finished",
            "message",
            "trigger",
            "scheduled_for",
            "pages",
            "items",
            "new_items",
            "errors",
            "current_url",
            "stats",
            "field_stats",
            "sample_urls",
            "requested_by",
            "requested_by_name",
            "job",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
        ]
        read_only_fields = fields


class CrawlJobDetailSerializer(CrawlJobSerializer):
    class Meta(CrawlJobSerializer.Meta):
        fields = [*CrawlJobSerializer.Meta.fields, "sample_page_url", "log"]
        read_only_fields = fields


# --- Sources --------------------------------------------------------------------------------------


class FieldRuleSerializer(serializers.Serializer):
    """One field to extract: where it is (``by`` + ``expr``), how to tidy it, how to check it."""

    name = serializers.CharField(
        max_length=50,
        help_text="Identifier of the field in every record: lower-case letters, digits and _, "
        "starting with a letter (e.g. amount); unique within the source.",
    )
    label = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default="", help_text="Display label."
    )
    by = serializers.ChoiceField(
        choices=["css", "xpath", "regex", "jsonpath"],
        default="css",
        help_text="The language of expr.",
    )
    expr = serializers.CharField(
        max_length=1000,
        help_text='CSS (may end in ::text or ::attr(name)), e.g. "h1::text"; XPath, e.g. '
        "\"//td[@class='amount']/text()\"; a regex over the page or item source; or JSONPath "
        'relative to the item, e.g. "$.name" (JSON APIs).',
    )
    attribute = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text='css/xpath: take this attribute of the node (e.g. "href"); "html" = inner '
        "HTML; empty = the node's text.",
    )
    all = serializers.BooleanField(default=False, help_text="Take every match, not the first.")
    join = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text='With all: join the matches with this separator (e.g. ", "); empty keeps a list.',
    )
    strip = serializers.BooleanField(default=True, help_text="Collapse whitespace and strip.")
    regex = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text=r'Post-processing: search this regex in the value, e.g. "([\d.]+)" ...',
    )
    group = serializers.IntegerField(
        min_value=0, max_value=99, default=1, help_text="... and keep this group (0 = all)."
    )
    absolute_url = serializers.BooleanField(
        default=False, help_text="Resolve the value against the page URL."
    )
    type = serializers.ChoiceField(
        choices=["text", "integer", "number", "date", "url", "list"],
        default="text",
        help_text="The value's expected type: a record whose value does not fit is flagged "
        "(the value is kept as found).",
    )
    required = serializers.BooleanField(
        default=False, help_text='A record without this field is flagged ("missing").'
    )
    pattern = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="The value must match this regex (search), else the record is flagged.",
    )

    def validate_name(self, value: str) -> str:
        if not RULE_NAME.match(value):
            raise serializers.ValidationError(
                _("Use lower-case letters, digits and _, starting with a letter (e.g. amount).")
            )
        return value


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "example": "sessionid=abc123; csrftoken=xyz"},
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "value": {"type": "string"},
                        "domain": {"type": "string"},
                        "path": {"type": "string"},
                    },
                    "required": ["name", "value"],
                },
            },
        ],
        "description": "Write-only. A browser's cookie string (name=value; name2=value2) or a "
        "JSON list of cookies; [] or an empty string removes them; omit to keep the stored ones.",
    }
)
class CookiesField(serializers.Field):
    def to_internal_value(self, data):
        if isinstance(data, str) and len(data) > 200_000:
            raise serializers.ValidationError(_("Too long."))
        try:
            return parse_cookies(data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def to_representation(self, value):  # pragma: no cover - write-only
        return None


class LastRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()


class CrawlSourceSerializer(serializers.ModelSerializer):
    """A crawl source; see the field descriptions, and the project README for a worked example."""

    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.none(),
        allow_null=True,
        required=False,
        help_text="User id who receives the health alerts; default: the caller.",
    )
    owner_name = serializers.CharField(source="owner", read_only=True, default=None)
    department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.none(),
        allow_null=True,
        required=False,
        help_text="Department id deciding who else sees it; default: the caller's department.",
    )
    department_name = serializers.CharField(
        source="department.full_name", read_only=True, default=None
    )
    start_urls = serializers.ListField(
        child=serializers.CharField(max_length=2000),
        max_length=1000,
        required=False,
        help_text='Where the crawl starts, e.g. ["https://example.com/projects/"]. Or use '
        "url_template with page_start and page_end.",
    )
    headers = serializers.DictField(
        child=serializers.CharField(max_length=4000, allow_blank=True),
        required=False,
        help_text='Extra request headers, e.g. {"Accept": "application/json"}.',
    )
    fields = FieldRuleSerializer(
        many=True,
        required=False,
        help_text="The fields to extract from each item (detail page, inline item or JSON "
        "object). Missing keys take their defaults.",
    )
    proxies = serializers.PrimaryKeyRelatedField(
        queryset=Proxy.objects.all(),
        many=True,
        required=False,
        help_text="Proxy ids (L2/L3); empty: every enabled proxy of the pool.",
    )
    login_form = serializers.DictField(
        child=serializers.CharField(max_length=2000, allow_blank=True),
        write_only=True,
        required=False,
        help_text='Write-only. L3: the login form\'s fields, e.g. {"username": "alice", '
        '"password": "…"}, posted to login_url. {} removes them; omit to keep the stored ones.',
    )
    has_login_form = serializers.SerializerMethodField()
    cookies = CookiesField(write_only=True, required=False)
    cookie_count = serializers.SerializerMethodField()
    last_run = serializers.SerializerMethodField()
    next_run_at = serializers.SerializerMethodField()
    open_alerts = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = CrawlSource
        fields = [
            "id",
            "name",
            "description",
            "item_type",
            "enabled",
            "trust",
            "owner",
            "owner_name",
            "department",
            "department_name",
            "start_urls",
            "url_template",
            "page_start",
            "page_end",
            "page_format",
            "list_mode",
            "list_selector_type",
            "link_selector",
            "item_selector",
            "detail_format",
            "pagination",
            "next_selector",
            "cursor_path",
            "page_param",
            "page_size",
            "method",
            "headers",
            "body",
            "fields",
            "obey_robots",
            "concurrency",
            "delay",
            "max_pages",
            "time_limit",
            "fetch_level",
            "rate_limit",
            "block_marker",
            "proxies",
            "login_url",
            "login_form",
            "has_login_form",
            "cookies",
            "cookie_count",
            "render_js",
            "wait_for_selector",
            "schedule",
            "missed_run_policy",
            "last_scheduled_at",
            "last_run",
            "next_run_at",
            "open_alerts",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["last_scheduled_at", "created_at", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        actor = getattr(request, "user", None)
        if actor is not None and actor.is_authenticated:
            instance = self.instance if isinstance(self.instance, CrawlSource) else None
            self.fields["owner"].queryset = users_in_reach(
                actor, include=[instance.owner_id] if instance else []
            )
            self.fields["department"].queryset = departments_in_reach(
                actor, include=[instance.department_id] if instance else []
            )

    def get_has_login_form(self, obj) -> bool:
        return bool(obj.login_form)

    def get_cookie_count(self, obj) -> int:
        return len(obj.cookies or [])

    @extend_schema_field(LastRunSerializer(allow_null=True))
    def get_last_run(self, obj):
        job_id = getattr(obj, "last_job_id", None)
        if not job_id:
            return None
        return {"id": job_id, "status": obj.last_status, "created_at": obj.last_run_at}

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_next_run_at(self, obj):
        moment = next_run_of(obj)
        return serializers.DateTimeField().to_representation(moment) if moment else None

    def build_candidate(self, attrs: dict[str, Any]) -> CrawlSource:
        """The source as it would be saved (the stored one with ``attrs`` applied), unsaved."""
        candidate = copy.copy(self.instance) if isinstance(self.instance, CrawlSource) else None
        if candidate is None:
            candidate = CrawlSource()
        for key, value in attrs.items():
            if key == "proxies":
                continue
            if key == "fields":
                value = [dict(rule) for rule in value]
            setattr(candidate, key, value)
        return candidate

    def validate(self, attrs):
        if "fields" in attrs:
            names = [rule["name"] for rule in attrs["fields"]]
            if len(names) != len(set(names)):
                raise serializers.ValidationError(
                    {"fields": [_("Each field name may appear once.")]}
                )
            attrs["fields"] = [dict(rule) for rule in attrs["fields"]]
        try:
            validate_source(self.build_candidate(attrs))
        except DjangoValidationError as exc:
            raise _drf_error(exc) from exc
        return attrs


class PreviewKindMixin(serializers.Serializer):
    url = serializers.URLField(max_length=2000, help_text="The page to try.")
    kind = serializers.ChoiceField(
        choices=list(services.PREVIEW_KINDS),
        default="list",
        help_text="list: a list page (items or detail links, next page); detail: one detail page.",
    )

    def validate_url(self, value: str) -> str:
        try:
            check_url(value)
        except SSRFBlocked as exc:
            raise serializers.ValidationError(
                _("This URL may not be fetched: %(reason)s") % {"reason": exc.reason}
            ) from exc
        except UnresolvableHost as exc:
            raise serializers.ValidationError(
                _("The host does not resolve: %(error)s") % {"error": exc}
            ) from exc
        return value


class SourcePreviewSerializer(PreviewKindMixin):
    """Try a saved source on one URL."""


class UnsavedSourceSerializer(CrawlSourceSerializer):
    """A source configuration to try; name and item type are optional, nothing is stored."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Nothing is stored: who owns it does not matter, and a name may repeat a saved one.
        for name in ("owner", "department"):
            self.fields.pop(name, None)
        self.fields["name"].validators = []
        self.fields["name"].required = False
        self.fields["item_type"].required = False

    def validate(self, attrs):
        attrs.setdefault("name", "preview")
        attrs.setdefault("item_type", "project")
        return super().validate(attrs)


class UnsavedPreviewSerializer(PreviewKindMixin):
    config = UnsavedSourceSerializer(
        help_text="The configuration, as for POST /api/v1/crawler/sources/."
    )


class PreviewItemSerializer(serializers.Serializer):
    url = serializers.CharField()
    data = serializers.DictField(help_text="Field name → value as found (fields that matched).")
    empty = serializers.ListField(
        child=serializers.CharField(), help_text="Fields that matched nothing."
    )
    problems = serializers.DictField(
        child=serializers.CharField(), help_text='Field name → "missing" or the failed check.'
    )


class PreviewResultSerializer(serializers.Serializer):
    url = serializers.CharField()
    final_url = serializers.CharField(allow_null=True, required=False)
    status = serializers.IntegerField(allow_null=True, help_text="HTTP status of the page.")
    kind = serializers.CharField()
    items = PreviewItemSerializer(
        many=True,
        help_text="The extracted items; for a list page in links mode, those of the first "
        "detail pages.",
    )
    links = serializers.ListField(child=serializers.CharField(), help_text="Detail links found.")
    next_page = serializers.CharField(allow_null=True, help_text="The next list page found.")
    error = serializers.CharField(allow_null=True, help_text="Why the fetch failed, if it did.")
    fields = serializers.ListField(child=serializers.CharField())


def _preview(source: CrawlSource, url: str, kind: str, proxies=None) -> Response:
    try:
        result = services.preview_source(source, url, kind, proxies=proxies)
    except DjangoValidationError as exc:
        raise _drf_error(exc) from exc
    return Response(result)


HTML_EXAMPLE = {
    "name": "Project listing",
    "item_type": "project",
    "start_urls": ["https://projects.example.com/projects/"],
    "page_format": "html",
    "list_mode": "links",
    "link_selector": "a.project-link::attr(href)",
    "pagination": "next_link",
    "next_selector": "a[rel=next]::attr(href)",
    "fields": [
        {"name": "title", "by": "css", "expr": "h1.project-name::text", "required": True},
        {"name": "amount", "by": "css", "expr": ".amount::text", "regex": r"([\d.]+)"},
        {"name": "tags", "by": "css", "expr": "li.tag::text", "all": True, "join": ", "},
    ],
    "fetch_level": 1,
    "schedule": "0 6 * * *",
}
JSON_EXAMPLE = {
    "name": "Investor directory API",
    "item_type": "investor",
    "start_urls": ["https://data.example.com/api/investors"],
    "page_format": "json",
    "list_mode": "inline",
    "list_selector_type": "jsonpath",
    "item_selector": "$.data[*]",
    "pagination": "json_cursor",
    "cursor_path": "$.next_cursor",
    "page_param": "cursor",
    "headers": {"Accept": "application/json"},
    "fields": [
        {"name": "name", "by": "jsonpath", "expr": "$.name", "required": True},
        {"name": "stages", "by": "jsonpath", "expr": "$.stages[*]", "all": True},
    ],
}
SOURCE_EXAMPLES = [
    OpenApiExample("HTML list and detail pages", value=HTML_EXAMPLE, request_only=True),
    OpenApiExample("JSON API with a cursor", value=JSON_EXAMPLE, request_only=True),
]


@extend_schema_view(
    create=extend_schema(
        description="Add a source. The whole configuration is checked as on every save: a "
        "bad selector, URL, cron expression or JSONPath answers 400 with details naming the "
        "field (for field rules: fields[i] 'name': what is wrong). Try it first with "
        "POST /api/v1/crawler/preview/ (the same body under config, plus url and kind).",
        examples=SOURCE_EXAMPLES,
    ),
    partial_update=extend_schema(
        description="Change some settings; login_form and cookies are kept unless sent."
    ),
)
class CrawlSourceViewSet(ScopedModelViewSet):
    """Crawl sources. Secrets (``login_form``, ``cookies``) are write-only."""

    queryset = sources_with_run_state(CrawlSource.objects.prefetch_related("proxies"))
    serializer_class = CrawlSourceSerializer
    filterset_class = CrawlSourceFilterSet
    table_class = CrawlSourceTable
    ordering_fields = ["name", "created_at", "updated_at", "last_run_at", "open_alerts"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "action", None) in ("run", "preview"):
            # crawler.run_crawlsource and the source within the caller's reach
            return explicit_order(restrict(self.queryset.all(), self.request.user, "run"))
        return super().get_queryset()

    def perform_destroy(self, instance):
        refusal = services.raw_item_refusal(instance)
        if refusal:
            raise Conflict(refusal)
        instance.delete()

    @extend_schema(request=EmptySerializer, responses={202: CrawlJobDetailSerializer})
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[permissions.IsAuthenticated, CanRunSources],
        filter_backends=[],
    )
    def run(self, request, pk=None):
        """Start a crawl of the source now; answers 202 with the crawl job to follow.
        A source already running answers 409."""
        source = self.get_object()
        try:
            crawl_job = services.start_crawl(
                source, user=request.user, trigger="manual", request=request
            )
        except DjangoValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from exc
        body = CrawlJobDetailSerializer(crawl_job, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=SourcePreviewSerializer, responses=PreviewResultSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[permissions.IsAuthenticated, CanRunSources],
        filter_backends=[],
    )
    def preview(self, request, pk=None):
        """Fetch one URL with the saved source and answer what it extracts (nothing stored)."""
        source = self.get_object()
        body = SourcePreviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _preview(source, body.validated_data["url"], body.validated_data["kind"])


class PreviewViewSet(viewsets.ViewSet):
    """Try an unsaved source configuration on one URL."""

    permission_classes = [permissions.IsAuthenticated, CanRunSources]

    @extend_schema(request=UnsavedPreviewSerializer, responses=PreviewResultSerializer)
    def create(self, request):
        """Fetch one URL with the configuration in ``config`` (validated as on save, nothing
        stored) and answer each extracted item, the fields that matched nothing, the links and
        the next page found."""
        body = UnsavedPreviewSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        serializer: UnsavedSourceSerializer = body.fields["config"]
        attrs = dict(data["config"])
        chosen = list(attrs.pop("proxies", []) or [])
        source = serializer.build_candidate(attrs)
        proxies = chosen or list(Proxy.objects.filter(enabled=True))
        return _preview(source, data["url"], data["kind"], proxies=proxies)


# --- Jobs -----------------------------------------------------------------------------------------


class CrawlJobViewSet(ScopedReadOnlyViewSet):
    """Crawl runs, newest first: status, live progress, statistics, field fill rates; the
    detail adds the log."""

    queryset = CrawlJob.objects.select_related("source", "requested_by").defer("sample_page")
    serializer_class = CrawlJobSerializer
    filterset_class = CrawlJobFilterSet
    table_class = CrawlJobTable
    ordering_fields = ["created_at", "finished_at", "status", "items", "errors"]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "action", None) == "cancel":
            # Whoever may run the source may stop its run: view scope plus the run permission.
            return explicit_order(restrict(self.queryset.all(), self.request.user, "view"))
        queryset = super().get_queryset()
        if getattr(self, "action", None) == "list":
            queryset = queryset.defer("log", "sample_page")
        return queryset

    def get_serializer_class(self):
        if getattr(self, "action", None) in ("retrieve", "cancel"):
            return CrawlJobDetailSerializer
        return CrawlJobSerializer

    @extend_schema(request=EmptySerializer, responses=CrawlJobDetailSerializer)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[permissions.IsAuthenticated, CanRunSources],
        filter_backends=[],
    )
    def cancel(self, request, pk=None):
        """Stop a pending or running crawl (it ends as cancelled within seconds). A finished
        crawl answers 409."""
        crawl_job = self.get_object()
        if crawl_job.is_finished:
            raise Conflict(_("The crawl has already finished."))
        services.cancel_crawl(crawl_job, user=request.user, request=request)
        crawl_job.refresh_from_db()
        return Response(CrawlJobDetailSerializer(crawl_job).data)


# --- Raw items ------------------------------------------------------------------------------------


class RawItemSerializer(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True)

    class Meta:
        model = RawItem
        fields = [
            "id",
            "source",
            "source_name",
            "job",
            "item_type",
            "url",
            "fetched_at",
            "content_hash",
            "data",
            "problems",
            "processed_at",
        ]
        read_only_fields = fields


class RawItemViewSet(ScopedReadOnlyViewSet):
    """Every extracted record exactly as found, with its source, URL, fetch time and problems."""

    queryset = RawItem.objects.select_related("source")
    serializer_class = RawItemSerializer
    filterset_class = RawItemFilterSet
    table_class = RawItemTable
    ordering_fields = ["fetched_at", "id"]
    lookup_value_regex = r"\d+"


# --- Proxies --------------------------------------------------------------------------------------


class ProxySerializer(serializers.ModelSerializer):
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        allow_null=True,
        trim_whitespace=False,
        max_length=500,
        help_text="Write-only, stored encrypted. Omit or send an empty string to keep the stored "
        "password; null removes it.",
    )
    has_password = serializers.SerializerMethodField()

    class Meta:
        model = Proxy
        fields = [
            "id",
            "name",
            "url",
            "username",
            "password",
            "has_password",
            "enabled",
            "successes",
            "failures",
            "banned_until",
            "last_used_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "successes",
            "failures",
            "banned_until",
            "last_used_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "url": {
                "help_text": "http://host:port; credentials given in the URL "
                "(http://user:pass@host:port) are moved to username and password."
            }
        }

    def get_has_password(self, obj) -> bool:
        return bool(obj.password)

    def validate(self, attrs):
        if "url" in attrs:
            try:
                url, username, password = split_proxy_url(attrs["url"])
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"url": exc.messages}) from exc
            attrs["url"] = url
            if username:
                attrs["username"] = username
            if password and not attrs.get("password"):
                attrs["password"] = password
        password = attrs.pop("password", "")
        if password is None:
            attrs["password"] = ""
        elif password:
            attrs["password"] = password
        return attrs


class ProxyViewSet(ScopedModelViewSet):
    """The proxy pool (system-wide) used by L2/L3 sources: health counters are read-only."""

    queryset = Proxy.objects.all()
    serializer_class = ProxySerializer
    filterset_class = ProxyFilterSet
    table_class = ProxyTable
    ordering_fields = ["name", "failures", "successes", "last_used_at"]
    lookup_value_regex = r"\d+"


router = DefaultRouter()
router.register("sources", CrawlSourceViewSet, basename="crawlsource")
router.register("preview", PreviewViewSet, basename="crawlpreview")
router.register("jobs", CrawlJobViewSet, basename="crawljob")
router.register("raw-items", RawItemViewSet, basename="rawitem")
router.register("proxies", ProxyViewSet, basename="proxy")
