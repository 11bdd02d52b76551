"""normalize_record over whole raw records, and the rules loaded from the database."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ibcloud.catalog.models import ExchangeRate, IndustryKeyword, RoundAlias
from ibcloud.catalog.normalization.places import place_of_company_name
from ibcloud.catalog.normalization.record import normalize_record
from ibcloud.catalog.normalization.results import Industry, Place
from ibcloud.catalog.normalization.rules import default_rules, load_rules
from ibcloud.core.parameters import set_parameter
from ibcloud.demo.sites.data import generate_investors, generate_projects

REFERENCE = datetime(2025, 3, 15, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_project_record_from_chinese_labels():
    record = normalize_record(
        "project",
        {
            "项目名称": "云图智能",
            "公司全称": "深圳市云图智能科技有限公司",
            "统一社会信用代码": "91110000802100433B",
            "地区": "广东·深圳",
            "所属行业": "人工智能",
            "融资轮次": "Pre-A轮",
            "融资金额": "数千万元",
            "估值": "5亿元",
            "出让股份": "10%",
            "资金用途": "<p>研发</p>",
            "成立时间": "2019年3月",
            "投资方": "红杉中国、IDG资本，投资方未透露",
            "页面备注": "x",
        },
        default_rules(),
        REFERENCE,
    )
    assert record.value("name") == "云图智能"
    assert record.value("credit_code") == "91110000802100433B"
    assert record.value("place") == Place("440000", "广东省", "440300", "深圳市")
    assert record.value("industry") == Industry("I", "65")
    assert record.value("round") == "pre_a"
    assert (record.value("amount").low, record.value("amount").high) == (10**7, 10**8)
    assert record.value("valuation").low == 500_000_000
    assert record.value("share_offered") == Decimal("10.00")
    assert record.value("use_of_funds") == "研发"
    assert record.value("founded_on") == date(2019, 3, 1)
    assert record.value("investor_names") == ["红杉中国", "IDG资本"]
    assert record.ignored == ["页面备注"]
    assert record.raw["amount"] == "数千万元"
    assert all(result.rule for result in record.fields.values())


def test_demo_project_and_feed_records_normalize_without_problems():
    for project in generate_projects(40):
        data = project.as_dict()
        data.pop("id")
        record = normalize_record("project", data, default_rules(), REFERENCE)
        assert record.problems == {}, (data, record.problems)
        assert record.ignored == []
    feed = {
        "title": "云图智能完成A轮融资",
        "name": "云图智能",
        "link": "https://example.com/1",
        "published": "Mon, 06 Jan 2025 09:00:00 +0800",
        "industry": "人工智能",
        "round": "A轮",
        "summary": "云图智能专注视觉。展开全文",
    }
    record = normalize_record("project", feed, default_rules(), REFERENCE)
    assert record.value("name") == "云图智能"
    assert record.value("summary") == "云图智能专注视觉。"
    assert record.ignored == []


def test_title_is_a_fallback_for_the_name():
    record = normalize_record(
        "project", {"title": "星河医疗完成B轮融资"}, default_rules(), REFERENCE
    )
    assert record.value("name") == "星河医疗"


def test_empty_values_produce_no_field():
    record = normalize_record(
        "project",
        {"name": "云图", "amount": "", "tags": [], "round": None},
        default_rules(),
        REFERENCE,
    )
    assert set(record.fields) == {"name"}


def test_investor_record():
    investor = generate_investors(5)[0].as_dict()
    investor.pop("id")
    record = normalize_record("investor", investor, default_rules(), REFERENCE)
    assert record.problems == {}
    assert record.value("investor_type") in {"vc", "pe", "cvc", "gov_fund", "strategic", "other"}
    assert record.value("preferred_rounds")
    assert record.value("capital_type") in {"rmb", "usd", "dual"}
    explicit = normalize_record(
        "investor",
        {
            "机构名称": "某某创投",
            "机构类型": "天使投资机构",
            "投资阶段": ["早期"],
            "投资地域": "全国、广东",
            "单笔投资规模": "US$1M-5M",
            "管理规模": "50亿元人民币",
        },
        default_rules(),
        REFERENCE,
    )
    assert explicit.value("investor_type") == "vc"
    assert explicit.value("preferred_rounds") == ["seed", "angel", "pre_a"]
    assert explicit.value("nationwide") is True
    assert explicit.value("preferred_regions") == ["440000"]
    assert explicit.value("capital_type") == "dual"


@pytest.mark.django_db
def test_load_rules_follows_edits_of_rates_keywords_aliases_and_spam_words():
    rules = load_rules()
    assert rules.rate("USD") == Decimal("7.10")  # seeded by migration 0002
    assert len(rules.industry_keywords) >= 300

    rate = ExchangeRate.objects.get(currency="USD")
    rate.rate_to_cny = Decimal("7.5")
    rate.save()
    assert load_rules().rate("USD") == Decimal("7.5")

    IndustryKeyword.objects.create(keyword="火星采矿", industry="12")
    assert any(rule.keyword == "火星采矿" for rule in load_rules().industry_keywords)
    IndustryKeyword.objects.filter(keyword="火星采矿").update(is_active=False)
    IndustryKeyword.objects.get(keyword="火星采矿").save()
    assert not any(rule.keyword == "火星采矿" for rule in load_rules().industry_keywords)

    alias = RoundAlias.objects.create(alias="A1轮", round="a_plus")
    assert load_rules().round_aliases["A1轮"] == "a_plus"
    alias.delete()
    assert "A1轮" not in load_rules().round_aliases

    set_parameter("catalog.spam_words", "博彩, 刷单")
    assert load_rules().spam_words == ("博彩", "刷单")


@pytest.mark.parametrize(
    "odd",
    [12345678901234567890, 1e30, float("nan"), True, {"a": 1}, [None, 3], "<<<>>>", "9" * 400],
)
def test_odd_values_give_problems_not_errors(odd):
    """The preview API passes whatever a user pastes: every field must answer, never raise."""
    keys = {"name", "amount", "round", "industry", "place", "founded", "published", "tags",
            "stages", "industries", "regions", "ticket", "website", "出让股份"}  # fmt: skip
    for item_type in ("project", "investor"):
        record = normalize_record(item_type, {key: odd for key in keys}, default_rules(), REFERENCE)
        for result in record.fields.values():
            assert result.rule
            if result.value is not None and hasattr(result.value, "low"):
                assert result.value.low is None or result.value.low < 10**16


def test_remembered_results_are_those_of_the_current_rules():
    import dataclasses

    rules = default_rules()
    first = normalize_record("project", {"name": "云图", "round": "A1轮"}, rules, REFERENCE)
    again = normalize_record("project", {"name": "云图", "round": "A1轮"}, rules, REFERENCE)
    assert again.fields == first.fields

    edited = dataclasses.replace(rules, round_aliases={**rules.round_aliases, "A1轮": "a_plus"})
    after_edit = normalize_record("project", {"name": "云图", "round": "A1轮"}, edited, REFERENCE)
    assert after_edit.value("round") == "a_plus"
    assert after_edit.value("round") != first.value("round")


def test_relative_dates_count_from_each_items_own_fetch_time():
    later = REFERENCE.replace(day=20)
    one = normalize_record("project", {"name": "云图", "published": "3天前"}, None, REFERENCE)
    two = normalize_record("project", {"name": "云图", "published": "3天前"}, None, later)
    assert one.value("published_at") != two.value("published_at")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("苏州高禾创业投资管理有限公司", ("320000", "320500")),
        ("广东省深圳市腾讯科技有限公司", ("440000", "440300")),
        ("北京市海淀区中关村科技有限公司", ("110000", "110100")),
        ("青岛啤酒股份有限公司", ("370000", "370200")),
        ("新疆金风科技股份有限公司", ("650000", "")),
        ("东方市海韵科技有限公司", ("460000", "469007")),  # a county-level city, written in full
        ("鼎晖股权投资管理（天津）有限公司", ("120000", "120100")),
        ("腾讯科技(深圳)有限公司", ("440000", "440300")),
        # no place: national registrations, trade names that only look like places
        ("中国国际金融股份有限公司", None),
        ("东方证券股份有限公司", None),
        ("长安汽车股份有限公司", None),
        ("华为技术有限公司", None),
        ("某某(集团)有限公司", None),
        ("红杉资本", None),
    ],
)
def test_the_place_a_company_name_names(name, expected):
    result = place_of_company_name(name)
    if expected is None:
        assert result.value is None
    else:
        assert (result.value.province_code, result.value.city_code) == expected


def test_a_record_without_a_place_takes_the_one_its_company_name_names():
    rules = default_rules()
    registered = normalize_record(
        "investor",
        {"name": "高禾资本", "full_name": "苏州高禾创业投资管理有限公司"},
        rules,
        REFERENCE,
    )
    assert registered.value("place").city == "苏州市"
    assert registered.fields["place"].rule == "the place named in the company name"
    assert registered.raw["place"] == "苏州高禾创业投资管理有限公司"
    only_name = normalize_record(
        "investor", {"name": "上海石新创业投资管理有限公司"}, rules, REFERENCE
    )
    assert only_name.value("place").province_code == "310000"
    # A place the record gives is kept, even where the registered name names another.
    given = normalize_record(
        "project",
        {"name": "高禾", "full_name": "苏州高禾科技有限公司", "location": "上海"},
        rules,
        REFERENCE,
    )
    assert given.value("place").province_code == "310000"
    assert "place" not in normalize_record("project", {"name": "华为"}, rules, REFERENCE).fields
