"""Forms of the crawler pages: a crawl source an admin configures without writing code, its field
rules as an editable table, proxies, and the try-it preview.

The text formats a person types (one URL per line, ``Name: value`` headers, ``field=value`` login
fields, a ``name=value; name2=value2`` cookie string) are parsed here; the API accepts the same
cookie string through :func:`parse_cookies`. Stored secrets (login form, cookies, proxy passwords)
are never rendered back: leaving the box empty keeps them.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _

from ibcloud.accounts.services import departments_in_reach, records_in_reach, users_in_reach
from ibcloud.core.forms import BootstrapForm, BootstrapModelForm
from ibcloud.crawler.models import CrawlSource, Proxy

MAX_RULES = 100
MAX_LINES = 1000
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
RULE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
#: how ``config.validate_source`` names a rule in its messages: ``fields[2] 'amount': ...``
RULE_MESSAGE = re.compile(r"^fields\[(\d+)\](?: '[a-z0-9_]*')?: (.*)$", re.S)

# --- Text formats ---------------------------------------------------------------------------------


def parse_lines(text: str) -> list[str]:
    """Non-empty lines of ``text``, stripped."""
    lines = [line.strip() for line in (text or "").splitlines()]
    return [line for line in lines if line]


def _pairs(text: str, separator: str, example: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        name, found, value = line.partition(separator)
        if not found or not name.strip():
            raise ValidationError(
                _("Line %(n)d: write it as %(example)s."),
                params={"n": number, "example": example},
                code="invalid",
            )
        result[name.strip()] = value.strip()
    return result


def parse_headers(text: str) -> dict[str, str]:
    """``Name: value`` lines as a dict; a malformed line raises a ValidationError naming it."""
    headers = _pairs(text, ":", "Name: value")
    for name in headers:
        if not HEADER_NAME.match(name):
            raise ValidationError(
                _("%(name)s is not a valid header name."), params={"name": name}, code="invalid"
            )
    return headers


def format_headers(headers: Any) -> str:
    if not isinstance(headers, dict):
        return ""
    return "\n".join(f"{name}: {value}" for name, value in headers.items())


def parse_login_form(text: str) -> dict[str, str]:
    """``field=value`` lines (the login form's input names and what to type into them)."""
    return _pairs(text, "=", "field=value")


def parse_cookies(value: Any) -> list[dict[str, str]]:
    """Cookies as ``[{"name", "value", "domain", "path"}]`` from what an admin pastes.

    Accepted: a browser's ``name=value; name2=value2`` string (newlines work as separators too),
    a JSON list of cookie objects as cookie-export extensions write them (extra keys dropped),
    a JSON object ``{"name": "value"}``, or those same structures already parsed (the API).
    """
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text[0] in "[{":
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise ValidationError(
                    _("The cookies look like JSON but are not valid JSON: %(error)s"),
                    params={"error": exc},
                    code="invalid",
                ) from exc
        else:
            cookies = []
            for part in re.split(r"[;\n]", text):
                if not part.strip():
                    continue
                name, found, cookie_value = part.partition("=")
                if not found or not name.strip():
                    raise ValidationError(
                        _("%(part)s: write cookies as name=value; name2=value2."),
                        params={"part": part.strip()[:50]},
                        code="invalid",
                    )
                cookies.append(_cookie(name.strip(), cookie_value.strip()))
            return cookies
    if isinstance(value, dict):
        return [_cookie(str(name), str(v)) for name, v in value.items() if str(name).strip()]
    if not isinstance(value, list):
        raise ValidationError(
            _("Give cookies as a name=value; name2=value2 string or a JSON list."), code="invalid"
        )
    cookies = []
    for number, item in enumerate(value, start=1):
        if not isinstance(item, dict) or not str(item.get("name") or "").strip():
            raise ValidationError(
                _("Cookie %(n)d needs at least a name and a value."),
                params={"n": number},
                code="invalid",
            )
        cookies.append(
            _cookie(
                str(item["name"]).strip(),
                str(item.get("value") if item.get("value") is not None else ""),
                str(item.get("domain") or ""),
                str(item.get("path") or ""),
            )
        )
    return cookies


def _cookie(name: str, value: str, domain: str = "", path: str = "") -> dict[str, str]:
    return {"name": name, "value": value, "domain": domain, "path": path}


def split_proxy_url(url: str) -> tuple[str, str, str]:
    """``http://user:pass@host:port`` as (``http://host:port``, user, password); the credentials
    are stored apart from the URL, the password encrypted."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValidationError(_("Enter a valid proxy URL."), code="invalid") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            _("Enter the proxy as http://host:port (or https://host:port)."), code="invalid"
        )
    if port is None:
        raise ValidationError(_("The proxy URL needs a port, e.g. :3128."), code="invalid")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    clean = urlunsplit((parts.scheme, f"{host}:{port}", parts.path, "", ""))
    return clean, unquote(parts.username or ""), unquote(parts.password or "")


# --- Widgets and fields ---------------------------------------------------------------------------


class SecretTextarea(forms.Textarea):
    """A textarea that never renders its value: it holds passwords or session cookies."""

    def get_context(self, name, value, attrs):
        return super().get_context(name, None, attrs)


class LinesField(forms.CharField):
    """A textarea of one value per line, cleaned to a list of strings."""

    widget = forms.Textarea(attrs={"rows": 3})

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 200_000)
        super().__init__(*args, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return value

    def clean(self, value):
        text = super().clean(value)
        lines = parse_lines(text)
        if len(lines) > MAX_LINES:
            raise ValidationError(
                _("At most %(n)d lines."), params={"n": MAX_LINES}, code="max_lines"
            )
        return lines


class HeadersField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 20_000)
        super().__init__(*args, **kwargs)

    def prepare_value(self, value):
        return format_headers(value) if isinstance(value, dict) else value

    def clean(self, value):
        return parse_headers(super().clean(value))


#: the text inputs of a rule row: a row where all are empty is ignored
TYPED_KEYS = ("name", "label", "expr", "attribute", "join", "regex", "pattern")


class FieldRuleForm(BootstrapForm):
    """One row of the field rules table: how one field is extracted and checked."""

    name = forms.CharField(
        label=_("Name"),
        max_length=50,
        widget=forms.TextInput(attrs={"placeholder": "amount", "size": 10}),
    )
    label = forms.CharField(label=_("Label"), max_length=100, required=False)
    by = forms.ChoiceField(
        label=_("By"),
        choices=[
            ("css", "CSS"),
            ("xpath", "XPath"),
            ("regex", _("Regex")),
            ("jsonpath", "JSONPath"),
        ],
        initial="css",
    )
    expr = forms.CharField(
        label=_("Expression"),
        max_length=1000,
        widget=forms.TextInput(attrs={"placeholder": ".amount::text", "size": 18}),
    )
    attribute = forms.CharField(
        label=_("Attribute"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "href", "size": 6}),
    )
    all = forms.BooleanField(label=_("All matches"), required=False)
    join = forms.CharField(label=_("Join with"), max_length=20, required=False, strip=False)
    strip = forms.BooleanField(label=_("Strip spaces"), required=False, initial=True)
    regex = forms.CharField(label=_("Regex"), max_length=500, required=False)
    group = forms.IntegerField(
        label=_("Group"), min_value=0, max_value=99, initial=1, required=False
    )
    absolute_url = forms.BooleanField(label=_("Absolute URL"), required=False)
    type = forms.ChoiceField(
        label=_("Type"),
        choices=[
            ("text", _("Text")),
            ("integer", _("Integer")),
            ("number", _("Number")),
            ("date", _("Date")),
            ("url", _("URL")),
            ("list", _("List")),
        ],
        initial="text",
    )
    required = forms.BooleanField(label=_("Required"), required=False)
    pattern = forms.CharField(label=_("Must match"), max_length=500, required=False)

    #: minimum widths (rem) of the inputs, so the table scrolls instead of squeezing them
    WIDTHS = {
        "name": 8,
        "label": 7,
        "by": 7,
        "expr": 14,
        "attribute": 6,
        "join": 4,
        "regex": 8,
        "group": 4,
        "type": 7,
        "pattern": 8,
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, width in self.WIDTHS.items():
            self.fields[name].widget.attrs["style"] = f"min-width: {width}rem"
        for field in self.fields.values():
            css = field.widget.attrs.get("class", "")
            if "form-control" in css or "form-select" in css:
                field.widget.attrs["class"] = css.replace(
                    "form-control", "form-control form-control-sm"
                ).replace("form-select", "form-select form-select-sm")

    def has_changed(self) -> bool:
        # A row counts when something was typed into it; a row the browser removed (a gap in
        # the numbering) or left blank is skipped, whatever its checkboxes and menus say.
        return any(str(self.data.get(self.add_prefix(name)) or "").strip() for name in TYPED_KEYS)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not RULE_NAME.match(name):
            raise ValidationError(
                _("Use lower-case letters, digits and _, starting with a letter (e.g. amount)."),
                code="invalid",
            )
        return name

    def rule(self) -> dict[str, Any]:
        """The cleaned row as a field rule dict (every key, defaults filled in)."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "label": data.get("label") or "",
            "by": data["by"],
            "expr": data["expr"],
            "attribute": data.get("attribute") or "",
            "all": bool(data.get("all")),
            "join": data.get("join") or "",
            "strip": bool(data.get("strip")),
            "regex": data.get("regex") or "",
            "group": 1 if data.get("group") is None else data["group"],
            "absolute_url": bool(data.get("absolute_url")),
            "type": data["type"],
            "required": bool(data.get("required")),
            "pattern": data.get("pattern") or "",
        }


