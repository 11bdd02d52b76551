"""A crawl source's configuration is refused on save when it cannot run, with a message naming
the field; a good configuration becomes the plain dict the crawl process gets."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.forms import modelform_factory

from ibcloud.crawler.config import source_config, validate_source
from ibcloud.crawler.extraction import parse_rules
from ibcloud.crawler.models import CrawlSource
from tests.factories import CrawlSourceFactory, ProxyFactory

pytestmark = pytest.mark.usefixtures("english")

FIELDS = [
    {"name": "title", "label": "项目名称", "by": "css", "expr": "h1", "required": True},
    {"name": "amount", "by": "xpath", "expr": "//td[@class='amount']", "type": "text"},
    {"name": "code", "by": "regex", "expr": r"code: (\w+)", "pattern": r"^\w+$"},
    {"name": "tags", "by": "css", "expr": ".tag::text", "all": True, "type": "list"},
]


def html_source(**overrides) -> CrawlSource:
    """An unsaved, complete and valid HTML source; ``overrides`` change one thing."""
    values = {
        "name": "36氪融资快讯",
        "item_type": "project",
        "start_urls": ["https://www.example-ib.cn/projects/"],
        "url_template": "https://www.example-ib.cn/projects/?page={page}",
        "page_start": 1,
        "page_end": 5,
        "page_format": "html",
        "list_mode": "links",
        "list_selector_type": "css",
        "link_selector": "a.project-link",
        "detail_format": "html",
        "pagination": "next_link",
        "next_selector": "a.next",
        "method": "GET",
        "headers": {"Accept-Language": "zh-CN,zh;q=0.9", "Referer": "https://www.example-ib.cn/"},
        "fields": [dict(rule) for rule in FIELDS],
        "concurrency": 4,
        "delay": 0.5,
        "max_pages": 500,
        "time_limit": 3600,
        "fetch_level": 3,
        "rate_limit": 30,
        "block_marker": "访问过于频繁",
        "login_url": "https://www.example-ib.cn/login",
        "login_form": {"username": "crawler", "password": "s3cret!"},
        "cookies": [{"name": "sid", "value": "abc123", "domain": ".example-ib.cn", "path": "/"}],
        "render_js": True,
        "wait_for_selector": "ul.projects > li",
        "schedule": "0 6 * * 1-5",
    }
    values.update(overrides)
    return CrawlSource(**values)


def json_source(**overrides) -> CrawlSource:
    """An unsaved valid JSON API source with cursor pagination and a POST body."""
    values = {
        "name": "投资机构目录 API",
        "item_type": "investor",
        "start_urls": ["https://api.example-ib.cn/investors"],
        "page_format": "json",
        "list_mode": "inline",
        "list_selector_type": "jsonpath",
        "item_selector": "$.items[*]",
        "pagination": "json_cursor",
        "cursor_path": "$.next_cursor",
        "page_param": "cursor",
        "method": "POST",
        "headers": {"Content-Type": "application/json; charset=utf-8"},
        "body": '{"industry": "医疗", "size": 20}',
        "fields": [
            {"name": "name", "by": "jsonpath", "expr": "name", "required": True},
            {"name": "stages", "by": "jsonpath", "expr": "$.stages[*]", "all": True},
            {"name": "recent", "by": "jsonpath", "expr": "portfolio[?year > 2020].name"},
            {"name": "aum", "by": "regex", "expr": r'"aum": (\d+)', "type": "integer"},
        ],
    }
    values.update(overrides)
    return CrawlSource(**values)


def errors_of(source) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as excinfo:
        validate_source(source)
    return excinfo.value.message_dict


# --------------------------------------------------------------------------- accepted


def test_complete_html_source_is_accepted():
    validate_source(html_source())


def test_json_api_source_is_accepted():
    validate_source(json_source())
    validate_source(
        json_source(pagination="json_offset", page_param="offset", page_size=20, cursor_path="")
    )


def test_feed_source_may_leave_the_list_selectors_empty():
    validate_source(
        html_source(
            page_format="feed",
            link_selector="",
            pagination="none",
            url_template="",
            page_start=None,
            page_end=None,
        )
    )
    validate_source(
        html_source(
            page_format="feed",
            list_mode="inline",
            link_selector="",
            item_selector="",
            pagination="none",
            fields=[{"name": "title", "expr": "title"}, {"name": "link", "expr": "link"}],
        )
    )


def test_higher_level_settings_are_kept_at_a_lower_fetch_level():
    # proxies, login and JavaScript rendering are simply unused at L0/L1: not an error
    validate_source(html_source(fetch_level=0))


def test_a_url_template_alone_is_enough():
    validate_source(html_source(start_urls=[], pagination="page_number"))


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"start_urls": [], "url_template": ""}, "start_urls", "at least one start URL"),
        ({"start_urls": ["ftp://example.com/x"]}, "start_urls", "start_urls[0]: this URL is not"),
        ({"start_urls": ["https://a.cn/", "/relative"]}, "start_urls", "start_urls[1]"),
        ({"start_urls": ["http://169.254.169.254/latest/"]}, "start_urls", "link-local"),
        ({"start_urls": ["http://metadata.google.internal/"]}, "start_urls", "metadata"),
        ({"start_urls": ["http://10.1.2.3/"]}, "start_urls", "internal address"),
        ({"start_urls": "https://a.cn/"}, "start_urls", "must be a list"),
        ({"url_template": "https://a.cn/list?page=1"}, "url_template", "must contain {page}"),
        ({"url_template": "a.cn/list?p={page}"}, "url_template", "not allowed"),
        ({"page_start": None}, "page_start", "first page"),
        ({"page_end": None}, "page_end", "last page"),
        ({"page_start": 9, "page_end": 2}, "page_end", "comes before the first page"),
        ({"list_mode": "links", "link_selector": ""}, "link_selector", "links to the detail"),
        ({"list_mode": "inline", "item_selector": ""}, "item_selector", "items on the list"),
        ({"link_selector": "a[href"}, "link_selector", "invalid CSS selector"),
        (
            {"list_selector_type": "xpath", "link_selector": "//a["},
            "link_selector",
            "invalid XPath",
        ),
        ({"next_selector": "a..next"}, "next_selector", "invalid CSS selector"),
        ({"list_selector_type": "jsonpath"}, "list_selector_type", "JSONPath reads JSON only"),
        ({"page_format": "pdf"}, "page_format", "is not one of html, json, feed"),
        ({"pagination": "next_link", "next_selector": ""}, "next_selector", "next-page selector"),
        (
            {"pagination": "page_number", "url_template": "", "page_start": None, "page_end": None},
            "url_template",
            "needs a URL template",
        ),
        ({"pagination": "json_cursor"}, "pagination", "JSON APIs only"),
        ({"method": "DELETE"}, "method", "is not one of GET, POST"),
        ({"headers": ["Accept: */*"]}, "headers", "object of name"),
        ({"headers": {"X-A": "1\r\nX-Injected: 1"}}, "headers", "line break"),
        ({"headers": {"Bad Name": "1"}}, "headers", "not a valid header name"),
        ({"headers": {"Host": "evil.example"}}, "headers", "set by the crawler"),
        ({"headers": {"content-length": "5"}}, "headers", "set by the crawler"),
        ({"headers": {"X-Count": 5}}, "headers", "must be text"),
        ({"body": "x" * (64 * 1024 + 1)}, "body", "larger than 64 kB"),
        (
            {"headers": {"Content-Type": "application/json"}, "body": "{name: 1}"},
            "body",
            "not valid JSON",
        ),
        ({"fields": []}, "fields", "at least one field"),
        ({"fields": {"name": "x"}}, "fields", "must be a list"),
        (
            {"fields": [{"name": "title", "expr": "h1["}]},
            "fields",
            "fields[0] 'title': invalid CSS",
        ),
        (
            {"fields": [*FIELDS, {"name": "amount", "by": "xpath", "expr": "//p[@x="}]},
            "fields",
            "fields[4] 'amount': invalid XPath",
        ),
        ({"fields": [{"name": "t", "by": "regex", "expr": "(a"}]}, "fields", "invalid regular"),
        (
            {"fields": [{"name": "t", "expr": "h1", "regex": r"(\d+)", "group": 3}]},
            "fields",
            "'regex': group 3 does not exist",
        ),
        ({"fields": [{"name": "t", "expr": "h1", "pattern": "[a-"}]}, "fields", "'pattern': "),
        (
            {"fields": [{"name": "t", "by": "jsonpath", "expr": "name"}]},
            "fields",
            "fields[0] 't': a JSONPath rule reads JSON only",
        ),
        ({"fields": [{"name": "t", "by": "sql", "expr": "x"}]}, "fields", "unknown 'by' 'sql'"),
        ({"fields": [{"name": "t", "expr": "h1", "type": "money"}]}, "fields", "unknown type"),
        ({"fields": [{"name": "标题", "expr": "h1"}]}, "fields", "invalid name"),
        ({"fields": [{"name": "t", "expr": ""}]}, "fields", "the expression ('expr') is empty"),
        ({"fields": [{"name": "t"}, {"name": "t", "expr": "h2"}]}, "fields", "fields[1] 't': the"),
        ({"fields": [{"name": "t", "expr": "h1", "required": "yes"}]}, "fields", "true or false"),
        ({"fields": ["h1"]}, "fields", "fields[0]: a field rule must be an object"),
        ({"concurrency": 0}, "concurrency", "from 1 to 32"),
        ({"concurrency": 33}, "concurrency", "from 1 to 32"),
        ({"delay": 61}, "delay", "from 0 to 60"),
        ({"delay": float("nan")}, "delay", "from 0 to 60"),
        ({"max_pages": 0}, "max_pages", "from 1 to 100000"),
        ({"time_limit": 59}, "time_limit", "from 60 to 86400"),
        ({"time_limit": 86401}, "time_limit", "from 60 to 86400"),
        ({"rate_limit": 0}, "rate_limit", "at least 1"),
        ({"fetch_level": 7}, "fetch_level", "is not one of 0, 1, 2, 3"),
        ({"login_url": "javascript:alert(1)"}, "login_url", "not allowed"),
        ({"login_form": ["user", "pw"]}, "login_form", "object of name"),
        ({"login_form": {"user": 5}}, "login_form", "text value"),
        ({"cookies": {"sid": "1"}}, "cookies", "must be a list"),
        ({"cookies": [{"value": "1"}]}, "cookies", "cookies[0]: enter a cookie name"),
        ({"cookies": [{"name": "a", "value": "1", "expires": 1}]}, "cookies", "unknown key"),
        ({"cookies": [{"name": "a", "value": "1\r\nSet-Cookie: x"}]}, "cookies", "control"),
        ({"wait_for_selector": "ul >"}, "wait_for_selector", "invalid CSS selector"),
        ({"schedule": "0 6 * *"}, "schedule", "five fields"),
        ({"schedule": "0 0 * * * *"}, "schedule", "five fields"),
        ({"schedule": "61 * * * *"}, "schedule", "not a valid cron"),
        ({"schedule": "0 0 31 2 *"}, "schedule", "never runs"),
        ({"missed_run_policy": "maybe"}, "missed_run_policy", "is not one of"),
    ],
)
def test_bad_html_configuration_is_refused_naming_the_field(overrides, field, message):
    errors = errors_of(html_source(**overrides))
    assert field in errors, errors
    assert any(message in text for text in errors[field]), errors[field]


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"list_selector_type": "css"}, "list_selector_type", "read with JSONPath"),
        ({"item_selector": "$.items["}, "item_selector", "invalid JSONPath"),
        ({"cursor_path": "$..["}, "cursor_path", "invalid JSONPath"),
        ({"cursor_path": ""}, "cursor_path", "JSONPath of the next cursor"),
        ({"page_param": ""}, "page_param", "query parameter"),
        ({"page_param": "a=b&c"}, "page_param", "query parameter name"),
        ({"pagination": "json_offset", "page_param": "offset"}, "page_size", "page size"),
        ({"pagination": "json_offset", "page_size": 0}, "page_size", "1 or more"),
        (
            {"fields": [{"name": "name", "by": "css", "expr": ".name"}]},
            "fields",
            "fields[0] 'name': a CSS rule cannot read JSON",
        ),
        ({"body": "industry=医疗"}, "body", "not valid JSON"),
    ],
)
def test_bad_json_configuration_is_refused_naming_the_field(overrides, field, message):
    errors = errors_of(json_source(**overrides))
    assert field in errors, errors
    assert any(message in text for text in errors[field]), errors[field]


def test_detail_rules_follow_the_detail_format():
    # an HTML list linking to JSON detail pages: the rules are JSONPath
    validate_source(
        html_source(
            detail_format="json",
            fields=[{"name": "name", "by": "jsonpath", "expr": "$.data.name"}],
        )
    )
    errors = errors_of(html_source(detail_format="json"))
    assert "fields[0] 'title': a CSS rule cannot read JSON" in errors["fields"][0]


def test_every_problem_is_reported_at_once():
    errors = errors_of(
        html_source(
            start_urls=["file:///etc/passwd"],
            link_selector="a[",
            concurrency=100,
            schedule="every day",
            fields=[{"name": "ok", "expr": "h1"}, {"name": "bad", "expr": "h1["}, "x"],
        )
    )
    assert {"start_urls", "link_selector", "concurrency", "schedule", "fields"} <= set(errors)
    assert len(errors["fields"]) == 2  # each bad rule separately


def test_loopback_needs_the_allowlist_but_metadata_is_never_allowed(settings):
    local = html_source(start_urls=["http://127.0.0.1:8000/projects/"])
    assert "internal address" in errors_of(local)["start_urls"][0]
    settings.IBCLOUD_SSRF_ALLOWLIST = ["127.0.0.1", "localhost", "169.254.0.0/16"]
    validate_source(local)
    metadata = html_source(start_urls=["http://169.254.169.254/latest/meta-data/"])
    assert "link-local" in errors_of(metadata)["start_urls"][0]


@pytest.mark.parametrize(
    "overrides",
    [
        {"start_urls": {"a": 1}},
        {"start_urls": [None, 5, ["x"], "http://[::1"]},
        {"url_template": 5, "page_start": "x", "page_end": -3},
        {"headers": "Accept: */*", "body": 42},
        {"headers": {5: None}},
        {"fields": "h1"},
        {"fields": [None, 5, [], {"name": None}, {"name": 5, "expr": 6}, {"group": "x"}]},
        {"fields": [{"name": "t", "expr": "h1", "group": -1, "join": 5}]},
        {"concurrency": "many", "delay": "slow", "max_pages": None, "time_limit": 1.5},
        {"cookies": "sid=1", "login_form": "user=a", "login_url": 5},
        {"schedule": 5, "wait_for_selector": None},
        {"method": None, "pagination": None, "page_format": None, "list_mode": []},
        {"fields": [{"name": "t", "by": "xpath", "expr": "$x"}]},
        {"fields": [{"name": "t", "by": "regex", "expr": "(" * 500}]},
    ],
)
def test_hostile_values_are_refused_never_crash(overrides):
    with pytest.raises(ValidationError) as excinfo:
        validate_source(html_source(**overrides))
    assert excinfo.value.message_dict


@pytest.mark.django_db
def test_model_full_clean_reports_errors_by_field():
    source = html_source(link_selector="a[", schedule="soon")
    with pytest.raises(ValidationError) as excinfo:
        source.full_clean()
    assert {"link_selector", "schedule"} <= set(excinfo.value.message_dict)


@pytest.mark.django_db
def test_model_form_shows_the_errors_next_to_the_fields():
    form_class = modelform_factory(
        CrawlSource,
        fields=["name", "item_type", "start_urls", "link_selector", "fields", "schedule"],
    )
    form = form_class(
        data={
            "name": "新源",
            "item_type": "project",
            "start_urls": json.dumps(["https://www.example-ib.cn/projects/"]),
            "link_selector": "a.project-link",
            "fields": json.dumps([{"name": "amount", "by": "css", "expr": ".amount["}]),
            "schedule": "0 25 * * *",
        }
    )
    assert not form.is_valid()
    assert "fields[0] 'amount': invalid CSS selector" in form.errors["fields"][0]
    assert "0 25 * * *" in form.errors["schedule"][0]

    form = form_class(
        data={
            "name": "新源",
            "item_type": "project",
            "start_urls": json.dumps(["https://www.example-ib.cn/projects/"]),
            "link_selector": "a.project-link",
            "fields": json.dumps(FIELDS),
            "schedule": "*/30 * * * *",
        }
    )
    assert form.is_valid(), form.errors
    source = form.save()
    assert source.pk and source.fields == FIELDS


# --------------------------------------------------------------------------- source_config


@pytest.mark.django_db
def test_source_config_holds_every_setting_with_secrets_decrypted():
    proxy = ProxyFactory(url="http://10.0.0.5:3128", username="u1", password="proxy-pw")
    ProxyFactory(enabled=True)  # not chosen
    source = html_source()
    source.save()
    source.proxies.set([proxy])
    source = CrawlSource.objects.get(pk=source.pk)  # secrets come back through decryption

    config = source_config(source)

    assert json.loads(json.dumps(config)) == config  # what a crawl process receives
    assert config["source_id"] == source.pk
    assert config["login_form"] == {"username": "crawler", "password": "s3cret!"}
    assert config["cookies"][0]["value"] == "abc123"
    assert config["proxies"] == [
        {"id": proxy.pk, "url": "http://10.0.0.5:3128", "username": "u1", "password": "proxy-pw"}
    ]
    expected = {
        field.name
        for field in CrawlSource._meta.concrete_fields
        if not field.is_relation
        and field.name not in {"id", "created_at", "updated_at", "last_scheduled_at"}
    }
    assert expected <= set(config)
    for name in ("owner", "department", "created_at", "last_scheduled_at"):
        assert name not in config
    assert config["start_urls"] == ["https://www.example-ib.cn/projects/"]
    assert config["fetch_level"] == 3 and config["delay"] == 0.5
    assert config["headers"]["Accept-Language"].startswith("zh-CN")
    assert [rule.name for rule in parse_rules(config["fields"])] == [
        "title",
        "amount",
        "code",
        "tags",
    ]
    # a copy: the crawl cannot change the instance
    config["fields"].clear()
    assert source.fields


@pytest.mark.django_db
def test_source_config_proxies_fall_back_to_every_enabled_proxy():
    first = ProxyFactory(name="a-proxy", password="pw-a")
    second = ProxyFactory(name="b-proxy")
    ProxyFactory(name="c-off", enabled=False)
    source = CrawlSourceFactory()

    assert [p["id"] for p in source_config(source)["proxies"]] == [first.pk, second.pk]
    assert source_config(source)["proxies"][0]["password"] == "pw-a"

    source.proxies.set([second, ProxyFactory(name="d-off", enabled=False)])
    assert [p["id"] for p in source_config(source)["proxies"]] == [second.pk]


@pytest.mark.django_db
def test_source_config_of_an_unsaved_source_takes_the_given_proxies():
    chosen = ProxyFactory(name="chosen", username="u", password="p")
    ProxyFactory(name="other")
    source = json_source()

    config = source_config(source, proxies=[chosen])
    assert config["source_id"] is None
    assert config["proxies"] == [
        {"id": chosen.pk, "url": chosen.url, "username": "u", "password": "p"}
    ]
    assert config["page_format"] == "json" and config["body"].startswith("{")

    as_dicts = [{"id": None, "url": "http://10.9.9.9:8080", "username": "", "password": ""}]
    assert source_config(source, proxies=as_dicts)["proxies"] == as_dicts
    # nothing chosen: the whole enabled pool, as in a run
    assert len(source_config(source, proxies=[])["proxies"]) == 2
    assert len(source_config(source)["proxies"]) == 2
