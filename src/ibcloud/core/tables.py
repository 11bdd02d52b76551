"""Base table for every list page (django-tables2), and the columns each person chooses.

A person may hide, show and reorder the columns of any list table (列设置); the choice is kept
per person and table (:class:`~ibcloud.core.models.TableConfig`) and applied wherever the table
is shown (:func:`ibcloud.core.views.configure_table`). The row checkbox and the actions column
always stay; exports keep every column.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import django_tables2 as tables
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ibcloud.core.models import TableConfig


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


#: every list table by its key (:func:`table_key`): a saved choice can only name one of these
TABLES: dict[str, type[BaseTable]] = {}


class BaseTable(tables.Table):
    class Meta:
        attrs = {"class": "table table-vcenter card-table table-hover"}
        template_name = "core/includes/table.html"
        per_page = 25
        empty_text = _("No records match.")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        TABLES[table_key(cls)] = cls


class ActionsColumn(tables.TemplateColumn):
    """Edit / delete links shown only to users holding the permission."""

    def __init__(self, **kwargs):
        kwargs.setdefault("verbose_name", _("Actions"))
        kwargs.setdefault("orderable", False)
        kwargs.setdefault("exclude_from_export", True)
        kwargs.setdefault("template_name", "core/includes/row_actions.html")
        # Pinned to the right edge (ibcloud.css): a wide table scrolls under it, so a row's
        # actions are on screen whatever the columns a person shows.
        kwargs.setdefault("attrs", {"th": {"class": "col-actions"}, "td": {"class": "col-actions"}})
        super().__init__(**kwargs)


def clipped(text: str, rem: int | None = None) -> str:
    """Long cell text on one line, cut with an ellipsis at the column's width (18rem, or
    ``rem``); the whole text shows on hover. Keeps a list's last columns and row actions on the
    screen when one cell is long (an investor's ten preferred industries, a match's reasons)."""
    if not text:
        return "—"
    if rem is None:
        return format_html('<span class="cell-clip" title="{}">{}</span>', text, text)
    return format_html(
        '<span class="cell-clip" style="max-width: {}rem" title="{}">{}</span>', rem, text, text
    )


def table_key(table_class: type[tables.Table]) -> str:
    """The name a table's saved column choice goes by: ``catalog.tables.ProjectTable``."""
    return f"{table_class.__module__.removeprefix('ibcloud.')}.{table_class.__name__}"


def optional_columns(table_class: type[tables.Table]) -> list[str]:
    """The columns a person may show, hide and reorder, in the table's own order: the data
    columns shown by default (not the row checkbox or the actions, which exports leave out)."""
    return [
        name
        for name, column in table_class.base_columns.items()
        if column.visible and not column.exclude_from_export
    ]


def apply_table_config(table: tables.Table, columns: Iterable[str] | None) -> None:
    """Show only ``columns`` (a saved choice) of ``table``'s optional columns, in that order.

    Names the table no longer has are skipped; a choice naming none of its columns leaves the
    table as it is.
    """
    optional = [name for name in optional_columns(type(table)) if name in table.columns]
    shown = [name for name in dict.fromkeys(columns or ()) if name in optional]
    if not shown:
        return
    for name in optional:
        if name not in shown:
            table.columns.hide(name)
    checkbox = tables.CheckBoxColumn
    leading = [n for n in table.sequence if isinstance(table.base_columns[n], checkbox)]
    rest = [n for n in table.sequence if n not in leading and n not in shown]
    table.sequence = [*leading, *shown, *rest]


def column_choices(table: tables.Table) -> list[dict[str, Any]]:
    """The optional columns of ``table`` for the column chooser: shown ones first, in their
    order, then the hidden ones; each ``{"name", "label", "shown"}``."""
    optional = set(optional_columns(type(table)))
    bound = [column for column in table.columns.iterall() if column.name in optional]
    shown = [c for c in bound if c.visible]
    hidden = [c for c in bound if not c.visible]
    return [
        {"name": column.name, "label": str(column.header), "shown": column.visible}
        for column in [*shown, *hidden]
    ]


def saved_columns(user: Any, table_class: type[tables.Table]) -> list[str] | None:
    """The columns ``user`` chose for ``table_class``, or None (the table's own)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        TableConfig.objects.filter(user=user, table=table_key(table_class))
        .values_list("columns", flat=True)
        .first()
    )


def save_table_config(user: Any, key: str, columns: list[str]) -> TableConfig:
    """Keep ``columns`` (in order) as ``user``'s choice for the table named ``key``.

    Raises ``ValidationError`` for an unknown table, a column it lacks, or no column at all.
    """
    table_class = TABLES.get(key)
    if table_class is None:
        raise ValidationError(gettext("Unknown table."), code="unknown_table")
    optional = optional_columns(table_class)
    unknown = [name for name in columns if name not in optional]
    if unknown:
        raise ValidationError(
            gettext("The table has no column %(names)s.") % {"names": ", ".join(unknown[:5])},
            code="unknown_column",
        )
    chosen = list(dict.fromkeys(columns))
    if not chosen:
        raise ValidationError(gettext("Choose at least one column."), code="no_column")
    config, _created = TableConfig.objects.update_or_create(
        user=user, table=key, defaults={"columns": chosen}
    )
    return config


def reset_table_config(user: Any, key: str) -> bool:
    """Forget ``user``'s choice for the table named ``key``; whether there was one."""
    deleted, _details = TableConfig.objects.filter(user=user, table=key).delete()
    return bool(deleted)
