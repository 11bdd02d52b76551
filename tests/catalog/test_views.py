"""The catalog pages: project and investor lists (filters, keywords, saved queries), detail pages
(provenance, sources, rounds, preferences, history) and manual create/edit, within the viewer's
permissions and data scope."""

from __future__ import annotations

import datetime
import re
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from ibcloud.catalog.filters import InvestorFilterSet, ProjectFilterSet
from ibcloud.catalog.models import Ingestion, Investor, Project, SavedQuery
from ibcloud.catalog.segmentation import search_text
from ibcloud.catalog.templatetags.catalog_format import format_range, format_region
from tests.catalog.factories import (
    FundingRoundFactory,
    InvestorFactory,
    ProjectFactory,
    SavedQueryFactory,
    TagFactory,
)
from tests.conftest import make_org
from tests.factories import CrawlSourceFactory, RawItemFactory, UserFactory

pytestmark = pytest.mark.django_db

PROJECT_PERMS = [
    "catalog.view_project",
    "catalog.add_project",
    "catalog.change_project",
    "catalog.delete_project",
    "catalog.view_investor",
    "catalog.add_investor",
    "catalog.change_investor",
    "catalog.delete_investor",
    "audit.view_auditentry",
    "crawler.view_crawlsource",
]


def indexed(factory, **kwargs):
    """A record whose search text is filled as the ingest pipeline fills it."""
    record = factory(**kwargs)
    text = getattr(record, "summary", "") or getattr(record, "description", "")
    record.search_text = search_text(record.name, record.full_name, text)
    record.save()
    return record


@pytest.fixture
def org():
    return make_org(PROJECT_PERMS)


@pytest.fixture
def banker(org, client):
    client.force_login(org.all_user)
    return org.all_user


def names(response) -> list[str]:
    """Project or investor names linked in the list table, in order."""
    html = response.content.decode()
    table = html[html.index('id="object-table"') :]
    return re.findall(r'<td class="fw-bold"><a href="[^"]+">([^<]+)</a>', table)


def filtered(filterset_class, model, params, user) -> set[str]:
    request = type("R", (), {"user": user})()
    filterset = filterset_class(params, queryset=model.objects.all(), request=request)
    assert filterset.is_valid(), filterset.errors
    return set(filterset.qs.values_list("name", flat=True))


# --- Formatting -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "shown"),
    [
        (10_000_000, 100_000_000, "1,000万–1亿"),
        (50_000_000, 50_000_000, "5,000万"),
        (150_000_000, None, "1.5亿"),
        (9_000, 9_000, "9,000元"),
        (12_345_678, 12_345_678, "1,234.57万"),
    ],
)
def test_amounts_read_in_wan_and_yi(low, high, shown):
    assert shown in format_range(low, high)


def test_region_reads_province_dot_city():
    assert format_region("广东省", "深圳市") == "广东·深圳"
    assert format_region("北京市", "北京市") == "北京"
    assert format_region("新疆维吾尔自治区", "乌鲁木齐市") == "新疆·乌鲁木齐"
    assert format_region("", "") == ""


# --- Lists ----------------------------------------------------------------------------------------