class BaseFieldRuleFormSet(forms.BaseFormSet):
    """Rows are never "initial" forms: a removed row leaves a gap that is simply skipped, and a
    blank row (e.g. the one a new source starts with) is ignored."""

    def initial_form_count(self):
        return 0

    def clean(self):
        if any(self.errors):
            return
        seen: set[str] = set()
        for form in self.forms:
            name = (getattr(form, "cleaned_data", None) or {}).get("name")
            if not name:
                continue
            if name in seen:
                form.add_error("name", _("Each field name may appear once."))
            seen.add(name)

    def rule_forms(self) -> list[FieldRuleForm]:
        """The rows that make a rule, in order: ``fields[i]`` of the source is row ``i`` here."""
        return [form for form in self.forms if getattr(form, "cleaned_data", None)]

    def rules(self) -> list[dict[str, Any]]:
        return [form.rule() for form in self.rule_forms()]


def rule_formset(data=None, rules: list | None = None) -> BaseFieldRuleFormSet:
    """The field rules table: bound to POST data, or showing ``rules`` (one blank row if none)."""
    rules = [rule for rule in (rules or []) if isinstance(rule, dict)]
    formset_class = forms.formset_factory(
        FieldRuleForm,
        formset=BaseFieldRuleFormSet,
        extra=0 if data is not None else max(len(rules), 1),
        max_num=MAX_RULES,
        absolute_max=MAX_RULES,
        validate_max=True,
    )
    if data is not None:
        return formset_class(data, prefix="rules")
    initial = [
        {key: value for key, value in rule.items() if key in FieldRuleForm.base_fields}
        for rule in rules
    ]
    return formset_class(prefix="rules", initial=initial)


