"""Excel and CSV export of the filtered catalog lists: the rows of the list, scoped, audited."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from ibcloud.audit.models import AuditEntry
from tests.catalog.factories import InvestorFactory, ProjectFactory
from tests.conftest import make_org

pytestmark = pytest.mark.django_db

PERMS = ["catalog.view_project", "catalog.view_investor"]


@pytest.fixture
def org():
    return make_org(PERMS)


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_export_holds_exactly_the_filtered_list(org, client):
    ProjectFactory(name="A轮甲", round="a", amount_low=10_000_000, amount_high=100_000_000)
    ProjectFactory(name="A轮乙", round="a")
    ProjectFactory(name="B轮", round="b")
    client.force_login(org.all_user)
    url = reverse("catalog:project_list")
    page = client.get(url, {"round": "a"})
    listed = [row.record.name for row in page.context["table"].rows]
    header, *rows = csv_rows(client.get(url, {"round": "a", "export": "csv"}))
    name = header.index("Project") if "Project" in header else 0
    assert [row[name] for row in rows] == listed
    assert sorted(listed) == ["A轮乙", "A轮甲"]
    first = dict(zip(header, rows[listed.index("A轮甲")], strict=True))
    # readable and exact figures side by side
    assert "1,000万–1亿" in first.values()
    assert "10000000" in first.values() and "100000000" in first.values()
    assert "Actions" not in header and "操作" not in header


def test_xlsx_export_and_the_audit_entry(org, client):
    ProjectFactory(name="云图智能", summary='=HYPERLINK("http://evil")')
    client.force_login(org.all_user)
    response = client.get(reverse("catalog:project_list"), {"export": "xlsx", "q": ""})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert any("云图智能" in row for row in values)
    # crawled text never becomes a formula
    assert not any(isinstance(v, str) and v.startswith("=") for row in values for v in row)
    entry = AuditEntry.objects.filter(event="export").latest("timestamp")
    assert entry.actor == org.all_user
    assert entry.additional_data["model"] == "catalog.project"
    assert entry.additional_data["rows"] == 1


def test_api_export_uses_the_same_filters(org, api):
    InvestorFactory(name="红杉", investor_type="vc")
    InvestorFactory(name="国投", investor_type="gov_fund")
    client = api.as_user(org.all_user)
    response = client.get(
        "/api/v1/catalog/investors/export/", {"file_format": "csv", "investor_type": "vc"}
    )
    header, *rows = csv_rows(response)
    assert [row[header.index("Investor")] if "Investor" in header else row[0] for row in rows] == [
        "红杉"
    ]
    assert AuditEntry.objects.filter(event="export").exists()


def test_export_is_scoped(org, client):
    ProjectFactory(name="甲部", department=org.dept_a, owner=org.dept_user)
    ProjectFactory(name="乙部", department=org.dept_b, owner=org.b_user)
    client.force_login(org.b_user)
    text = client.get(reverse("catalog:project_list"), {"export": "csv"}).content.decode(
        "utf-8-sig"
    )
    assert "乙部" in text and "甲部" not in text
