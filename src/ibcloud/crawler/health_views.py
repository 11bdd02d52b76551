"""Monitoring pages: the crawler dashboard, a source's health, the alert list and an alert.

Every page is permission-checked and scoped: the dashboard and a source's health page need
``crawler.view_crawlsource`` and show only sources within the user's data scope; alerts need
``crawler.view_sourcealert`` (acknowledging: ``crawler.acknowledge_sourcealert``). Chart data
goes to the page with ``json_script``; ECharts is served from the static vendor files.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.core.scoping import restrict
from ibcloud.core.views import (
    BulkAction,
    ObjectDetailView,
    ObjectListView,
    PermissionRequiredView,
    positive_int,
    redirect,
)
from ibcloud.crawler import alerts, health
from ibcloud.crawler.health_filters import SourceAlertFilterSet
from ibcloud.crawler.health_tables import SourceAlertTable
from ibcloud.crawler.models import CrawlJob, CrawlSource, SourceAlert
from ibcloud.notify.services import safe_link

#: evidence keys shown in their own sections rather than the figures table
SPECIAL_EVIDENCE = {
    "summary",
    "sample_urls",
    "diff",
    "diff_truncated",
    "by_status",
    "message",
    "before_page_url",
    "after_page_url",
}
#: how the figures of the evidence are named on the page (other keys show as they are)
FIGURE_LABELS = {
    "status": gettext_lazy("Run status"),
    "pages": gettext_lazy("Pages"),
    "items": gettext_lazy("Items"),
    "requests": gettext_lazy("Requests"),
    "errors": gettext_lazy("Failed requests"),
    "rate": gettext_lazy("Error rate"),
    "threshold": gettext_lazy("Threshold"),
    "field": gettext_lazy("Field"),
    "label": gettext_lazy("Field label"),
    "before_average": gettext_lazy("Average fill rate of the good runs"),
    "before_runs": gettext_lazy("Good runs averaged"),
    "after_rate": gettext_lazy("Fill rate of this run"),
    "after_filled": gettext_lazy("Items with the field"),
    "after_total": gettext_lazy("Items checked"),
    "drop_ratio": gettext_lazy("Alert below this share of the average"),
    "before_job": gettext_lazy("Last good run"),
    "schedule": gettext_lazy("Schedule"),
    "last_run_at": gettext_lazy("Last run finished"),
    "grace_minutes": gettext_lazy("Grace (minutes)"),
}
PERCENT_FIGURES = {"rate", "threshold", "before_average", "after_rate", "drop_ratio"}
DAY_CHOICES = (7, 30, 90)
#: what a source's charts draw of each run
CHART_KEYS = ("id", "label", "status", "items", "new_items", "pages", "errors", "fill_rates")


def _url(name: str, *args) -> str:
    """The URL of a page another part of the crawler provides, or "" while it does not exist."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


# --- Dashboard ------------------------------------------------------------------------------------


class DashboardView(PermissionRequiredView):
    """Cards, charts and one row per source, across the sources the user may see."""

    model = CrawlSource
    template_name = "crawler/health/dashboard.html"

    def get(self, request):
        stats = alerts.dashboard_statistics(request.user)
        for row in stats["table"]:
            row["health_url"] = reverse("crawler:source_health", args=[row["id"]])
            row["finished"] = parse_datetime(row["last_finished_at"] or "")
            row["error_rate_text"] = health.percent(row["error_rate"])
            row["job_url"] = (
                _url("crawler:crawljob_detail", row["last_job_id"]) if row["last_job_id"] else ""
            )
        charts = {
            "items_per_day": stats["items_per_day"],
            "jobs_by_status": stats["jobs_by_status"],
            "labels": {"items": _("Items"), "runs": _("Runs")},
        }
        context = {
            "title": _("Crawler health"),
            "stats": stats,
            "charts": charts,
            "alerts_url": reverse("crawler:sourcealert_list"),
        }
        return render(request, self.template_name, context)


# --- A source's health ----------------------------------------------------------------------------


class SourceHealthView(ObjectDetailView):
    """One source's runs over time, field fill rates and recent alerts."""

    model = CrawlSource
    template_name = "crawler/health/source_health.html"

    def extra_context(self, obj) -> dict:
        days = positive_int(self.request.GET.get("days"), 365) or 30
        stats = alerts.source_statistics(obj, days=days)
        recent = restrict(
            SourceAlert.objects.filter(source=obj).select_related("acknowledged_by"),
            self.request.user,
            "view",
        )[:10]
        runs = [
            {
                **run,
                "url": _url("crawler:crawljob_detail", run["id"]),
                "status_label": CrawlJob.Status(run["status"]).label,
            }
            for run in reversed(stats["series"][-20:])
        ]
        charts = {
            "series": [{key: run[key] for key in CHART_KEYS} for run in stats["series"]],
            "fields": stats["fields"],
            "labels": {
                "items": _("Items"),
                "new_items": _("New items"),
                "pages": _("Pages"),
                "errors": _("Errors"),
                "fill_rate": _("Fill rate (%)"),
            },
        }
        return {
            "title": _("Health of %(source)s") % {"source": obj},
            "stats": stats,
            "error_rate_text": health.percent(stats["error_rate"]),
            "charts": charts,
            "runs": runs,
            "recent_alerts": recent,
            "can_view_alerts": self.request.user.has_perm("crawler.view_sourcealert"),
            "days": days,
            "day_choices": DAY_CHOICES,
            "source_url": _url("crawler:crawlsource_detail", obj.pk),
        }


