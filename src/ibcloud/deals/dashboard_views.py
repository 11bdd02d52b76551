"""The deal dashboard and its reports: the page, the PPTX deck, the pivot-ready Excel summary of
the filtered deal list and the weekly report's preview.

Every figure comes from :func:`ibcloud.deals.charts.for_user` (the viewer's data scope); the
page gets its chart data through ``json_script``, ECharts is served from the static vendor
files, each chart saves as PNG and a click opens the deal list (or, for the heatmap, the
milestone list) with the matching filter. Downloads are recorded in the audit log as exports.
"""

from __future__ import annotations

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.accounts.models import Department
from ibcloud.accounts.services import departments_in_reach
from ibcloud.core import dictionaries
from ibcloud.core.forms import ChartFilterForm, apply_bootstrap
from ibcloud.core.signals import record_sensitive_action
from ibcloud.core.views import PermissionRequiredView
from ibcloud.deals import charts, reports
from ibcloud.deals.filters import DealFilterSet
from ibcloud.deals.models import Deal, Milestone

REPORT_PERMISSION = reports.REPORT_PERMISSION

#: chart (its container's id is ``chart-`` + the key, dashes for underscores) → PNG file name
CHART_IMAGES = {
    "per_month": "deals-opened-closed-per-month",
    "by_type": "deals-by-type",
    "by_stage": "deals-by-stage",
    "by_industry": "deals-by-industry",
    "by_department": "deals-by-department",
    "milestones_heatmap": "milestones-due-per-week",
}


