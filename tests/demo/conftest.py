"""Demo sites for the tests of this package: started once, switches reset for every test."""

import pytest
import requests

from ibcloud.demo.sites import start_demo_sites


@pytest.fixture(scope="module")
def running_sites():
    sites = start_demo_sites(projects=60, investors=80, proxies=3)
    yield sites
    sites.stop()


@pytest.fixture
def sites(running_sites):
    """The running demo sites with default switches and no rate-limit history."""
    state = running_sites.state
    state.project_layout = "v1"
    state.l2_limit_per_minute = 20
    state.reset()
    yield running_sites
    state.project_layout = "v1"
    state.l2_limit_per_minute = 20
    state.reset()


@pytest.fixture
def http():
    """A plain HTTP client that ignores proxy settings of the environment."""
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


@pytest.fixture
def demo_browser():
    """Headless Chromium (as the e2e tests start it); skipped when none is installed."""
    from tests.e2e.conftest import Browser, chromium_path

    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium not installed (python3 bootstrap.py test installs it)")
    session = Browser(executable)
    yield session
    session.close()
