"""The alert FilterSet, shared by the alert list page, the API and the export."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from ibcloud.core.filters import SearchFilterSet
from ibcloud.core.scoping import restrict
from ibcloud.crawler.models import CrawlSource, SourceAlert


def _visible_sources(request):
    if request is None:
        return CrawlSource.objects.none()
    return restrict(CrawlSource.objects.all(), request.user, "view")


class SourceAlertFilterSet(SearchFilterSet):
    search_fields = ("title", "field", "source__name")

    source = django_filters.ModelChoiceFilter(
        label=_("Source"), queryset=_visible_sources, empty_label=_("All")
    )
    rule = django_filters.ChoiceFilter(
        label=_("Rule"), choices=SourceAlert.Rule.choices, empty_label=_("All")
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=SourceAlert.Status.choices, empty_label=_("All")
    )

    class Meta:
        model = SourceAlert
        fields = ["q", "source", "rule", "status", "field"]