class DashboardFilterForm(ChartFilterForm):
    """Opened-on date range, department and deal type; shared rules in ``charts.check_filters``
    (the API applies the same)."""

    check_filters = staticmethod(charts.check_filters)
    date_labels = (gettext_lazy("Opened from"), gettext_lazy("Opened up to"))

    department = forms.ModelChoiceField(
        label=gettext_lazy("Department"), required=False, queryset=Department.objects.none()
    )
    deal_type = forms.ChoiceField(label=gettext_lazy("Deal type"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # the departments the viewer reaches, as the deal list offers (their names are data)
        self.fields["department"].queryset = departments_in_reach(user)
        self.fields["deal_type"].choices = [
            ("", _("All types")),
            *dictionaries.choices("deal_type"),
        ]

    @staticmethod
    def chart_filters(cleaned: dict) -> charts.ChartFilters:
        department = cleaned.get("department")
        return charts.ChartFilters(
            date_from=cleaned.get("date_from"),
            date_to=cleaned.get("date_to"),
            department=department.pk if department else None,
            deal_type=cleaned.get("deal_type") or "",
        )


def read_filters(request) -> tuple[DashboardFilterForm, charts.ChartFilters]:
    """The bound filter form and the filters it gives (the defaults when it is invalid, its
    errors shown next to the fields)."""
    form = DashboardFilterForm(request.GET or None, user=request.user)
    filters = charts.ChartFilters()
    if form.is_bound and form.is_valid():
        filters = form.chart_filters(form.cleaned_data)
    return form, filters


def scope_text(user, filters: charts.ChartFilters) -> str:
    """Who the figures are for and which filters narrowed them (the deck's title slide)."""
    parts = [_("deals visible to %(user)s") % {"user": user}]
    if filters.department:
        department = Department.objects.filter(pk=filters.department).first()
        parts.append(str(department) if department else f"#{filters.department}")
    if filters.deal_type:
        parts.append(charts.services.type_label(filters.deal_type))
    return ", ".join(parts)


def drill_down(url_name: str, filters: charts.ChartFilters, **params: str) -> str:
    """A list's URL with ``params`` and the dashboard's department and type (the KPI cards'
    links: the cards count today's figures, so the date range does not apply)."""
    query = {
        "department": filters.department or "",
        "deal_type": filters.deal_type,
        **params,
    }
    return f"{reverse(url_name)}?{urlencode({k: v for k, v in query.items() if v})}"


def filter_error(request, form, back_url: str) -> HttpResponse:
    """400: the download's filters are not valid (each error named), rather than a file of
    other rows than the ones asked for."""
    context = {"title": _("Invalid filters"), "form": form, "back_url": back_url}
    return render(request, "deals/dashboard_filter_error.html", context, status=400)


def stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M%S")


class DashboardView(PermissionRequiredView):
    """Charts of the deals and milestones the user may see."""

    model = Deal
    template_name = "deals/dashboard.html"

    def get(self, request):
        form, filters = read_filters(request)
        figures = charts.for_user(request.user, filters)
        day = timezone.localdate().strftime("%Y%m%d")
        chart_data = {
            **figures,
            "deal_list_url": reverse("deals:deal_list"),
            "milestone_list_url": reverse("deals:milestone_list"),
            "labels": {
                "deals": _("Deals"),
                "opened": _("Opened"),
                "closed": _("Closed"),
                "month": _("Month"),
                "week": _("Week"),
                "milestones": _("Milestones due"),
                "save": _("Save as PNG"),
            },
        }
        query = request.GET.urlencode() if form.is_bound and form.is_valid() else ""
        context = {
            "title": _("Deal dashboard"),
            "form": apply_bootstrap(form),
            "figures": figures,
            "chart_data": chart_data,
            "images": {key: f"{name}-{day}" for key, name in CHART_IMAGES.items()},
            "can_export_report": request.user.has_perm(REPORT_PERMISSION),
            "query": query,
            "overdue_url": drill_down("deals:deal_list", filters, overdue="true"),
            # the deals the charts count, as the list's filters name them
            "summary_url": drill_down(
                "deals:deal_summary_export",
                filters,
                opened_after=figures["filters"]["series_from"],
                opened_before=figures["filters"]["series_to"],
            ),
            "overdue_milestones_url": drill_down("deals:milestone_list", filters, overdue="true"),
        }
        return render(request, self.template_name, context)


def pptx_response(request, filters: charts.ChartFilters) -> HttpResponse:
    """The deck of the dashboard under ``filters`` as a download, recorded as an export."""
    figures = charts.for_user(request.user, filters)
    content = reports.dashboard_deck(figures, scope_text(request.user, filters))
    response = HttpResponse(content, content_type=reports.PPTX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="deal-dashboard-{stamp()}.pptx"'
    record_sensitive_action(
        request,
        "export",
        description=_("Deal dashboard (PPTX)"),
        model="deals.deal",
        file_format="pptx",
        filters=filters.as_dict(),
    )
    return response


class DashboardPptxView(PermissionRequiredView):
    """The dashboard as a PowerPoint deck with native charts (``deals.export_deal_report``)."""

    model = Deal
    permission = REPORT_PERMISSION

    def get(self, request):
        form, filters = read_filters(request)
        if form.is_bound and not form.is_valid():
            # a bad filter must not silently give a deck of other figures
            return filter_error(request, form, reverse("deals:dashboard"))
        return pptx_response(request, filters)


class SummaryExportView(PermissionRequiredView):
    """The pivot-ready Excel of the deal list under the list's filters (same query string)."""

    model = Deal

    def get(self, request):
        queryset = Deal.objects.restrict(request.user, "view")
        filterset = DealFilterSet(request.GET or None, queryset=queryset, request=request)
        if filterset.is_bound:
            if not filterset.is_valid():
                # django-filter would drop the bad filter and export more than was asked for
                return filter_error(request, filterset.form, reverse("deals:deal_list"))
            queryset = filterset.qs
        content, rows = reports.summary_workbook(queryset)
        response = HttpResponse(content, content_type=reports.XLSX_TYPE)
        response["Content-Disposition"] = f'attachment; filename="deal-summary-{stamp()}.xlsx"'
        record_sensitive_action(
            request,
            "export",
            description=_("Deal summary (Excel): %(rows)d") % {"rows": rows},
            model="deals.deal",
            rows=rows,
            file_format="xlsx",
            filters={k: v for k, v in request.GET.items()},
        )
        return response


class WeeklyReportView(PermissionRequiredView):
    """What the weekly report emailed on Monday says for this user, as of today."""

    model = Deal
    permission = REPORT_PERMISSION
    template_name = "deals/weekly_report.html"

    def get(self, request):
        summary = reports.weekly_summary(
            Deal.objects.restrict(request.user, "view"),
            Milestone.objects.restrict(request.user, "view"),
        )
        context = {
            "title": _("Weekly deal report"),
            "summary": summary,
            "dashboard_url": reverse("deals:dashboard"),
        }
        return render(request, self.template_name, context)
