"""Applying a source's rules to a fetched page: find items and links, extract and check fields.

Pure functions over page text; no Django, no Scrapy. The crawl process (and the preview) call:

* :func:`parse_rules` once per run: turns ``CrawlSource.fields`` into :class:`FieldRule` objects
  whose selectors and regular expressions are compiled once;
* :func:`parse_document` once per response: a parsel ``Selector`` for HTML and feeds (namespaces
  removed, so ``item``/``entry``/``link`` need no prefix), the parsed value for JSON;
* :func:`select_items`, :func:`select_links`, :func:`select_value` on list pages;
* :func:`extract_item` per item (or per detail page), then :func:`content_hash` on its data.

Values are kept as found (strings, lists of strings, JSON scalars); a field's ``type`` and
``pattern`` only flag the record (``ExtractedItem.problems``), they never convert or drop it.
The compile helpers (:func:`compile_css`, :func:`compile_xpath`, :func:`compile_jsonpath`,
:func:`compile_regex`) raise ``ValueError`` with a readable reason; configuration validation
uses them too, so a rule that is saved is a rule that runs.
"""

from __future__ import annotations

import codecs
import hashlib
import html as html_lib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from cssselect import SelectorError
from jsonpath_ng.ext import parse as _jsonpath_parse
from lxml import etree
from parsel import Selector
from parsel.csstranslator import GenericTranslator, HTMLTranslator
from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding

PAGE_FORMATS = ("html", "json", "feed")
SELECTOR_TYPES = ("css", "xpath", "jsonpath")
RULE_KINDS = ("css", "xpath", "regex", "jsonpath")
FIELD_TYPES = ("text", "integer", "number", "date", "url", "list")
FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")

#: A parsed page: a parsel ``Selector`` (HTML, feeds) or a JSON value.
Document = Any
#: One item: a parsel ``Selector`` or a JSON value.
Node = Any


class DocumentError(ValueError):
    """The page cannot be read in the configured format (e.g. a JSON API answered HTML)."""


class RuleError(ValueError):
    """A field rule or selector is invalid. ``str()`` is the English reason; ``code``,
    ``template`` and ``params`` let :mod:`ibcloud.crawler.config` show it translated (a
    param may itself be a ``RuleError``, e.g. the reason behind ``'regex': ...``)."""

    def __init__(self, code: str, template: str, **params: Any) -> None:
        self.code = code
        self.template = template
        self.params = params
        super().__init__(template % {key: str(value) for key, value in params.items()})


# --------------------------------------------------------------------------- compiling


_HTML_CSS = HTMLTranslator()
_XML_CSS = GenericTranslator()
# The namespaces parsel registers by default, so XPath rules behave as they do in parsel.
_XPATH_NAMESPACES = {
    "re": "http://exslt.org/regular-expressions",
    "set": "http://exslt.org/sets",
}
_PROBE_TREE = etree.fromstring("<html><body/></html>")


@lru_cache(maxsize=2048)
def compile_xpath(expr: str) -> etree.XPath:
    """Compile an XPath expression once; ``ValueError`` with the reason if it is invalid."""
    try:
        compiled = etree.XPath(expr, namespaces=_XPATH_NAMESPACES, smart_strings=False)
        # Unknown functions and undefined variables only show when evaluated.
        compiled(_PROBE_TREE)
    except etree.XPathError as exc:
        raise RuleError("invalid_xpath", "invalid XPath: %(error)s", error=exc) from None
    return compiled


@lru_cache(maxsize=2048)
def compile_css(expr: str, xml: bool = False) -> etree.XPath:
    """Compile a CSS selector (parsel dialect: ``::text``, ``::attr(name)``) to an XPath."""
    translator = _XML_CSS if xml else _HTML_CSS
    try:
        xpath = translator.css_to_xpath(expr)
    except SelectorError as exc:
        raise RuleError("invalid_css", "invalid CSS selector: %(error)s", error=exc) from None
    return compile_xpath(xpath)


