"""Field rules applied to real-looking pages: what an admin's configuration extracts and flags."""

import hashlib
import json

import pytest

from ibcloud.crawler.extraction import (
    DocumentError,
    FieldRule,
    content_hash,
    extract_item,
    parse_document,
    parse_rules,
    select_items,
    select_links,
    select_value,
)

LIST_URL = "https://www.example-ib.cn/projects/?page=1"

LIST_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>融资项目</title></head>
<body>
  <ul class="projects">
    <li class="project" data-id="101">
      <h3><a href="/projects/101.html">杭州云帆科技 A轮融资</a></h3>
      <span class="amount"> 5,000 万元 </span>
      <span class="date">2024-03-05</span>
      <span class="tag">人工智能</span><span class="tag">SaaS</span>
    </li>
    <li class="project" data-id="102">
      <h3><a href="102.html#comments">深圳蓝海医疗 B轮</a></h3>
      <span class="amount">1.2 亿元</span>
      <span class="date">2024年3月7日</span>
      <span class="tag">医疗器械</span>
    </li>
    <li class="project" data-id="103">
      <h3><a href="/projects/101.html">杭州云帆科技 A轮融资（重复链接）</a></h3>
      <span class="date">不详</span>
    </li>
  </ul>
  <div class="pager"><a href="javascript:void(0)">上一页</a>
    <a class="next" href="?page=2">下一页 &raquo;</a></div>
</body></html>"""

DETAIL_URL = "https://www.example-ib.cn/projects/101.html"

DETAIL_PAGE = """<html><head><title>杭州云帆科技</title></head><body>
<div class="project-detail">
  <h1 class="name">
      杭州云帆科技
      有限公司
  </h1>
  <table class="facts">
    <tr><th>行业</th><td class="industry">人工智能</td></tr>
    <tr><th>融资金额</th><td class="amount">5,000万元</td></tr>
    <tr><th>员工人数</th><td class="staff">1,250</td></tr>
    <tr><th>成立日期</th><td class="founded">2016/3/5</td></tr>
    <tr><th>官网</th><td><a class="site" href="/go?u=yunfan">访问官网</a></td></tr>
  </table>
  <div class="intro"><p>专注于<b>工业视觉</b>检测。</p></div>
  <script>var projectCode = "YF-2024-0017";</script>