# --- The source form ------------------------------------------------------------------------------

HELP = {
    "name": _("A unique name people recognise, e.g. 36Kr financing news."),
    "item_type": _("What each extracted record describes: a project or an investor."),
    "owner": _("Receives this source's health alerts. Empty: you."),
    "department": _("Decides who else sees the source. Empty: your department."),
    "start_urls": _(
        "One URL per line, e.g. https://example.com/projects/ . Leave empty when you use the "
        "URL template below."
    ),
    "url_template": _(
        "Instead of start URLs: a URL with {page}, e.g. https://example.com/list?page={page}, "
        "crawled for every page from the first to the last page."
    ),
    "page_format": _("HTML for web pages, JSON API for machine-readable answers, or RSS/Atom."),
    "list_mode": _(
        "Whether list pages link to one detail page per item, or show the items themselves."
    ),
    "list_selector_type": _("The language of the two selectors below."),
    "link_selector": _(
        "Links mode: finds the detail links on a list page, e.g. a.project::attr(href) (CSS) "
        "or //a[@class='project']/@href (XPath)."
    ),
    "item_selector": _(
        "Inline mode: selects each item on a list page, e.g. div.item (CSS) or $.data[*] "
        "(JSONPath). Field rules then run inside each item."
    ),
    "detail_format": _("The format of the detail pages (links mode)."),
    "pagination": _("How the crawler finds the next list page."),
    "next_selector": _("Next-page link: e.g. a.next::attr(href) or //a[@rel='next']/@href."),
    "cursor_path": _("JSON cursor: where the next cursor is in the answer, e.g. $.next_cursor."),
    "page_param": _(
        "The query parameter that carries the page number, cursor or offset, e.g. cursor."
    ),
    "page_size": _("JSON offset: how far the offset moves per page, e.g. 20."),
    "method": _("GET for web pages; some JSON APIs need POST."),
    "headers": _(
        "One header per line as Name: value, e.g. Accept: application/json. Browser-like "
        "headers are added by the fetch level."
    ),
    "body": _('POST requests: the body sent, e.g. {"page": 1} for a JSON API.'),
    "fetch_level": _(
        "How hard the crawler works to look like a browser. Start with L1; use L2 when the "
        "site answers 429 or bans, L3 when it needs a login or JavaScript."
    ),
    "rate_limit": _("L2 and up: at most this many requests per minute per domain, e.g. 30."),
    "block_marker": _(
        "L2 and up: text that only appears on the site's block page, e.g. 访问过于频繁; such a "
        "page counts as a ban and is retried through another proxy."
    ),
    "proxies": _("L2 and up. None chosen: every enabled proxy of the pool."),
    "login_url": _("L3: the page with the login form, e.g. https://example.com/login."),
    "login_form": _(
        "L3: one input per line as field=value, e.g. username=alice and password=…. Stored "
        "encrypted."
    ),
    "cookies": _(
        "L3: cookies to send, pasted as name=value; name2=value2 (from the browser's developer "
        "tools) or as a JSON list exported by a cookie extension. Stored encrypted."
    ),
    "render_js": _("L3: open each page in headless Chromium so that JavaScript runs."),
    "wait_for_selector": _(
        "With JavaScript: wait until this CSS selector appears, e.g. .project-list .item."
    ),
    "obey_robots": _("Keep on unless the site's owner allowed the crawl: robots.txt is honoured."),
    "concurrency": _("Requests in flight at once, e.g. 4."),
    "delay": _("Seconds between requests to the site, e.g. 0.5."),
    "max_pages": _("The run stops after this many pages."),
    "time_limit": _("The run stops after this many seconds, e.g. 3600."),
    "schedule": _(
        "A cron expression: minute hour day month weekday, e.g. 0 6 * * * (every day at 06:00) "
        "or */30 * * * * (every 30 minutes). Empty: run by hand only."
    ),
    "missed_run_policy": _(
        "When workers were down at a scheduled time: run once when they are back, or skip."
    ),
}

