"""Schemathesis over the whole OpenAPI schema: whatever the input, the API never answers 5xx."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings

from ibcloud.wsgi import application
from tests.factories import UserFactory, token_for

pytestmark = pytest.mark.django_db(transaction=False)

# Logging out revokes the token the run uses; everything else is exercised.
SKIPPED = {("POST", "/api/v1/auth/logout/")}


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


@pytest.fixture
def api_schema(db, _keep_test_connection):
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = application
    return loaded.exclude(
        func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in SKIPPED
    )


@pytest.fixture
def superuser(db):
    return UserFactory(username="schema-admin", is_superuser=True, is_staff=True)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_never_answers_5xx(case, superuser):
    token = token_for(superuser)
    response = case.call(headers={"Authorization": f"Token {token}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )
