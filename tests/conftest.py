"""What every test needs: jobs run in-process, an organisation with users of each reach.

The suite runs in parallel (pytest-xdist, ``-n auto`` from ``bootstrap.py test``): each worker gets
its own data directory and queue prefix, so workers share no file, queue or cache key.
"""

import importlib
import os
from dataclasses import dataclass

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from rest_framework.test import APIClient

from ibcloud.core.jobs import QUEUES
from tests.factories import DepartmentFactory, RoleFactory, UserFactory, token_for


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config, specs):
    """Give every xdist worker its own IBCLOUD_DATA_DIR and IBCLOUD_QUEUE_PREFIX.

    They must be in the worker's environment before Django reads its settings (pytest-django does
    that before any conftest is imported), and processes a test starts (crawls, workers, servers)
    inherit them. Each worker then has its own SQLite test database, Huey queue files or Redis
    queue names, file cache, secret key, logs and media; pytest-django adds the ``_gw<n>`` suffix
    to the PostgreSQL test database itself.
    """
    for spec in specs:
        spec.env["IBCLOUD_DATA_DIR"] = str(django_settings.DATA_DIR / f"xdist-{spec.id}")
        spec.env["IBCLOUD_QUEUE_PREFIX"] = f"{django_settings.IBCLOUD_QUEUE_PREFIX}-{spec.id}"


#: the data migrations whose rows every installation starts with (built-in dictionaries,
#: normalization rules, milestone templates)
SEED_MIGRATIONS = (
    "ibcloud.core.migrations.0002_seed_dictionaries",
    "ibcloud.catalog.migrations.0002_seed_normalization_rules",
    "ibcloud.deals.migrations.0002_milestone_templates",
)


#: database fixtures whose tests run outside a transaction (their teardown empties every table)
EMPTYING_FIXTURES = {"transactional_db", "live_server", "django_db_reset_sequences"}


def _empties_the_database(item: pytest.Item) -> bool:
    """Whether the test runs outside a transaction, so its teardown empties every table."""
    marker = item.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        return True
    return bool(set(getattr(item, "fixturenames", ())) & EMPTYING_FIXTURES)


#: tests that reach the configured database or job queue without a database fixture: they start
#: workers, crawl processes or servers that connect to it themselves
BACKEND_MODULES = (
    "tests/core/test_worker.py",
    "tests/core/test_settings.py",
    "tests/crawler/test_worker_crash.py",
)


def pytest_collection_modifyitems(config, items):
    """With ``IBCLOUD_DATABASE_TESTS_ONLY`` set (CI's PostgreSQL + Redis pass), keep only the tests
    that reach the database or the job queue: the others (pure functions, page parsing, scripts
    that build their own installation) already ran in the SQLite pass and would run the same."""
    if not os.environ.get("IBCLOUD_DATABASE_TESTS_ONLY"):
        return
    kept, skipped = [], []
    for item in items:
        reaches = _reaches_the_database(item) or item.nodeid.startswith(BACKEND_MODULES)
        (kept if reaches else skipped).append(item)
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = kept


