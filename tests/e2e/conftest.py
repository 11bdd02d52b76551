"""Browser tests: Playwright drives the system Chromium against pytest-django's live server.

Playwright's sync API keeps an event loop in the test thread, where Django refuses ORM calls;
so a test prepares its data before opening the browser and checks the database after closing it.
"""

import os
import shutil
from pathlib import Path

import pytest

CANDIDATES = [
    os.environ.get("IBCLOUD_CHROMIUM", ""),
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
]
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    for candidate in CANDIDATES:
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    return found


class Browser:
    """Headless Chromium, started on first use and closed by ``close()`` or at teardown."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self._playwright = None
        self._browser = None

    def new_page(self):
        from playwright.sync_api import sync_playwright

        if self._playwright is None:
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=self.executable, headless=True, args=LAUNCH_ARGS
            )
        context = self._browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15000)
        return page

    def close(self) -> None:
        if self._playwright is not None:
            self._browser.close()
            self._playwright.stop()
            self._playwright = None


@pytest.fixture
def browser():
    """Chromium for the test; skipped when none is installed."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium not installed (python3 bootstrap.py test installs it)")
    session = Browser(executable)
    yield session
    session.close()
