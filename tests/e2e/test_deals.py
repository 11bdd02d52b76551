"""A banker opens a deal in the form, finds it on the kanban and drags its card to the next
stage; the stage change persists (reloading shows the card in its new column) and is on the
deal's timeline."""

import pytest

from ibcloud.deals import services
from ibcloud.deals.models import Deal, DealActivity
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def login(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_create_a_deal_and_drag_it_to_the_next_stage(live_server, browser, system_dictionaries):
    UserFactory(username="deal-admin", is_superuser=True, is_staff=True)
    first, second = [value for value, _label in services.stage_choices("ipo")][:2]

    page = browser.new_page()
    base = live_server.url
    login(page, base, "deal-admin")

    # 1. A new IPO deal in the form: the stage list follows the type.
    page.goto(f"{base}/deals/deals/add/")
    page.fill("input[name=name]", "星河半导体IPO")
    page.select_option("select[name=deal_type]", "ipo")
    assert page.locator("select[name=stage]").input_value() == first
    page.fill("input[name=client]", "星河半导体股份有限公司")
    page.click("#save-button")
    page.wait_for_url("**/deals/deals/*/")
    assert "星河半导体IPO" in page.locator(".page-title").inner_text()
    # the milestones area loads into the deal page
    page.wait_for_selector("#deal-milestones")
    page.fill("#note-form textarea[name=text]", "客户确认启动上市辅导")
    page.click("#note-button")
    page.wait_for_selector("#activity-list :text('客户确认启动上市辅导')")

    # 2. On the kanban it sits in the first stage; drag it to the next one.
    page.goto(f"{base}/deals/kanban/?deal_type=ipo")
    card = page.locator(".kanban-card", has_text="星河半导体IPO")
    assert card.locator("xpath=..").get_attribute("data-stage") == first
    target = page.locator(f".kanban-cards[data-stage={second}]")
    with page.expect_response("**/move/") as moved:
        card.drag_to(target)
    assert moved.value.status == 200

    # 3. Reloaded, the card is in the new column.
    page.reload()
    card = page.locator(".kanban-card", has_text="星河半导体IPO")
    assert card.locator("xpath=..").get_attribute("data-stage") == second
    browser.close()

    deal = Deal.objects.get(name="星河半导体IPO")
    assert deal.stage == second
    assert deal.activities.filter(kind=DealActivity.Kind.STAGE).count() == 1
