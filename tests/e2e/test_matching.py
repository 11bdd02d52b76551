"""A matching admin sets up a rule set in the form, dry-runs a change and applies it, approves a
proposed match in the review queue; the banker the assignment rule names finds it in the inbox."""

import pytest

from ibcloud.matching.criteria import RECOMMENDED_CRITERIA
from ibcloud.matching.models import DryRun, Match, MatchRuleSet
from tests.catalog.factories import InvestorFactory, ProjectFactory
from tests.e2e.session import login
from tests.factories import RoleFactory, UserFactory
from tests.matching.factories import AssignmentRuleFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_rule_set_dry_run_apply_review_and_inbox(live_server, browser):
    pytest.importorskip("ibcloud.matching.engine")
    UserFactory(username="match-admin", is_superuser=True, is_staff=True)
    banker_role = RoleFactory(code="banker", data_scope="self", perms=["matching.view_match"])
    banker = UserFactory(username="banker", name="王投行", roles=[banker_role])
    AssignmentRuleFactory(name="全部给王投行", target_user=banker)
    ProjectFactory(name="云图智能", province_code="440000")
    ProjectFactory(name="杭州数科", province_code="330000", province="浙江省", city_code="330100")
    # prefers 广东 (a full region score) and invests nationwide (0.8 elsewhere)
    InvestorFactory(
        name="深创投", preferred_industries=["I"], preferred_regions=["440000"], nationwide=True
    )

    page = browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    base = live_server.url
    login(page, base, "match-admin")

    # 1. A new rule set, filled in the criteria table: industry must match, region scores.
    page.goto(f"{base}/matching/rule-sets/add/")
    page.fill("input[name=name]", "软件·广东优先")
    page.fill("input[name=threshold]", "10")
    page.select_option("select[name=criteria-0-kind]", "industry")
    page.select_option("select[name=criteria-0-mode]", "filter")
    page.select_option("select[name=criteria-1-kind]", "region")
    page.select_option("select[name=criteria-1-mode]", "score")
    page.fill("input[name=criteria-1-weight]", "100")
    # the form starts from the recommended criteria: blank out the rest of them
    for index in range(2, len(RECOMMENDED_CRITERIA)):
        page.select_option(f"select[name=criteria-{index}-kind]", "")
    # only the chosen kind's parameters are shown on its row
    assert page.locator("tr:has(select[name=criteria-1-kind]) [data-params-of=region]").is_visible()
    assert not page.locator(
        "tr:has(select[name=criteria-1-kind]) [data-params-of=amount]"
    ).is_visible()
    page.click("#save-button")
    page.wait_for_url("**/matching/rule-sets/*/")
    assert "软件·广东优先" in page.locator(".page-title").inner_text()
    assert page.locator("#criteria tr[data-criterion=region]").count() == 1

    # 2. Run it: every software project gets the investor as a pending match.
    page.click("#run-button")
    page.wait_for_load_state()

    # 3. Raise the threshold and dry-run: the page lists what would be removed; nothing changed.
    page.goto(f"{base}/matching/rule-sets/")
    page.click("table tbody tr a:has-text('软件·广东优先')")
    page.click("#edit-button")
    page.fill("input[name=threshold]", "95")
    page.click("#dryrun-button")
    page.wait_for_url("**/matching/dry-runs/*/")
    assert page.locator("[data-count=removed]").inner_text().strip() == "1"
    assert "杭州数科" in page.locator("#removed-pairs").inner_text()

    # 4. Apply it: a background job (its page shows the result).
    page.click("#apply-button")
    page.wait_for_url("**/system/jobs/*/")

    # 5. Approve the remaining match in the review queue.
    page.goto(f"{base}/matching/review/")
    rows = page.locator("table tbody tr")
    assert rows.count() == 1
    assert "云图智能" in rows.first.inner_text()
    # The row's buttons stay on screen (pinned right) even when the columns are wider.
    page.set_viewport_size({"width": 1024, "height": 900})
    approve = page.locator("[data-approve]").first.bounding_box()
    assert approve["x"] + approve["width"] <= 1024
    page.click("[data-approve]")
    page.wait_for_load_state()
    browser.close()

    # 6. The banker the rule names sees it in the inbox.
    page = browser.new_page()
    login(page, base, "banker")
    page.goto(f"{base}/matching/inbox/")
    assert "云图智能" in page.locator("table tbody").inner_text()
    browser.close()

    rule_set = MatchRuleSet.objects.get()
    assert float(rule_set.threshold) == 95 and rule_set.version == 2
    assert DryRun.objects.filter(rule_set=rule_set).count() == 1
    approved = Match.objects.get(status="approved")
    assert approved.assignee == banker
    assert Match.objects.get(project__name="杭州数科").status == "withdrawn"
