"""The one spider every source runs: the source's configuration decides what it does.

Start pages come from ``start_urls`` or ``url_template`` over ``page_start..page_end``. List
pages (HTML, JSON API or RSS/Atom feed) give items inline or links to detail pages (HTML or JSON);
pagination follows a next link, a page number (until a page has no items), or a JSON cursor or
offset (a query parameter, or a key of the JSON body for POST). Fields are extracted with
:func:`ibcloud.crawler.extraction.extract_item`; each record is yielded as a plain dict for the
storage pipeline. Fetch level L3 adds a login form before the start pages, stored cookies and
rendering in headless Chromium.

In preview mode the spider fetches one page (a list page also fetches its first three detail
links) and keeps what it found in ``preview_result`` instead of yielding records.
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any
from urllib.parse import urlsplit

import scrapy
from django.utils import timezone
from scrapy.exceptions import IgnoreRequest, ScrapyDeprecationWarning
from scrapy.http import FormRequest
from scrapy.spidermiddlewares.httperror import HttpError
from w3lib.encoding import http_content_type_encoding
from w3lib.url import add_or_replace_parameter

from ibcloud.crawler import extraction
from ibcloud.crawler.middlewares import (
    AddressRefused,
    Banned,
    PageLimitReached,
    SSRFRefused,
    record_ssrf_refusal,
)
from ibcloud.crawler.spiders import session
from ibcloud.crawler.spiders.recorder import RunRecorder

logger = logging.getLogger(__name__)

PREVIEW_DETAIL_LINKS = 3
#: how long a rendered page may take to show ``wait_for_selector``
RENDER_WAIT_MS = 15_000
DEFAULT_PAGE_PARAMS = {"page_number": "page", "json_cursor": "cursor", "json_offset": "offset"}
#: list pages are fetched before detail pages, so pagination never waits behind a queue of
#: details and every concurrency slot stays busy
LIST_PRIORITY = 1


class SourceSpider(scrapy.Spider):
    """Crawls one source from its configuration (:func:`ibcloud.crawler.config.source_config`)."""

    name = "ibcloud-source"

    def __init__(self, config: dict[str, Any], preview: dict | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.config = config
        self.rules = extraction.parse_rules(config.get("fields") or [])
        self.recorder = RunRecorder([rule.name for rule in self.rules])
        self.level = int(config.get("fetch_level") or 0)
        self.page_format = config.get("page_format") or "html"
        self.detail_format = config.get("detail_format") or "html"
        self.list_mode = config.get("list_mode") or "links"
        self.selector_type = config.get("list_selector_type") or "css"
        self.pagination = config.get("pagination") or "none"
        self.page_param = (config.get("page_param") or "").strip() or DEFAULT_PAGE_PARAMS.get(
            self.pagination, ""
        )
        self.render_js = self.level >= 3 and bool(config.get("render_js"))
        self.headers = {str(k): str(v) for k, v in (config.get("headers") or {}).items()}
        self.preview = preview
        self.final_cookies: list[dict[str, Any]] | None = None
        self.preview_result: dict[str, Any] | None = None
        if preview is not None:
            self.preview_result = {
                "url": preview["url"],
                "final_url": "",
                "status": None,
                "kind": preview["kind"],
                "items": [],
                "links": [],
                "next_page": None,
                "error": None,
                "fields": [rule.name for rule in self.rules],
            }

    # --- starting ---------------------------------------------------------------------------------

    async def start(self):
        """Login first when configured (L3), else the start pages (or the preview page)."""
        if self.level >= 3:
            self._load_stored_cookies()
        login_url = (self.config.get("login_url") or "").strip()
        if self.level >= 3 and login_url:
            yield scrapy.Request(
                login_url,
                callback=self.parse_login_form,
                errback=self.on_error,
                meta={"ibcloud_kind": "login"},
                headers=self.headers,
                dont_filter=True,
            )
            return
        for request in self.first_requests():
            yield request

    def first_requests(self):
        """The start pages, or the one page a preview fetches."""
        if self.preview is not None:
            yield self._preview_request()
            return
        yield from self.start_page_requests()

    def start_page_requests(self):
        """Requests for the start pages: start URLs, or the URL template over the page range."""
        config = self.config
        template = (config.get("url_template") or "").strip()
        if template:
            first = config.get("page_start")
            first = 1 if first is None else int(first)
            if self.pagination == "page_number":
                yield self.list_request(
                    _fill(template, first), {"template": template, "page": first}
                )
            else:
                last = config.get("page_end")
                last = first if last is None else int(last)
                for number in range(first, last + 1):
                    yield self.list_request(_fill(template, number), {"page": number})
        for url in config.get("start_urls") or []:
            yield self.list_request(url, self._initial_state(url))

    def _initial_state(self, url: str) -> dict[str, Any]:
        state: dict[str, Any] = {"base": url}
        if self.pagination == "page_number":
            first = self.config.get("page_start")
            state["page"] = 1 if first is None else int(first)
        elif self.pagination == "json_offset":
            state["offset"] = 0
        return state

    def _preview_request(self):
        url, kind = self.preview["url"], self.preview["kind"]
        if kind == "detail":
            return self.detail_request(url, callback=self.parse_preview_detail)
        return self.list_request(url, self._initial_state(url), callback=self.parse_preview_list)

    def _load_stored_cookies(self) -> None:
        cookies = self.config.get("cookies") or []
        if not cookies:
            return
        hosts = []
        for url in [*(self.config.get("start_urls") or []), self.config.get("login_url") or ""]:
            host = urlsplit(url).hostname
            if host and host not in hosts:
                hosts.append(host)
        template = self.config.get("url_template") or ""
        if template and urlsplit(template).hostname not in hosts:
            hosts.append(urlsplit(template).hostname or "")
        loaded = session.load_cookies(self.cookie_jar(), cookies, [h for h in hosts if h])
        logger.info("loaded %d stored cookies", loaded)

    def closed(self, reason: str) -> None:
        """Keep the session's cookies (L3): the runner stores them on the source."""
        if self.level >= 3 and self.preview is None:
            self.final_cookies = session.jar_cookies(self.cookie_jar())

    # --- building requests ------------------------------------------------------------------------

    def cookie_jar(self):
        """Scrapy's cookie jar of this run (``http.cookiejar.CookieJar``)."""
        from scrapy.downloadermiddlewares.cookies import CookiesMiddleware

        for middleware in self.crawler.engine.downloader.middleware.middlewares:
            if isinstance(middleware, CookiesMiddleware):
                return middleware.jars[None].jar
        raise RuntimeError("cookies are disabled")

    def _meta(self, kind: str, fmt: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"ibcloud_kind": kind, "ibcloud_format": fmt}
        if self.render_js and fmt == "html":
            from scrapy_playwright.page import PageMethod

            methods = []
            selector = (self.config.get("wait_for_selector") or "").strip()
            if selector:
                methods.append(PageMethod("wait_for_selector", selector, timeout=RENDER_WAIT_MS))
            methods.append(PageMethod(self._cookies_from_browser))
            meta.update(
                playwright=True,
                playwright_page_methods=methods,
                playwright_page_init_callback=self._cookies_to_browser,
                playwright_page_goto_kwargs={"wait_until": "load" if selector else "networkidle"},
            )
        return meta

    def list_request(self, url: str, state: dict[str, Any], callback=None, body=None):
        """A list page request with the source's method, headers and body."""
        method = (self.config.get("method") or "GET").upper()
        headers = dict(self.headers)
        if body is None and method == "POST":
            body = self.config.get("body") or ""
        if method == "POST" and _json_object(body) is not None:
            headers.setdefault("Content-Type", "application/json")
        meta = self._meta("list", self.page_format)
        meta["ibcloud_page"] = state
        return scrapy.Request(
            url,
            method=method,
            body=body or None,
            headers=headers,
            callback=callback or self.parse_list,
            errback=self.on_error,
            meta=meta,
            priority=LIST_PRIORITY,
        )

    def detail_request(self, url: str, callback=None):
        return scrapy.Request(
            url,
            headers=self.headers,
            callback=callback or self.parse_detail,
            errback=self.on_error,
            meta=self._meta("detail", self.detail_format),
        )

    # --- login (L3) -------------------------------------------------------------------------------

    def parse_login_form(self, response):
        """Submit the login form with the source's fields, then start."""
        fields = {str(k): str(v) for k, v in (self.config.get("login_form") or {}).items()}
        kwargs: dict[str, Any] = {}
        if response.xpath("//form[.//input[@type='password']]"):
            kwargs["formxpath"] = "//form[.//input[@type='password']]"
        try:
            with warnings.catch_warnings():
                # Deprecated in Scrapy 2.19 for the form2request library, which is not a
                # dependency; from_response still works and is what Scrapy ships.
                warnings.simplefilter("ignore", ScrapyDeprecationWarning)
                request = FormRequest.from_response(
                    response,
                    formdata=fields,
                    callback=self.after_login,
                    errback=self.on_error,
                    meta={"ibcloud_kind": "login"},
                    dont_filter=True,
                    **kwargs,
                )
        except ValueError as exc:
            self.recorder.login_failed = True
            self.recorder.problem("login", f"{response.url} — no login form: {exc}")
            logger.error("no login form at %s: %s", response.url, exc)
            yield from self.first_requests()
            return
        yield request

    def after_login(self, response):
        if response.xpath("//input[@type='password']"):
            # The form came back: the site did not accept the credentials.
            self.recorder.login_failed = True
            self.recorder.problem("login", f"{response.url} — the login form came back")
            logger.error("login at %s did not succeed: the form came back", response.url)
        else:
            logger.info("logged in at %s", response.url)
        yield from self.first_requests()

    # --- browser (L3 rendering) -------------------------------------------------------------------

    async def _cookies_to_browser(self, page, request) -> None:
        cookies = session.browser_cookies(self.cookie_jar())
        if cookies:
            await page.context.add_cookies(cookies)

    async def _cookies_from_browser(self, page) -> None:
        session.from_playwright(self.cookie_jar(), await page.context.cookies())

    # --- list pages -------------------------------------------------------------------------------

    def _document(self, response, page_format: str):
        encoding = http_content_type_encoding(
            response.headers.get("Content-Type", b"").decode("latin-1")
        )
        return extraction.parse_document(response.body, page_format, response.url, encoding)

    def _keep_sample(self, kind: str, response) -> None:
        if self.recorder.wants_sample(kind):  # decoding every page for nothing costs
            text = getattr(response, "text", None)
            if text is None:
                text = response.body.decode("utf-8", "replace")
            self.recorder.keep_sample(kind, response.url, text)

    def parse_list(self, response):
        """Items or detail links from a list page, then its next page."""
        self.recorder.current_url = response.url
        try:
            doc = self._document(response, self.page_format)
            found = 0
            if self.list_mode == "inline":
                self._keep_sample("list", response)
                nodes = extraction.select_items(
                    doc, self.selector_type, self.config.get("item_selector") or ""
                )
                found = len(nodes)
                for node in nodes:
                    yield from self._emit(
                        extraction.extract_item(node, self.rules, response.url), response.url
                    )
            else:
                self._keep_sample("list", response)
                links = extraction.select_links(
                    doc, self.selector_type, self.config.get("link_selector") or "", response.url
                )
                found = len(links)
                for link in links:
                    yield self.detail_request(link)
            if found == 0:
                self._empty_list_page(response)
            next_request = self._next_page(response, doc, found)
        except ValueError as exc:  # DocumentError, a selector that does not fit the page
            self.recorder.problem("parse", f"{response.url} — {exc}")
            logger.error("cannot read list page %s: %s", response.url, exc)
            return
        if next_request is not None:
            yield next_request

    def _empty_list_page(self, response) -> None:
        """Remember why a list page may have had nothing: a login form, or content built by JS."""
        recorder = self.recorder
        recorder.empty_list_pages += 1
        if self.page_format != "html" or not hasattr(response, "xpath"):
            return
        login_url = (self.config.get("login_url") or "").strip()
        path = urlsplit(response.url).path.lower()
        if (
            response.xpath("//input[@type='password']")
            or (login_url and response.url.startswith(login_url))
            or any(word in path for word in ("login", "signin", "sign-in", "passport"))
        ):
            recorder.login_pages += 1
            if len(recorder.hint_urls) < 3:
                recorder.hint_urls.append(response.url)
            return
        scripts = len(response.xpath("//script"))
        visible = " ".join(response.xpath("//body//text()[not(ancestor::script)]").getall()).split()
        if scripts and (response.xpath("//noscript") or len("".join(visible)) < 400):
            recorder.js_pages += 1
            if len(recorder.hint_urls) < 3:
                recorder.hint_urls.append(response.url)

    def _next_page(self, response, doc, found: int):
        """The request for the page after this list page, or None on the last page."""
        state = response.meta.get("ibcloud_page") or {}
        mode = self.pagination
        if mode == "next_link":
            value = extraction.select_value(
                doc, self.selector_type, self.config.get("next_selector") or ""
            )
            if not value:
                return None
            url = response.urljoin(value)
            if url == response.url and response.request.body == b"":
                return None
            return self.list_request(url, {"base": url})
        if found == 0 or mode not in ("page_number", "json_cursor", "json_offset"):
            return None
        if mode == "page_number":
            number = int(state.get("page", 1)) + 1
            last = self.config.get("page_end")
            if last is not None and number > int(last):
                return None
            if state.get("template"):
                return self.list_request(
                    _fill(state["template"], number), {**state, "page": number}
                )
            return self._paged_request(state, number, {**state, "page": number})
        if mode == "json_cursor":
            cursor = extraction.select_value(doc, "jsonpath", self.config.get("cursor_path") or "")
            if not cursor or cursor == state.get("cursor"):
                return None
            return self._paged_request(state, cursor, {**state, "cursor": cursor})
        step = int(self.config.get("page_size") or 0) or found
        offset = int(state.get("offset", 0)) + step
        return self._paged_request(state, offset, {**state, "offset": offset})

    def _paged_request(self, state: dict[str, Any], value: Any, new_state: dict[str, Any]):
        """The base request with the page, cursor or offset: in a JSON body (POST), else the URL."""
        base = state.get("base") or ""
        method = (self.config.get("method") or "GET").upper()
        body = None
        if method == "POST":
            # Paging goes into a JSON body; an API posted a form body is paged in the URL.
            raw = (self.config.get("body") or "").strip()
            body = _json_object(raw) if raw else {}
        if body is not None:
            body[self.page_param] = value
            return self.list_request(base, new_state, body=json.dumps(body))
        url = add_or_replace_parameter(base, self.page_param, str(value))
        return self.list_request(url, new_state)

    # --- detail pages and records -----------------------------------------------------------------

    def parse_detail(self, response):
        self.recorder.current_url = response.url
        self._keep_sample("detail", response)
        try:
            doc = self._document(response, self.detail_format)
        except ValueError as exc:
            self.recorder.problem("parse", f"{response.url} — {exc}")
            logger.error("cannot read detail page %s: %s", response.url, exc)
            return
        yield from self._emit(extraction.extract_item(doc, self.rules, response.url), response.url)

    def _emit(self, extracted, url: str):
        self.recorder.record_item(url, extracted.data, extracted.empty, extracted.problems)
        if not extracted.data:
            return  # nothing matched: counted against the fill rates, not stored
        yield {
            "url": url,
            "fetched_at": timezone.now(),
            "data": extracted.data,
            "problems": extracted.problems,
            "content_hash": extraction.content_hash(extracted.data),
        }

    # --- preview ----------------------------------------------------------------------------------

    def _past_the_last_page(self, request, status: int) -> bool:
        """A page-number page after the first that does not exist: the end, not an error."""
        if self.pagination != "page_number" or status not in (404, 410):
            return False
        if request.meta.get("ibcloud_kind") != "list":
            return False
        first = self.config.get("page_start")
        first = 1 if first is None else int(first)
        return int((request.meta.get("ibcloud_page") or {}).get("page", first)) > first

    def _preview_page(self, response) -> None:
        result = self.preview_result
        result["final_url"] = response.url
        result["status"] = response.status
        if response.status >= 400:
            result["error"] = f"HTTP {response.status}"

    @staticmethod
    def _preview_item(url: str, extracted) -> dict[str, Any]:
        return {
            "url": url,
            "data": extracted.data,
            "empty": extracted.empty,
            "problems": extracted.problems,
        }

    def parse_preview_list(self, response):
        self._preview_page(response)
        result = self.preview_result
        try:
            doc = self._document(response, self.page_format)
            if self.list_mode == "inline":
                for node in extraction.select_items(
                    doc, self.selector_type, self.config.get("item_selector") or ""
                ):
                    extracted = extraction.extract_item(node, self.rules, response.url)
                    result["items"].append(self._preview_item(response.url, extracted))
                found = len(result["items"])
            else:
                result["links"] = extraction.select_links(
                    doc, self.selector_type, self.config.get("link_selector") or "", response.url
                )
                found = len(result["links"])
                for link in result["links"][:PREVIEW_DETAIL_LINKS]:
                    yield self.detail_request(link, callback=self.parse_preview_linked_detail)
            if found == 0:
                self._empty_list_page(response)
                if not result["error"]:
                    result["error"] = self._nothing_found_hint()
            next_request = self._next_page(response, doc, found)
        except ValueError as exc:
            result["error"] = str(exc)
            return
        if next_request is not None:
            result["next_page"] = _describe(next_request)

    def _nothing_found_hint(self) -> str:
        if self.recorder.login_pages:
            return "the page is a login form: the site needs a login (fetch level L3)"
        if self.recorder.js_pages:
            return "nothing found; the page builds its content with JavaScript (render JavaScript)"
        what = "item" if self.list_mode == "inline" else "detail link"
        return f"no {what} matched the selector"

    def parse_preview_detail(self, response):
        self._preview_page(response)
        try:
            doc = self._document(response, self.detail_format)
        except ValueError as exc:
            self.preview_result["error"] = str(exc)
            return
        extracted = extraction.extract_item(doc, self.rules, response.url)
        self.preview_result["items"].append(self._preview_item(response.url, extracted))

    def parse_preview_linked_detail(self, response):
        try:
            doc = self._document(response, self.detail_format)
        except ValueError as exc:
            self.preview_result["items"].append(
                {"url": response.url, "data": {}, "empty": [], "problems": {"": str(exc)}}
            )
            return
        extracted = extraction.extract_item(doc, self.rules, response.url)
        self.preview_result["items"].append(self._preview_item(response.url, extracted))

    # --- errors -----------------------------------------------------------------------------------

    def on_error(self, failure):
        """Classify a request that failed for good (after retries) and count it."""
        request = failure.request
        recorder = self.recorder
        url = request.url
        kind = request.meta.get("ibcloud_kind", "")
        error = failure.value
        if failure.check(PageLimitReached):
            return
        if failure.check(HttpError) and self._past_the_last_page(request, error.response.status):
            recorder.problem("past_last_page", url, error=False)
            return
        if failure.check(HttpError):
            status = error.response.status
            recorder.problem(f"http_{status}", f"{url} — HTTP {status}")
            message = f"HTTP {status}"
        elif failure.check(SSRFRefused):
            recorder.problem("ssrf", f"{url} — {error.reason}")
            message = f"refused by the SSRF guard: {error.reason}"
        elif failure.check(AddressRefused):
            record_ssrf_refusal(self.crawler.stats, url, error.reason)
            recorder.problem("ssrf", f"{url} — {error.reason}")
            message = f"refused by the SSRF guard: {error.reason}"
        elif failure.check(Banned):
            recorder.problem("banned", f"{url} — {error}")
            message = str(error)
        elif failure.check(IgnoreRequest) and "robots.txt" in str(error):
            recorder.problem("robots", url, error=False)
            message = "robots.txt forbids this page"
        elif failure.check(IgnoreRequest):
            recorder.problem("ignored", f"{url} — {error}")
            message = str(error) or "request dropped"
        else:
            recorder.problem("network", f"{url} — {failure.type.__name__}: {error}")
            message = f"{failure.type.__name__}: {error}"
        logger.info("%s failed: %s", url, message)
        result = self.preview_result
        if (
            result is not None
            and not result["error"]
            and kind in ("list", "login", self.preview["kind"])
        ):
            result["error"] = message
            result["final_url"] = result["final_url"] or url
        if kind == "login":
            recorder.login_failed = True
            # Carry on without a session: the run's message says what went wrong.
            yield from self.first_requests()


def _fill(template: str, number: int) -> str:
    # str.replace, not str.format: URLs may hold other braces (JSON in query strings).
    return template.replace("{page}", str(number))


def _json_object(body: Any) -> dict | None:
    """The body as a JSON object, or None when it is not one (a form body, empty, invalid)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body.strip():
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _describe(request) -> str:
    """How a preview shows the next page: its URL, plus the body for POST."""
    if request.method == "POST" and request.body:
        return f"POST {request.url} {request.body.decode('utf-8', 'replace')}"
    return request.url
