"""The catalog dashboard (数据可视化辅助分析): collection over time, industries, regions, topics.

The page needs ``catalog.view_project``; every figure is computed over what the viewer may see
(:mod:`ibcloud.catalog.charts`). Topic clusters are global (one run over the whole catalog) but
their sample projects are filtered by the viewer's scope. Chart data reaches the page through
``json_script``; ECharts is served from the static vendor files, and every chart can be saved as
PNG (its toolbox's ``saveAsImage``).

Running the clustering now needs ``catalog.change_project`` (or a superuser) and is audited.
"""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.audit.models import EVENT_LABELS
from ibcloud.catalog import charts, clustering
from ibcloud.catalog.dashboard_tasks import run_clustering_now, weekly_clustering
from ibcloud.catalog.models import Project
from ibcloud.core.forms import ChartFilterForm, apply_bootstrap
from ibcloud.core.models import Job
from ibcloud.core.signals import record_sensitive_action
from ibcloud.core.views import PermissionRequiredView, redirect

#: the audit log's event code for a manual clustering run
CLUSTER_RUN_EVENT = "cluster_run"
EVENT_LABELS.setdefault(CLUSTER_RUN_EVENT, gettext_lazy("Run topic clustering"))

#: chart (its container's id is ``chart-`` + the key, dashes for underscores) → PNG file name
CHART_IMAGES = {
    "items_per_source": "items-per-source",
    "industry_over_time": "projects-per-industry-over-time",
    "industry_counts": "projects-by-industry",
    "region_industry": "region-industry-heatmap",
    "cluster_sizes": "topic-clusters",
    "investor_types": "investors-by-type",
    "investor_regions": "investors-by-region",
}


class DashboardFilterForm(ChartFilterForm):
    """Date range (first seen / fetched) and item type; shared rules in ``charts.check_filters``."""

    check_filters = staticmethod(charts.check_filters)
    date_labels = (gettext_lazy("From"), gettext_lazy("To"))

    item_type = forms.ChoiceField(
        label=gettext_lazy("Item type"),
        required=False,
        choices=[
            ("", gettext_lazy("Projects and investors")),
            ("project", gettext_lazy("Projects")),
            ("investor", gettext_lazy("Investors")),
        ],
    )

    @staticmethod
    def chart_filters(cleaned: dict) -> charts.ChartFilters:
        return charts.ChartFilters(
            date_from=cleaned.get("date_from"),
            date_to=cleaned.get("date_to"),
            item_type=cleaned.get("item_type") or "",
        )


def can_run_clustering(user) -> bool:
    return user.is_superuser or user.has_perm("catalog.change_project")


def pending_clustering() -> Job | None:
    """The clustering job queued (within the last hour) or running now, if any.

    A queued row older than that waits for a worker that is not there; it must not block the
    button for ever.
    """
    queued_since = timezone.now() - datetime.timedelta(hours=1)
    return (
        Job.objects.filter(name__in=[run_clustering_now.job_name, weekly_clustering.job_name])
        .filter(
            Q(status__in=[Job.Status.RUNNING, Job.Status.RETRYING])
            | Q(status=Job.Status.PENDING, created_at__gte=queued_since)
        )
        .order_by("-pk")
        .first()
    )


class DashboardView(PermissionRequiredView):
    """Charts of the catalog across what the user may see, and the latest topic clusters."""

    model = Project
    template_name = "catalog/dashboard.html"

    def get(self, request):
        form = DashboardFilterForm(request.GET or None)
        filters = charts.ChartFilters()
        if form.is_bound and form.is_valid():
            filters = form.chart_filters(form.cleaned_data)
        user = request.user
        stats = charts.dashboard_statistics(user, filters)
        topics = clustering.latest_clusters(user)
        stamp = timezone.localdate().strftime("%Y%m%d")
        chart_data = {
            **stats,
            "clusters": topics["clusters"],
            "labels": {
                "items": _("Raw items"),
                "projects": _("Projects"),
                "investors": _("Investors"),
                "week": _("Week"),
                "save": _("Save as PNG"),
                "back": _("All industries"),
                "recent": _("Recent window"),
                "previous": _("Window before"),
            },
        }
        last_run = clustering.latest_run()
        context = {
            "title": _("Catalog dashboard"),
            "form": apply_bootstrap(form),
            "filters": filters,
            "stats": stats,
            "topics": topics,
            "last_run": last_run,
            "last_run_at": timezone.localtime(last_run.created_at) if last_run else None,
            "pending_job": pending_clustering(),
            "can_run_clustering": can_run_clustering(user),
            "chart_data": chart_data,
            "images": {key: f"{name}-{stamp}" for key, name in CHART_IMAGES.items()},
            "show_projects": filters.shows("project"),
            "show_investors": filters.shows("investor"),
        }
        return render(request, self.template_name, context)


class ClusterRunView(PermissionRequiredView):
    """POST: queue a clustering run now (``catalog.change_project`` or a superuser)."""

    model = Project

    def post(self, request):
        if not can_run_clustering(request.user):
            raise PermissionDenied
        url = reverse("catalog:dashboard")
        if pending_clustering() is not None:
            messages.info(request, _("A clustering run is already queued or running."))
            return redirect(request, url)
        row = run_clustering_now.enqueue(user=request.user)
        record_sensitive_action(
            request,
            CLUSTER_RUN_EVENT,
            target=None,
            description=_("Started topic clustering (job #%(job)s)") % {"job": row.pk},
            job=row.pk,
        )
        messages.success(
            request, _("Topic clustering queued; the clusters update when it finishes.")
        )
        return redirect(request, url)