#: (key, title, field names): the form is shown in these groups
SECTIONS = [
    (
        "basics",
        _("Basics"),
        ["name", "description", "item_type", "enabled", "trust", "owner", "department"],
    ),
    ("start", _("Start URLs"), ["start_urls", "url_template", "page_start", "page_end"]),
    (
        "list",
        _("List & pagination"),
        [
            "page_format",
            "list_mode",
            "list_selector_type",
            "link_selector",
            "item_selector",
            "detail_format",
            "pagination",
            "next_selector",
            "cursor_path",
            "page_param",
            "page_size",
        ],
    ),
    ("request", _("Request"), ["method", "headers", "body"]),
    ("fields", _("Fields"), []),
    (
        "fetch",
        _("Fetch mode"),
        [
            "fetch_level",
            "rate_limit",
            "block_marker",
            "proxies",
            "login_url",
            "login_form",
            "clear_login_form",
            "cookies",
            "clear_cookies",
            "render_js",
            "wait_for_selector",
        ],
    ),
    ("limits", _("Limits"), ["obey_robots", "concurrency", "delay", "max_pages", "time_limit"]),
    ("schedule", _("Schedule"), ["schedule", "missed_run_policy"]),
]


class CrawlSourceForm(BootstrapModelForm):
    """A crawl source in groups, with the field rules as a formset (``self.rules``).

    ``CrawlSource.clean`` (``config.validate_source``) checks the whole configuration; its errors
    land next to the field they name, those about the rules above the rules table.
    """

    start_urls = LinesField(label=_("Start URLs"))
    headers = HeadersField(label=_("Request headers"))
    login_form = forms.CharField(
        label=_("Login form fields"),
        required=False,
        max_length=20_000,
        strip=False,
        widget=SecretTextarea(attrs={"rows": 2, "autocomplete": "off", "spellcheck": "false"}),
    )
    clear_login_form = forms.BooleanField(label=_("Remove the stored login fields"), required=False)
    cookies = forms.CharField(
        label=_("Cookies"),
        required=False,
        max_length=200_000,
        widget=SecretTextarea(attrs={"rows": 2, "autocomplete": "off", "spellcheck": "false"}),
    )
    clear_cookies = forms.BooleanField(label=_("Remove the stored cookies"), required=False)

    class Meta:
        model = CrawlSource
        fields = [
            name
            for _key, _title, names in SECTIONS
            for name in names
            if name not in ("clear_login_form", "clear_cookies")
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "body": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        }

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        self.actor = actor
        self.stored_login_form = dict(instance.login_form or {}) if instance.pk else {}
        self.stored_cookies = list(instance.cookies or []) if instance.pk else []
        self.fields["owner"].queryset = users_in_reach(actor, include=[instance.owner_id])
        self.fields["department"].queryset = departments_in_reach(
            actor, include=[instance.department_id]
        )
        self.fields["department"].label_from_instance = lambda d: d.full_name
        self.fields["proxies"].queryset = records_in_reach(Proxy, actor)
        self.fields["proxies"].required = False
        # Left empty (or posted by an older client), trust keeps the stored or default value.
        self.fields["trust"].required = False
        for name, text in HELP.items():
            if name in self.fields:
                self.fields[name].help_text = text
        if not self.stored_login_form:
            del self.fields["clear_login_form"]
        if not self.stored_cookies:
            del self.fields["clear_cookies"]
        data = args[0] if args else kwargs.get("data")
        self.rules = rule_formset(data if self.is_bound else None, instance.fields)

    def clean_login_form(self) -> dict[str, str] | None:
        text = self.cleaned_data.get("login_form") or ""
        return parse_login_form(text) if text.strip() else None

    def clean_trust(self) -> int:
        value = self.cleaned_data.get("trust")
        if value is None:
            return self.instance.trust if self.instance.pk else CrawlSource.trust.field.default
        return value

    def clean_cookies(self) -> list[dict[str, str]] | None:
        text = self.cleaned_data.get("cookies") or ""
        return parse_cookies(text) if text.strip() else None

    def clean(self):
        data = super().clean()
        # Secrets: an empty box keeps what is stored; the checkbox removes it.
        if data.get("clear_login_form"):
            data["login_form"] = {}
        elif data.get("login_form") is None:
            data["login_form"] = self.stored_login_form
        if data.get("clear_cookies"):
            data["cookies"] = []
        elif data.get("cookies") is None:
            data["cookies"] = self.stored_cookies
        return data

    def is_valid(self) -> bool:
        # Both, always: the rules table shows its errors even when the form has some too.
        form_valid = super().is_valid()
        # After the form: the model's check may have added errors to rule rows (or above them).
        return self.rules.is_valid() and form_valid and not self.rule_errors

    def _post_clean(self):
        # The rules come from the formset, not a form field; set them before the model's clean
        # (validate_source) sees the instance.
        self.instance.fields = self.rules.rules() if self.rules.is_valid() else []
        self.rule_errors: list[str] = []
        super()._post_clean()

    def _update_errors(self, errors):
        """Errors on model fields the form shows under another shape (the rules) or not at all
        are moved where a person sees them, instead of Django's ValueError."""
        if hasattr(errors, "error_dict"):
            kept = {}
            for field, messages in errors.error_dict.items():
                if field == "fields":
                    if not self.rules.is_valid():
                        continue  # the rows show their own errors; the rules were not checked
                    for message in (m for e in messages for m in e.messages):
                        self._add_rule_error(message)
                elif field in self.fields or field == NON_FIELD_ERRORS:
                    kept[field] = messages
                else:
                    label = _verbose_name(field)
                    kept.setdefault(NON_FIELD_ERRORS, []).extend(
                        ValidationError(f"{label}: {m}") for e in messages for m in e.messages
                    )
            if not kept:
                return
            errors = ValidationError(kept)
        super()._update_errors(errors)

    def _add_rule_error(self, message: str) -> None:
        """``fields[2] 'amount': invalid CSS ...`` goes to the third rule row, without its
        prefix; a message about the rules as a whole goes above the table."""
        found = RULE_MESSAGE.match(message)
        rows = self.rules.rule_forms() if self.rules.is_valid() else []
        if found and int(found.group(1)) < len(rows):
            rows[int(found.group(1))].add_error(None, found.group(2))
        else:
            self.rule_errors.append(message)

    def has_rule_errors(self) -> bool:
        return bool(getattr(self, "rule_errors", None)) or bool(
            self.rules.is_bound and (self.rules.non_form_errors() or any(self.rules.errors))
        )

    def sections(self) -> list[dict[str, Any]]:
        """The bound fields in their groups, for the template."""
        return [
            {
                "key": key,
                "title": title,
                "fields": [self[name] for name in names if name in self.fields],
            }
            for key, title, names in SECTIONS
        ]

    def chosen_proxies(self) -> list[Proxy]:
        """The proxies chosen in the form; none chosen means every enabled one (as in a run)."""
        chosen = list(self.cleaned_data.get("proxies") or [])
        return chosen or list(Proxy.objects.filter(enabled=True))


