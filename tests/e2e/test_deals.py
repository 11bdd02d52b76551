"""A banker opens a deal in the form, finds it on the kanban and drags its card to the next
stage; the stage change persists (reloading shows the card in its new column) and is on the
deal's timeline."""

import pytest

from ibcloud.deals import services
from ibcloud.deals.models import Deal, DealActivity
from ibcloud.deals.views import deal_type_choices
from tests.deals.factories import DealFactory
from tests.e2e.session import login
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


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


def test_a_card_moves_to_another_stage_from_the_keyboard(live_server, browser, system_dictionaries):
    """Without dragging: each card the user may move lists the stages; picking one moves the deal,
    the card goes to that column and the column counts follow. The deal type list switches the
    board at once."""
    UserFactory(username="deal-admin", is_superuser=True, is_staff=True)
    first, second = [value for value, _label in services.stage_choices("ipo")][:2]
    DealFactory(name="云帆科技IPO", deal_type="ipo", stage=first)
    deal_types = deal_type_choices()

    page = browser.new_page()
    base = live_server.url
    login(page, base, "deal-admin")
    page.goto(f"{base}/deals/kanban/?deal_type=ipo")
    card = page.locator(".kanban-card", has_text="云帆科技IPO")
    counts = {
        stage: page.locator(f".kanban-column[data-stage={stage}] [data-count]")
        for stage in (first, second)
    }
    assert (counts[first].inner_text(), counts[second].inner_text()) == ("1", "0")

    stages = card.locator("select[data-move]")
    assert stages.input_value() == first
    stages.focus()
    with page.expect_response("**/move/") as moved:
        page.keyboard.press("ArrowDown")  # a focused list changes on the arrow key (Chromium)
        if stages.input_value() == first:
            stages.select_option(second)
    assert moved.value.status == 200
    page.wait_for_selector(
        f".kanban-cards[data-stage={second}] .kanban-card:has-text('云帆科技IPO')"
    )
    assert (counts[first].inner_text(), counts[second].inner_text()) == ("0", "1")

    # Another deal type in the filter shows that type's board without pressing Filter.
    other = next(value for value, _label in deal_types if value != "ipo")
    with page.expect_navigation():
        page.select_option("#kanban-filter select[name=deal_type]", other)
    assert f"deal_type={other}" in page.url
    assert page.locator("#kanban").get_attribute("data-deal-type") == other
    browser.close()

    assert Deal.objects.get(name="云帆科技IPO").stage == second
