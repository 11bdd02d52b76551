"""Validation of a crawl source's configuration, and the plain dict the crawl process runs on.

:func:`validate_source` is called by ``CrawlSource.clean`` (so every ModelForm) and by the API
serializer: a bad selector, URL, cron expression or JSONPath is refused on save, never found out
in the middle of a run. It collects every problem at once, keyed by model field, each message
naming what is wrong (``fields[2] 'amount': invalid CSS selector: ...``).

Settings of a higher fetch level (proxies, login, cookies, JavaScript rendering) are validated
like the rest but never refused for being set at a lower level: they are kept and simply unused,
so switching the level back and forth loses nothing.

:func:`source_config` turns a (possibly unsaved) source into the JSON-serialisable dict a crawl
process or a preview receives, secrets decrypted.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from typing import Any

from croniter import croniter
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ibcloud.core.ssrf import SSRFBlocked, check_url
from ibcloud.crawler.extraction import (
    FIELD_TYPES,
    RULE_DEFAULTS,
    RULE_KINDS,
    RuleError,
    compile_css,
    compile_jsonpath,
    compile_xpath,
    parse_rule,
    rule_label,
)

#: every key a field rule may have (see :mod:`ibcloud.crawler.extraction` for their meaning)
FIELD_RULE_KEYS = tuple(RULE_DEFAULTS)

MAX_START_URLS = 1000
MAX_URL_LENGTH = 2000
MAX_FIELDS = 100
MAX_HEADERS = 50
MAX_HEADER_LENGTH = 8192
MAX_BODY_BYTES = 64 * 1024
MAX_COOKIES = 200
#: (low, high) of the numeric settings
LIMITS = {
    "concurrency": (1, 32),
    "delay": (0, 60),
    "max_pages": (1, 100_000),
    "time_limit": (60, 86_400),
}
#: headers the crawler sets itself: a configured value would break or smuggle the request
FORBIDDEN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
COOKIE_KEYS = ("name", "value", "domain", "path")

_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PARAM_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,100}")
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

#: the translatable form of every :class:`~ibcloud.crawler.extraction.RuleError`
RULE_MESSAGES = {
    "invalid_xpath": gettext_lazy("invalid XPath: %(error)s"),
    "invalid_css": gettext_lazy("invalid CSS selector: %(error)s"),
    "invalid_regex": gettext_lazy("invalid regular expression: %(error)s"),
    "invalid_jsonpath": gettext_lazy("invalid JSONPath: %(error)s"),
    "missing_group": gettext_lazy(
        "group %(group)s does not exist in the regular expression (it has %(groups)s group(s); "
        "0 is the whole match)"
    ),
    "invalid_name": gettext_lazy(
        "invalid name %(name)s: use a lower-case letter followed by up to 49 lower-case "
        "letters, digits or underscores"
    ),
    "unknown_by": gettext_lazy("unknown 'by' %(value)s: use one of %(choices)s"),
    "unknown_type": gettext_lazy("unknown type %(value)s: use one of %(choices)s"),
    "empty_expr": gettext_lazy("the expression ('expr') is empty"),
    "negative_group": gettext_lazy("'group' must be 0 or more"),
    "join_needs_all": gettext_lazy("'join' needs 'all' (else there is one match only)"),
    "in_key": gettext_lazy("'%(key)s': %(reason)s"),
    "not_object": gettext_lazy("a field rule must be an object with 'name' and 'expr'"),
    "unknown_keys": gettext_lazy("unknown key(s) %(keys)s; the keys are %(known)s"),
    "required_key": gettext_lazy("'%(key)s' is required"),
    "not_bool": gettext_lazy("'%(key)s' must be true or false"),
    "not_str": gettext_lazy("'%(key)s' must be a string"),
    "bad_group": gettext_lazy("'group' must be a whole number (0 = whole match)"),
}


def rule_message(exc: RuleError) -> str:
    """The translated text of a rule or selector error."""
    params = {
        key: rule_message(value) if isinstance(value, RuleError) else str(value)
        for key, value in exc.params.items()
    }
    template = RULE_MESSAGES.get(exc.code)
    return str(template) % params if template is not None else str(exc)


class _Errors:
    """Collects messages per model field, so one save shows every problem at once."""

    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = defaultdict(list)

    def add(self, field: str, message: str) -> None:
        self.by_field[field].append(str(message))

    def __contains__(self, field: str) -> bool:
        return field in self.by_field


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _url_problem(url: Any) -> str | None:
    """Why ``url`` cannot be crawled (syntax and the SSRF guard without DNS), or ``None``."""
    if not isinstance(url, str) or not url.strip():
        return _("enter a URL")
    if len(url) > MAX_URL_LENGTH:
        return _("the URL is longer than %(max)s characters") % {"max": MAX_URL_LENGTH}
    if _CONTROL.search(url.strip()):
        return _("the URL contains a line break or control character")
    try:
        check_url(url.strip(), resolve=False)
    except SSRFBlocked as exc:
        return _("this URL is not allowed: %(reason)s") % {"reason": exc.reason}
    return None


def _check_selector(errors: _Errors, field: str, kind: str, expr: str, xml: bool = False) -> None:
    """Compile ``expr`` as a ``kind`` selector; a failure is an error on ``field``."""
    try:
        if kind == "css":
            compile_css(expr, xml=xml)
        elif kind == "xpath":
            compile_xpath(expr)
        elif kind == "jsonpath":
            compile_jsonpath(expr)
    except RuleError as exc:
        errors.add(field, rule_message(exc))


def _choice(errors: _Errors, source, field: str) -> Any:
    """The field's value if it is one of its choices, else an error and ``None``."""
    value = getattr(source, field)
    choices = [str(key) for key, _label in source._meta.get_field(field).choices]
    if str(value) not in choices or value in (None, ""):
        errors.add(
            field,
            _("%(value)s is not one of %(choices)s.")
            % {
                "value": json.dumps(value, ensure_ascii=False, default=str),
                "choices": ", ".join(choices),
            },
        )
        return None
    return value


