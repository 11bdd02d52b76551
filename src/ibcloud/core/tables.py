"""Base table for every list page (django-tables2)."""

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _


class SelectColumn(tables.CheckBoxColumn):
    """Row checkbox for bulk actions (never exported)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("accessor", "pk")
        kwargs.setdefault("orderable", False)
        kwargs.setdefault("exclude_from_export", True)
        kwargs.setdefault(
            "attrs",
            {
                "th__input": {
                    "class": "form-check-input",
                    "data-select-all": "1",
                    "aria-label": _("Select all"),
                },
                "td__input": {"class": "form-check-input", "name": "pk", "form": "bulk-form"},
            },
        )
        super().__init__(**kwargs)


class BaseTable(tables.Table):
    class Meta:
        attrs = {"class": "table table-vcenter card-table table-hover"}
        template_name = "core/includes/table.html"
        per_page = 25
        empty_text = _("No records match.")


class ActionsColumn(tables.TemplateColumn):
    """Edit / delete links shown only to users holding the permission."""

    def __init__(self, **kwargs):
        kwargs.setdefault("verbose_name", _("Actions"))
        kwargs.setdefault("orderable", False)
        kwargs.setdefault("exclude_from_export", True)
        kwargs.setdefault("template_name", "core/includes/row_actions.html")
        super().__init__(**kwargs)
