"""Tables of the crawler list pages (also the columns of their exports)."""

from __future__ import annotations

import json

import django_tables2 as tables
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ibcloud.core.tables import ActionsColumn, BaseTable, SelectColumn
from ibcloud.crawler.models import CrawlJob, CrawlSource, Proxy, RawItem, SourceAlert

ENABLED_BADGE = (
    "{% load i18n %}{% if value %}"
    '<span class="badge bg-green-lt">{% translate "Enabled" %}</span>'
    '{% else %}<span class="badge bg-secondary-lt">{% translate "Disabled" %}</span>{% endif %}'
)


def status_label(status: str | None) -> str:
    """The display label of a crawl job status code ('' for none)."""
    if not status:
        return ""
    try:
        return str(CrawlJob.Status(status).label)
    except ValueError:
        return status


def sources_with_run_state(queryset):
    """Annotate each source with its last run (id, status, time) and open alert count, as
    subqueries: one query for the whole page, whatever its length."""
    last = CrawlJob.objects.filter(source=OuterRef("pk")).order_by("-created_at", "-id")
    open_alerts = (
        SourceAlert.objects.filter(source=OuterRef("pk"), status=SourceAlert.Status.OPEN)
        .order_by()
        .values("source")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return queryset.select_related("owner", "department").annotate(
        last_job_id=Subquery(last.values("pk")[:1]),
        last_status=Subquery(last.values("status")[:1]),
        last_run_at=Subquery(last.values("created_at")[:1]),
        open_alerts=Coalesce(Subquery(open_alerts, output_field=IntegerField()), Value(0)),
    )


class CrawlSourceTable(BaseTable):
    """Sources; the queryset is annotated by :func:`sources_with_run_state`
    (``last_job_id``, ``last_status``, ``last_run_at``, ``open_alerts``)."""

    select = SelectColumn()
    name = tables.Column(linkify=True, verbose_name=_("Name"))
    item_type = tables.Column(verbose_name=_("Item type"))
    enabled = tables.TemplateColumn(ENABLED_BADGE, verbose_name=_("Status"))
    fetch_level = tables.Column(verbose_name=_("Fetch level"))
    schedule = tables.Column(verbose_name=_("Schedule"), default="—")
    last_status = tables.Column(verbose_name=_("Last run"), order_by=("last_run_at",), default="—")
    last_run_at = tables.DateTimeColumn(
        verbose_name=_("Last run at"), format="Y-m-d H:i", default="—"
    )
    next_run = tables.Column(
        accessor="pk", verbose_name=_("Next run"), orderable=False, empty_values=()
    )
    open_alerts = tables.TemplateColumn(
        "{% if value %}"
        '<a class="badge bg-red-lt" data-open-alerts="{{ value }}" '
        "href=\"{% url 'crawler:sourcealert_list' as alerts_url %}{{ alerts_url }}"
        '?source={{ record.pk }}">{{ value }}</a>{% else %}0{% endif %}',
        verbose_name=_("Open alerts"),
    )
    owner = tables.Column(verbose_name=_("Owner"))
    department = tables.Column(verbose_name=_("Department"), order_by=("department__path",))
    actions = ActionsColumn(template_name="crawler/includes/source_actions.html")

    class Meta(BaseTable.Meta):
        model = CrawlSource
        fields = (
            "select",
            "name",
            "item_type",
            "enabled",
            "fetch_level",
            "schedule",
            "last_status",
            "last_run_at",
            "next_run",
            "open_alerts",
            "owner",
            "department",
            "actions",
        )

    def render_fetch_level(self, record):
        return f"L{record.fetch_level}" if record.fetch_level else _("Plain")

    def value_fetch_level(self, record):
        return record.get_fetch_level_display()

    def value_enabled(self, record):
        return _("Enabled") if record.enabled else _("Disabled")

    def render_last_status(self, record, value):
        badge = render_to_string(
            "crawler/includes/crawljob_status_badge.html",
            {"status": value, "label": status_label(value)},
        )
        return format_html(
            '<a href="{}">{}</a>',
            reverse("crawler:crawljob_detail", args=[record.last_job_id]),
            badge,  # rendered by our template, so already escaped and safe
        )

    def value_last_status(self, record):
        return status_label(getattr(record, "last_status", None))

    def render_next_run(self, record):
        moment = next_run_of(record)
        if moment is None:
            return "—"
        return formats.date_format(timezone.localtime(moment), "Y-m-d H:i")

    def value_next_run(self, record):
        moment = next_run_of(record)
        return moment or ""


def next_run_of(source: CrawlSource):
    """When the scheduler runs ``source`` next (None: no schedule, disabled or invalid)."""
    from ibcloud.crawler import services  # services imports the models this module shows

    return services.next_run_at(source)


class CrawlJobTable(BaseTable):
    id = tables.Column(linkify=True, verbose_name=_("No."))
    source = tables.Column(verbose_name=_("Source"), linkify=True)
    status = tables.TemplateColumn(
        template_name="crawler/includes/crawljob_status_cell.html", verbose_name=_("Status")
    )
    trigger = tables.Column(verbose_name=_("Trigger"))
    pages = tables.Column(verbose_name=_("Pages"))
    items = tables.Column(verbose_name=_("Items extracted"))
    new_items = tables.Column(verbose_name=_("New items"))
    errors = tables.Column(verbose_name=_("Errors"))
    message = tables.Column(verbose_name=_("Message"), attrs={"td": {"class": "text-wrap"}})
    requested_by = tables.Column(verbose_name=_("Requested by"))
    created_at = tables.DateTimeColumn(verbose_name=_("Created"), format="Y-m-d H:i:s")
    finished_at = tables.DateTimeColumn(verbose_name=_("Finished"), format="Y-m-d H:i:s")

    class Meta(BaseTable.Meta):
        model = CrawlJob
        fields = (
            "id",
            "source",
            "status",
            "trigger",
            "pages",
            "items",
            "new_items",
            "errors",
            "message",
            "requested_by",
            "created_at",
            "finished_at",
        )

    def value_status(self, record):
        return record.get_status_display()


class RawItemTable(BaseTable):
    id = tables.Column(linkify=True, verbose_name=_("No."))
    source = tables.Column(verbose_name=_("Source"))
    item_type = tables.Column(verbose_name=_("Item type"))
    summary = tables.Column(
        accessor="data",
        verbose_name=_("Content"),
        orderable=False,
        attrs={"td": {"class": "text-wrap"}},
    )
    url = tables.Column(verbose_name=_("URL"), attrs={"td": {"class": "text-wrap"}})
    problems = tables.Column(verbose_name=_("Problems"), orderable=False)
    job = tables.Column(accessor="job_id", verbose_name=_("Crawl job"))
    fetched_at = tables.DateTimeColumn(verbose_name=_("Fetched at"), format="Y-m-d H:i:s")

    class Meta(BaseTable.Meta):
        model = RawItem
        fields = ("id", "source", "item_type", "summary", "url", "problems", "job", "fetched_at")

    def render_summary(self, value):
        return summarize(value)

    def value_summary(self, value):
        return json.dumps(value, ensure_ascii=False)

    def render_problems(self, value):
        if not value:
            return "—"
        return ", ".join(f"{name}: {reason}" for name, reason in value.items())

    def value_problems(self, value):
        return self.render_problems(value) if value else ""

    def render_job(self, value):
        return f"#{value}"


def summarize(data, limit: int = 120) -> str:
    """The first values of a record, shortened: enough to recognise it in a list."""
    if not isinstance(data, dict):
        return ""
    parts = []
    for value in data.values():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        text = " ".join(str(value).split())
        if text:
            parts.append(text)
        if sum(len(p) for p in parts) > limit:
            break
    text = " · ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ProxyTable(BaseTable):
    select = SelectColumn()
    name = tables.Column(linkify=True, verbose_name=_("Name"))
    url = tables.Column(verbose_name=_("Proxy URL"))
    username = tables.Column(verbose_name=_("Username"))
    has_password = tables.BooleanColumn(
        accessor="password", verbose_name=_("Password set"), orderable=False
    )
    enabled = tables.TemplateColumn(ENABLED_BADGE, verbose_name=_("Status"))
    successes = tables.Column(verbose_name=_("Successes"))
    failures = tables.Column(verbose_name=_("Failures"))
    banned_until = tables.DateTimeColumn(verbose_name=_("Resting until"), format="Y-m-d H:i:s")
    last_used_at = tables.DateTimeColumn(verbose_name=_("Last used"), format="Y-m-d H:i:s")
    actions = ActionsColumn()

    class Meta(BaseTable.Meta):
        model = Proxy
        fields = (
            "select",
            "name",
            "url",
            "username",
            "has_password",
            "enabled",
            "successes",
            "failures",
            "banned_until",
            "last_used_at",
            "actions",
        )

    def value_has_password(self, value):
        return bool(value)

    def value_enabled(self, record):
        return _("Enabled") if record.enabled else _("Disabled")
