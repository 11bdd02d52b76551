"""Schemathesis over the whole OpenAPI schema: whatever the input, the API never answers 5xx."""

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
# A whole crawl configuration nested in a request: its boundary examples alone take minutes,
# so this operation gets generated examples only, in a test of its own.
NESTED_CONFIG = {("POST", "/api/v1/crawler/preview/")}


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


def _operation(ctx) -> tuple[str, str]:
    return ctx.operation.method.upper(), ctx.operation.path


@pytest.fixture
def superuser(db):
    return UserFactory(username="schema-admin", is_superuser=True, is_staff=True)


schema = schemathesis.pytest.from_fixture("api_schema")


def _assert_no_5xx(case, user) -> None:
    response = case.call(headers={"Authorization": f"Token {token_for(user)}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )


# 15 examples per operation (~150 operations): CI has 20 minutes for both database passes.
@schema.exclude(func=lambda ctx: _operation(ctx) in NESTED_CONFIG).parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_never_answers_5xx(case, superuser):
    _assert_no_5xx(case, superuser)


@schema.include(func=lambda ctx: _operation(ctx) in NESTED_CONFIG).parametrize()
@settings(
    max_examples=10,
    # Schemathesis's boundary ("coverage") examples of every nested property come in as explicit
    # examples; for this schema they number in the hundreds, so only generated ones run.
    phases=[Phase.generate],
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_nested_configuration_never_answers_5xx(case, superuser):
    _assert_no_5xx(case, superuser)
