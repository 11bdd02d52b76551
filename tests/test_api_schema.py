"""Schemathesis over the whole OpenAPI schema: whatever the input, the API never answers 5xx.

Every operation is a test item of its own (parametrized from the schema at collection), so the
parallel workers share the operations out and each starts from an empty database; as one test the
audit log and other tables grew through the whole run and later operations (exports) slowed down.
"""

import copy
import functools

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings

from ibcloud.wsgi import application
from tests.factories import UserFactory, token_for

pytestmark = pytest.mark.django_db(transaction=False)

# Logging out revokes the token the run uses; everything else is exercised.
SKIPPED = {("POST", "/api/v1/auth/logout/")}
# Wide request bodies get generated examples only, in a test of their own: schemathesis's boundary
# examples of every property number hundreds to thousands per operation. A whole crawl
# configuration nested in a request (a preview; a source's create and update carry the same) took
# minutes per operation; a project's, an investor's or an assignment rule's 10-30 s each, a third
# of the whole schemathesis pass, which CI runs within its 20 minutes.
WIDE_BODIES = {
    ("POST", "/api/v1/crawler/preview/"),
    ("POST", "/api/v1/crawler/sources/"),
    ("PUT", "/api/v1/crawler/sources/{id}/"),
    ("PATCH", "/api/v1/crawler/sources/{id}/"),
    ("POST", "/api/v1/catalog/projects/"),
    ("PUT", "/api/v1/catalog/projects/{id}/"),
    ("PATCH", "/api/v1/catalog/projects/{id}/"),
    ("POST", "/api/v1/catalog/investors/"),
    ("PUT", "/api/v1/catalog/investors/{id}/"),
    ("PATCH", "/api/v1/catalog/investors/{id}/"),
    ("POST", "/api/v1/matching/assignment-rules/"),
    ("PUT", "/api/v1/matching/assignment-rules/{id}/"),
    ("PATCH", "/api/v1/matching/assignment-rules/{id}/"),
}


@pytest.fixture
def _keep_test_connection():
    """Calling the WSGI app directly fires request_started/finished, whose handler closes the
    database connection: that would end the test's transaction (PostgreSQL). Django's test
    client detaches it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@functools.cache
def _document() -> dict:
    """The generated OpenAPI document, built once per process."""
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations() -> list[tuple[str, str]]:
    """Every (method, path) of the schema, read at collection so each becomes a test item."""
    return [
        (method.upper(), path)
        for path, item in _document()["paths"].items()
        for method in item
        if method in HTTP_METHODS and (method.upper(), path) not in SKIPPED
    ]


@pytest.fixture
def api_schema(request, db, _keep_test_connection):
    """The schema of the one operation the test item was parametrized with.

    The document itself is narrowed: schemathesis replaces a loaded schema's include/exclude
    filters with those of the lazy ``schema`` below, so filters set here would be ignored.
    """
    method, path = request.param
    document = copy.deepcopy(_document())
    item = document["paths"][path]
    document["paths"] = {
        path: {key: value for key, value in item.items() if key in (method.lower(), "parameters")}
    }
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = application
    return loaded


def _label(operation: tuple[str, str]) -> str:
    return " ".join(operation)


@pytest.fixture
def superuser(db):
    return UserFactory(username="schema-admin", is_superuser=True, is_staff=True)


schema = schemathesis.pytest.from_fixture("api_schema")


def _assert_no_5xx(case, user) -> None:
    response = case.call(headers={"Authorization": f"Token {token_for(user)}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )


# 15 examples per operation (~200 operations): CI has 20 minutes for both database passes.
@pytest.mark.parametrize(
    "api_schema",
    [operation for operation in _operations() if operation not in WIDE_BODIES],
    indirect=True,
    ids=_label,
)
@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_never_answers_5xx(case, superuser):
    _assert_no_5xx(case, superuser)


@pytest.mark.parametrize("api_schema", sorted(WIDE_BODIES), indirect=True, ids=_label)
@schema.parametrize()
@settings(
    # Schemathesis's boundary ("coverage") examples come in as explicit examples (see WIDE_BODIES),
    # so only generated ones run, more of them than elsewhere.
    max_examples=50,
    phases=[Phase.generate],
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_wide_bodies_never_answer_5xx(case, superuser):
    _assert_no_5xx(case, superuser)
