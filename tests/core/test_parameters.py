"""System parameters (参数): declared in code, listed and edited by admins, audited."""

import pytest
from auditlog import get_logentry_model
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from ibcloud.core import parameters
from ibcloud.core.models import Parameter
from tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

RETENTION = "jobs.retention_days"


@pytest.fixture
def param_admin():
    role = RoleFactory(
        code="param-admin",
        data_scope="all",
        perms=["core.view_parameter", "core.change_parameter"],
    )
    return UserFactory(username="param_admin", roles=[role])


@pytest.fixture
def param_viewer():
    role = RoleFactory(code="param-viewer", data_scope="all", perms=["core.view_parameter"])
    return UserFactory(username="param_viewer", roles=[role])


def audit_entries(key: str):
    row = Parameter.objects.filter(key=key).first()
    LogEntry = get_logentry_model()
    entries = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Parameter))
    return entries.filter(object_pk=str(row.pk)) if row else entries.none()


def test_modules_parameters_are_declared_at_start_up():
    keys = {d.key for d in parameters.definitions()}
    # Declared by core and by accounts' lockout and password modules, imported at start-up.
    assert {
        "jobs.retention_days",
        "deals.reminder_days",
        "crawler.error_rate_threshold",
        "accounts.lockout_limit",
        "accounts.password_min_length",
    } <= keys


def test_value_comes_from_override_else_default():
    assert parameters.get_parameter(RETENTION) == 30
    parameters.set_parameter(RETENTION, "45")
    assert parameters.get_parameter(RETENTION) == 45
    assert parameters.reset_parameter(RETENTION) == 30
    assert parameters.get_parameter(RETENTION) == 30
    assert not Parameter.objects.filter(key=RETENTION).exists()


@pytest.mark.parametrize(
    "key,raw",
    [
        (RETENTION, "abc"),
        (RETENTION, 0),  # below the minimum
        (RETENTION, 10**6),  # above the maximum
        (RETENTION, 1.5),
        (RETENTION, [30]),
        (RETENTION, None),
        ("crawler.error_rate_threshold", "nan"),
        ("crawler.error_rate_threshold", "inf"),
        ("crawler.error_rate_threshold", 1.5),
    ],
)
def test_bad_values_are_refused(key, raw):
    with pytest.raises(parameters.ValidationError):
        parameters.set_parameter(key, raw)
    assert not Parameter.objects.filter(key=key).exists()


def test_list_page_shows_every_parameter_with_its_state(client, param_viewer):
    parameters.set_parameter(RETENTION, 60)
    client.force_login(param_viewer)
    response = client.get(reverse("core:parameter_list"))
    html = response.content.decode()
    assert response.status_code == 200
    for definition in parameters.definitions():
        assert f'data-key="{definition.key}"' in html
    row = html.split(f'data-key="{RETENTION}"')[1].split("</tr>")[0]
    assert 'title="60">60</strong>' in row
    # Switches read yes / no, and the kind of value is said in words.
    switch = html.split('data-key="backup.schedule_enabled"')[1].split("</tr>")[0]
    assert "True" not in switch and ">是</strong>" in switch and "是 / 否" in switch
    assert "data-overridden" in row
    other = html.split('data-key="deals.reminder_days"')[1].split("</tr>")[0]
    assert "data-overridden" not in other
    # A viewer gets no edit link.
    assert reverse("core:parameter_edit", args=[RETENTION]) not in html


def test_edit_page_validates_through_the_definition(client, param_admin):
    client.force_login(param_admin)
    url = reverse("core:parameter_edit", args=[RETENTION])
    assert client.get(url).status_code == 200

    bad = client.post(url, {"value": "0"})
    assert bad.status_code == 200
    assert 'data-field-error="value"' in bad.content.decode()
    assert parameters.get_parameter(RETENTION) == 30

    good = client.post(url, {"value": "90"})
    assert good.status_code == 302
    assert parameters.get_parameter(RETENTION) == 90

    client.post(url, {"reset": "1"})
    assert parameters.get_parameter(RETENTION) == 30


def test_edit_needs_change_permission_and_a_known_key(client, param_viewer, param_admin):
    client.force_login(param_viewer)
    url = reverse("core:parameter_edit", args=[RETENTION])
    assert client.post(url, {"value": "90"}).status_code == 403
    assert parameters.get_parameter(RETENTION) == 30
    client.force_login(param_admin)
    assert client.get(reverse("core:parameter_edit", args=["no.such"])).status_code == 404


def test_ui_change_is_audited_with_the_actor(client, param_admin):
    client.force_login(param_admin)
    client.post(reverse("core:parameter_edit", args=[RETENTION]), {"value": "14"})
    entry = audit_entries(RETENTION).latest("timestamp")
    assert entry.actor == param_admin
    assert "14" in str(entry.changes)


def test_api_lists_reads_and_updates(api, param_admin):
    client = api.as_user(param_admin)
    listed = client.get("/api/v1/system/parameters/")
    assert listed.status_code == 200
    keys = [row["key"] for row in listed.json()["results"]]
    assert RETENTION in keys

    one = client.get(f"/api/v1/system/parameters/{RETENTION}/").json()
    assert (one["value"], one["default"], one["overridden"], one["kind"]) == (30, 30, False, "int")

    updated = client.put(f"/api/v1/system/parameters/{RETENTION}/", {"value": 7}, format="json")
    assert updated.status_code == 200
    assert (updated.json()["value"], updated.json()["overridden"]) == (7, True)
    assert parameters.get_parameter(RETENTION) == 7

    patched = client.patch(
        "/api/v1/system/parameters/crawler.error_rate_threshold/", {"value": "0.5"}, format="json"
    )
    assert patched.json()["value"] == 0.5

    reset = client.post(f"/api/v1/system/parameters/{RETENTION}/reset/")
    assert reset.status_code == 200
    assert reset.json()["value"] == 30
    assert parameters.get_parameter(RETENTION) == 30


def test_api_refuses_bad_values_with_the_standard_body(api, param_admin):
    client = api.as_user(param_admin)
    for body in ({"value": -1}, {"value": "x"}, {"value": {"a": 1}}, {}):
        response = client.put(f"/api/v1/system/parameters/{RETENTION}/", body, format="json")
        assert response.status_code == 400, body
        assert set(response.json()) == {"code", "message", "details"}
        assert "value" in response.json()["details"]
    assert parameters.get_parameter(RETENTION) == 30
    assert client.get("/api/v1/system/parameters/no.such/").status_code == 404


def test_api_permissions_and_audit(api, param_viewer, param_admin):
    viewer = api.as_user(param_viewer)
    assert viewer.get("/api/v1/system/parameters/").status_code == 200
    assert (
        viewer.put(f"/api/v1/system/parameters/{RETENTION}/", {"value": 9}, format="json")
    ).status_code == 403
    assert viewer.post(f"/api/v1/system/parameters/{RETENTION}/reset/").status_code == 403

    admin = api.as_user(param_admin)
    admin.put(f"/api/v1/system/parameters/{RETENTION}/", {"value": 9}, format="json")
    entry = audit_entries(RETENTION).latest("timestamp")
    assert entry.actor == param_admin


def test_actor_is_recorded_outside_a_request():
    admin = UserFactory(username="cli_admin", is_superuser=True)
    parameters.set_parameter(RETENTION, 21, actor=admin)
    assert audit_entries(RETENTION).latest("timestamp").actor == admin