def _reaches_the_database(item: pytest.Item) -> bool:
    if item.get_closest_marker("django_db") is not None:
        return True
    return bool(set(getattr(item, "fixturenames", ())) & ({"db"} | EMPTYING_FIXTURES))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Put the migrations' seed rows back after a test that emptied the database.

    pytest-django runs such tests after the others, but xdist's work stealing hands a worker
    tests in any order: a test that ran after one on the same worker found no dictionaries (the
    industry and round filters refused every value).
    """
    yield
    # After a worker's last test the test database itself is gone (nextitem None).
    if nextitem is not None and _empties_the_database(item):
        from django.apps import apps
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            for module in SEED_MIGRATIONS:
                importlib.import_module(module).seed(apps, None)


@pytest.fixture(autouse=True)
def _jobs_run_in_process():
    """Jobs run at once inside the test; worker tests start real workers themselves."""
    for queue in QUEUES.values():
        queue.immediate = True
    yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Real hashing costs ~0.3 s a user; tests make hundreds. Production keeps PBKDF2."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def english(settings):
    """For tests that check English message texts; the UI default stays Chinese elsewhere."""
    settings.LANGUAGE_CODE = "en"


def _clear_cache() -> None:
    """Empty this test run's cache. Django's Redis cache clears by FLUSHDB, which would also wipe
    the job queues and cache keys of parallel workers sharing the Redis database; so on Redis only
    the keys under this run's prefix go."""
    location = django_settings.CACHES["default"]
    if not location["BACKEND"].endswith("RedisCache"):
        cache.clear()
        return
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{location.get('KEY_PREFIX', '')}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _fresh_cache():
    _clear_cache()
    yield
    _clear_cache()


@dataclass
class Org:
    """Two departments with a sub-department under A, and users of every data scope."""

    dept_a: object
    dept_a1: object
    dept_b: object
    admin: object  # superuser
    all_user: object  # role scope: all
    dept_and_below_user: object  # in A, scope: A and sub-departments
    dept_user: object  # in A, scope: own department
    self_user: object  # in A, scope: own records
    custom_user: object  # in A, scope: chosen departments = B
    b_user: object  # in B, scope: own department


def make_org(perms: list[str]) -> Org:
    """Build the organisation; every role holds ``perms`` and differs only in data scope."""
    dept_a = DepartmentFactory(name="投资银行一部", code="a")
    dept_a1 = DepartmentFactory(name="并购组", code="a1", parent=dept_a)
    dept_b = DepartmentFactory(name="投资银行二部", code="b")
    dept_a.refresh_from_db()

    def user(username, department, scope, departments=()):
        role = RoleFactory(
            code=f"role-{username}", data_scope=scope, perms=perms, departments=list(departments)
        )
        return UserFactory(username=username, department=department, roles=[role])

    return Org(
        dept_a=dept_a,
        dept_a1=dept_a1,
        dept_b=dept_b,
        admin=UserFactory(username="admin", is_superuser=True, is_staff=True),
        all_user=user("all_user", dept_a, "all"),
        dept_and_below_user=user("below_user", dept_a, "dept_and_below"),
        dept_user=user("dept_user", dept_a, "dept"),
        self_user=user("self_user", dept_a, "self"),
        custom_user=user("custom_user", dept_a, "custom", [dept_b]),
        b_user=user("b_user", dept_b, "dept"),
    )


@pytest.fixture
def api():
    """An API client; ``api.as_user(user)`` authenticates it with a fresh token."""
    client = APIClient()

    def as_user(user):
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
        return client

    client.as_user = as_user
    return client


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def child_env(settings):
    """Environment for a process a test starts (a crawl): the test database, the same data
    directory (so the same encryption keys) and the test's SSRF allowlist."""
    import os

    from django.db import connection

    config = connection.settings_dict
    if config["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{config['NAME']}"
    else:
        auth = config["USER"] + (f":{config['PASSWORD']}" if config["PASSWORD"] else "")
        url = f"postgres://{auth}@{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 5432}"
        url += f"/{config['NAME']}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ibcloud.settings",
        "DATABASE_URL": url,
        "IBCLOUD_SSRF_ALLOWLIST": ",".join(settings.IBCLOUD_SSRF_ALLOWLIST),
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def system_dictionaries(django_db_blocker):
    """The built-in dictionaries (deal types and their stages, rounds, industries...).

    The migration seeds them, but a transactional test (live server, workers) flushes every
    table when it ends, so a later transactional test on the same worker finds them gone.
    """
    import importlib

    from django.apps import apps

    from ibcloud.core.models import DictType

    if not DictType.objects.exists():
        importlib.import_module("ibcloud.core.migrations.0002_seed_dictionaries").seed(apps, None)