def _verbose_name(field: str) -> str:
    try:
        return str(CrawlSource._meta.get_field(field).verbose_name)
    except Exception:  # noqa: BLE001 - an unknown key is shown as it is
        return field


class PreviewForm(BootstrapForm):
    """The URL and kind of page to try a configuration on."""

    preview_url = forms.URLField(
        label=_("URL to try"),
        max_length=2000,
        assume_scheme="https",
        help_text=_("A list page or a detail page of the site, e.g. the first start URL."),
    )
    preview_kind = forms.ChoiceField(
        label=_("Page kind"),
        choices=[("list", _("List page")), ("detail", _("Detail page"))],
        initial="list",
    )


# --- Proxies --------------------------------------------------------------------------------------


class ProxyForm(BootstrapModelForm):
    """A proxy of the pool; credentials in the URL (``http://user:pass@host:port``) are split off
    and the password is stored encrypted, never shown again."""

    password = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Stored encrypted and never shown again; leave empty to keep the current one."),
    )
    clear_password = forms.BooleanField(label=_("Remove the stored password"), required=False)

    class Meta:
        model = Proxy
        fields = ["name", "url", "username", "password", "enabled"]
        help_texts = {
            "url": _("e.g. http://10.0.0.5:3128, or http://user:password@10.0.0.5:3128."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stored_password = self.instance.password if self.instance.pk else ""
        if not self.stored_password:
            del self.fields["clear_password"]

    def clean(self):
        data = super().clean()
        url = data.get("url")
        if url:
            try:
                clean_url, username, password = split_proxy_url(url)
            except ValidationError as exc:
                self.add_error("url", exc)
                return data
            data["url"] = clean_url
            if username:
                data["username"] = username
            if password:
                data["password"] = password
        if data.get("clear_password"):
            data["password"] = ""
        elif not data.get("password"):
            data["password"] = self.stored_password
        return data