</div></body></html>"""


def rules(*raw):
    return parse_rules(list(raw))


def extract(page, *raw, url=DETAIL_URL, page_format="html"):
    doc = parse_document(page, page_format, url)
    return extract_item(doc, rules(*raw), url)


# --------------------------------------------------------------------------- rules


def test_a_rule_takes_the_documented_defaults():
    (rule,) = parse_rules([{"name": "amount", "expr": ".amount"}])
    assert rule.to_dict() == {
        "name": "amount",
        "label": "",
        "by": "css",
        "expr": ".amount",
        "attribute": "",
        "all": False,
        "join": "",
        "strip": True,
        "regex": "",
        "group": 1,
        "absolute_url": False,
        "type": "text",
        "required": False,
        "pattern": "",
    }


def test_null_values_mean_the_default():
    (rule,) = parse_rules([{"name": "amount", "expr": ".amount", "regex": None, "type": None}])
    assert rule.regex == "" and rule.type == "text"


@pytest.mark.parametrize(
    "raw, message",
    [
        ("not a list", "fields must be a list"),
        (["text"], "fields[0]: a field rule must be an object"),
        ([{"expr": ".x"}], "fields[0]: 'name' is required"),
        ([{"name": "Amount", "expr": ".x"}], "fields[0] 'Amount': invalid name"),
        ([{"name": "amount", "expr": ""}], "fields[0] 'amount': the expression ('expr') is empty"),
        ([{"name": "amount", "expr": "div[", "by": "css"}], "invalid CSS selector"),
        ([{"name": "amount", "expr": "//div[", "by": "xpath"}], "invalid XPath"),
        ([{"name": "amount", "expr": "nosuch(.)", "by": "xpath"}], "invalid XPath"),
        ([{"name": "amount", "expr": "$.a[", "by": "jsonpath"}], "invalid JSONPath"),
        ([{"name": "amount", "expr": "(", "by": "regex"}], "invalid regular expression"),
        ([{"name": "amount", "expr": ".x", "by": "sql"}], "unknown 'by' 'sql'"),
        ([{"name": "amount", "expr": ".x", "type": "money"}], "unknown type 'money'"),
        ([{"name": "amount", "expr": ".x", "pattern": "[0-9"}], "'pattern': invalid regular"),
        ([{"name": "amount", "expr": ".x", "regex": r"(\d+)", "group": 2}], "group 2 does not"),
        ([{"name": "amount", "expr": ".x", "group": True}], "'group' must be a whole number"),
        ([{"name": "amount", "expr": ".x", "required": "yes"}], "'required' must be true"),
        ([{"name": "amount", "expr": ".x", "join": ","}], "'join' needs 'all'"),
        ([{"name": "amount", "expr": ".x", "requierd": True}], "unknown key(s) requierd"),
        (
            [{"name": "amount", "expr": ".a"}, {"name": "amount", "expr": ".b"}],
            "fields[1] 'amount': the name is used by another field",
        ),
    ],
)
def test_bad_rules_are_refused_with_a_reason_naming_the_rule(raw, message):
    with pytest.raises(ValueError) as excinfo:
        parse_rules(raw)
    assert message in str(excinfo.value)


def test_a_regex_without_groups_takes_the_whole_match_by_default():
    item = extract(DETAIL_PAGE, {"name": "code", "by": "regex", "expr": r"YF-\d{4}-\d{4}"})
    assert item.data == {"code": "YF-2024-0017"}


# --------------------------------------------------------------------------- documents


def test_gbk_page_declaring_its_charset_is_decoded():
    page = '<html><head><meta charset="gb2312"></head><body><h1>北京数科</h1></body></html>'
    item = extract(page.encode("gbk"), {"name": "name", "expr": "h1"})
    assert item.data == {"name": "北京数科"}


def test_gbk_page_declaring_nothing_falls_back_from_utf8_to_gb18030():
    page = "<html><body><h1>上海融通资本</h1></body></html>"
    item = extract(page.encode("gbk"), {"name": "name", "expr": "h1"})
    assert item.data == {"name": "上海融通资本"}


def test_page_declaring_utf8_but_sending_gbk_is_still_read():
    page = '<html><head><meta charset="utf-8"></head><body><h1>广州创投</h1></body></html>'
    item = extract(page.encode("gbk"), {"name": "name", "expr": "h1"})
    assert item.data == {"name": "广州创投"}


def test_utf8_bytes_and_a_bom_are_read():
    page = "\ufeff<html><body><h1>成都天府基金</h1></body></html>"
    item = extract(page.encode("utf-8"), {"name": "name", "expr": "h1"})
    assert item.data == {"name": "成都天府基金"}


def test_json_that_does_not_parse_is_a_clear_error():
    with pytest.raises(DocumentError, match="not valid JSON.*<html>"):
        parse_document(b"<html><body>Service unavailable</body></html>", "json", LIST_URL)


def test_gbk_json_is_decoded():
    body = '{"name": "招商局资本"}'.encode("gbk")
    assert parse_document(body, "json", LIST_URL) == {"name": "招商局资本"}


# --------------------------------------------------------------------------- list pages


def test_links_are_absolute_deduplicated_and_without_fragments():
    doc = parse_document(LIST_PAGE, "html", LIST_URL)
    assert select_links(doc, "css", "li.project h3 a", LIST_URL) == [
        "https://www.example-ib.cn/projects/101.html",
        "https://www.example-ib.cn/projects/102.html",
    ]
    # an element without href stands for the link inside it; ::attr and XPath work alike
    for selector_type, expr in [
        ("css", "li.project h3"),
        ("css", "li.project a::attr(href)"),
        ("xpath", "//li[@class='project']//a/@href"),
    ]:
        assert len(select_links(doc, selector_type, expr, LIST_URL)) == 2


def test_links_honour_a_base_href_and_skip_javascript():
    page = '<html><head><base href="https://cdn.example-ib.cn/p/"></head><body>'
    page += '<a href="1.html">1</a><a href="javascript:go()">x</a><a href="mailto:a@b.c">m</a>'
    doc = parse_document(page, "html", LIST_URL)
    assert select_links(doc, "css", "a", LIST_URL) == ["https://cdn.example-ib.cn/p/1.html"]


def test_next_link_is_the_href_of_the_matched_element():
    doc = parse_document(LIST_PAGE, "html", LIST_URL)
    assert select_value(doc, "css", "a.next") == "?page=2"
    assert select_value(doc, "xpath", "//a[@class='next']/@href") == "?page=2"
    assert select_value(doc, "css", "a.missing") is None
    assert select_value(doc, "css", "") is None


def test_inline_items_each_give_their_own_fields():
    doc = parse_document(LIST_PAGE, "html", LIST_URL)
    items = select_items(doc, "css", "li.project")
    assert len(items) == 3
    field_rules = rules(
        {"name": "title", "expr": "h3 a"},
        {"name": "url", "expr": "h3 a::attr(href)", "absolute_url": True, "type": "url"},
        {"name": "amount", "expr": ".amount", "required": True},
        {"name": "date", "expr": ".date", "type": "date"},
        {"name": "tags", "expr": ".tag", "all": True, "type": "list"},
        {"name": "id", "expr": "li", "attribute": "data-id", "type": "integer"},
    )
    results = [extract_item(item, field_rules, LIST_URL) for item in items]

    assert results[0].data == {
        "title": "杭州云帆科技 A轮融资",
        "url": "https://www.example-ib.cn/projects/101.html",
        "amount": "5,000 万元",
        "date": "2024-03-05",
        "tags": ["人工智能", "SaaS"],
        "id": "101",
    }
    assert results[0].is_valid and results[0].empty == []
    # the second item: a 年月日 date passes, a single tag is still a list
    assert results[1].data["date"] == "2024年3月7日"
    assert results[1].data["tags"] == ["医疗器械"]
    assert results[1].data["url"] == "https://www.example-ib.cn/projects/102.html#comments"
    assert results[1].is_valid
    # the third: required amount missing, tags empty (not required), a date that is not one
    third = results[2]
    assert third.empty == ["amount", "tags"]
    assert third.problems == {
        "amount": "missing",
        "date": "expected a date such as 2024-03-05, got '不详'",
    }
    assert not third.is_valid


def test_xpath_items_and_fields():
    doc = parse_document(LIST_PAGE, "html", LIST_URL)
    items = select_items(doc, "xpath", "//li[@class='project']")
    result = extract_item(
        items[0],
        rules(
            {"name": "title", "by": "xpath", "expr": ".//h3/a/text()"},
            {"name": "tags", "by": "xpath", "expr": ".//span[@class='tag']", "all": True},
            {"name": "id", "by": "xpath", "expr": "@data-id"},
            {"name": "tag_count", "by": "xpath", "expr": "count(.//span[@class='tag'])"},
        ),
        LIST_URL,
    )
    assert result.data == {
        "title": "杭州云帆科技 A轮融资",
        "tags": ["人工智能", "SaaS"],
        "id": "101",
        "tag_count": "2",
    }


# --------------------------------------------------------------------------- detail pages


def test_detail_page_fields_with_post_processing():
    item = extract(
        DETAIL_PAGE,
        {"name": "name", "expr": "h1.name"},
        {"name": "name_raw", "expr": "h1.name::text", "strip": False},
        {"name": "industry", "by": "xpath", "expr": "//th[.='行业']/following-sibling::td"},
        {"name": "amount", "expr": ".amount", "regex": r"([\d,.]+)\s*万", "type": "number"},
        {"name": "amount_unit", "expr": ".amount", "regex": r"[\d,.]+(\D+)$"},
        {"name": "staff", "expr": ".staff", "type": "integer"},
        {"name": "founded", "expr": ".founded", "type": "date"},
        {"name": "website", "expr": "a.site", "attribute": "href", "absolute_url": True},
        {"name": "intro_html", "expr": ".intro", "attribute": "html"},
        {"name": "intro", "expr": ".intro"},
        {"name": "code", "by": "regex", "expr": r'projectCode = "([^"]+)"', "pattern": "^YF-"},
        {"name": "facts", "expr": ".facts th", "all": True, "join": " / "},
    )
    assert item.data == {
        "name": "杭州云帆科技 有限公司",
        "name_raw": "\n      杭州云帆科技\n      有限公司\n  ",
        "industry": "人工智能",
        "amount": "5,000",
        "amount_unit": "万元",
        "staff": "1,250",
        "founded": "2016/3/5",
        "website": "https://www.example-ib.cn/go?u=yunfan",
        "intro_html": "<p>专注于<b>工业视觉</b>检测。</p>",
        "intro": "专注于工业视觉检测。",
        "code": "YF-2024-0017",
        "facts": "行业 / 融资金额 / 员工人数 / 成立日期 / 官网",
    }
    assert item.problems == {} and item.empty == []


def test_regex_rule_with_all_takes_every_match_of_the_group():
    item = extract(
        DETAIL_PAGE,
        {"name": "cells", "by": "regex", "expr": r'<td class="(\w+)">', "all": True},
    )
    assert item.data == {"cells": ["industry", "amount", "staff", "founded"]}


def test_a_post_processing_regex_that_does_not_match_leaves_the_field_empty():
    item = extract(
        DETAIL_PAGE,
        {"name": "amount", "expr": ".amount", "regex": r"(\d+)\s*美元", "required": True},
    )
    assert item.data == {} and item.empty == ["amount"] and item.problems == {"amount": "missing"}


def test_matched_but_blank_counts_as_empty():
    page = "<html><body><div class='amount'>   </div><a class='l' href=''>x</a></body></html>"
    item = extract(
        page,
        {"name": "amount", "expr": ".amount"},
        {"name": "link", "expr": "a.l::attr(href)"},
        {"name": "absent", "expr": ".absent"},
    )
    assert item.data == {} and item.empty == ["amount", "link", "absent"]
    assert item.problems == {}  # none of them is required


@pytest.mark.parametrize(
    "field_type, value, ok",
    [
        ("integer", "1,250", True),
        ("integer", "-42", True),
        ("integer", "12.5", False),
        ("integer", "1,25", False),
        ("number", "1,234,567.89", True),
        ("number", ".5", True),
        ("number", "5000万", False),
        ("date", "2024-03-05", True),
        ("date", "2024/3/5", True),
        ("date", "2024年3月5日", True),
        ("date", "2024.03.05", True),
        ("date", "2024-03-05 14:30", True),
        ("date", "2024-03-05T14:30:00+08:00", True),
        ("date", "20240305", True),
        ("date", "5 March 2024", True),
        ("date", "Tue, 05 Mar 2024 10:00:00 +0800", True),
        ("date", "2024-02-30", False),
        ("date", "2024-13-01", False),
        ("date", "昨天", False),
        ("url", "https://example.com/a", True),
        ("url", "/relative/path", False),
        ("url", "ftp://example.com/a", False),
        ("text", "任何内容", True),
        ("list", "one value", False),
    ],
)
def test_type_checks(field_type, value, ok):
    page = f"<html><body><p class='v'>{value}</p></body></html>"
    item = extract(page, {"name": "value", "expr": ".v", "type": field_type})
    assert item.data == {"value": value}  # kept as found, whatever the check says
    assert item.is_valid is ok, item.problems


def test_pattern_flags_a_value_that_does_not_match():
    page = "<html><body><p class='code'>600519</p><p class='code'>ABC</p></body></html>"
    good = extract(page, {"name": "code", "expr": ".code", "pattern": r"^\d{6}$"})
    assert good.is_valid
    bad = extract(page, {"name": "codes", "expr": ".code", "all": True, "pattern": r"^\d{6}$"})
    assert bad.problems == {"codes": r"'ABC' does not match the pattern '^\\d{6}$'"}


def test_json_detail_with_jsonpath_keeps_numbers_and_lists():
    body = """{"data": {"name": " 红杉中国 ", "aum": 56000000000, "active": true,
        "stages": ["A轮", "B轮"], "contact": {"email": "bp@example.cn"},
        "portfolio": [{"name": "美团", "year": 2010}, {"name": "字节跳动", "year": 2014}],
        "site": "/investors/sequoia", "founded": "2005-09-01", "note": null}}"""
    doc = parse_document(body, "json", "https://api.example.cn/investors/1")
    (node,) = select_items(doc, "jsonpath", "$.data")
    item = extract_item(
        node,
        rules(
            {"name": "name", "by": "jsonpath", "expr": "name"},
            {"name": "aum", "by": "jsonpath", "expr": "$.aum", "type": "integer"},
            {"name": "active", "by": "jsonpath", "expr": "active"},
            {"name": "stages", "by": "jsonpath", "expr": "stages", "type": "list"},
            {"name": "email", "by": "jsonpath", "expr": "contact.email", "pattern": "@"},
            {"name": "recent", "by": "jsonpath", "expr": "portfolio[?year > 2012].name"},
            {"name": "names", "by": "jsonpath", "expr": "portfolio[*].name", "all": True},
            {"name": "tags", "by": "jsonpath", "expr": "stages", "all": True, "join": ","},
            {"name": "site", "by": "jsonpath", "expr": "site", "absolute_url": True},
            {"name": "founded", "by": "jsonpath", "expr": "founded", "type": "date"},
            {"name": "note", "by": "jsonpath", "expr": "note"},
            {"name": "aum_text", "by": "regex", "expr": r'"aum": (\d+)'},
        ),
        "https://api.example.cn/investors/1",
    )
    assert item.data == {
        "name": "红杉中国",
        "aum": 56000000000,
        "active": True,
        "stages": ["A轮", "B轮"],
        "email": "bp@example.cn",
        "recent": "字节跳动",
        "names": ["美团", "字节跳动"],
        "tags": "A轮,B轮",
        "site": "https://api.example.cn/investors/sequoia",
        "founded": "2005-09-01",
        "aum_text": "56000000000",
    }
    assert item.empty == ["note"] and item.is_valid


def test_json_list_items_links_and_cursor():
    body = {
        "items": [
            {"id": 1, "name": "高瓴资本", "url": "/investors/1"},
            {"id": 2, "name": "IDG资本", "url": "/investors/2"},
        ],
        "next_cursor": "abc123",
        "total": 80,
    }
    doc = parse_document(json.dumps(body), "json", "https://api.example.cn/investors")
    assert [i["id"] for i in select_items(doc, "jsonpath", "items")] == [1, 2]
    assert [i["id"] for i in select_items(doc, "jsonpath", "$.items[*]")] == [1, 2]
    assert select_items(doc, "jsonpath", "$.items[?id > 1]") == [body["items"][1]]
    assert select_links(doc, "jsonpath", "items[*].url", "https://api.example.cn/x") == [
        "https://api.example.cn/investors/1",
        "https://api.example.cn/investors/2",
    ]
    assert select_value(doc, "jsonpath", "next_cursor") == "abc123"
    assert select_value(doc, "jsonpath", "$.total") == "80"
    assert select_value(doc, "jsonpath", "$.missing") is None
    last = parse_document('{"items": [], "next_cursor": null}', "json", "https://a.cn/")
    assert select_value(last, "jsonpath", "next_cursor") is None
    assert select_items(last, "jsonpath", "items") == []


def test_a_top_level_json_array_is_the_item_list_by_default():
    doc = parse_document('[{"name": "a"}, {"name": "b"}]', "json", "https://a.cn/")
    assert select_items(doc, "jsonpath", "") == [{"name": "a"}, {"name": "b"}]


RSS = """<?xml version="1.0" encoding="gb2312"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>项目快讯</title><link>https://www.example-ib.cn/</link>
<item><title>苏州纳米材料 Pre-A 轮</title><link>https://www.example-ib.cn/projects/201.html</link>
  <description><![CDATA[<p>融资 <b>3000万元</b></p>]]></description>
  <pubDate>Tue, 05 Mar 2024 10:00:00 +0800</pubDate><dc:creator>李明</dc:creator></item>
