"""A project's page lists its matches (best first, the viewer's reach only), and an investor's
page its matches with projects; people who may not see matches get no panel."""

import pytest
from django.urls import reverse

from ibcloud.matching.models import Match
from tests.catalog.factories import InvestorFactory, ProjectFactory
from tests.factories import DepartmentFactory, RoleFactory, UserFactory
from tests.matching.factories import MatchFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    mine, other = DepartmentFactory(name="投行一部", code="a"), DepartmentFactory(code="b")
    role = RoleFactory(
        data_scope="dept",
        perms=["catalog.view_project", "catalog.view_investor", "matching.view_match"],
    )
    catalog_only = RoleFactory(
        data_scope="dept", perms=["catalog.view_project", "catalog.view_investor"]
    )
    return (
        UserFactory(username="banker", department=mine, roles=[role]),
        UserFactory(username="reader", department=mine, roles=[catalog_only]),
        mine,
        other,
    )


def panel_rows(html: str, panel_id: str) -> list[str]:
    import lxml.html

    page = lxml.html.fromstring(html)
    return [link.text_content() for link in page.xpath(f'//*[@id="{panel_id}"]//tbody//td[1]/a')]


def test_the_project_page_lists_its_matches_in_reach_best_first(client, people):
    banker, _reader, mine, other = people
    project = ProjectFactory(department=mine)
    for name, score, department in (
        ("甲资本", 80, mine),
        ("乙创投", 91, mine),
        ("丙基金", 95, other),
    ):
        MatchFactory(
            project=project,
            investor=InvestorFactory(name=name),
            score=score,
            department=department,
            rule_set=None,
        )
    MatchFactory(department=mine, rule_set=None)  # another project's

    client.force_login(banker)
    html = client.get(project.get_absolute_url()).content.decode()
    assert panel_rows(html, "related-matches") == ["乙创投", "甲资本"]


def test_more_matches_than_shown_link_to_the_match_list(client, people):
    banker, _reader, mine, _other = people
    investor = InvestorFactory(department=mine)
    for n in range(12):
        MatchFactory(
            investor=investor,
            project=ProjectFactory(name=f"项目{n:02d}"),
            score=50 + n,
            department=mine,
            rule_set=None,
            status=Match.Status.APPROVED,
        )
    client.force_login(banker)
    html = client.get(investor.get_absolute_url()).content.decode()
    rows = panel_rows(html, "related-matches")
    assert rows == [f"项目{n:02d}" for n in range(11, 1, -1)]  # the best ten
    link = f"{reverse('matching:match_list')}?investor={investor.pk}"
    assert f'href="{link}"' in html
    listed = client.get(link).context["table"].paginator.count
    assert listed == 12


def test_no_panel_without_the_permission_to_see_matches(client, people):
    _banker, reader, mine, _other = people
    project = ProjectFactory(department=mine)
    MatchFactory(project=project, department=mine, rule_set=None)
    client.force_login(reader)
    response = client.get(project.get_absolute_url())
    assert response.status_code == 200
    assert 'id="related-matches"' not in response.content.decode()
