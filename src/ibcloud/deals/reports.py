"""Deal reports: the pivot-ready Excel summary, the PPTX deck of the dashboard and the weekly
report's figures. Plain functions over querysets the caller has already scoped; the views, the
API and the weekly job check permissions and record the audit event.

* :func:`summary_workbook`: one flat sheet, one row per deal with plain columns (type, stage,
  status, department, industry, lead, opened and closed month, size, fee, overdue), ready for a
  pivot table, and a summary sheet (deals, size and fee by type × stage).
* :func:`dashboard_deck`: python-pptx slides with native, editable PowerPoint charts whose
  series are exactly the figures of :func:`ibcloud.deals.charts.dashboard`.
* :func:`weekly_summary`: what one manager's weekly report says, over their scope.
"""

from __future__ import annotations

import datetime
import io
import logging
from collections.abc import Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Count, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ibcloud.catalog.charts import industry_labels
from ibcloud.core import dictionaries
from ibcloud.core.charts import monday
from ibcloud.core.export import safe_cell
from ibcloud.deals import services
from ibcloud.deals.models import Deal, DealActivity, Milestone
from ibcloud.notify.services import absolute_link, notify

logger = logging.getLogger(__name__)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
#: rows one summary file holds at most (the list export's limit)
MAX_ROWS = 200_000
#: items each list of the weekly report shows (the counts are complete)
WEEKLY_LIST_ITEMS = 10
#: the permission of the deck and the weekly report (the "managers")
REPORT_PERMISSION = "deals.export_deal_report"
#: the notification event of the weekly report
WEEKLY_EVENT = "deals.weekly_report"


# --- Excel summary --------------------------------------------------------------------------------


def summary_header() -> list[str]:
    return [
        _("Code"),
        _("Name"),
        _("Client"),
        _("Type"),
        _("Stage"),
        _("Status"),
        _("Department"),
        _("Industry"),
        _("Lead"),
        _("Opened month"),
        _("Closed month"),
        _("Deal size (CNY)"),
        _("Expected fee (CNY)"),
        _("Overdue"),
    ]


def summary_rows(deals: QuerySet) -> Iterator[list[Any]]:
    """One row of plain values per deal of ``deals`` (in its order), at most :data:`MAX_ROWS`."""
    labels = industry_labels()
    statuses = dict(Deal.Status.choices)
    stage_labels: dict[tuple[str, str], str] = {}
    type_labels: dict[str, str] = {}
    rows = services.with_overdue(deals).values_list(
        "code",
        "name",
        "client",
        "deal_type",
        "stage",
        "status",
        "department__name",
        "industry",
        "lead__name",
        "lead__username",
        "opened_on",
        "closed_on",
        "deal_size",
        "expected_fee",
        "is_overdue",
    )
    for row in rows[:MAX_ROWS].iterator(chunk_size=2000):
        (code, name, client, deal_type, stage, status, department, industry) = row[:8]
        (lead_name, lead_username, opened, closed, size, fee, overdue) = row[8:]
        if deal_type not in type_labels:
            type_labels[deal_type] = services.type_label(deal_type)
        if (deal_type, stage) not in stage_labels:
            stage_labels[deal_type, stage] = services.stage_label(deal_type, stage)
        yield [
            code,
            name,
            client,
            type_labels[deal_type],
            stage_labels[deal_type, stage],
            str(statuses.get(status, status)),
            department or "",
            labels.get(industry, industry) if industry else "",
            lead_name or lead_username or "",
            opened.strftime("%Y-%m") if opened else "",
            closed.strftime("%Y-%m") if closed else "",
            float(size) if size is not None else None,
            float(fee) if fee is not None else None,
            _("Yes") if overdue and status not in Deal.CLOSED else _("No"),
        ]


def summary_table(deals: QuerySet) -> list[dict]:
    """Deals, total size and expected fee per (type, stage), in pipeline order."""
    rows = (
        deals.order_by()
        .values("deal_type", "stage")
        .annotate(n=Count("pk"), size=Sum("deal_size"), fee=Sum("expected_fee"))
    )
    by_key = {(r["deal_type"], r["stage"]): r for r in rows}
    order = {
        (row["deal_type"], row["stage"]): i for i, row in enumerate(_stage_order(list(by_key)))
    }
    result = []
    for key in sorted(by_key, key=lambda k: order[k]):
        r = by_key[key]
        result.append(
            {
                "deal_type": key[0],
                "stage": key[1],
                "type_name": services.type_label(key[0]),
                "stage_name": services.stage_label(key[0], key[1]),
                "count": r["n"],
                "deal_size": float(r["size"] or 0),
                "expected_fee": float(r["fee"] or 0),
            }
        )
    return result


