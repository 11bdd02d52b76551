"""Signing in, as every browser test starts."""

from tests.factories import PASSWORD


def login(page, base: str, username: str, password: str = PASSWORD) -> None:
    """Sign ``username`` in through the login page and wait for the home page."""
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base}/")