# --- Alerts ---------------------------------------------------------------------------------------


def _acknowledge_selected(request, queryset) -> str:
    count = 0
    for alert in queryset.filter(status=SourceAlert.Status.OPEN).select_related("source"):
        alerts.acknowledge(alert, request.user, request=request)
        count += 1
    return _("Acknowledged %(n)d alert(s).") % {"n": count}


ACKNOWLEDGE = BulkAction(
    "acknowledge", gettext_lazy("Acknowledge"), "acknowledge", _acknowledge_selected
)


class SourceAlertListView(ObjectListView):
    model = SourceAlert
    table_class = SourceAlertTable
    filterset_class = SourceAlertFilterSet
    bulk_actions = (ACKNOWLEDGE,)
    title = gettext_lazy("Crawler alerts")

    def base_queryset(self):
        return SourceAlert.objects.select_related("source", "acknowledged_by")


def diff_lines(text: str) -> list[tuple[str, str]]:
    """``(kind, line)`` for each line of a unified diff: added, removed, hunk or context."""
    lines = []
    for line in (text or "").splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("+"):
            kind = "added"
        elif line.startswith("-"):
            kind = "removed"
        elif line.startswith("@@"):
            kind = "hunk"
        else:
            kind = "context"
        lines.append((kind, line))
    return lines


def _page_link(url) -> dict:
    """A crawled URL for a page: a link only when it is http(s), else plain text."""
    text = str(url or "")
    return {"text": text, "href": safe_link(text) if text.startswith("http") else ""}


def _figure(key: str, value) -> dict:
    """One row of an alert's figures: a label, the value as text, a link where there is one."""
    text = "—" if value is None or value == "" else str(value)
    if key in PERCENT_FIGURES and isinstance(value, int | float):
        text = health.percent(value)
    href = ""
    if key == "before_job" and isinstance(value, int):
        text = f"#{value}"
        href = _url("crawler:crawljob_detail", value)
    if key == "last_run_at" and value:
        moment = parse_datetime(str(value))
        text = date_format(timezone.localtime(moment), "Y-m-d H:i") if moment else text
    return {"key": key, "label": FIGURE_LABELS.get(key, key), "text": text, "href": href}


class SourceAlertDetailView(ObjectDetailView):
    """An alert with its evidence: figures, sample URLs, the page diff."""

    model = SourceAlert
    template_name = "crawler/health/sourcealert_detail.html"

    def base_queryset(self):
        return SourceAlert.objects.select_related("source", "acknowledged_by", "last_job")

    def extra_context(self, obj) -> dict:
        evidence = obj.evidence if isinstance(obj.evidence, dict) else {}
        # Crawled URLs are untrusted: only http(s) becomes a link, the rest shows as text.
        samples = [_page_link(url) for url in (evidence.get("sample_urls") or [])]
        figures = [
            _figure(key, value)
            for key, value in evidence.items()
            if key not in SPECIAL_EVIDENCE and not isinstance(value, dict | list)
        ]
        by_status = evidence.get("by_status") if isinstance(evidence.get("by_status"), dict) else {}
        user = self.request.user
        return {
            "title": obj.title,
            "alert": obj,
            "summary": evidence.get("summary", ""),
            "message": evidence.get("message", ""),
            "figures": figures,
            "by_status": [
                (code, count, str(code).isdigit() and int(code) >= 400)
                for code, count in sorted(by_status.items())
            ],
            "samples": samples,
            "diff": diff_lines(str(evidence.get("diff") or "")),
            "diff_pages": [
                _page_link(evidence.get("before_page_url")),
                _page_link(evidence.get("after_page_url")),
            ],
            "diff_truncated": bool(evidence.get("diff_truncated")),
            "can_acknowledge": obj.status == SourceAlert.Status.OPEN
            and restrict(SourceAlert.objects.filter(pk=obj.pk), user, "acknowledge").exists(),
            "health_url": reverse("crawler:source_health", args=[obj.source_id]),
            "job_url": _url("crawler:crawljob_detail", obj.last_job_id) if obj.last_job_id else "",
        }


class SourceAlertAcknowledgeView(PermissionRequiredView):
    model = SourceAlert
    action = "acknowledge"

    def post(self, request, pk: int):
        alert = get_object_or_404(
            self.scoped_queryset("acknowledge").select_related("source"), pk=pk
        )
        try:
            alerts.acknowledge(alert, request.user, request=request)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Alert acknowledged."))
        return redirect(request, alert.get_absolute_url())