def _stage_order(keys: list[tuple[str, str]]) -> list[dict]:
    types = [value for value, _label in dictionaries.choices("deal_type")]
    types += sorted({t for t, _s in keys} - set(types))
    ordered = []
    for deal_type in types:
        stages = [value for value, _label in services.stage_choices(deal_type)]
        present = {s for t, s in keys if t == deal_type}
        for stage in stages + sorted(present - set(stages)):
            if stage in present:
                ordered.append({"deal_type": deal_type, "stage": stage})
    return ordered


def summary_workbook(deals: QuerySet) -> tuple[bytes, int]:
    """The xlsx of ``deals`` (already scoped and filtered) and how many deal rows it holds."""
    from openpyxl import Workbook  # see dashboard_deck

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Deals")[:31])
    sheet.append(summary_header())
    count = 0
    for row in summary_rows(deals):
        sheet.append([safe_cell(value) for value in row])
        count += 1
    summary = workbook.create_sheet(_("Summary")[:31])
    summary.append(
        [_("Type"), _("Stage"), _("Deals"), _("Deal size (CNY)"), _("Expected fee (CNY)")]
    )
    totals = [0, 0.0, 0.0]
    for row in summary_table(deals):
        summary.append(
            [
                safe_cell(row["type_name"]),
                safe_cell(row["stage_name"]),
                row["count"],
                row["deal_size"],
                row["expected_fee"],
            ]
        )
        totals[0] += row["count"]
        totals[1] += row["deal_size"]
        totals[2] += row["expected_fee"]
    summary.append([_("Total"), "", *totals])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), count


# --- PPTX deck ------------------------------------------------------------------------------------


def deck_charts(figures: dict) -> list[dict]:
    """The charts of the deck, each ``{"key", "title", "kind", "categories", "series"}`` with
    ``series`` as ``[(name, values)]``: taken straight from the dashboard's figures, so the
    deck's data equal the page's (the tests read the file back and compare)."""
    from pptx.enum.chart import XL_CHART_TYPE  # see dashboard_deck

    month = figures["per_month"]
    heat = figures["milestones_heatmap"]
    heat_series = []
    for row, department in enumerate(heat["departments"]):
        values = [0] * len(heat["weeks"])
        for week, cell_row, n in heat["cells"]:
            if cell_row == row:
                values[week] = n
        heat_series.append((department["name"], values))

    def counts(rows: list[dict]) -> tuple[list[str], list[tuple[str, list[int]]]]:
        return [r["name"] for r in rows], [(_("Deals"), [r["count"] for r in rows])]

    charts = [
        {
            "key": "per_month",
            "title": _("Deals opened and closed per month"),
            "kind": XL_CHART_TYPE.LINE_MARKERS,
            "categories": month["months"],
            "series": [(_("Opened"), month["opened"]), (_("Closed"), month["closed"])],
        }
    ]
    for key, title, kind in (
        ("by_type", _("Deals by type"), XL_CHART_TYPE.BAR_CLUSTERED),
        ("by_stage", _("Deals by stage"), XL_CHART_TYPE.BAR_CLUSTERED),
        ("by_industry", _("Deals by industry"), XL_CHART_TYPE.PIE),
        ("by_department", _("Deals by department"), XL_CHART_TYPE.PIE),
    ):
        categories, series = counts(figures[key])
        charts.append(
            {"key": key, "title": title, "kind": kind, "categories": categories, "series": series}
        )
    charts.append(
        {
            "key": "milestones_heatmap",
            "title": _("Open milestones due per week by department"),
            "kind": XL_CHART_TYPE.COLUMN_STACKED,
            "categories": heat["weeks"],
            "series": heat_series,
        }
    )
    return charts


def _title(slide, text: str) -> None:
    slide.shapes.title.text = text


