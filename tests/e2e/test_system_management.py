"""A new admin's first steps in the browser: log in, add a department and a user, find the
audit entry."""

import pytest

from ibcloud.accounts.models import Department, User
from tests.e2e.session import login
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin_creates_department_and_user_and_finds_the_audit_entry(live_server, browser):
    UserFactory(username="boss", name="王总", is_superuser=True, is_staff=True)
    page = browser.new_page()
    base = live_server.url

    login(page, base, "boss")
    assert page.locator("#side-menu").inner_text().count("系统管理") == 1

    page.goto(f"{base}/accounts/departments/add/")
    page.fill("input[name=name]", "跨境并购部")
    page.fill("input[name=code]", "cross-border")
    page.click("#object-form button[type=submit]")
    page.wait_for_load_state()
    assert "跨境并购部" in page.content()

    page.goto(f"{base}/accounts/users/add/")
    page.fill("input[name=username]", "liwei")
    page.fill("input[name=name]", "李伟")
    page.select_option("select[name=department]", label="跨境并购部")
    page.fill("input[name=password1]", "Xy7!kLmn#2026")
    page.fill("input[name=password2]", "Xy7!kLmn#2026")
    page.click("#object-form button[type=submit]")
    page.wait_for_load_state()
    assert "liwei" in page.content() or "李伟" in page.content()

    page.goto(f"{base}/audit/?q=liwei")
    table = page.locator("#object-table")
    table.wait_for()
    assert "李伟" in table.inner_text() or "liwei" in table.inner_text()
    page.locator("#object-table a[href*='/audit/']").first.click()
    page.wait_for_load_state()
    detail = page.content()
    assert "liwei" in detail
    assert "boss" in detail or "王总" in detail
    browser.close()

    created = User.objects.get(username="liwei")
    assert created.department == Department.objects.get(code="cross-border")
