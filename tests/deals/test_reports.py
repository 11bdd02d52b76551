"""Deal reports: the pivot-ready Excel summary of the filtered list and the PPTX deck of the
dashboard. Both hold only the viewer's deals, are recorded in the audit log, and the deck's native
charts read back (python-pptx) with exactly the dashboard's figures."""

from __future__ import annotations

import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import load_workbook
from pptx import Presentation

from ibcloud.audit.models import AuditEntry
from ibcloud.deals import charts, reports
from ibcloud.deals.models import Deal
from tests.conftest import make_org
from tests.deals.factories import DealFactory, MilestoneFactory
from tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

PERMS = ["deals.view_deal", "deals.view_milestone", "deals.export_deal_report"]


def days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


@pytest.fixture
def org():
    return make_org(PERMS)


@pytest.fixture
def world(org):
    a, b = org.dept_user, org.b_user
    late = DealFactory(lead=a, name="云图IPO", deal_type="ipo", stage="filing", industry="65")
    MilestoneFactory(deal=late, due_date=days(-2), owner=a)
    MilestoneFactory(deal=late, due_date=days(10), owner=a)
    DealFactory(lead=a, deal_type="ipo", stage="initiation", deal_size=50_000_000)
    DealFactory(
        lead=a,
        deal_type="ma",
        stage="closing",
        status=Deal.Status.COMPLETED,
        opened_on=days(-70),
        closed_on=days(-35),
        expected_fee=1_000_000,
    )
    bond = DealFactory(lead=b, name="乙方债券", deal_type="bond", stage="initiation")
    MilestoneFactory(deal=bond, due_date=days(3))
    return {"late": late, "bond": bond}


def sheets(response) -> dict[str, list[list]]:
    book = load_workbook(io.BytesIO(response.content))
    return {
        sheet.title: [[cell.value for cell in row] for row in sheet.iter_rows()]
        for sheet in book.worksheets
    }


# --- Excel summary --------------------------------------------------------------------------------


def test_the_summary_has_one_flat_row_per_visible_deal(org, world, client, english):
    client.force_login(org.dept_user)
    response = client.get(reverse("deals:deal_summary_export"))
    assert response.status_code == 200
    assert response["Content-Type"] == reports.XLSX_TYPE
    book = sheets(response)
    header, *rows = book["Deals"]
    assert header[:6] == ["Code", "Name", "Client", "Type", "Stage", "Status"]
    assert header[-3:] == ["Deal size (CNY)", "Expected fee (CNY)", "Overdue"]
    by_name = {row[1]: dict(zip(header, row, strict=True)) for row in rows}
    assert len(rows) == 3 and "乙方债券" not in by_name  # department B's deal is not in scope
    late = by_name["云图IPO"]
    assert (late["Type"], late["Stage"], late["Status"], late["Overdue"]) == (
        "IPO",
        "申报",
        "Active",
        "Yes",
    )
    assert late["Department"] == org.dept_a.name and late["Lead"] == str(org.dept_user)
    assert late["Opened month"] == days(0).strftime("%Y-%m") and late["Closed month"] is None
    assert late["Deal size (CNY)"] == 100_000_000 and late["Expected fee (CNY)"] == 3_000_000
    closed = next(r for r in by_name.values() if r["Type"] == "并购")
    assert closed["Closed month"] == days(-35).strftime("%Y-%m") and closed["Overdue"] == "No"


def test_the_summary_sheet_sums_by_type_and_stage(org, world, client, english):
    client.force_login(org.dept_user)
    header, *rows = sheets(client.get(reverse("deals:deal_summary_export")))["Summary"]
    assert header == ["Type", "Stage", "Deals", "Deal size (CNY)", "Expected fee (CNY)"]
    assert rows == [
        ["IPO", "立项", 1, 50_000_000, 3_000_000],
        ["IPO", "申报", 1, 100_000_000, 3_000_000],
        ["并购", "交割", 1, 100_000_000, 1_000_000],
        ["Total", None, 3, 250_000_000, 7_000_000],
    ]


def test_the_summary_takes_the_deal_lists_filters_and_is_audited(org, world, client):
    client.force_login(org.all_user)
    response = client.get(reverse("deals:deal_summary_export"), {"overdue": "true"})
    rows = next(iter(sheets(response).values()))
    assert [row[1] for row in rows[1:]] == ["云图IPO"]
    entry = AuditEntry.objects.filter(event="export").latest("timestamp")
    assert entry.actor == org.all_user
    assert entry.additional_data["model"] == "deals.deal"
    assert entry.additional_data["rows"] == 1
    assert entry.additional_data["filters"] == {"overdue": "true"}


def test_spreadsheet_formulas_in_names_stay_text(org, client):
    DealFactory(lead=org.dept_user, name='=HYPERLINK("http://evil")', client="+1")
    client.force_login(org.dept_user)
    book = sheets(client.get(reverse("deals:deal_summary_export")))
    values = [v for sheet in book.values() for row in sheet for v in row]
    assert not any(isinstance(v, str) and v[:1] in "=+" for v in values)


def test_the_summary_needs_the_view_permission(client):
    outsider = UserFactory(roles=[RoleFactory(data_scope="all", perms=["deals.view_milestone"])])
    client.force_login(outsider)
    assert client.get(reverse("deals:deal_summary_export")).status_code == 403


# --- PPTX deck ------------------------------------------------------------------------------------