def dashboard_deck(figures: dict, scope: str, generated_at: datetime.datetime | None = None):
    """A PPTX (bytes) of ``figures``: a title slide naming ``scope`` and the date range, the KPI
    table, then one slide per chart with a native chart (an empty chart gets a note instead)."""
    # python-pptx and openpyxl load in a second on a slow host; importing them where a file is
    # built keeps every process start light (Django loads this module in every crawl run and
    # worker, which never build one).
    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
    from pptx.util import Inches, Pt

    generated_at = timezone.localtime(generated_at or timezone.now())
    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    width, height = deck.slide_width, deck.slide_height
    filters = figures["filters"]

    slide = deck.slides.add_slide(deck.slide_layouts[0])
    _title(slide, _("Deal dashboard"))
    slide.placeholders[1].text = "\n".join(
        [
            _("Scope: %(scope)s") % {"scope": scope},
            _("Opened %(first)s to %(last)s")
            % {"first": filters["series_from"], "last": filters["series_to"]},
            _("Generated %(time)s") % {"time": generated_at.strftime("%Y-%m-%d %H:%M")},
        ]
    )

    slide = deck.slides.add_slide(deck.slide_layouts[5])
    _title(slide, _("Key figures today"))
    k = figures["kpis"]
    rows = [
        (_("Active deals"), f"{k['active_deals']}"),
        (_("Overdue deals"), f"{k['overdue_deals']}"),
        (_("Overdue milestones"), f"{k['overdue_milestones']}"),
        (_("Expected fee of active deals (CNY)"), f"{k['expected_fee']:,.2f}"),
    ]
    table = slide.shapes.add_table(
        len(rows), 2, Inches(1), Inches(1.8), width - Inches(2), Inches(0.6) * len(rows)
    ).table
    for i, (label, value) in enumerate(rows):
        table.cell(i, 0).text = str(label)
        table.cell(i, 1).text = value

    for chart in deck_charts(figures):
        slide = deck.slides.add_slide(deck.slide_layouts[5])
        _title(slide, chart["title"])
        if not chart["categories"] or not chart["series"]:
            box = slide.shapes.add_textbox(Inches(1), Inches(2), width - Inches(2), Inches(1))
            box.text_frame.text = _("No data in this range.")
            continue
        data = CategoryChartData()
        data.categories = chart["categories"]
        for name, values in chart["series"]:
            data.add_series(str(name), values)
        frame = slide.shapes.add_chart(
            chart["kind"],
            Inches(0.5),
            Inches(1.4),
            width - Inches(1),
            height - Inches(1.8),
            data,
        )
        frame.name = chart["key"]
        native = frame.chart
        native.has_legend = len(chart["series"]) > 1 or chart["kind"] == XL_CHART_TYPE.PIE
        if native.has_legend:
            native.legend.position = XL_LEGEND_POSITION.BOTTOM
            native.legend.include_in_layout = False
            native.legend.font.size = Pt(10)
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


# --- Weekly report --------------------------------------------------------------------------------


def weekly_period(today: datetime.date | None = None) -> dict[str, datetime.date]:
    """The weeks a report of ``today`` covers: the full week before the current one, and the
    seven days from today (the job runs on Monday, so that is the week ahead)."""
    today = today or timezone.localdate()
    last_from = monday(today) - datetime.timedelta(weeks=1)
    return {
        "last_from": last_from,
        "last_to": last_from + datetime.timedelta(days=6),
        "next_from": today,
        "next_to": today + datetime.timedelta(days=6),
        "today": today,
    }


def weekly_summary(deals: QuerySet, milestones: QuerySet, today: datetime.date | None = None):
    """The weekly report over the (scoped) ``deals`` and ``milestones``: deals opened and
    closed last week, stage moves last week, overdue milestones today and milestones due in the
    next seven days; each a count and its first :data:`WEEKLY_LIST_ITEMS` items."""
    period = weekly_period(today)
    last = {"gte": period["last_from"], "lte": period["last_to"]}
    deals = deals.order_by()
    opened = deals.filter(opened_on__gte=last["gte"], opened_on__lte=last["lte"])
    closed = deals.filter(closed_on__gte=last["gte"], closed_on__lte=last["lte"])
    start = timezone.make_aware(datetime.datetime.combine(last["gte"], datetime.time.min))
    moves = DealActivity.objects.filter(
        deal__in=deals.values("pk"),
        kind=DealActivity.Kind.STAGE,
        created_at__gte=start,
        created_at__lt=start + datetime.timedelta(weeks=1),
    ).select_related("deal")
    overdue = (
        milestones.filter(services.overdue_q(today=period["today"]))
        .select_related("deal", "owner")
        .order_by("due_date", "pk")
    )
    due = (
        milestones.filter(
            services.open_milestones_q(),
            due_date__gte=period["next_from"],
            due_date__lte=period["next_to"],
        )
        .select_related("deal", "owner")
        .order_by("due_date", "pk")
    )
    n = WEEKLY_LIST_ITEMS

    def deal_item(deal: Deal) -> dict:
        return {"code": deal.code, "name": deal.name, "url": deal.get_absolute_url()}

    def milestone_item(m: Milestone) -> dict:
        return {
            "name": m.name,
            "deal": m.deal.name,
            "due_date": m.due_date.isoformat(),
            "owner": str(m.owner) if m.owner else "",
            "url": m.deal.get_absolute_url(),
        }

    return {
        "period": {key: value.isoformat() for key, value in period.items()},
        "opened": {
            "count": opened.count(),
            "items": [deal_item(d) for d in opened.order_by("-opened_on", "-pk")[:n]],
        },
        "closed": {
            "count": closed.count(),
            "items": [deal_item(d) for d in closed.order_by("-closed_on", "-pk")[:n]],
        },
        "stage_moves": {
            "count": moves.count(),
            "items": [
                {
                    "name": a.deal.name,
                    "text": a.text,
                    "url": a.deal.get_absolute_url(),
                }
                for a in moves.order_by("-created_at", "-pk")[:n]
            ],
        },
        "overdue_milestones": {
            "count": overdue.count(),
            "items": [milestone_item(m) for m in overdue[:n]],
        },
        "due_next_week": {"count": due.count(), "items": [milestone_item(m) for m in due[:n]]},
    }


