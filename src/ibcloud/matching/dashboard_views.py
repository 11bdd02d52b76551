"""The matching dashboard: matches proposed per week by status, approval rate per rule set,
conversion to deals per month, matches by industry and by region.

The page needs ``matching.view_match``; every figure is computed over the matches the viewer may
see (:mod:`ibcloud.matching.charts`). Chart data reaches the page through ``json_script``;
ECharts comes from the static vendor files; every chart saves as PNG (toolbox ``saveAsImage``)
and a click on a bar or a point opens the match list with the matching filter.
"""

from __future__ import annotations

from django import forms
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.core.forms import ChartFilterForm, apply_bootstrap
from ibcloud.core.scoping import restrict
from ibcloud.core.views import PermissionRequiredView
from ibcloud.matching import charts
from ibcloud.matching.models import Match, MatchRuleSet

#: chart (its container's id is ``chart-`` + the key, dashes for underscores) → PNG file name
CHART_IMAGES = {
    "per_week": "matches-per-week",
    "approval_rates": "approval-rate-per-rule-set",
    "conversion": "conversion-to-deals",
    "by_industry": "matches-by-industry",
    "by_region": "matches-by-region",
}


class DashboardFilterForm(ChartFilterForm):
    """Proposed-at date range and a rule set; shared rules in ``charts.check_filters``."""

    check_filters = staticmethod(charts.check_filters)
    date_labels = (gettext_lazy("Proposed from"), gettext_lazy("Proposed up to"))

    rule_set = forms.ModelChoiceField(
        label=gettext_lazy("Rule set"), required=False, queryset=MatchRuleSet.objects.none()
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # only the rule sets the viewer may see are offered (their names are data too)
        self.fields["rule_set"].queryset = restrict(MatchRuleSet.objects.all(), user, "view")

    @staticmethod
    def chart_filters(cleaned: dict) -> charts.ChartFilters:
        rule_set = cleaned.get("rule_set")
        return charts.ChartFilters(
            date_from=cleaned.get("date_from"),
            date_to=cleaned.get("date_to"),
            rule_set=rule_set.pk if rule_set else None,
        )


class DashboardView(PermissionRequiredView):
    """Charts of the matches the user may see."""

    model = Match
    template_name = "matching/dashboard.html"

    def get(self, request):
        form = DashboardFilterForm(request.GET or None, user=request.user)
        filters = charts.ChartFilters()
        if form.is_bound and form.is_valid():
            filters = form.chart_filters(form.cleaned_data)
        stats = charts.dashboard_statistics(request.user, filters)
        stamp = timezone.localdate().strftime("%Y%m%d")
        chart_data = {
            **stats,
            "match_list_url": reverse("matching:match_list"),
            "labels": {
                "matches": _("Matches"),
                "week": _("Week"),
                "month": _("Month"),
                "save": _("Save as PNG"),
                "rate": _("Approval rate (%)"),
                "approved": _("Approved"),
                "rejected": _("Rejected"),
                "converted": _("Became a deal"),
                "conversion": _("Conversion (%)"),
            },
        }
        context = {
            "title": _("Matching dashboard"),
            "form": apply_bootstrap(form),
            "stats": stats,
            "chart_data": chart_data,
            "images": {key: f"{name}-{stamp}" for key, name in CHART_IMAGES.items()},
        }
        return render(request, self.template_name, context)
