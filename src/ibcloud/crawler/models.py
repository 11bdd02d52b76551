"""Crawler records: sources (what to crawl and how), runs, raw items, proxies and health alerts.

A ``CrawlSource`` holds the whole crawl configuration; :mod:`ibcloud.crawler.config` validates it
(on save, in the form and in the API alike) and :mod:`ibcloud.crawler.extraction` applies its field
rules. Each run is a ``CrawlJob``; every extracted record becomes a ``RawItem``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from ibcloud.core.fields import EncryptedJSONField, EncryptedTextField
from ibcloud.core.models import ObjectUrls, ScopedModel, ScopedRecord, TimeStampedModel
from ibcloud.core.scoping import GLOBAL, DataScopeFields, RestrictedQuerySet

#: raw items, jobs and alerts are seen by whoever sees their source
SOURCE_SCOPE = DataScopeFields(department="source__department", owner="source__owner")


class ItemType(models.TextChoices):
    PROJECT = "project", _("Project")
    INVESTOR = "investor", _("Investor")


class FetchLevel(models.IntegerChoices):
    """How hard the crawler works to look like a browser (the site's protection level)."""

    PLAIN = 0, _("Plain (identifies as a crawler)")
    L1 = 1, _("L1: browser headers, rotating user agents")
    L2 = 2, _("L2: L1 + proxy pool, ban detection, rate limit")
    L3 = 3, _("L3: L2 + login/cookies, JavaScript rendering")


class Proxy(ObjectUrls, TimeStampedModel):
    """One proxy of the shared pool used by L2/L3 sources; the password is stored encrypted."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    url = models.CharField(_("proxy URL"), max_length=300, help_text=_("e.g. http://10.0.0.5:3128"))
    username = models.CharField(_("username"), max_length=150, blank=True)
    password = EncryptedTextField(_("password"), blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    successes = models.PositiveIntegerField(_("successful requests"), default=0)
    failures = models.PositiveIntegerField(_("failed or banned requests"), default=0)
    banned_until = models.DateTimeField(_("resting until"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = GLOBAL
    detail_view = "edit"

    class Meta:
        ordering = ["name"]
        verbose_name = _("proxy")
        verbose_name_plural = _("proxies")

    def __str__(self) -> str:
        return self.name


class CrawlSource(ObjectUrls, ScopedModel):
    """One configured site: where to start, how to find items and fields, how to fetch, when."""

    class PageFormat(models.TextChoices):
        HTML = "html", _("HTML")
        JSON = "json", _("JSON API")
        FEED = "feed", _("RSS/Atom feed")

    class ListMode(models.TextChoices):
        LINKS = "links", _("List pages link to detail pages")
        INLINE = "inline", _("Items are on the list pages")

    class SelectorType(models.TextChoices):
        CSS = "css", _("CSS")
        XPATH = "xpath", _("XPath")
        JSONPATH = "jsonpath", _("JSONPath")

    class Pagination(models.TextChoices):
        NONE = "none", _("None")
        NEXT_LINK = "next_link", _("Next-page link")
        PAGE_NUMBER = "page_number", _("Page-number URL template")
        JSON_CURSOR = "json_cursor", _("JSON cursor")
        JSON_OFFSET = "json_offset", _("JSON offset")

    class Method(models.TextChoices):
        GET = "GET", "GET"
        POST = "POST", "POST"

    class MissedRunPolicy(models.TextChoices):
        RUN_ONCE = "run_once", _("Run once on recovery")
        SKIP = "skip", _("Skip")

    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    item_type = models.CharField(_("item type"), max_length=20, choices=ItemType.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    #: when sources disagree on a field, the catalog keeps the most trusted source's value
    trust = models.PositiveSmallIntegerField(
        _("trust"),
        default=50,
        validators=[MaxValueValidator(100)],
        help_text=_("0-100. When sources disagree on a field, the most trusted one wins."),
    )

    # Where to start: fixed URLs, or a URL template with {page} over a page range.
    start_urls = models.JSONField(_("start URLs"), default=list, blank=True)
    url_template = models.CharField(_("URL template"), max_length=1000, blank=True)
    page_start = models.PositiveIntegerField(_("first page"), null=True, blank=True)
    page_end = models.PositiveIntegerField(_("last page"), null=True, blank=True)

    # List pages and how items are found on them.
    page_format = models.CharField(
        _("page format"), max_length=10, choices=PageFormat.choices, default=PageFormat.HTML
    )
    list_mode = models.CharField(
        _("list mode"), max_length=10, choices=ListMode.choices, default=ListMode.LINKS
    )
    list_selector_type = models.CharField(
        _("list selector type"), max_length=10, choices=SelectorType.choices, default="css"
    )
    link_selector = models.CharField(_("detail link selector"), max_length=1000, blank=True)
    item_selector = models.CharField(_("item selector"), max_length=1000, blank=True)
    detail_format = models.CharField(
        _("detail page format"),
        max_length=10,
        choices=[(PageFormat.HTML, _("HTML")), (PageFormat.JSON, _("JSON API"))],
        default=PageFormat.HTML,
    )

    # Pagination of the list pages.
    pagination = models.CharField(
        _("pagination"), max_length=20, choices=Pagination.choices, default=Pagination.NONE
    )
    next_selector = models.CharField(_("next-page selector"), max_length=1000, blank=True)
    cursor_path = models.CharField(_("cursor JSONPath"), max_length=500, blank=True)
    page_param = models.CharField(_("page/cursor/offset parameter"), max_length=100, blank=True)
    page_size = models.PositiveIntegerField(_("page size (offset step)"), null=True, blank=True)

    # The request itself (JSON APIs).
    method = models.CharField(
        _("HTTP method"), max_length=10, choices=Method.choices, default="GET"
    )
    headers = models.JSONField(_("request headers"), default=dict, blank=True)
    body = models.TextField(_("request body"), blank=True)

    #: field rules, each a dict: see :mod:`ibcloud.crawler.config` (``FIELD_RULE_KEYS``)
    fields = models.JSONField(_("fields"), default=list, blank=True)

    # Politeness and limits.
    obey_robots = models.BooleanField(_("respect robots.txt"), default=True)
    concurrency = models.PositiveSmallIntegerField(_("concurrent requests"), default=4)
    delay = models.FloatField(_("delay between requests (s)"), default=0.5)
    max_pages = models.PositiveIntegerField(_("max pages per run"), default=500)
    time_limit = models.PositiveIntegerField(_("time limit per run (s)"), default=3600)

    # Fetch mode (protection level).
    fetch_level = models.PositiveSmallIntegerField(
        _("fetch level"), choices=FetchLevel.choices, default=FetchLevel.L1
    )
    rate_limit = models.PositiveIntegerField(
        _("rate limit (requests/min per domain)"), null=True, blank=True
    )
    block_marker = models.CharField(_("block-page marker"), max_length=300, blank=True)
    proxies = models.ManyToManyField(
        Proxy,
        verbose_name=_("proxies"),
        blank=True,
        related_name="sources",
        help_text=_("Empty: every enabled proxy of the pool."),
    )
    login_url = models.CharField(_("login form URL"), max_length=1000, blank=True)
    #: form field name → value, posted to the login form (encrypted: holds a password)
    login_form = EncryptedJSONField(_("login form fields"), default=dict, blank=True)
    #: imported by the admin or kept from the last run: [{"name", "value", "domain", "path"}]
    cookies = EncryptedJSONField(_("cookies"), default=list, blank=True)
    render_js = models.BooleanField(_("render JavaScript (headless Chromium)"), default=False)
    wait_for_selector = models.CharField(_("wait for selector"), max_length=500, blank=True)

    # Schedule.
    schedule = models.CharField(_("schedule (cron)"), max_length=100, blank=True)
    missed_run_policy = models.CharField(
        _("missed run"),
        max_length=20,
        choices=MissedRunPolicy.choices,
        default=MissedRunPolicy.RUN_ONCE,
    )
    #: the latest cron slot the scheduler has dealt with (run or skipped)
    last_scheduled_at = models.DateTimeField(_("last scheduled slot"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("crawl source")
        verbose_name_plural = _("crawl sources")
        permissions = [("run_crawlsource", _("Can run and preview crawl sources"))]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from ibcloud.crawler.config import validate_source

        validate_source(self)


class CrawlJob(ObjectUrls, ScopedRecord):
    """One run of a source: status, live progress, statistics, the reason it ended, its log.

    Owner and department are the source's, so whoever sees the source sees its runs.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        PARTIAL = "partial", _("Partly failed")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    FINISHED = (Status.SUCCEEDED, Status.PARTIAL, Status.FAILED, Status.CANCELLED)

    class Trigger(models.TextChoices):
        MANUAL = "manual", _("Manual")
        SCHEDULE = "schedule", _("Schedule")

    source = models.ForeignKey(
        CrawlSource, verbose_name=_("source"), on_delete=models.CASCADE, related_name="jobs"
    )
    job = models.ForeignKey(
        "core.Job",
        verbose_name=_("background job"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    trigger = models.CharField(
        _("trigger"), max_length=20, choices=Trigger.choices, default=Trigger.MANUAL
    )
    #: the cron slot this run serves; unique per source, so a slot never runs twice
    scheduled_for = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    #: why the run ended as it did, in words a user can act on
    message = models.CharField(_("message"), max_length=1000, blank=True)
    pages = models.PositiveIntegerField(_("pages"), default=0)
    items = models.PositiveIntegerField(_("items"), default=0)
    new_items = models.PositiveIntegerField(_("new items"), default=0)
    errors = models.PositiveIntegerField(_("errors"), default=0)
    current_url = models.CharField(_("current URL"), max_length=2000, blank=True)
    #: counters: requests, responses by status, bans, robots refusals, retries, ...
    stats = models.JSONField(_("statistics"), default=dict, blank=True)
    #: per field: {"filled": n, "total": n, "invalid": n}
    field_stats = models.JSONField(_("field statistics"), default=dict, blank=True)
    #: a few URLs per outcome (e.g. pages where a field matched nothing), as evidence
    sample_urls = models.JSONField(_("sample URLs"), default=dict, blank=True)
    sample_page_url = models.CharField(_("sample page URL"), max_length=2000, blank=True)
    sample_page = models.TextField(_("sample page"), blank=True)
    log = models.TextField(_("log"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("crawl job")
        verbose_name_plural = _("crawl jobs")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "scheduled_for"],
                condition=models.Q(scheduled_for__isnull=False),
                name="crawljob_one_run_per_slot",
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class RawItem(ObjectUrls, models.Model):
    """One extracted record exactly as found. Identical content from a source is stored once."""

    source = models.ForeignKey(
        CrawlSource, verbose_name=_("source"), on_delete=models.PROTECT, related_name="raw_items"
    )
    job = models.ForeignKey(
        CrawlJob,
        verbose_name=_("crawl job"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="raw_items",
    )
    item_type = models.CharField(_("item type"), max_length=20, choices=ItemType.choices)
    url = models.CharField(_("URL"), max_length=2000)
    fetched_at = models.DateTimeField(_("fetched at"), db_index=True)
    #: SHA-256 of the canonical JSON of ``data``
    content_hash = models.CharField(_("content hash"), max_length=64)
    data = models.JSONField(_("data"), default=dict)
    #: field name → what was wrong: "missing" (required, matched nothing) or the failed check
    problems = models.JSONField(_("problems"), default=dict, blank=True)
    #: set by the catalog once it has taken the record in
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True, db_index=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = SOURCE_SCOPE

    class Meta:
        ordering = ["-fetched_at", "-id"]
        verbose_name = _("raw item")
        verbose_name_plural = _("raw items")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "content_hash"], name="rawitem_unique_content"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} · {self.url}"


class SourceAlert(ObjectUrls, models.Model):
    """A health problem of a source, raised by a health rule, grouped while it lasts."""

    class Rule(models.TextChoices):
        JOB_FAILED = "job_failed", _("Job failed")
        ZERO_ITEMS = "zero_items", _("Zero items")
        ERROR_RATE = "error_rate", _("HTTP error rate")
        STRUCTURE_CHANGE = "structure_change", _("Structure change (field fill rate dropped)")
        OVERDUE = "overdue", _("Overdue for its schedule")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        RESOLVED = "resolved", _("Resolved")

    source = models.ForeignKey(
        CrawlSource, verbose_name=_("source"), on_delete=models.CASCADE, related_name="alerts"
    )
    rule = models.CharField(_("rule"), max_length=30, choices=Rule.choices)
    #: the field a structure-change alert is about; empty for source-wide rules
    field = models.CharField(_("field"), max_length=100, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    title = models.CharField(_("title"), max_length=300)
    #: rule, figures before/after, sample URLs, page diff, ...
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    occurrences = models.PositiveIntegerField(_("occurrences"), default=1)
    last_job = models.ForeignKey(
        CrawlJob,
        verbose_name=_("last crawl job"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    first_seen_at = models.DateTimeField(_("first seen"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen"), auto_now_add=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = SOURCE_SCOPE

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        verbose_name = _("source alert")
        verbose_name_plural = _("source alerts")
        permissions = [("acknowledge_sourcealert", _("Can acknowledge source alerts"))]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "rule", "field"],
                condition=~models.Q(status="resolved"),
                name="sourcealert_one_open_per_problem",
            )
        ]

    def __str__(self) -> str:
        return self.title