def weekly_text(summary: dict) -> str:
    """The weekly report as plain text (the email body; the link to the dashboard follows)."""
    p = summary["period"]
    lines = [
        _("Last week (%(first)s to %(last)s):") % {"first": p["last_from"], "last": p["last_to"]},
        _("- deals opened: %(n)d") % {"n": summary["opened"]["count"]},
        _("- deals closed: %(n)d") % {"n": summary["closed"]["count"]},
        _("- stage moves: %(n)d") % {"n": summary["stage_moves"]["count"]},
        _("Overdue milestones now: %(n)d") % {"n": summary["overdue_milestones"]["count"]},
        _("Milestones due %(first)s to %(last)s: %(n)d")
        % {
            "first": p["next_from"],
            "last": p["next_to"],
            "n": summary["due_next_week"]["count"],
        },
    ]
    for key, title in (
        ("overdue_milestones", _("Overdue:")),
        ("due_next_week", _("Due this week:")),
    ):
        items = summary[key]["items"]
        if items:
            lines += ["", title]
            lines += [f"- {m['due_date']} {m['deal']} · {m['name']} ({m['owner']})" for m in items]
    return "\n".join(lines)


def managers() -> list[Any]:
    """Active people holding ``deals.export_deal_report`` (through a role, directly, or as
    superusers): the weekly report's recipients."""
    permission = Permission.objects.filter(
        content_type__app_label="deals", codename="export_deal_report"
    ).first()
    people = get_user_model().objects.filter(is_active=True)
    holds = Q(is_superuser=True)
    if permission is not None:
        holds |= Q(roles__permissions=permission, roles__is_active=True)
        holds |= Q(user_permissions=permission)
    # has_perm is the one rule (the backend also refuses disabled roles and users)
    return [user for user in people.filter(holds).distinct() if user.has_perm(REPORT_PERMISSION)]


def send_weekly_reports(today: datetime.date | None = None) -> int:
    """Notify each manager of their own scope's weekly report (event ``deals.weekly_report``);
    returns how many were sent. The email's body holds the figures, then links to the Excel
    summary and the dashboard (the email channel carries no attachments).

    One manager's failure is logged and the others still get theirs: a retry of the whole job
    would send the reports already delivered a second time.
    """
    sent = 0
    for user in managers():
        try:
            send_weekly_report(user, today)
        except Exception:
            logger.exception("weekly deal report for user %s failed", user.pk)
            continue
        sent += 1
    return sent


def send_weekly_report(user: Any, today: datetime.date | None = None) -> None:
    """Notify ``user`` of the weekly report over the deals and milestones they may see."""
    summary = weekly_summary(
        Deal.objects.restrict(user, "view"), Milestone.objects.restrict(user, "view"), today
    )
    period = summary["period"]
    with translation.override(user.preferred_language):
        body = "\n".join(
            [
                weekly_text(summary),
                "",
                _("Excel summary: %(url)s")
                % {"url": absolute_link(reverse("deals:deal_summary_export"))},
                _("Report page: %(url)s") % {"url": absolute_link(reverse("deals:weekly_report"))},
            ]
        )
        title = _("Weekly deal report %(first)s to %(last)s") % {
            "first": period["last_from"],
            "last": period["last_to"],
        }
    notify(
        [user],
        title,
        body=body,
        url=reverse("deals:dashboard"),
        event=WEEKLY_EVENT,
    )