def chart_data(deck: Presentation) -> dict[str, dict]:
    """Each native chart of the deck by its shape name: categories and series values."""
    found = {}
    for slide in deck.slides:
        for shape in slide.shapes:
            if shape.has_chart:
                plot = shape.chart.plots[0]
                found[shape.name] = {
                    "type": shape.chart.chart_type,
                    "categories": [str(c) for c in plot.categories],
                    "series": {s.name: [int(v or 0) for v in s.values] for s in plot.series},
                }
    return found


def test_the_deck_holds_native_charts_equal_to_the_dashboard(org, world, client, english):
    client.force_login(org.all_user)
    response = client.get(reverse("deals:dashboard_pptx"))
    assert response.status_code == 200
    assert response["Content-Type"] == reports.PPTX_TYPE
    deck = Presentation(io.BytesIO(response.content))
    figures = charts.for_user(org.all_user)
    found = chart_data(deck)
    assert set(found) == {
        "per_month",
        "by_type",
        "by_stage",
        "by_industry",
        "by_department",
        "milestones_heatmap",
    }
    month = figures["per_month"]
    assert found["per_month"]["categories"] == month["months"]
    assert found["per_month"]["series"] == {"Opened": month["opened"], "Closed": month["closed"]}
    for key in ("by_type", "by_stage", "by_industry", "by_department"):
        assert found[key]["categories"] == [row["name"] for row in figures[key]], key
        assert found[key]["series"] == {"Deals": [row["count"] for row in figures[key]]}, key
    heat = figures["milestones_heatmap"]
    assert found["milestones_heatmap"]["categories"] == heat["weeks"]
    grid = found["milestones_heatmap"]["series"]
    assert list(grid) == [d["name"] for d in heat["departments"]]
    for week, row, n in heat["cells"]:
        assert grid[heat["departments"][row]["name"]][week] == n
    assert sum(map(sum, grid.values())) == sum(cell[2] for cell in heat["cells"])
    title = "\n".join(shape.text_frame.text for shape in deck.slides[0].shapes)
    assert figures["filters"]["series_from"] in title and str(org.all_user) in title


def test_the_deck_is_scoped_filtered_and_audited(org, world, client):
    client.force_login(org.b_user)
    response = client.get(reverse("deals:dashboard_pptx"), {"deal_type": "bond"})
    found = chart_data(Presentation(io.BytesIO(response.content)))
    assert list(found["by_type"]["series"].values()) == [[1]]
    assert "by_stage" in found
    entry = AuditEntry.objects.filter(event="export").latest("timestamp")
    assert entry.actor == org.b_user and entry.additional_data["file_format"] == "pptx"
    assert entry.additional_data["filters"]["deal_type"] == "bond"


def test_an_empty_chart_gets_a_note_instead(org, client):
    client.force_login(org.dept_user)
    deck = Presentation(io.BytesIO(client.get(reverse("deals:dashboard_pptx")).content))
    # twelve months of zeros still make a line; no deals means no bars, slices or heatmap rows
    assert set(chart_data(deck)) == {"per_month"}
    texts = [s.text_frame.text for slide in deck.slides for s in slide.shapes if s.has_text_frame]
    assert texts.count(str(_("No data in this range."))) == 5


def test_the_deck_needs_the_report_permission(org, client, api):
    viewer = UserFactory(roles=[RoleFactory(data_scope="all", perms=PERMS[:2])])
    client.force_login(viewer)
    assert client.get(reverse("deals:dashboard_pptx")).status_code == 403
    assert api.as_user(viewer).get("/api/v1/deals/dashboard/pptx/").status_code == 403


def test_a_bad_filter_gets_no_deck(org, client):
    client.force_login(org.dept_user)
    response = client.get(reverse("deals:dashboard_pptx"), {"date_from": "2026-13-01"})
    assert response.status_code == 400
    assert not AuditEntry.objects.filter(event="export").exists()


def test_the_api_deck_equals_the_api_figures(org, world, api):
    client = api.as_user(org.dept_user)
    response = client.get("/api/v1/deals/dashboard/pptx/", {"deal_type": "ipo"})
    assert response.status_code == 200
    found = chart_data(Presentation(io.BytesIO(response.content)))
    figures = client.get("/api/v1/deals/dashboard/", {"deal_type": "ipo"}).json()
    assert found["by_stage"]["categories"] == [row["name"] for row in figures["by_stage"]]
    assert list(found["by_stage"]["series"].values()) == [[r["count"] for r in figures["by_stage"]]]
    bad = client.get("/api/v1/deals/dashboard/pptx/", {"date_to": "x"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"


def test_the_dashboards_excel_link_holds_the_deals_its_charts_count(org, world, client):
    client.force_login(org.all_user)
    page = client.get(reverse("deals:dashboard"), {"deal_type": "ipo"})
    url = page.context["summary_url"]
    assert url.startswith(reverse("deals:deal_summary_export") + "?")
    rows = next(iter(sheets(client.get(url)).values()))[1:]
    counted = sum(row["count"] for row in page.context["figures"]["by_type"])
    assert len(rows) == counted == 2


def test_a_bad_list_filter_gets_no_file_rather_than_more_rows(org, world, client, english):
    client.force_login(org.all_user)
    response = client.get(reverse("deals:deal_summary_export"), {"opened_after": "last year"})
    assert response.status_code == 400
    assert "Enter a valid date." in response.content.decode()
    assert not AuditEntry.objects.filter(event="export").exists()
