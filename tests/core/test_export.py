"""Exports of lists: untrusted text cannot run as a spreadsheet formula or break the file."""

import io

import pytest
from openpyxl import load_workbook

from ibcloud.core.export import safe_cell
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_formulas_are_neutralised_and_control_characters_dropped():
    assert safe_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("正常\x00文本\x1b") == "正常文本"
    assert safe_cell(42) == 42


def test_xlsx_export_of_a_list_with_hostile_text_opens(client, admin_user):
    UserFactory(username="mallory", name="=cmd|' /C calc'!A0\x07")
    client.force_login(admin_user)
    response = client.get("/accounts/users/?export=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = [cell.value for row in sheet.iter_rows() for cell in row]
    assert "'=cmd|' /C calc'!A0" in values


def test_api_export_honours_ordering(api, admin_user):
    UserFactory(username="zed")
    UserFactory(username="amy")
    response = api.as_user(admin_user).get(
        "/api/v1/accounts/users/export/?file_format=csv&ordering=-username"
    )
    assert response.status_code == 200
    lines = response.content.decode("utf-8-sig").splitlines()
    names = [line.split(",")[0] for line in lines[1:]]
    assert names.index("zed") < names.index("amy")


def test_cells_drop_exactly_what_openpyxl_refuses():
    """The cleaning regex is openpyxl's own set (kept here so importing exports stays light)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    from ibcloud.core import export

    assert export.ILLEGAL_CHARACTERS_RE.pattern == ILLEGAL_CHARACTERS_RE.pattern
