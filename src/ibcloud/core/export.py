"""Export of any filtered list (Excel or CSV), shared by the list pages and the API."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone

from ibcloud.core.signals import record_sensitive_action

# Excel and LibreOffice run cells that start with these as formulas; crawled text could.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MAX_ROWS = 200_000
#: the control characters an xlsx cell cannot hold (openpyxl's ``ILLEGAL_CHARACTERS_RE``; openpyxl
#: itself is imported only where a workbook is written: it takes a second to load on a slow host,
#: and every process, crawl runs and workers included, loads this module)
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def safe_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in untrusted text; drop control characters xlsx refuses."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if value.startswith(FORMULA_PREFIXES):
            return "'" + value
    return value


def table_rows(queryset: QuerySet, table_class) -> list[list[Any]]:
    """Header and rows of ``table_class`` over ``queryset`` as plain values."""
    # A list, not a sliced queryset: the table may re-order its data, which Django refuses on a
    # slice. The rows keep the order of the filtered, ordered queryset.
    table = table_class(list(queryset[:MAX_ROWS]))
    exclude = [name for name, column in table.columns.items() if column.column.exclude_from_export]
    return [list(row) for row in table.as_values(exclude_columns=exclude)]


def export_queryset(request, queryset: QuerySet, table_class, file_format: str) -> HttpResponse:
    """Answer the filtered ``queryset`` as a download and record the export in the audit log."""
    rows = table_rows(queryset, table_class)
    model = queryset.model
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    filename = f"{model._meta.model_name}-{stamp}.{file_format}"
    if file_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in rows:
            writer.writerow([safe_cell("" if v is None else v) for v in row])
        # The BOM makes Excel open UTF-8 Chinese text correctly.
        response = HttpResponse(
            "\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8"
        )
    else:
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(str(model._meta.verbose_name_plural)[:31])
        for row in rows:
            sheet.append([safe_cell(_excel_value(v)) for v in row])
        buffer = io.BytesIO()
        workbook.save(buffer)
        response = HttpResponse(
            buffer.getvalue(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    record_sensitive_action(
        request,
        "export",
        description=f"{model._meta.verbose_name_plural}: {max(len(rows) - 1, 0)}",
        model=model._meta.label_lower,
        rows=max(len(rows) - 1, 0),
        file_format=file_format,
        filters={k: v for k, v in request.GET.items() if k not in ("export", "file_format")},
    )
    return response


def _excel_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, int | float | str):
        return value
    if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
        return timezone.localtime(value).replace(tzinfo=None)
    return str(value)