def test_project_list_shows_banker_readable_columns(banker, client):
    ProjectFactory(name="云图智能", amount_low=10_000_000, amount_high=100_000_000)
    response = client.get(reverse("catalog:project_list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "云图智能" in html
    assert "1,000万–1亿" in html
    assert "广东·深圳" in html
    assert "I65 软件和信息技术服务业" in html
    assert 'id="id_q"' in html  # the keyword box


def test_an_investors_long_preference_list_stays_on_one_clipped_line(banker, client):
    """Ten preferred industries must not push the other columns off the screen: the cell is cut
    at the column's width and the whole list is in its title."""
    InvestorFactory(
        name="多元资本",
        preferred_industries=["65", "64", "27", "35", "38", "39", "40", "44", "52", "86"],
    )
    html = client.get(reverse("catalog:investor_list")).content.decode()
    cell = re.search(r'<span class="cell-clip" title="([^"]+)">', html)
    assert cell is not None
    assert "I65 软件和信息技术服务业" in cell.group(1) and "R86 新闻和出版业" in cell.group(1)


def test_empty_list_says_so(banker, client):
    response = client.get(reverse("catalog:project_list"))
    table = response.context["table"]
    assert len(table.rows) == 0
    assert str(table.empty_text) in response.content.decode()


def test_projects_newest_published_first(banker, client):
    now = timezone.now()
    ProjectFactory(name="旧项目", published_at=now - datetime.timedelta(days=30))
    ProjectFactory(name="新项目", published_at=now)
    assert names(client.get(reverse("catalog:project_list"))) == ["新项目", "旧项目"]


def test_industry_section_includes_its_divisions(org):
    ProjectFactory(name="软件", industry_section="I", industry="65")
    ProjectFactory(name="互联网", industry_section="I", industry="64")
    ProjectFactory(name="医药", industry_section="C", industry="27")
    assert filtered(ProjectFilterSet, Project, {"industry": ["I"]}, org.admin) == {"软件", "互联网"}
    assert filtered(ProjectFilterSet, Project, {"industry": ["65"]}, org.admin) == {"软件"}
    assert filtered(ProjectFilterSet, Project, {"industry": ["65", "27"]}, org.admin) == {
        "软件",
        "医药",
    }


def test_place_filters(org):
    ProjectFactory(name="深圳", province_code="440000", city_code="440300")
    ProjectFactory(name="广州", province_code="440000", city_code="440100")
    ProjectFactory(name="杭州", province_code="330000", city_code="330100")
    assert filtered(ProjectFilterSet, Project, {"province": ["440000"]}, org.admin) == {
        "深圳",
        "广州",
    }
    assert filtered(ProjectFilterSet, Project, {"city": ["440300"]}, org.admin) == {"深圳"}


def test_round_filter_takes_several(org):
    ProjectFactory(name="天使", round="angel")
    ProjectFactory(name="A轮", round="a")
    ProjectFactory(name="B轮", round="b")
    assert filtered(ProjectFilterSet, Project, {"round": ["a", "b"]}, org.admin) == {"A轮", "B轮"}


def test_amount_range_in_wan_on_the_page_and_cny_in_the_api(org):
    ProjectFactory(name="小", amount_low=5_000_000, amount_high=8_000_000)  # 500–800万
    ProjectFactory(name="中", amount_low=30_000_000, amount_high=50_000_000)  # 3000–5000万
    ProjectFactory(name="大", amount_low=200_000_000, amount_high=None)  # 2亿以上
    ProjectFactory(name="未披露", amount_low=None, amount_high=None)
    page = {"amount_from": "1000", "amount_to": "10000"}  # 1000万–1亿
    assert filtered(ProjectFilterSet, Project, page, org.admin) == {"中"}
    api = {"amount_min": "10000000", "amount_max": "100000000"}
    assert filtered(ProjectFilterSet, Project, api, org.admin) == {"中"}
    assert filtered(ProjectFilterSet, Project, {"amount_from": "10000"}, org.admin) == {"大"}
    assert filtered(ProjectFilterSet, Project, {"amount_to": "600"}, org.admin) == {"小"}


def test_date_filters(org):
    now = timezone.now()
    ProjectFactory(name="上月", published_at=now - datetime.timedelta(days=40), first_seen_at=now)
    ProjectFactory(
        name="本周",
        published_at=now - datetime.timedelta(days=2),
        first_seen_at=now - datetime.timedelta(days=60),
    )
    since = (now - datetime.timedelta(days=7)).date().isoformat()
    assert filtered(ProjectFilterSet, Project, {"published_after": since}, org.admin) == {"本周"}
    assert filtered(ProjectFilterSet, Project, {"published_before": since}, org.admin) == {"上月"}
    assert filtered(ProjectFilterSet, Project, {"first_seen_after": since}, org.admin) == {"上月"}
    assert filtered(ProjectFilterSet, Project, {"first_seen_before": since}, org.admin) == {"本周"}


def test_source_filter_offers_only_visible_sources(org):
    mine = CrawlSourceFactory(name="我的源", owner=org.dept_user, department=org.dept_a)
    theirs = CrawlSourceFactory(name="他们的源", owner=org.b_user, department=org.dept_b)
    for source, name in ((mine, "甲"), (theirs, "乙")):
        project = ProjectFactory(name=name)
        Ingestion.objects.create(
            raw_item=RawItemFactory(source=source),
            outcome="created",
            project=project,
            processed_at=timezone.now(),
        )
    assert filtered(ProjectFilterSet, Project, {"source": [mine.pk]}, org.admin) == {"甲"}
    request = type("R", (), {"user": org.dept_user})()
    filterset = ProjectFilterSet(
        {"source": [theirs.pk]}, queryset=Project.objects.all(), request=request
    )
    assert not filterset.is_valid()  # not a choice for someone who cannot see it


def test_tag_filter_needs_every_tag(org):
    special, unicorn = TagFactory(name="专精特新"), TagFactory(name="独角兽")
    ProjectFactory(name="两个").tags.set([special, unicorn])
    ProjectFactory(name="一个").tags.set([special])
    ProjectFactory(name="没有")
    assert filtered(ProjectFilterSet, Project, {"tag": "专精特新"}, org.admin) == {"两个", "一个"}
    assert filtered(ProjectFilterSet, Project, {"tag": "专精特新，独角兽"}, org.admin) == {"两个"}


def test_investor_filters(org):
    banker = UserFactory(username="coverage")
    InvestorFactory(
        name="红杉",
        investor_type="vc",
        capital_type="dual",
        preferred_industries=["I"],
        preferred_rounds=["a"],
        preferred_regions=["440000"],
        ticket_min=10_000_000,
        ticket_max=50_000_000,
        coverage_banker=banker,
    )
    InvestorFactory(
        name="国投",
        investor_type="gov_fund",
        capital_type="rmb",
        preferred_industries=["27"],
        preferred_rounds=["c"],
        preferred_regions=[],
        nationwide=True,
        ticket_min=200_000_000,
        ticket_max=500_000_000,
    )
    admin = org.admin
    assert filtered(InvestorFilterSet, Investor, {"investor_type": ["vc"]}, admin) == {"红杉"}
    assert filtered(InvestorFilterSet, Investor, {"capital_type": ["rmb"]}, admin) == {"国投"}
    # a division matches an investor preferring its whole section
    assert filtered(InvestorFilterSet, Investor, {"industry": ["65"]}, admin) == {"红杉"}
    assert filtered(InvestorFilterSet, Investor, {"industry": ["C"]}, admin) == {"国投"}
    assert filtered(InvestorFilterSet, Investor, {"round": ["c"]}, admin) == {"国投"}
    assert filtered(InvestorFilterSet, Investor, {"preferred_region": ["330000"]}, admin) == {
        "国投"
    }
    assert filtered(InvestorFilterSet, Investor, {"amount_from": "3000"}, admin) == {"红杉", "国投"}
    assert filtered(InvestorFilterSet, Investor, {"amount_from": "10000"}, admin) == {"国投"}
    assert filtered(InvestorFilterSet, Investor, {"coverage_banker": banker.pk}, admin) == {"红杉"}


def test_keyword_search_in_the_list(banker, client):
    indexed(ProjectFactory, name="云图智能", summary="工业视觉质检设备")
    indexed(ProjectFactory, name="康瑞医疗", summary="医疗器械与体外诊断")
    indexed(ProjectFactory, name="智云教育", summary="在线教育平台")
    url = reverse("catalog:project_list")
    assert names(client.get(url, {"q": "医疗器械"})) == ["康瑞医疗"]
    assert set(names(client.get(url, {"q": "视觉 OR 教育"}))) == {"云图智能", "智云教育"}
    assert set(names(client.get(url, {"q": "NOT 教育"}))) == {"云图智能", "康瑞医疗"}


def test_keyword_syntax_error_is_a_field_error_and_lists_nothing(banker, client):
    ProjectFactory(name="云图智能")
    response = client.get(reverse("catalog:project_list"), {"q": '"unbalanced'})
    assert response.status_code == 200
    assert 'id="keyword-error"' in response.content.decode()
    assert names(response) == []


def test_dept_user_never_sees_another_departments_project(org, client):
    ProjectFactory(name="甲部项目", department=org.dept_a, owner=org.dept_user)
    other = ProjectFactory(name="乙部项目", department=org.dept_b, owner=org.b_user)
    client.force_login(org.dept_user)
    assert names(client.get(reverse("catalog:project_list"))) == ["甲部项目"]
    assert client.get(reverse("catalog:project_detail", args=[other.pk])).status_code == 404
    assert client.get(reverse("catalog:project_edit", args=[other.pk])).status_code == 404
    export = client.get(reverse("catalog:project_list"), {"export": "csv"})
    assert "乙部项目" not in export.content.decode("utf-8-sig")


def test_without_permission_the_list_is_refused(client):
    user = UserFactory()
    client.force_login(user)
    assert client.get(reverse("catalog:project_list")).status_code == 403
    assert client.get(reverse("catalog:investor_list")).status_code == 403


# --- Saved queries --------------------------------------------------------------------------------


def test_save_the_current_query_and_apply_it(banker, client):
    response = client.post(
        reverse("catalog:savedquery_add"),
        {
            "kind": "project",
            "name": "深圳A轮",
            "query_string": "round=a&city=440300&page=3",
            "shared": "",
        },
    )
    assert response.status_code == 302
    saved = SavedQuery.objects.get(name="深圳A轮")
    assert saved.owner == banker
    assert saved.query_string == "round=a&city=440300"  # no page number
    assert not saved.shared
    page = client.get(reverse("catalog:project_list")).content.decode()
    assert "深圳A轮" in page
    assert "?round=a&amp;city=440300" in page


def test_saved_queries_visible_own_and_shared_only(org, client):
    SavedQueryFactory(name="我的私有", owner=org.dept_user, shared=False)
    SavedQueryFactory(name="别人共享", owner=org.b_user, shared=True)
    SavedQueryFactory(name="别人私有", owner=org.b_user, shared=False)
    client.force_login(org.dept_user)
    page = client.get(reverse("catalog:project_list")).content.decode()
    assert "我的私有" in page and "别人共享" in page
    assert "别人私有" not in page
    listing = client.get(reverse("catalog:savedquery_list")).content.decode()
    assert "别人共享" in listing and "别人私有" not in listing


def test_only_the_owner_edits_or_deletes_a_saved_query(org, client):
    shared = SavedQueryFactory(name="别人共享", owner=org.b_user, shared=True)
    mine = SavedQueryFactory(name="我的", owner=org.dept_user)
    client.force_login(org.dept_user)
    assert client.get(reverse("catalog:savedquery_edit", args=[shared.pk])).status_code == 404
    assert client.post(reverse("catalog:savedquery_delete", args=[shared.pk])).status_code == 404
    response = client.post(
        reverse("catalog:savedquery_edit", args=[mine.pk]),
        {"name": "改名", "kind": "project", "query_string": "?round=b", "shared": "on"},
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert (mine.name, mine.query_string, mine.shared) == ("改名", "round=b", True)
    client.post(reverse("catalog:savedquery_delete", args=[mine.pk]))
    assert not SavedQuery.objects.filter(pk=mine.pk).exists()


# --- Detail pages ---------------------------------------------------------------------------------


def test_project_detail_shows_profile_rounds_financials_and_provenance(banker, client, org):
    source = CrawlSourceFactory(name="项目汇", owner=org.dept_user, department=org.dept_a)
    project = ProjectFactory(
        name="云图智能",
        provenance={
            "name": {
                "kind": "source",
                "source": source.pk,
                "source_name": "项目汇",
                "trust": 60,
                "url": "https://example.com/p/1?a=<b>",
                "fetched_at": "2026-11-20T08:00:00+00:00",
                "raw_item": 1,
            },
            "summary": {
                "kind": "manual",
                "user": banker.pk,
                "username": banker.username,
                "at": "2026-11-21T08:00:00+00:00",
            },
        },
    )
    investor = InvestorFactory(name="鼎盛资本")
    funding_round = FundingRoundFactory(
        project=project,
        round="angel",
        amount_low=5_000_000,
        amount_high=5_000_000,
        investor_names=["鼎盛资本", "某天使人"],
    )
    funding_round.investors.add(investor)
    project.financials.create(year=2025, revenue=120_000_000, net_profit=-3_000_000)
    html = client.get(project.get_absolute_url()).content.decode()
    assert "深圳市云图智能科技有限公司" in html
    assert "首次发现" in html and "最近发现" in html  # when the sources first and last listed it
    assert "1.2亿" in html and "-300万" in html
    assert investor.get_absolute_url() in html and "某天使人" in html
    provenance = html[html.index('id="provenance"') :]
    assert reverse("crawler:crawlsource_detail", args=[source.pk]) in provenance
    assert (
        'href="https://example.com/p/1?a=&lt;b&gt;" rel="noopener nofollow noreferrer"'
        in provenance
    )
    assert "2026-11-20 16:00" in provenance  # Asia/Shanghai
    assert f"by {banker.username}" in provenance or banker.username in provenance


def test_crawled_script_url_is_not_a_link(banker, client):
    project = ProjectFactory(
        provenance={"name": {"kind": "source", "source_name": "x", "url": "javascript:alert(1)"}},
        website="javascript:alert(2)",
        summary="<script>alert(3)</script>",
    )
    html = client.get(project.get_absolute_url()).content.decode()
    assert 'href="javascript:' not in html
    assert "<script>alert(3)</script>" not in html


def test_investor_detail_sets_stated_beside_revealed_preferences(banker, client):
    investor = InvestorFactory(
        name="鼎盛资本",
        preferred_industries=["65"],
        preferred_rounds=["a", "b"],
        coverage_banker=banker,
        revealed_preferences={
            "deal_count": 3,
            "industries": {"27": 2, "65": 1},
            "rounds": {"b": 3},
            "regions": {"440000": 3},
            "amount_median": 80_000_000,
            "last_deal_on": "2026-10-01",
        },
    )
    html = client.get(investor.get_absolute_url()).content.decode()
    preferences = html[html.index('id="preferences"') :]
    assert '<h3 class="card-title">投资偏好</h3>' in preferences  # not the notification settings
    assert "I65 软件和信息技术服务业" in preferences  # stated
    assert "C27 医药制造业 (2)" in preferences  # revealed
    assert "8,000万" in preferences
    assert str(banker) in html[html.index('id="coverage-banker"') :]


def test_buttons_follow_permissions(org, client):
    project = ProjectFactory(department=org.dept_a, owner=org.dept_user)
    viewer = UserFactory(department=org.dept_a)
    from tests.factories import RoleFactory

    viewer.roles.set([RoleFactory(data_scope="all", perms=["catalog.view_project"])])
    client.force_login(viewer)
    html = client.get(project.get_absolute_url()).content.decode()
    assert 'id="edit-button"' not in html and 'id="delete-button"' not in html
    client.force_login(org.all_user)
    html = client.get(project.get_absolute_url()).content.decode()
    assert 'id="edit-button"' in html and 'id="delete-button"' in html


# --- Manual create and edit -----------------------------------------------------------------------


def project_form(**overrides) -> dict:
    data = {
        "name": "星河智能",
        "full_name": "深圳市星河智能科技有限公司",
        "credit_code": "",
        "province_code": "440000",
        "city_code": "440300",
        "industry": "65",
        "tag_names": "专精特新, 独角兽",
        "round": "a",
        "amount_low": "3000",
        "amount_high": "5000",
        "amount_text": "",
        "valuation": "30000",
        "share_offered": "10",
        "use_of_funds": "研发",
        "summary": "工业视觉质检设备",
        "website": "https://example.com",
        "founded_on": "2019-05-01",
        "owner": "",
        "department": "",
        "rounds-TOTAL_FORMS": "1",
        "rounds-INITIAL_FORMS": "0",
        "rounds-MIN_NUM_FORMS": "0",
        "rounds-MAX_NUM_FORMS": "50",
        "rounds-0-round": "angel",
        "rounds-0-announced_on": "2021-03-01",
        "rounds-0-amount_low": "500",
        "rounds-0-amount_high": "500",
        "rounds-0-investor_text": "鼎盛资本, 某天使人",
        "financials-TOTAL_FORMS": "1",
        "financials-INITIAL_FORMS": "0",
        "financials-MIN_NUM_FORMS": "0",
        "financials-MAX_NUM_FORMS": "30",
        "financials-0-year": "2025",
        "financials-0-revenue": "12000",
        "financials-0-net_profit": "-300",
        "financials-0-total_assets": "",
        "financials-0-net_assets": "",
    }
    data.update(overrides)
    return data


def test_manual_create_stores_yuan_marks_manual_and_indexes(org, client, banker):
    investor = InvestorFactory(name="鼎盛资本")
    response = client.post(reverse("catalog:project_add"), project_form())
    assert response.status_code == 302, response.context["form"].errors
    project = Project.objects.get(name="星河智能")
    assert (project.amount_low, project.amount_high) == (30_000_000, 50_000_000)
    assert project.valuation == 300_000_000
    assert (project.province, project.city) == ("广东省", "深圳市")
    assert (project.industry_section, project.industry) == ("I", "65")
    assert {t.name for t in project.tags.all()} == {"专精特新", "独角兽"}
    assert project.owner == banker and project.department == banker.department
    assert project.name_key and "视觉" in project.search_text
    for field in ("name", "amount", "place", "summary", "industry"):
        assert project.provenance[field]["kind"] == "manual", field
        assert project.provenance[field]["username"] == banker.username
    funding_round = project.rounds.get()
    assert funding_round.amount_low == 5_000_000
    assert list(funding_round.investors.all()) == [investor]
    assert funding_round.investor_names == ["鼎盛资本", "某天使人"]
    financial = project.financials.get()
    assert (financial.year, financial.revenue, financial.net_profit) == (
        2025,
        120_000_000,
        -3_000_000,
    )
    # and the keyword search finds it at once
    assert names(client.get(reverse("catalog:project_list"), {"q": "视觉"})) == ["星河智能"]


def test_manual_edit_marks_only_the_changed_fields_and_shows_in_history(org, client, banker):
    project = ProjectFactory(
        department=org.dept_a,
        owner=org.dept_user,
        provenance={"name": {"kind": "source", "source_name": "项目汇", "url": "https://e.com"}},
    )
    form = client.get(reverse("catalog:project_edit", args=[project.pk])).context["form"]
    data = {
        name: (value if value is not None else "")
        for name, value in ((f.name, form[f.name].value()) for f in form)
    }
    data.update(
        {
            "summary": "新的业务简介",
            "founded_on": "",
            "owner": org.dept_user.pk,
            "department": org.dept_a.pk,
            "tag_names": "",
            "rounds-TOTAL_FORMS": "0",
            "rounds-INITIAL_FORMS": "0",
            "financials-TOTAL_FORMS": "0",
            "financials-INITIAL_FORMS": "0",
        }
    )
    response = client.post(reverse("catalog:project_edit", args=[project.pk]), data)
    assert response.status_code == 302, response.context["form"].errors
    project.refresh_from_db()
    assert project.summary == "新的业务简介"
    assert project.provenance["summary"]["kind"] == "manual"
    assert project.provenance["name"]["kind"] == "source"  # untouched
    assert project.amount_low == 50_000_000  # the 万元 round trip kept the amount
    html = client.get(project.get_absolute_url()).content.decode()
    history = html[html.index('id="object-history"') :]
    assert banker.username in history or str(banker) in history
    assert "business summary" in history.lower() or "业务简介" in history


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"credit_code": "91440300MA5ABCDEF"}, "credit_code"),  # 17 characters
        ({"credit_code": "91440300MA5FXXXXX1"}, "credit_code"),  # wrong check character
        ({"amount_low": "5000", "amount_high": "3000"}, "amount_high"),
        ({"amount_low": "-1"}, "amount_low"),
        ({"province_code": "330000", "city_code": "440300"}, "city_code"),
        ({"industry": "99"}, "industry"),
        ({"share_offered": "120"}, "share_offered"),
        ({"name": ""}, "name"),
    ],
)
def test_project_form_rejects_bad_input_with_field_errors(banker, client, overrides, field):
    response = client.post(reverse("catalog:project_add"), project_form(**overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Project.objects.exists()


def test_duplicate_financial_year_is_refused(banker, client):
    data = project_form(
        **{
            "financials-TOTAL_FORMS": "2",
            "financials-1-year": "2025",
            "financials-1-revenue": "1",
        }
    )
    response = client.post(reverse("catalog:project_add"), data)
    assert response.status_code == 200
    assert 'data-formset-error="financials"' in response.content.decode()
    assert not Project.objects.exists()


def test_valid_credit_code_is_accepted_and_must_be_unique(banker, client):
    code = "91350100M000100Y43"
    response = client.post(reverse("catalog:project_add"), project_form(credit_code=code.lower()))
    assert response.status_code == 302, response.context["form"].errors
    assert Project.objects.get().credit_code == code
    again = client.post(reverse("catalog:project_add"), project_form(name="别名", credit_code=code))
    assert "credit_code" in again.context["form"].errors


def test_manual_investor_create(org, client, banker):
    data = {
        "name": "鼎盛资本",
        "full_name": "北京鼎盛创业投资管理有限公司",
        "aliases_text": "鼎盛\n鼎盛创投",
        "credit_code": "",
        "investor_type": "vc",
        "capital_type": "dual",
        "province_code": "110000",
        "city_code": "110100",
        "fund_size_low": "100000",
        "fund_size_high": "",
        "description": "早期科技投资",
        "website": "",
        "founded_on": "",
        "preferred_industries": ["65", "C"],
        "preferred_rounds": ["a", "b"],
        "preferred_regions": ["440000"],
        "ticket_min": "1000",
        "ticket_max": "10000",
        "coverage_banker": org.dept_user.pk,
        "tag_names": "",
        "owner": "",
        "department": "",
    }
    response = client.post(reverse("catalog:investor_add"), data)
    assert response.status_code == 302, response.context["form"].errors
    investor = Investor.objects.get()
    assert investor.aliases == ["鼎盛", "鼎盛创投"]
    assert (investor.ticket_min, investor.ticket_max) == (10_000_000, 100_000_000)
    assert investor.fund_size_low == 1_000_000_000
    assert investor.preferred_industries == ["65", "C"]
    assert investor.coverage_banker == org.dept_user
    assert investor.provenance["preferred_rounds"]["kind"] == "manual"
    data.update(ticket_min="20000")
    bad = client.post(reverse("catalog:investor_add"), {**data, "name": "另一个"})
    assert "ticket_max" in bad.context["form"].errors


def test_inactive_user_cannot_be_coverage_banker(org, client, banker):
    gone = UserFactory(department=org.dept_a, is_active=False)
    response = client.get(reverse("catalog:investor_add"))
    choices = [
        str(value) for value, _label in response.context["form"].fields["coverage_banker"].choices
    ]
    assert str(gone.pk) not in choices
    assert str(org.dept_user.pk) in choices


def test_cannot_save_a_project_into_an_unreachable_department(org, client):
    client.force_login(org.dept_user)
    response = client.post(reverse("catalog:project_add"), project_form(department=org.dept_b.pk))
    assert response.status_code == 200
    assert not Project.objects.exists()


def test_delete_a_project(org, client, banker):
    project = ProjectFactory()
    response = client.post(reverse("catalog:project_delete", args=[project.pk]))
    assert response.status_code == 302
    assert not Project.objects.exists()


def test_publication_dates_bound_whole_local_days(banker, client):
    """A day filter means the local (Asia/Shanghai) day: 00:30 on the 2nd local time is the
    2nd, although in UTC it is still the 1st; far-off dates filter without an error."""
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    late = datetime.datetime(2026, 3, 1, 23, 50, tzinfo=shanghai)
    ProjectFactory(name="一日深夜", published_at=late)
    ProjectFactory(name="二日凌晨", published_at=late + datetime.timedelta(minutes=40))
    url = reverse("catalog:project_list")
    assert names(client.get(url, {"published_after": "2026-03-02"})) == ["二日凌晨"]
    assert names(client.get(url, {"published_before": "2026-03-01"})) == ["一日深夜"]
    both = {"published_after": "0001-01-01", "published_before": "9999-12-31"}
    assert sorted(names(client.get(url, both))) == sorted(["一日深夜", "二日凌晨"])


def test_a_funding_round_is_named_by_its_rounds_label():
    """The operation log names records by their text: a round reads "A+", not its code."""
    funding_round = FundingRoundFactory(project=ProjectFactory(name="燧人智能"), round="a_plus")
    assert str(funding_round) == "燧人智能 · A+"