def _text(source, field: str) -> str:
    value = getattr(source, field)
    return value.strip() if isinstance(value, str) else ""


# --------------------------------------------------------------------------- the checks


def _check_start(errors: _Errors, source) -> None:
    start_urls = source.start_urls
    if start_urls in (None, ""):
        start_urls = []
    if not isinstance(start_urls, list):
        errors.add("start_urls", _("Start URLs must be a list of URLs."))
        start_urls = []
    elif len(start_urls) > MAX_START_URLS:
        errors.add(
            "start_urls", _("At most %(max)s start URLs are allowed.") % {"max": MAX_START_URLS}
        )
    for index, url in enumerate(start_urls[:MAX_START_URLS]):
        problem = _url_problem(url)
        if problem:
            errors.add("start_urls", f"start_urls[{index}]: {problem}")

    template = source.url_template
    if not isinstance(template, str):
        template = ""
    template = template.strip()
    if not start_urls and not template and "start_urls" not in errors:
        errors.add("start_urls", _("Enter at least one start URL or a URL template."))
    page_start, page_end = source.page_start, source.page_end
    if template:
        if "{page}" not in template:
            errors.add(
                "url_template",
                _(
                    "The URL template must contain {page}, e.g. https://example.com/list?page={page}."
                ),
            )
        else:
            problem = _url_problem(template.replace("{page}", "1"))
            if problem:
                errors.add("url_template", problem)
        if page_start is None:
            errors.add("page_start", _("Enter the first page for the URL template."))
        if page_end is None:
            errors.add("page_end", _("Enter the last page for the URL template."))
    for field, value in (("page_start", page_start), ("page_end", page_end)):
        if value is not None and (not _is_int(value) or value < 0):
            errors.add(field, _("Enter a whole number, 0 or more."))
    if _is_int(page_start) and _is_int(page_end) and page_start > page_end:
        errors.add(
            "page_end",
            _("The last page (%(end)s) comes before the first page (%(start)s).")
            % {"end": page_end, "start": page_start},
        )


def _check_list(errors: _Errors, source, page_format: str | None) -> None:
    list_mode = _choice(errors, source, "list_mode")
    selector_type = _choice(errors, source, "list_selector_type")
    _choice(errors, source, "detail_format")
    if page_format == "json" and selector_type and selector_type != "jsonpath":
        errors.add(
            "list_selector_type", _("A JSON API is read with JSONPath: choose JSONPath here.")
        )
        selector_type = None
    elif page_format in ("html", "feed") and selector_type == "jsonpath":
        errors.add(
            "list_selector_type",
            _("JSONPath reads JSON only: choose CSS or XPath for an HTML page or a feed."),
        )
        selector_type = None

    link_selector = _text(source, "link_selector")
    item_selector = _text(source, "item_selector")
    if list_mode == "links" and not link_selector and page_format != "feed":
        errors.add(
            "link_selector",
            _("Enter the selector of the links to the detail pages (e.g. a.project-link)."),
        )
    if list_mode == "inline" and not item_selector and page_format != "feed":
        errors.add(
            "item_selector", _("Enter the selector of the items on the list page (e.g. li.item).")
        )
    if selector_type:
        xml = page_format == "feed"
        for field in ("link_selector", "item_selector", "next_selector"):
            expr = _text(source, field)
            if expr:
                _check_selector(errors, field, selector_type, expr, xml=xml)