@lru_cache(maxsize=2048)
def compile_regex(expr: str) -> re.Pattern:
    """Compile a regular expression once; ``ValueError`` with the reason if it is invalid."""
    try:
        return re.compile(expr)
    except (re.error, OverflowError, RecursionError) as exc:
        raise RuleError(
            "invalid_regex", "invalid regular expression: %(error)s", error=exc
        ) from None


def regex_group(pattern: re.Pattern, group: int) -> int:
    """The group to take from ``pattern``'s matches; ``ValueError`` if it does not exist.

    The default group 1 means the whole match when the regex has no group at all, so a plain
    ``\\d+`` works without ``group: 0``.
    """
    if pattern.groups == 0 and group in (0, 1):
        return 0
    if 0 <= group <= pattern.groups:
        return group
    raise RuleError(
        "missing_group",
        "group %(group)s does not exist in the regular expression (it has %(groups)s "
        "group(s); 0 is the whole match)",
        group=group,
        groups=pattern.groups,
    )


class _KeyPath:
    """A plain dotted JSONPath (``$.data.name``) as dictionary look-ups: the common case, fast."""

    __slots__ = ("keys",)

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.keys = keys

    def values(self, data: Any) -> list[Any]:
        for key in self.keys:
            if not isinstance(data, dict) or key not in data:
                return []
            data = data[key]
        return [data]


class _ExtPath:
    """Any other JSONPath, filters included, through jsonpath-ng's extended parser."""

    __slots__ = ("path",)

    def __init__(self, path: Any) -> None:
        self.path = path

    def values(self, data: Any) -> list[Any]:
        return [match.value for match in self.path.find(data)]


_SIMPLE_JSONPATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def normalise_jsonpath(expr: str) -> str:
    """``name`` / ``data[*]`` / ``.name`` become ``$.name`` / ``$.data[*]``: paths are relative
    to the item (or the page for list selectors), so the ``$`` may be left out."""
    expr = expr.strip()
    if expr.startswith("$"):
        return expr
    if expr.startswith(("[", ".")):
        return "$" + expr
    return "$." + expr


@lru_cache(maxsize=2048)
def compile_jsonpath(expr: str) -> _KeyPath | _ExtPath:
    """Compile a JSONPath (jsonpath-ng extended syntax) once; ``ValueError`` if invalid."""
    normalised = normalise_jsonpath(expr)
    if normalised.startswith("$.") and _SIMPLE_JSONPATH.fullmatch(normalised[2:]):
        return _KeyPath(tuple(normalised[2:].split(".")))
    try:
        return _ExtPath(_jsonpath_parse(normalised))
    except Exception as exc:  # jsonpath-ng raises several unrelated types (lexer, parser, ply)
        raise RuleError("invalid_jsonpath", "invalid JSONPath: %(error)s", error=exc) from None


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class FieldRule:
    """One field of a source: how to extract it, how to post-process it, how to check it.

    Build it with :func:`parse_rules` (or directly): construction validates and compiles the
    expressions and raises ``ValueError`` naming what is wrong.
    """

    name: str
    by: str = "css"
    expr: str = ""
    label: str = ""
    attribute: str = ""
    all: bool = False
    join: str = ""
    strip: bool = True
    regex: str = ""
    group: int = 1
    absolute_url: bool = False
    type: str = "text"
    required: bool = False
    pattern: str = ""

    # Compiled once here, so extraction never parses an expression again.
    _selector: Any = field(default=None, init=False, repr=False, compare=False)
    _xml_selector: Any = field(default=None, init=False, repr=False, compare=False)
    _source_group: int = field(default=0, init=False, repr=False, compare=False)
    _post_regex: re.Pattern | None = field(default=None, init=False, repr=False, compare=False)
    _post_group: int = field(default=0, init=False, repr=False, compare=False)
    _pattern: re.Pattern | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not FIELD_NAME_RE.match(self.name):
            raise RuleError(
                "invalid_name",
                "invalid name %(name)s: use a lower-case letter followed by up to 49 lower-case "
                "letters, digits or underscores",
                name=repr(self.name),
            )
        if self.by not in RULE_KINDS:
            raise RuleError(
                "unknown_by",
                "unknown 'by' %(value)s: use one of %(choices)s",
                value=repr(self.by),
                choices=", ".join(RULE_KINDS),
            )
        if self.type not in FIELD_TYPES:
            raise RuleError(
                "unknown_type",
                "unknown type %(value)s: use one of %(choices)s",
                value=repr(self.type),
                choices=", ".join(FIELD_TYPES),
            )
        if not self.expr.strip():
            raise RuleError("empty_expr", "the expression ('expr') is empty")
        if self.group < 0:
            raise RuleError("negative_group", "'group' must be 0 or more")
        if self.join and not self.all:
            raise RuleError("join_needs_all", "'join' needs 'all' (else there is one match only)")
        set_ = object.__setattr__  # frozen dataclass: the compiled parts are set once, here
        if self.by == "css":
            set_(self, "_selector", compile_css(self.expr))
            set_(self, "_xml_selector", compile_css(self.expr, xml=True))
        elif self.by == "xpath":
            set_(self, "_selector", compile_xpath(self.expr))
            set_(self, "_xml_selector", self._selector)
        elif self.by == "regex":
            compiled = compile_regex(self.expr)
            set_(self, "_selector", compiled)
            # With a post-processing regex as well, ``group`` belongs to that one.
            set_(self, "_source_group", regex_group(compiled, 1 if self.regex else self.group))
        else:
            set_(self, "_selector", compile_jsonpath(self.expr))
        for key, attribute in (("regex", "_post_regex"), ("pattern", "_pattern")):
            if getattr(self, key):
                try:
                    set_(self, attribute, compile_regex(getattr(self, key)))
                    if key == "regex":
                        set_(self, "_post_group", regex_group(self._post_regex, self.group))
                except RuleError as exc:
                    raise RuleError(
                        "in_key", "'%(key)s': %(reason)s", key=key, reason=exc
                    ) from None

    def to_dict(self) -> dict[str, Any]:
        """The rule as the JSON dict stored in ``CrawlSource.fields`` (every key present)."""
        return {key: getattr(self, key) for key in RULE_DEFAULTS}


