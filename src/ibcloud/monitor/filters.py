"""Filters of the operations lists (list page, API and export share them)."""

import django_filters
from django.utils.translation import gettext_lazy as _

from ibcloud.core.filters import SearchFilterSet
from ibcloud.monitor.models import Backup


class BackupFilterSet(SearchFilterSet):
    search_fields = ("file_name", "error")

    status = django_filters.ChoiceFilter(choices=Backup.Status.choices, label=_("Status"))
    kind = django_filters.ChoiceFilter(choices=Backup.Kind.choices, label=_("Kind"))

    class Meta:
        model = Backup
        fields = ["q", "status", "kind"]
