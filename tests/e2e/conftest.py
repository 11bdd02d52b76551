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


@pytest.fixture
def browser_page():
    """A fresh page in headless Chromium; skipped when no Chromium is installed."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium not installed (python3 bootstrap.py test installs it)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(
        executable_path=executable, headless=True, args=LAUNCH_ARGS
    )
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        yield page
    finally:
        context.close()
        browser.close()
        playwright.stop()