<item><title>武汉光谷芯片 C轮</title><link>https://www.example-ib.cn/projects/202.html</link>
  <description>融资 2亿元</description><pubDate>Wed, 06 Mar 2024 09:30:00 +0800</pubDate></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>投资机构动态</title>
<entry><title>某基金完成募集</title><link rel="alternate" href="/news/1"/>
  <link rel="enclosure" href="/news/1.pdf"/><updated>2024-03-05T08:00:00Z</updated></entry>
<entry><title>另一基金</title><link href="https://news.example.cn/news/2"/>
  <updated>2024-03-06T08:00:00Z</updated></entry>
</feed>"""


def test_rss_feed_in_gbk_with_namespaces():
    doc = parse_document(RSS.encode("gbk"), "feed", "https://www.example-ib.cn/feed.xml")
    items = select_items(doc, "css", "")
    assert len(items) == 2
    assert select_links(doc, "css", "", "https://www.example-ib.cn/feed.xml") == [
        "https://www.example-ib.cn/projects/201.html",
        "https://www.example-ib.cn/projects/202.html",
    ]
    field_rules = rules(
        {"name": "title", "expr": "title", "required": True},
        {"name": "link", "expr": "link", "type": "url"},
        {"name": "published", "expr": "pubDate", "type": "date"},
        {"name": "author", "by": "xpath", "expr": "creator"},  # dc: prefix removed
        {"name": "amount", "expr": "description", "regex": r"(\d+\s*[万亿])"},
    )
    first = extract_item(items[0], field_rules, "https://www.example-ib.cn/feed.xml")
    assert first.data == {
        "title": "苏州纳米材料 Pre-A 轮",
        "link": "https://www.example-ib.cn/projects/201.html",
        "published": "Tue, 05 Mar 2024 10:00:00 +0800",
        "author": "李明",
        "amount": "3000万",
    }
    assert first.is_valid
    second = extract_item(items[1], field_rules, "https://www.example-ib.cn/feed.xml")
    assert second.empty == ["author"] and second.data["amount"] == "2亿"


def test_atom_feed_links_prefer_the_alternate_link():
    doc = parse_document(ATOM, "feed", "https://news.example.cn/atom.xml")
    assert select_links(doc, "xpath", "", "https://news.example.cn/atom.xml") == [
        "https://news.example.cn/news/1",
        "https://news.example.cn/news/2",
    ]
    items = select_items(doc, "xpath", "")
    item = extract_item(
        items[0], rules({"name": "updated", "expr": "updated", "type": "date"}), "https://x.cn/"
    )
    assert item.data == {"updated": "2024-03-05T08:00:00Z"} and item.is_valid


def test_a_rule_of_the_wrong_kind_for_the_page_is_reported_not_raised():
    doc = parse_document('{"name": "x"}', "json", "https://a.cn/")
    item = extract_item(doc, rules({"name": "name", "expr": ".name"}), "https://a.cn/")
    assert item.empty == ["name"]
    assert "needs an HTML page" in item.problems["name"]
    with pytest.raises(ValueError, match="cannot be used on JSON"):
        select_items(doc, "css", ".x")


def test_content_hash_is_canonical():
    a = {"name": "红杉中国", "aum": 5.6, "stages": ["A", "B"]}
    b = {"stages": ["A", "B"], "aum": 5.6, "name": "红杉中国"}
    assert content_hash(a) == content_hash(b)
    assert len(content_hash(a)) == 64
    assert content_hash(a) != content_hash({**a, "aum": 5.7})
    assert content_hash(a) != content_hash({**a, "stages": ["B", "A"]})
    # the documented canonical form: sorted keys, no spaces, UTF-8 (not \\u escapes)
    canonical = '{"a":"中","b":[1,2.5,true,null]}'.encode()
    assert content_hash({"b": [1, 2.5, True, None], "a": "中"}) == (
        hashlib.sha256(canonical).hexdigest()
    )


def test_a_detail_page_yields_every_field_of_seven_rule_kinds():
    field_rules = rules(
        {"name": "name", "expr": "h1.name"},
        {"name": "industry", "by": "xpath", "expr": "//td[@class='industry']"},
        {"name": "amount", "expr": ".amount", "regex": r"([\d,.]+)", "type": "number"},
        {"name": "staff", "expr": ".staff", "type": "integer"},
        {"name": "founded", "expr": ".founded", "type": "date"},
        {"name": "website", "expr": "a.site::attr(href)", "absolute_url": True, "type": "url"},
        {"name": "code", "by": "regex", "expr": r'projectCode = "([^"]+)"'},
    )
    assert isinstance(field_rules[0], FieldRule)
    doc = parse_document(DETAIL_PAGE, "html", DETAIL_URL)
    item = extract_item(doc, field_rules, DETAIL_URL)
    # Speed is measured by bench/crawl.py, not here.
    assert item.is_valid and len(item.data) == 7