#: every key of a field rule with its default (``name`` has none: it is required)
RULE_DEFAULTS: dict[str, Any] = {
    "name": None,
    "label": "",
    "by": "css",
    "expr": "",
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
_BOOL_KEYS = ("all", "strip", "absolute_url", "required")
_STR_KEYS = ("name", "label", "by", "expr", "attribute", "join", "regex", "type", "pattern")


def parse_rule(raw: Any) -> FieldRule:
    """One rule dict → :class:`FieldRule`; missing (or null) keys take their defaults.

    Raises :class:`RuleError` with a reason that does not repeat the rule's position or name
    (the caller adds them, see :func:`rule_label`).
    """
    if not isinstance(raw, dict):
        raise RuleError("not_object", "a field rule must be an object with 'name' and 'expr'")
    unknown = sorted(str(key) for key in raw if key not in RULE_DEFAULTS)
    if unknown:
        raise RuleError(
            "unknown_keys",
            "unknown key(s) %(keys)s; the keys are %(known)s",
            keys=", ".join(unknown),
            known=", ".join(RULE_DEFAULTS),
        )
    values: dict[str, Any] = {}
    for key, default in RULE_DEFAULTS.items():
        value = raw.get(key)
        if value is None:
            if default is None:
                raise RuleError("required_key", "'%(key)s' is required", key=key)
            continue
        if key in _BOOL_KEYS and not isinstance(value, bool):
            raise RuleError("not_bool", "'%(key)s' must be true or false", key=key)
        if key in _STR_KEYS and not isinstance(value, str):
            raise RuleError("not_str", "'%(key)s' must be a string", key=key)
        if key == "group":
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise RuleError("bad_group", "'group' must be a whole number (0 = whole match)")
        values[key] = value
    return FieldRule(**values)


def parse_rules(raw: Any) -> list[FieldRule]:
    """``CrawlSource.fields`` → rules, validated and compiled; ``ValueError`` on bad input.

    The message names the rule: ``fields[2] 'amount': invalid CSS selector: ...``.
    """
    if not isinstance(raw, list):
        raise ValueError("fields must be a list of field rules")
    rules: list[FieldRule] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        label = rule_label(index, item)
        try:
            rule = parse_rule(item)
        except ValueError as exc:
            raise ValueError(f"{label}: {exc}") from None
        if rule.name in seen:
            raise ValueError(f"{label}: the name is used by another field")
        seen.add(rule.name)
        rules.append(rule)
    return rules


def rule_label(index: int, raw: Any) -> str:
    """How messages name a rule: ``fields[2] 'amount'`` (or just ``fields[2]``)."""
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"fields[{index}] {name!r}" if isinstance(name, str) and name else f"fields[{index}]"


# --------------------------------------------------------------------------- documents


def decode_body(body: bytes, encoding: str | None = None, sniff: bool = True) -> str:
    """Bytes → text: a BOM, else ``encoding`` (the HTTP header's), else the charset declared in
    the page (``sniff``), else UTF-8, else GB18030 (GBK/GB2312 pages often declare nothing)."""
    bom_encoding, bom = read_bom(body)
    if bom_encoding:
        return body[len(bom) :].decode(bom_encoding, errors="replace")
    candidates = [encoding]
    if sniff:
        candidates.append(html_body_declared_encoding(body))
    candidates += ["utf-8", "gb18030"]
    tried: set[str] = set()
    for candidate in candidates:
        if not candidate:
            continue
        try:
            name = resolve_encoding(candidate) or codecs.lookup(candidate).name
        except LookupError:
            continue
        if name in tried:
            continue
        tried.add(name)
        try:
            return body.decode(name)
        except (UnicodeDecodeError, LookupError):
            # A page that declares UTF-8 but is GBK (or the reverse) is common: try the next.
            continue
    return body.decode("utf-8", errors="replace")


def parse_document(
    body: bytes | str, page_format: str, url: str, encoding: str | None = None
) -> Document:
    """Parse a fetched page: HTML → ``Selector``; feed → XML ``Selector`` without namespaces;
    JSON → the value. ``encoding`` is the charset of the HTTP ``Content-Type``, if any.

    Raises :class:`DocumentError` when the page is not in that format (JSON that does not parse).
    """
    if page_format not in PAGE_FORMATS:
        raise ValueError(f"unknown page format {page_format!r}")
    if isinstance(body, bytes | bytearray):
        text = decode_body(bytes(body), encoding, sniff=page_format != "json")
    else:
        text = body
    text = text.lstrip("\ufeff")
    if page_format == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            start = " ".join(text[:80].split())
            raise DocumentError(
                f"the page is not valid JSON ({exc}); it starts with {start!r}"
            ) from None
    try:
        if page_format == "feed":
            selector = Selector(text=text, type="xml", base_url=url)
            selector.remove_namespaces()
            return selector
        return Selector(text=text, type="html", base_url=url)
    except (etree.XMLSyntaxError, etree.ParserError) as exc:
        kind = "RSS/Atom feed" if page_format == "feed" else "HTML page"
        raise DocumentError(f"the page is not a readable {kind}: {exc}") from None


def _is_selector(node: Any) -> bool:
    return isinstance(node, Selector) and node.type in ("html", "xml")


def _evaluate(node: Selector, selector_type: str, expr: str) -> list[Any]:
    """Raw lxml results (elements, strings, numbers) of a CSS/XPath expression on ``node``."""
    if selector_type == "css":
        compiled = compile_css(expr, xml=node.type == "xml")
    elif selector_type == "xpath":
        compiled = compile_xpath(expr)
    else:
        raise ValueError(f"a {selector_type} selector cannot be used on an HTML page or feed")
    root = node.root
    if not hasattr(root, "xpath"):
        return []  # a text node has no structure to select in
    try:
        result = compiled(root)
    except etree.XPathError as exc:
        raise ValueError(f"XPath error: {exc}") from None
    return result if isinstance(result, list) else [result]


def _json_values(doc: Any, selector_type: str, expr: str) -> list[Any]:
    if selector_type != "jsonpath":
        raise ValueError(f"a {selector_type} selector cannot be used on JSON; use JSONPath")
    return compile_jsonpath(expr).values(doc) if expr else [doc]


def select_items(doc: Document, selector_type: str, expr: str) -> list[Node]:
    """The items on a list page (inline mode).

    HTML/feed: the matched elements as ``Selector`` objects; an empty ``expr`` means the feed's
    ``item``/``entry`` elements (or the whole HTML page as one item). JSON: the matched values;
    a single match that is an array (``$.data``) gives its elements.
    """
    expr = (expr or "").strip()
    if _is_selector(doc):
        if not expr:
            if doc.type == "xml":
                selector_type, expr = "xpath", "//item | //entry"
            else:
                return [doc]
        return [
            Selector(root=result, type=doc.type)
            for result in _evaluate(doc, selector_type, expr)
            if not isinstance(result, bool | float)
        ]
    values = _json_values(doc, selector_type, expr)
    if len(values) == 1 and isinstance(values[0], list):
        values = values[0]
    return [value for value in values if value is not None]


def _text_content(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


def _link_of(result: Any, html: bool) -> str | None:
    """The URL a matched node stands for: its ``href``, a link inside it, or its text."""
    if isinstance(result, str):
        return result
    if not isinstance(result, etree._Element) or not isinstance(result.tag, str):
        return None
    href = result.get("href")
    if href is None and html:
        inner = result.xpath(".//a/@href")
        href = inner[0] if inner else None
    return href if href is not None else _text_content(result)


_NOT_LINKS = ("javascript:", "mailto:", "tel:", "data:", "#")


def _absolute_links(candidates: list[Any], base_url: str) -> list[str]:
    links: list[str] = []
    seen: set[str] = set()
    for candidate in candidates:
        if not isinstance(candidate, str):
            continue
        candidate = candidate.strip()
        if not candidate or candidate.lower().startswith(_NOT_LINKS):
            continue
        try:
            url = urldefrag(urljoin(base_url, candidate))[0]
            scheme = urlsplit(url).scheme
        except ValueError:
            continue  # e.g. a malformed IPv6 host: not a link we can follow
        if scheme in ("http", "https") and url not in seen:
            seen.add(url)
            links.append(url)
    return links


def select_links(doc: Document, selector_type: str, expr: str, base_url: str) -> list[str]:
    """Detail-page links on a list page: absolute http(s) URLs, without fragments, deduplicated
    in page order. An element stands for its ``href`` (or the first link inside it, or its text);
    an empty ``expr`` on a feed means each entry's ``link``."""
    expr = (expr or "").strip()
    if _is_selector(doc):
        html = doc.type == "html"
        if not expr:
            if html:
                selector_type, expr = "xpath", "//a/@href"
            else:
                selector_type = "xpath"
                expr = "//item/link | //entry/link[not(@rel) or @rel='alternate']"
        if html and hasattr(doc.root, "xpath"):
            # A <base href> changes what relative links point to.
            base_href = doc.root.xpath("//head/base/@href")
            if base_href:
                base_url = urljoin(base_url, base_href[0].strip())
        candidates = [_link_of(result, html) for result in _evaluate(doc, selector_type, expr)]
    else:
        candidates = []
        for value in _json_values(doc, selector_type, expr):
            candidates.extend(value if isinstance(value, list) else [value])
    return _absolute_links(candidates, base_url)


def select_value(doc: Document, selector_type: str, expr: str) -> str | None:
    """One value from a page (the next-page link, a JSON cursor): the first non-empty match.

    An element stands for its ``href`` (a next link), else its text. JSON scalars are returned
    as text; ``null``, ``false``, arrays and objects count as no value (the last page).
    """
    expr = (expr or "").strip()
    if not expr:
        return None
    if _is_selector(doc):
        html = doc.type == "html"
        for result in _evaluate(doc, selector_type, expr):
            value = _link_of(result, html) if not isinstance(result, bool | float) else None
            if value and value.strip():
                return value.strip()
        return None
    for value in _json_values(doc, selector_type, expr):
        if isinstance(value, bool) or value is None or isinstance(value, list | dict):
            continue
        text = value.strip() if isinstance(value, str) else json.dumps(value)
        if text:
            return text
    return None


# --------------------------------------------------------------------------- extraction


@dataclass
class ExtractedItem:
    """What the rules found in one item: values, fields that matched nothing, problems."""

    #: field name → value, only for fields that matched
    data: dict[str, Any] = field(default_factory=dict)
    #: names of the fields that matched nothing (they count against the fill rate)
    empty: list[str] = field(default_factory=list)
    #: field name → "missing" (required, matched nothing) or why its value failed a check
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def is_valid(self) -> bool:
        return not self.problems


class _Source:
    """A node's source text for regex rules, serialised at most once per item."""

    __slots__ = ("node", "_text")

    def __init__(self, node: Node) -> None:
        self.node = node
        self._text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            node = self.node
            if isinstance(node, Selector):
                root = node.root
                if isinstance(root, str):
                    self._text = root
                elif isinstance(root, etree._Element):
                    method = "xml" if node.type == "xml" else "html"
                    self._text = etree.tostring(
                        root, method=method, encoding="unicode", with_tail=False
                    )
                else:
                    self._text = json.dumps(root, ensure_ascii=False)
            elif isinstance(node, str):
                self._text = node
            else:
                self._text = json.dumps(node, ensure_ascii=False)
        return self._text


def _inner_html(element: Any, method: str) -> str:
    parts = [html_lib.escape(element.text, quote=False)] if element.text else []
    parts.extend(
        etree.tostring(child, method=method, encoding="unicode", with_tail=True)
        for child in element
    )
    return "".join(parts)


def _node_value(result: Any, attribute: str, xml: bool) -> Any:
    """One CSS/XPath result as a value: text content, an attribute, inner HTML, or the string."""
    if isinstance(result, str):
        return result
    if isinstance(result, bool):
        return "true" if result else "false"
    if isinstance(result, float):
        if not math.isfinite(result):
            return None
        return str(int(result)) if result.is_integer() else repr(result)
    if not isinstance(result.tag, str):  # a comment or processing instruction
        return result.text
    if attribute == "html":
        return _inner_html(result, "xml" if xml else "html")
    if attribute:
        return result.get(attribute)
    return _text_content(result)


def _raw_values(rule: FieldRule, node: Node, source: _Source) -> list[Any]:
    """Every value the rule's expression finds in the node, before post-processing."""
    if rule.by == "regex":
        group = rule._source_group
        return [match.group(group) for match in rule._selector.finditer(source.text)]
    if rule.by == "jsonpath":
        if isinstance(node, Selector):
            raise ValueError("a JSONPath rule needs a JSON page; use CSS, XPath or regex here")
        return rule._selector.values(node)
    if not _is_selector(node):
        raise ValueError(f"a {rule.by} rule needs an HTML page or feed; use JSONPath for JSON")
    xml = node.type == "xml"
    root = node.root
    if not hasattr(root, "xpath"):
        return []
    compiled = rule._xml_selector if xml else rule._selector
    try:
        results = compiled(root)
    except etree.XPathError as exc:
        raise ValueError(f"XPath error: {exc}") from None
    if not isinstance(results, list):
        results = [results]
    return [_node_value(result, rule.attribute, xml) for result in results]


def _post_process(rule: FieldRule, value: Any, base_url: str) -> Any:
    """strip → regex/group → absolute_url; ``None`` when nothing is left of the value."""
    if value is None:
        return None
    if isinstance(value, list):
        items = [_post_process(rule, item, base_url) for item in value]
        items = [item for item in items if item is not None]
        return items or None
    if isinstance(value, dict):
        return value or None
    if not isinstance(value, str):
        if rule._post_regex is None:
            return value  # a JSON number or boolean is kept as it is
        value = json.dumps(value)
    if rule.strip:
        value = " ".join(value.split())
    if rule._post_regex is not None:
        match = rule._post_regex.search(value)
        value = match.group(rule._post_group) if match else None
        if value is None:
            return None
        if rule.strip:
            value = value.strip()
    if rule.absolute_url and value:
        try:
            value = urljoin(base_url, value.strip())
        except ValueError:
            pass  # kept as found; the url type check says what is wrong with it
    return value if value != "" else None


def _extract_value(rule: FieldRule, node: Node, source: _Source, base_url: str) -> Any:
    raw = _raw_values(rule, node, source)
    if not rule.all:
        for value in raw:
            value = _post_process(rule, value, base_url)
            if value is not None:
                return value
        return None
    values: list[Any] = []
    for value in raw:
        # With ``all``, an array match contributes its elements ("tags" and "tags[*]" agree).
        for item in value if isinstance(value, list) else [value]:
            item = _post_process(rule, item, base_url)
            if item is not None:
                values.append(item)
    if not values:
        return None
    if rule.join:
        return rule.join.join(v if isinstance(v, str) else json.dumps(v) for v in values)
    return values


def extract_item(node: Node, rules: list[FieldRule], base_url: str) -> ExtractedItem:
    """Apply every rule to one item (a ``Selector`` or a JSON value) and check the values."""
    item = ExtractedItem()
    source = _Source(node)
    for rule in rules:
        try:
            value = _extract_value(rule, node, source, base_url)
        except ValueError as exc:
            item.empty.append(rule.name)
            item.problems[rule.name] = str(exc)
            continue
        if value is None:
            item.empty.append(rule.name)
            if rule.required:
                item.problems[rule.name] = "missing"
            continue
        item.data[rule.name] = value
        reason = check_value(rule, value)
        if reason:
            item.problems[rule.name] = reason
    return item


# --------------------------------------------------------------------------- checks


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) > 60:
        text = text[:57] + "..."
    return repr(text) if isinstance(value, str) else text


_INTEGER_RE = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)")
_NUMBER_RE = re.compile(r"[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)")
_DATE_RE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?:\s*日)?(?:[T\s].*)?", re.S
)
_COMPACT_DATE_RE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_ENGLISH_DATE_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y")


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, str) and bool(_INTEGER_RE.fullmatch(value.strip()))


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return math.isfinite(value)
    return isinstance(value, str) and bool(_NUMBER_RE.fullmatch(value.strip()))