def _check_pagination(errors: _Errors, source, page_format: str | None) -> None:
    pagination = _choice(errors, source, "pagination")
    page_param = _text(source, "page_param")
    if page_param and not _PARAM_NAME.fullmatch(page_param):
        errors.add(
            "page_param",
            _("Enter a query parameter name (letters, digits, _ . - [ ]), e.g. cursor."),
        )
    page_size = source.page_size
    if page_size is not None and (not _is_int(page_size) or page_size < 1):
        errors.add("page_size", _("Enter a whole number, 1 or more."))
    cursor_path = _text(source, "cursor_path")
    if cursor_path:
        _check_selector(errors, "cursor_path", "jsonpath", cursor_path)

    if pagination == "next_link" and not _text(source, "next_selector"):
        errors.add("next_selector", _("Next-page-link pagination needs the next-page selector."))
    elif pagination == "page_number" and not _text(source, "url_template"):
        errors.add("url_template", _("Page-number pagination needs a URL template with {page}."))
    elif pagination in ("json_cursor", "json_offset"):
        if page_format and page_format != "json":
            errors.add("pagination", _("Cursor and offset pagination work for JSON APIs only."))
        if not page_param:
            errors.add(
                "page_param",
                _("Enter the query parameter that takes the cursor or offset (e.g. cursor)."),
            )
        if pagination == "json_cursor" and not cursor_path:
            errors.add(
                "cursor_path",
                _("Enter the JSONPath of the next cursor in the answer (e.g. $.next_cursor)."),
            )
        if pagination == "json_offset" and page_size is None:
            errors.add("page_size", _("Offset pagination needs the page size (the offset step)."))


def _check_request(errors: _Errors, source) -> None:
    _choice(errors, source, "method")
    headers = source.headers
    if headers in (None, ""):
        headers = {}
    content_type = ""
    if not isinstance(headers, dict):
        errors.add("headers", _("Headers must be an object of name → value."))
        headers = {}
    elif len(headers) > MAX_HEADERS:
        errors.add("headers", _("At most %(max)s headers are allowed.") % {"max": MAX_HEADERS})
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            errors.add(
                "headers",
                _("%(name)s is not a valid header name.")
                % {"name": json.dumps(name, ensure_ascii=False)[:60]},
            )
            continue
        if name.lower() in FORBIDDEN_HEADERS:
            errors.add(
                "headers", _("The %(name)s header is set by the crawler itself.") % {"name": name}
            )
        if not isinstance(value, str):
            errors.add("headers", _("The value of %(name)s must be text.") % {"name": name})
        elif _CONTROL.search(value.replace("\t", " ")):
            errors.add(
                "headers",
                _("The value of %(name)s contains a line break or control character.")
                % {"name": name},
            )
        elif len(value) > MAX_HEADER_LENGTH:
            errors.add(
                "headers",
                _("The value of %(name)s is longer than %(max)s characters.")
                % {"name": name, "max": MAX_HEADER_LENGTH},
            )
        elif name.lower() == "content-type":
            content_type = value.lower()

    body = source.body
    if body in (None, ""):
        return
    if not isinstance(body, str):
        errors.add("body", _("The request body must be text."))
        return
    if len(body.encode("utf-8", errors="surrogatepass")) > MAX_BODY_BYTES:
        errors.add("body", _("The request body is larger than 64 kB."))
        return
    media_type = content_type.split(";", 1)[0].strip()
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            json.loads(body)
        except ValueError as exc:
            errors.add(
                "body",
                _("The headers say the body is JSON, but it is not valid JSON: %(error)s")
                % {"error": exc},
            )


