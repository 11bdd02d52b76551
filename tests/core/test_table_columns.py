"""列设置: each person chooses the columns of a list table and their order; others are untouched."""

import re

import pytest

from ibcloud.audit.models import AuditEntry
from ibcloud.catalog.tables import ProjectTable
from ibcloud.core.models import TableConfig
from ibcloud.core.tables import TABLES, optional_columns, table_key
from tests.catalog.factories import ProjectFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PROJECTS = "/catalog/projects/"
KEY = "catalog.tables.ProjectTable"


def table_headers(client) -> list[str]:
    """The sortable columns of the list table as shown, in order."""
    html = client.get(PROJECTS).content.decode()
    table = html[html.index('id="object-table"') :]
    return re.findall(r'href="\?sort=(\w+)"', table[: table.index("</thead>")])


def shown_columns(client) -> list[str]:
    """The ticked columns of the chooser, in its order."""
    html = client.get(PROJECTS).content.decode()
    chooser = html[html.index('id="column-choices"') :]
    chooser = chooser[: chooser.index("</ul>")]
    return re.findall(r'value="(\w+)" checked', chooser)


def test_every_list_table_is_known_by_its_key():
    assert TABLES[KEY] is ProjectTable and table_key(ProjectTable) == KEY
    optional = optional_columns(ProjectTable)
    assert "name" in optional and "select" not in optional


def test_a_choice_hides_and_orders_columns_for_that_person_only(client, admin_user):
    ProjectFactory(name="云图智能")
    client.force_login(admin_user)
    usual = shown_columns(client)
    assert usual[:2] == ["name", "full_name"]
    assert table_headers(client)[:2] == ["name", "full_name"]

    response = client.post(
        "/table-columns/",
        {"table": KEY, "columns": ["industry", "name"], "next": PROJECTS + "?round=a"},
    )

    assert response.status_code == 302 and response["Location"] == PROJECTS + "?round=a"
    assert shown_columns(client) == ["industry", "name"]
    assert table_headers(client) == ["industry", "name"]
    assert "云图智能" in client.get(PROJECTS).content.decode()
    # Exports keep every column.
    csv_header = client.get(PROJECTS, {"export": "csv"}).content
    assert "工商全称" in csv_header.decode("utf-8-sig").splitlines()[0]
    # Another person still sees the usual columns.
    other = UserFactory(is_superuser=True)
    client.force_login(other)
    assert shown_columns(client) == usual
    assert table_headers(client)[:2] == ["name", "full_name"]


def test_restoring_forgets_the_choice(client, admin_user):
    client.force_login(admin_user)
    usual = shown_columns(client)
    client.post("/table-columns/", {"table": KEY, "columns": ["name"]})
    assert shown_columns(client) == ["name"]
    client.post("/table-columns/", {"table": KEY, "reset": "1", "columns": ["name"]})
    assert shown_columns(client) == usual
    assert not TableConfig.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"table": "catalog.tables.NoSuchTable", "columns": ["name"]}, "Unknown table"),
        ({"table": KEY, "columns": ["name", "password"]}, "password"),
        ({"table": KEY}, "at least one column"),
    ],
)
def test_bad_choices_are_refused_with_a_message(client, admin_user, data, message, settings):
    settings.LANGUAGE_CODE = "en"
    client.force_login(admin_user)
    response = client.post("/table-columns/", {**data, "next": PROJECTS}, follow=True)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not TableConfig.objects.exists()


def test_saving_is_audited_and_needs_a_login(client, admin_user):
    assert client.post("/table-columns/", {"table": KEY, "columns": ["name"]}).status_code == 302
    assert not TableConfig.objects.exists()  # sent to the login page
    client.force_login(admin_user)
    client.post("/table-columns/", {"table": KEY, "columns": ["name", "round"]})
    client.post("/table-columns/", {"table": KEY, "reset": "1"})
    entries = AuditEntry.objects.filter(content_type__model="tableconfig").order_by("pk")
    assert [(e.action, e.actor_id) for e in entries] == [
        (AuditEntry.Action.CREATE, admin_user.pk),
        (AuditEntry.Action.DELETE, admin_user.pk),
    ]
    assert entries[0].changes_dict["columns"][1] == ["name", "round"]


def test_a_column_the_table_no_longer_has_is_skipped(client, admin_user):
    TableConfig.objects.create(user=admin_user, table=KEY, columns=["gone", "round", "name"])
    client.force_login(admin_user)
    assert shown_columns(client) == ["round", "name"]


def test_an_offsite_next_address_is_not_followed(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/table-columns/", {"table": KEY, "columns": ["name"], "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"
