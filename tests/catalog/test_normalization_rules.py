"""Unit tests of each normalization rule module (pure: no database)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ibcloud.catalog.normalization.amounts import parse_amount
from ibcloud.catalog.normalization.dates import parse_date, parse_datetime
from ibcloud.catalog.normalization.industries import industry_codes, industry_label, parse_industry
from ibcloud.catalog.normalization.names import (
    credit_code_check_char,
    name_key,
    normalize_company_name,
    normalize_credit_code,
)
from ibcloud.catalog.normalization.places import parse_place
from ibcloud.catalog.normalization.results import Amount, Industry, Place
from ibcloud.catalog.normalization.rounds import parse_round, parse_stages
from ibcloud.catalog.normalization.rules import KeywordRule, NormalizationRules, default_rules
from ibcloud.catalog.normalization.text import clean_text

REFERENCE = datetime(2025, 3, 15, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SHANGHAI = ZoneInfo("Asia/Shanghai")


# --- text -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<p>云图&nbsp;智能</p><br>专注AI", "云图 智能 专注AI"),
        ("<script>alert(1)</script>简介", "简介"),
        ("  ＡＩ　公司 １２３，你好 ", "AI 公司 123，你好"),
        ("介绍内容...展开全文", "介绍内容..."),
        ("简介[查看更多>>]", "简介"),
        ("a &lt;b&gt; &amp; c", "a <b> & c"),
        ("零\u200b宽", "零宽"),
        (None, ""),
        (["a", " <b>b</b>", ""], "a、b"),
    ],
)
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


# --- amounts ----------------------------------------------------------------------------------


def test_amount_vague_several_is_one_to_ten_times():
    value = parse_amount("数千万元", default_rules()).value
    assert (value.low, value.high, value.currency, value.disclosed) == (
        10_000_000,
        100_000_000,
        "CNY",
        True,
    )


def test_amount_foreign_currency_keeps_original_and_converts():
    result = parse_amount("US$10M", default_rules())
    assert result.value == Amount(
        71_000_000, 71_000_000, "USD", True, Decimal("10000000"), Decimal("10000000")
    )
    assert "USD" in result.rule


def test_amount_uses_the_rules_exchange_rate():
    rules = NormalizationRules(exchange_rates={"USD": Decimal("7.0")})
    assert parse_amount("5000万美元", rules).value.low == 350_000_000
    assert parse_amount("5000万港元", rules).problem  # no HKD rate in these rules


@pytest.mark.parametrize(
    ("raw", "low", "high"),
    [
        ("超亿元", 100_000_000, None),
        ("近亿", 80_000_000, 100_000_000),
        ("不超过5000万元", None, 50_000_000),
        ("1-2亿", 100_000_000, 200_000_000),
        ("3000多万", 30_000_000, 40_000_000),
        ("千万级", 10_000_000, 100_000_000),
        ("约5000万", 50_000_000, 50_000_000),
        ("1,500万元", 15_000_000, 15_000_000),
        ("１２００万元", 12_000_000, 12_000_000),
    ],
)
def test_amount_semantics(raw, low, high):
    value = parse_amount(raw, default_rules()).value
    assert (value.low, value.high) == (low, high)


@pytest.mark.parametrize("raw", ["未披露", "未透露", "不详", "保密", "--"])
def test_amount_undisclosed(raw):
    result = parse_amount(raw, default_rules())
    assert result.value == Amount(None, None, "", False, None, None)
    assert not result.problem


@pytest.mark.parametrize("raw", ["200万其他", "很多钱", "5亿-1亿"])
def test_amount_not_recognized_is_a_problem(raw):
    result = parse_amount(raw, default_rules())
    assert result.value is None and result.problem


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected", "precision"),
    [
        ("2023年5月1日", date(2023, 5, 1), "full date"),
        ("2023年5月", date(2023, 5, 1), "month given, day set to 1"),
        ("2023年", date(2023, 1, 1), "year given"),
        ("2023/05", date(2023, 5, 1), "month given"),
        ("3天前", date(2025, 3, 12), "relative"),
        ("昨天", date(2025, 3, 14), "relative"),
    ],
)
def test_date_rule_says_the_precision(raw, expected, precision):
    result = parse_date(raw, REFERENCE)
    assert result.value == expected
    assert precision in result.rule


def test_datetime_keeps_time_and_zone():
    assert parse_datetime("2025-01-06 14:17", REFERENCE).value == datetime(
        2025, 1, 6, 14, 17, tzinfo=SHANGHAI
    )
    rss = parse_datetime("Fri, 14 Mar 2025 18:30:00 +0000", REFERENCE).value
    assert rss.astimezone(SHANGHAI) == datetime(2025, 3, 15, 2, 30, tzinfo=SHANGHAI)
    assert parse_datetime("2小时前", REFERENCE).value == datetime(
        2025, 3, 15, 8, 0, tzinfo=SHANGHAI
    )


def test_date_english_month_names_use_the_fallback():
    assert parse_date("May 1, 2023", REFERENCE).value == date(2023, 5, 1)


@pytest.mark.parametrize("raw", ["2023-02-30", "abc", "1700年"])
def test_date_invalid(raw):
    result = parse_date(raw, REFERENCE)
    assert result.value is None and result.problem


# --- places -----------------------------------------------------------------------------------


def test_place_codes_and_names():
    assert parse_place("深圳市南山区").value == Place("440000", "广东省", "440300", "深圳市")
    assert parse_place("北京").value == Place("110000", "北京市", "110100", "北京市")
    assert parse_place("香港").value.province_code == "810000"


def test_place_county_resolves_to_city_with_province_context():
    assert parse_place("昆山").value.city_code == "320500"
    assert parse_place("鼓楼区").value is None  # 南京, 福州, 徐州, 开封...
    assert parse_place("福建 鼓楼区").value.city_code == "350100"


@pytest.mark.parametrize("raw", ["海外", "美国", "国外"])
def test_place_abroad_is_a_problem(raw):
    result = parse_place(raw)
    assert result.value is None and result.problem


# --- industries -------------------------------------------------------------------------------


def test_industry_codes_names_and_keywords():
    rules = default_rules()
    assert parse_industry("I65", rules).value == Industry("I", "65")
    assert parse_industry("6510", rules).value == Industry("I", "65")
    assert parse_industry("C", rules).value == Industry("C", "")
    assert parse_industry("软件和信息技术服务业", rules).value == Industry("I", "65")
    assert parse_industry("医疗器械", rules).value == Industry("C", "35")
    assert parse_industry("D65", rules).problem  # 65 is not in section D


def test_industry_longest_keyword_then_priority():
    rules = NormalizationRules(
        industry_keywords=(
            KeywordRule("医疗", "84"),
            KeywordRule("医疗器械", "35"),
            KeywordRule("机器", "34", priority=5),
            KeywordRule("人工", "65", priority=1),
        )
    )
    assert parse_industry("高端医疗器械", rules).value.division == "35"
    assert parse_industry("人工机器", rules).value.division == "34"


def test_industry_latin_keywords_match_whole_words():
    rules = default_rules()
    assert parse_industry("AI 视觉", rules).value.division == "65"
    assert parse_industry("email", rules).value is None


def test_industry_lists_and_labels():
    result = industry_codes(["人工智能", "医疗器械", "火星"], default_rules())
    assert result.value == ["65", "35"]
    assert "火星" in result.problem
    assert industry_label("65") == "I65 软件和信息技术服务业"


# --- rounds -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("B+轮", "b"),
        ("Pre-B轮", "a_plus"),
        ("C+轮", "c"),
        ("F轮", "e_plus"),
        ("新三板", "private_placement"),
        ("IPO上市后", "private_placement"),
        ("收购", "ma"),
        ("Series A", "a"),
        ("Angel", "angel"),
        ("未披露", "undisclosed"),
    ],
)
def test_round_rules(raw, code):
    assert parse_round(raw, default_rules()).value == code


def test_round_alias_is_checked_first():
    rules = NormalizationRules(round_aliases={"A1轮": "a_plus"})
    assert parse_round("a1 轮", rules).value == "a_plus"
    assert parse_round("A1轮", NormalizationRules()).value == "a"


def test_stages_expand():
    result = parse_stages(["早期", "成长期", "Pre-IPO"], default_rules())
    assert result.value == ["seed", "angel", "pre_a", "a", "a_plus", "b", "pre_ipo"]


# --- names ------------------------------------------------------------------------------------


def test_name_key_matches_variants_and_keeps_distinct_companies_apart():
    variants = ["深圳市云图智能科技有限公司", "云图智能科技（深圳）有限公司", "云图智能"]
    assert {name_key(name) for name in variants} == {"云图智能"}
    assert name_key("云途智能") != name_key("云图智能")
    assert name_key("星河智能") != name_key("星河智联")
    assert name_key("Yuntu Intelligence Technology Co., Ltd.") == name_key("YUNTU INTELLIGENCE")


def test_name_key_keeps_short_trade_names_that_look_like_places():
    # 南山 is a county of 深圳 but also a common trade name: only full county names are stripped
    assert name_key("南山智能") == "南山智能"
    assert name_key("深圳南山智能科技有限公司") == "南山智能"


def test_name_key_keeps_the_place_when_only_generic_words_follow():
    assert name_key("天津创投") != name_key("贵阳创投")
    assert name_key("广州基金") == "广州基金"
    assert name_key("杭州集素资本") == name_key("集素资本")


def test_company_name_display_and_key():
    result = normalize_company_name("<b>云图智能</b>科技有限公司")
    assert result.value.display == "云图智能科技有限公司"
    assert result.value.key == "云图智能"


def test_credit_code_check_character():
    code = "91110000802100433B"
    assert credit_code_check_char(code[:17]) == "B"
    assert normalize_credit_code(" 9111 0000 8021 0043 3b").value == code
    assert normalize_credit_code("91110000802100433C").problem
    assert normalize_credit_code("123").problem
    assert normalize_credit_code("9111000080210043IO").problem