def _rule_format_problem(kind: str, page_format: str) -> str | None:
    if page_format == "json" and kind in ("css", "xpath"):
        return _("a %(kind)s rule cannot read JSON: use JSONPath (or regex)") % {
            "kind": kind.upper() if kind == "css" else "XPath"
        }
    if page_format in ("html", "feed") and kind == "jsonpath":
        return _("a JSONPath rule reads JSON only: use CSS, XPath or regex for this page")
    return None


def _check_fields(errors: _Errors, source, page_format: str | None) -> None:
    rules = source.fields
    if rules in (None, ""):
        rules = []
    if not isinstance(rules, list):
        errors.add("fields", _("Fields must be a list of field rules."))
        return
    if not rules:
        errors.add("fields", _("Define at least one field to extract."))
        return
    if len(rules) > MAX_FIELDS:
        errors.add("fields", _("At most %(max)s fields are allowed.") % {"max": MAX_FIELDS})
        return
    # The rules read the detail pages, or the items on the list pages in inline mode.
    rule_format = page_format if source.list_mode == "inline" else source.detail_format
    seen: set[str] = set()
    for index, raw in enumerate(rules):
        label = rule_label(index, raw)
        name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(name, str) and name:
            if name in seen:
                errors.add("fields", f"{label}: " + _("the name is used by another field"))
            seen.add(name)
        try:
            rule = parse_rule(raw)
        except RuleError as exc:
            errors.add("fields", f"{label}: {rule_message(exc)}")
            continue
        problem = _rule_format_problem(rule.by, rule_format) if rule_format else None
        if problem:
            errors.add("fields", f"{label}: {problem}")


