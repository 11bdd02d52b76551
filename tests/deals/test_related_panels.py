"""A project's page lists the deals it is the subject of, an investor's page the deals it takes
part in; only deals in the viewer's reach, and only for people who may see deals."""

import pytest

from tests.catalog.factories import InvestorFactory, ProjectFactory
from tests.deals.factories import DealFactory, deal_user
from tests.factories import DepartmentFactory

pytestmark = pytest.mark.django_db

CATALOG = ["catalog.view_project", "catalog.view_investor"]


def panel_rows(html: str) -> list[str]:
    import lxml.html

    page = lxml.html.fromstring(html)
    return [link.text_content() for link in page.xpath('//*[@id="related-deals"]//tbody//td[1]/a')]


def test_project_and_investor_pages_list_their_deals_in_reach(client):
    mine, other = DepartmentFactory(name="并购组", code="ma"), DepartmentFactory(code="ipo")
    banker = deal_user(mine, "banker", perms=[*CATALOG, "deals.view_deal"])
    project = ProjectFactory(department=mine)
    investor = InvestorFactory(department=mine)
    first = DealFactory(name="云图智能A轮", project=project, department=mine)
    first.investors.add(investor)
    DealFactory(name="云图智能并购", project=project, department=mine, status="completed")
    hidden = DealFactory(name="别部门的项目", project=project, department=other)
    hidden.investors.add(investor)
    DealFactory(name="无关项目", department=mine)

    client.force_login(banker)
    assert sorted(panel_rows(client.get(project.get_absolute_url()).content.decode())) == [
        "云图智能A轮",
        "云图智能并购",
    ]
    assert panel_rows(client.get(investor.get_absolute_url()).content.decode()) == ["云图智能A轮"]


def test_no_deals_panel_without_the_permission_to_see_deals(client):
    mine = DepartmentFactory(name="并购组", code="ma")
    reader = deal_user(mine, "reader", perms=CATALOG)
    project = ProjectFactory(department=mine)
    DealFactory(project=project, department=mine)
    client.force_login(reader)
    response = client.get(project.get_absolute_url())
    assert response.status_code == 200
    assert 'id="related-deals"' not in response.content.decode()


@pytest.mark.parametrize("record", ["project", "investor"])
def test_more_deals_than_shown_link_to_the_deal_list_of_that_record(client, record):
    from django.urls import reverse

    from ibcloud.deals.related_panels import SHOWN

    mine, other = DepartmentFactory(name="并购组", code="ma"), DepartmentFactory(code="ipo")
    banker = deal_user(mine, "banker", perms=[*CATALOG, "deals.view_deal", "deals.view_milestone"])
    target = (
        ProjectFactory(department=mine) if record == "project" else InvestorFactory(department=mine)
    )
    for n in range(SHOWN + 2):
        deal = DealFactory(name=f"项目{n:02d}", department=mine)
        if record == "project":
            deal.project = target
            deal.save()
        else:
            deal.investors.add(target)
    outside = DealFactory(department=other, project=target if record == "project" else None)
    if record == "investor":
        outside.investors.add(target)
    DealFactory(department=mine)  # another record's deal

    client.force_login(banker)
    html = client.get(target.get_absolute_url()).content.decode()
    assert len(panel_rows(html)) == SHOWN
    link = f"{reverse('deals:deal_list')}?{record}={target.pk}"
    assert f'href="{link}"' in html
    assert client.get(link).context["table"].paginator.count == SHOWN + 2