def parse_date(value: str) -> date | None:
    """The date in a text such as 2024-03-05, 2024/3/5, 2024年3月5日, 2024.03.05, 20240305,
    5 March 2024 or an RSS ``pubDate``; ``None`` if it is not one (time parts are allowed)."""
    text = value.strip()
    match = _DATE_RE.fullmatch(text) or _COMPACT_DATE_RE.fullmatch(text)
    if match:
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return None
    for fmt in _ENGLISH_DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    if "," in text or ":" in text:
        try:
            return parsedate_to_datetime(text).date()
        except (TypeError, ValueError, IndexError):
            return None
    return None


def _is_date(value: Any) -> bool:
    return isinstance(value, str) and parse_date(value) is not None


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


_TYPE_CHECKS = {
    "integer": (_is_integer, "expected a whole number"),
    "number": (_is_number, "expected a number"),
    "date": (_is_date, "expected a date such as 2024-03-05"),
    "url": (_is_url, "expected an absolute http(s) URL"),
}


def check_value(rule: FieldRule, value: Any) -> str | None:
    """Why ``value`` fails the rule's ``type`` or ``pattern`` check, or ``None`` if it passes.

    A list is checked element by element (except for ``type: list``, which requires a list).
    """
    if rule.type == "list":
        if not isinstance(value, list):
            return f"expected a list of values, got the single value {_show(value)}"
    elif rule.type in _TYPE_CHECKS:
        check, expected = _TYPE_CHECKS[rule.type]
        for element in value if isinstance(value, list) else [value]:
            if not check(element):
                return f"{expected}, got {_show(element)}"
    if rule._pattern is not None:
        for element in value if isinstance(value, list) else [value]:
            text = element if isinstance(element, str) else json.dumps(element, ensure_ascii=False)
            if not rule._pattern.search(text):
                return f"{_show(element)} does not match the pattern {rule.pattern!r}"
    return None


def content_hash(data: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``data``: equal content, equal hash."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