def _check_limits(errors: _Errors, source) -> None:
    for field, (low, high) in LIMITS.items():
        value = getattr(source, field)
        valid = _is_number(value) if field == "delay" else _is_int(value)
        if not valid or not low <= value <= high:
            errors.add(
                field, _("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high}
            )
    if not isinstance(source.obey_robots, bool):
        errors.add("obey_robots", _("Enter true or false."))


def _check_fetch(errors: _Errors, source) -> None:
    _choice(errors, source, "fetch_level")
    rate_limit = source.rate_limit
    if rate_limit is not None and (not _is_int(rate_limit) or rate_limit < 1):
        errors.add("rate_limit", _("Enter at least 1 request per minute, or leave it empty."))
    if source.block_marker is not None and not isinstance(source.block_marker, str):
        errors.add("block_marker", _("Enter text."))

    login_url = _text(source, "login_url")
    if login_url:
        problem = _url_problem(login_url)
        if problem:
            errors.add("login_url", problem)
    login_form = source.login_form
    if login_form not in (None, "", {}):
        if not isinstance(login_form, dict):
            errors.add("login_form", _("Login form fields must be an object of name → value."))
        elif not all(
            isinstance(k, str) and k and isinstance(v, str) for k, v in login_form.items()
        ):
            errors.add("login_form", _("Each login form field needs a name and a text value."))

    cookies = source.cookies
    if cookies not in (None, "", []):
        if not isinstance(cookies, list):
            errors.add("cookies", _("Cookies must be a list of {name, value, domain, path}."))
        elif len(cookies) > MAX_COOKIES:
            errors.add("cookies", _("At most %(max)s cookies are allowed.") % {"max": MAX_COOKIES})
        else:
            for index, cookie in enumerate(cookies):
                problem = _cookie_problem(cookie)
                if problem:
                    errors.add("cookies", f"cookies[{index}]: {problem}")

    wait_for = _text(source, "wait_for_selector")
    if wait_for:
        _check_selector(errors, "wait_for_selector", "css", wait_for)


def _cookie_problem(cookie: Any) -> str | None:
    if not isinstance(cookie, dict):
        return _("a cookie must be an object with name and value")
    unknown = sorted(str(key) for key in cookie if key not in COOKIE_KEYS)
    if unknown:
        return _("unknown key(s) %(keys)s; the keys are name, value, domain, path") % {
            "keys": ", ".join(unknown)
        }
    if not all(isinstance(cookie.get(key, ""), str) for key in COOKIE_KEYS):
        return _("name, value, domain and path must be text")
    if not _COOKIE_NAME.fullmatch(cookie.get("name", "")):
        return _("enter a cookie name (no spaces, ; or =)")
    if any(
        _CONTROL.search(cookie.get(key, "")) or ";" in cookie.get(key, "") for key in COOKIE_KEYS
    ):
        return _("the cookie contains ; or a control character")
    return None


def _check_schedule(errors: _Errors, source) -> None:
    _choice(errors, source, "missed_run_policy")
    schedule = source.schedule
    if schedule in (None, ""):
        return
    if not isinstance(schedule, str):
        errors.add("schedule", _("Enter a cron expression."))
        return
    schedule = schedule.strip()
    problem = None
    if len(schedule.split()) != 5:
        problem = _(
            "a cron expression has five fields: minute hour day month weekday (e.g. 0 6 * * *)"
        )
    elif not croniter.is_valid(schedule):
        problem = _("not a valid cron expression (e.g. 0 6 * * * is every day at 06:00)")
    else:
        try:
            croniter(schedule).get_next()
        except (ValueError, KeyError, OverflowError):
            problem = _("this schedule never runs (e.g. the 31st of February)")
    if problem:
        errors.add(
            "schedule", _("%(value)s: %(problem)s") % {"value": schedule, "problem": problem}
        )


def validate_source(source) -> None:
    """Raise ``ValidationError({field: [message, ...]})`` for a bad configuration.

    Checks everything at once (start URLs and template, list and pagination settings, the
    request, the field rules, limits, fetch mode, schedule) on a saved or unsaved source. It
    never raises anything else, whatever the field values hold.
    """
    errors = _Errors()
    _choice(errors, source, "item_type")
    page_format = _choice(errors, source, "page_format")
    _check_start(errors, source)
    _check_list(errors, source, page_format)
    _check_pagination(errors, source, page_format)
    _check_request(errors, source)
    _check_fields(errors, source, page_format)
    _check_limits(errors, source)
    _check_fetch(errors, source)
    _check_schedule(errors, source)
    if errors.by_field:
        raise ValidationError(
            {
                # Not code "invalid": a ModelForm would replace the message by its form field's
                # generic "invalid" text (e.g. "Enter a valid JSON.").
                field: [ValidationError(message, code="bad_config") for message in messages]
                for field, messages in errors.by_field.items()
            }
        )


# --------------------------------------------------------------------------- the crawl's config

#: model fields that are bookkeeping, not configuration
NOT_CONFIG = frozenset(
    {"id", "created_at", "updated_at", "owner", "department", "last_scheduled_at", "proxies"}
)


def _proxy_dict(proxy: Any) -> dict[str, Any]:
    if isinstance(proxy, dict):
        return {
            "id": proxy.get("id"),
            "url": proxy.get("url", ""),
            "username": proxy.get("username") or "",
            "password": proxy.get("password") or "",
        }
    return {
        "id": proxy.pk,
        "url": proxy.url,
        "username": proxy.username or "",
        "password": proxy.password or "",  # decrypted by the field on read
    }


def _enabled(proxies: list[Any]) -> list[Any]:
    return [p for p in proxies if isinstance(p, dict) or p.enabled]


def source_config(source, proxies: list | None = None) -> dict[str, Any]:
    """Everything the crawl process needs, as JSON-serialisable data (secrets decrypted).

    Every configuration field of the model under its own name, plus ``source_id`` (``None`` when
    unsaved) and ``proxies`` ``[{"id", "url", "username", "password"}]``: the given ``proxies``
    (Proxy rows or such dicts; for an unsaved source), else the source's chosen proxies, and
    when none are chosen every enabled proxy of the pool.
    """
    from ibcloud.crawler.models import Proxy

    config: dict[str, Any] = {}
    for model_field in source._meta.concrete_fields:
        if model_field.name in NOT_CONFIG or model_field.is_relation:
            continue
        value = getattr(source, model_field.attname)
        # A copy: the crawl must not share (and mutate) the instance's lists and dicts.
        config[model_field.name] = json.loads(json.dumps(value, default=str))
    config["source_id"] = source.pk

    chosen: list[Any] = []
    if proxies is not None:
        chosen = list(proxies)
    elif source.pk is not None:
        chosen = list(source.proxies.all())
    if chosen:
        chosen = _enabled(chosen)
    else:
        chosen = list(Proxy.objects.filter(enabled=True).order_by("name"))
    config["proxies"] = [_proxy_dict(proxy) for proxy in chosen]
    return config


__all__ = [
    "FIELD_RULE_KEYS",
    "FIELD_TYPES",
    "RULE_KINDS",
    "rule_message",
    "source_config",
    "validate_source",
]
