"""The catalog: canonical ``Project``s and ``Investor``s merged from raw items, with provenance.

Every ``RawItem`` the catalog takes in gets one ``Ingestion`` row saying what became of it
(created a record, merged into one, exact duplicate, or quarantined with the reason) and the
normalized values it contributed. A project's or investor's ``provenance`` says, per field, which
source (or which person) the current value came from; the merge policy is in
:mod:`ibcloud.catalog.merge`. Normalization rules users edit (exchange rates, industry keywords,
round aliases) are models here too; the rules themselves are pure functions in
:mod:`ibcloud.catalog.normalization`.

Amounts are whole yuan (CNY) in ``BigIntegerField``s: ``*_low``/``*_high`` bound vague values
("数千万元" → 10,000,000–100,000,000); an open range ("超亿元") has no high; undisclosed has
neither.
Places are administrative division codes (6 digits, GB/T 2260: ``440000`` 广东省, ``440300``
深圳市). Industries are GB/T 4754-2017: section letter (门类) and two-digit division (大类).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ibcloud.core import dictionaries
from ibcloud.core.models import ObjectUrls, ScopedModel, TimeStampedModel
from ibcloud.core.scoping import GLOBAL, DataScopeFields, RestrictedQuerySet
from ibcloud.crawler.models import RawItem


class Tag(TimeStampedModel):
    """A free label on projects and investors (专精特新, 独角兽...)."""

    name = models.CharField(_("name"), max_length=50, unique=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = GLOBAL

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class CatalogEntity(ObjectUrls, ScopedModel):
    """What projects and investors share: names, place, text, provenance, search text."""

    #: short name as commonly used (项目简称 / 机构简称)
    name = models.CharField(_("short name"), max_length=200, db_index=True)
    #: registered name (工商全称)
    full_name = models.CharField(_("registered name"), max_length=300, blank=True)
    #: unified social credit code (统一社会信用代码), the strongest dedup key
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    #: the company-name matching key (normalization.names.name_key of the registered name, else
    #: of the short name); near-duplicate detection blocks on it
    name_key = models.CharField(_("name key"), max_length=200, blank=True, db_index=True)
    province_code = models.CharField(_("province code"), max_length=6, blank=True, db_index=True)
    city_code = models.CharField(_("city code"), max_length=6, blank=True, db_index=True)
    province = models.CharField(_("province"), max_length=30, blank=True)
    city = models.CharField(_("city"), max_length=30, blank=True)
    website = models.CharField(_("website"), max_length=500, blank=True)
    founded_on = models.DateField(_("founded on"), null=True, blank=True)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="+")
    #: field name → where its current value came from:
    #: {"kind": "source", "source": id, "source_name", "trust", "url", "fetched_at", "raw_item": id}
    #: or {"kind": "manual", "user": id, "username", "at"}
    provenance = models.JSONField(_("provenance"), default=dict, blank=True)
    #: names, description and tags segmented into words (jieba), space-separated: the full-text
    #: index (SQLite FTS5 / PostgreSQL tsvector) is built over it
    search_text = models.TextField(_("search text"), blank=True)
    first_seen_at = models.DateTimeField(_("first seen"), null=True, blank=True, db_index=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name


class Project(CatalogEntity):
    """项目方: a company or project seeking capital, merged from raw items of many sources."""

    #: GB/T 4754 section (门类, one letter) and division (大类, two digits)
    industry_section = models.CharField(_("industry section"), max_length=1, blank=True)
    industry = models.CharField(_("industry"), max_length=2, blank=True, db_index=True)
    #: the round now sought (or last announced); dictionary ``financing_round``
    round = models.CharField(_("round"), max_length=20, blank=True, db_index=True)
    # Financing need (融资需求), CNY
    amount_low = models.BigIntegerField(_("amount from (CNY)"), null=True, blank=True)
    amount_high = models.BigIntegerField(_("amount up to (CNY)"), null=True, blank=True)
    #: ISO 4217 code of the amount as published (CNY, USD, HKD...)
    amount_currency = models.CharField(_("original currency"), max_length=3, blank=True)
    #: the amount as published ("数千万元", "US$10M", "未披露")
    amount_text = models.CharField(_("amount as published"), max_length=100, blank=True)
    valuation = models.BigIntegerField(_("valuation (CNY)"), null=True, blank=True)
    share_offered = models.DecimalField(
        _("share offered (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    use_of_funds = models.TextField(_("use of funds"), blank=True)
    summary = models.TextField(_("business summary"), blank=True)
    #: when the listing was published by its source (newest wins on conflicts of equal trust)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        permissions = [("merge_project", _("Can merge and split projects"))]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_code"],
                condition=~models.Q(credit_code=""),
                name="project_unique_credit_code",
            )
        ]
        indexes = [
            models.Index(fields=["province_code", "industry"], name="project_region_industry"),
            models.Index(fields=["amount_low"], name="project_amount_low"),
        ]


class Investor(CatalogEntity):
    """投资方: an investor with stated and revealed preferences."""

    aliases = models.JSONField(_("aliases"), default=list, blank=True)
    #: dictionary ``investor_type`` (vc, pe, cvc, gov_fund, strategic, other)
    investor_type = models.CharField(_("type"), max_length=20, blank=True, db_index=True)
    #: dictionary ``capital_type`` (rmb, usd, dual)
    capital_type = models.CharField(_("capital type"), max_length=10, blank=True)
    fund_size_low = models.BigIntegerField(_("fund size from (CNY)"), null=True, blank=True)
    fund_size_high = models.BigIntegerField(_("fund size up to (CNY)"), null=True, blank=True)
    fund_size_text = models.CharField(_("fund size as published"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    # Stated preferences
    #: industry codes: divisions ("65") or whole sections ("I")
    preferred_industries = models.JSONField(_("preferred industries"), default=list, blank=True)
    #: financing_round codes
    preferred_rounds = models.JSONField(_("preferred rounds"), default=list, blank=True)
    #: province codes; empty with ``nationwide`` set means 全国
    preferred_regions = models.JSONField(_("preferred regions"), default=list, blank=True)
    nationwide = models.BooleanField(_("invests nationwide"), default=False)
    ticket_min = models.BigIntegerField(_("ticket from (CNY)"), null=True, blank=True)
    ticket_max = models.BigIntegerField(_("ticket up to (CNY)"), null=True, blank=True)
    ticket_text = models.CharField(_("ticket as published"), max_length=100, blank=True)
    #: computed from the funding rounds it took part in (catalog.services.revealed_preferences):
    #: {"deal_count", "industries": {code: n}, "rounds": {...}, "regions": {...},
    #:  "amount_median", "last_deal_on"}
    revealed_preferences = models.JSONField(_("revealed preferences"), default=dict, blank=True)
    #: the latest sign of activity (its newest deal, or the source's update time)
    last_active_on = models.DateField(_("last active"), null=True, blank=True)
    coverage_banker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("coverage banker"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="covered_investors",
    )
    #: when the source last updated the profile
    published_at = models.DateTimeField(_("updated at source"), null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("investor")
        verbose_name_plural = _("investors")
        permissions = [("merge_investor", _("Can merge and split investors"))]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_code"],
                condition=~models.Q(credit_code=""),
                name="investor_unique_credit_code",
            )
        ]


PROJECT_SCOPE = DataScopeFields(department="project__department", owner="project__owner")


class FundingRound(TimeStampedModel):
    """One financing round of a project (its round history), with the investors in it."""

    project = models.ForeignKey(
        Project, verbose_name=_("project"), on_delete=models.CASCADE, related_name="rounds"
    )
    round = models.CharField(_("round"), max_length=20)
    announced_on = models.DateField(_("announced on"), null=True, blank=True)
    amount_low = models.BigIntegerField(_("amount from (CNY)"), null=True, blank=True)
    amount_high = models.BigIntegerField(_("amount up to (CNY)"), null=True, blank=True)
    amount_currency = models.CharField(_("original currency"), max_length=3, blank=True)
    amount_text = models.CharField(_("amount as published"), max_length=100, blank=True)
    investors = models.ManyToManyField(
        Investor, verbose_name=_("investors"), blank=True, related_name="funding_rounds"
    )
    #: investor names as published, including those not (yet) in the catalog
    investor_names = models.JSONField(_("investor names"), default=list, blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = PROJECT_SCOPE

    class Meta:
        ordering = ["-announced_on", "-id"]
        verbose_name = _("funding round")
        verbose_name_plural = _("funding rounds")

    def __str__(self) -> str:
        # The round's label ("A+", "种子"), as the pages show it: the operation log names
        # records by their __str__.
        return f"{self.project} · {dictionaries.label('financing_round', self.round)}"


class ProjectFinancial(TimeStampedModel):
    """One year of a project's financials (CNY)."""

    project = models.ForeignKey(
        Project, verbose_name=_("project"), on_delete=models.CASCADE, related_name="financials"
    )
    year = models.PositiveSmallIntegerField(_("year"))
    revenue = models.BigIntegerField(_("revenue"), null=True, blank=True)
    net_profit = models.BigIntegerField(_("net profit"), null=True, blank=True)
    total_assets = models.BigIntegerField(_("total assets"), null=True, blank=True)
    net_assets = models.BigIntegerField(_("net assets"), null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = PROJECT_SCOPE

    class Meta:
        ordering = ["-year"]
        verbose_name = _("yearly financials")
        verbose_name_plural = _("yearly financials")
        constraints = [
            models.UniqueConstraint(fields=["project", "year"], name="financial_unique_year")
        ]

    def __str__(self) -> str:
        return f"{self.project} · {self.year}"


class Ingestion(ObjectUrls, models.Model):
    """What became of one raw item: the catalog's record of taking it in (or quarantining it)."""

    class Outcome(models.TextChoices):
        CREATED = "created", _("Created a record")
        MERGED = "merged", _("Merged into a record")
        DUPLICATE = "duplicate", _("Exact duplicate")
        QUARANTINED = "quarantined", _("Quarantined")

    raw_item = models.OneToOneField(
        RawItem, verbose_name=_("raw item"), on_delete=models.CASCADE, related_name="ingestion"
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, db_index=True)
    #: machine code of the quarantine reason (empty, broken, spam, missing_name...)
    reason_code = models.CharField(_("reason code"), max_length=30, blank=True, db_index=True)
    reason = models.TextField(_("reason"), blank=True)
    project = models.ForeignKey(
        Project,
        verbose_name=_("project"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ingestions",
    )
    investor = models.ForeignKey(
        Investor,
        verbose_name=_("investor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ingestions",
    )
    #: schema field → {"value": normalized value (JSON), "raw": value as found, "rule": rule text}
    normalized = models.JSONField(_("normalized values"), default=dict, blank=True)
    #: the raw item's content hash, copied so exact duplicates across sources are one index away
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True, db_index=True)
    processed_at = models.DateTimeField(_("processed at"), db_index=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = DataScopeFields(
        department="raw_item__source__department", owner="raw_item__source__owner"
    )

    class Meta:
        ordering = ["-processed_at", "-id"]
        verbose_name = _("ingestion")
        verbose_name_plural = _("ingestions")
        permissions = [("reprocess_ingestion", _("Can re-process quarantined records"))]

    def __str__(self) -> str:
        return f"{self.raw_item_id} · {self.get_outcome_display()}"


class ExchangeRate(ObjectUrls, TimeStampedModel):
    """CNY per one unit of a currency, used to convert amounts published in it."""

    currency = models.CharField(_("currency"), max_length=3, unique=True)
    rate_to_cny = models.DecimalField(_("CNY per unit"), max_digits=14, decimal_places=6)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = GLOBAL
    detail_view = "edit"

    class Meta:
        ordering = ["currency"]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")

    def __str__(self) -> str:
        return f"{self.currency} = {self.rate_to_cny} CNY"


class IndustryKeyword(ObjectUrls, TimeStampedModel):
    """A word that puts a record in an industry division ("医疗器械" → 35 专用设备制造业).

    The longest matching keyword wins; ``priority`` breaks ties (higher first).
    """

    keyword = models.CharField(_("keyword"), max_length=50, unique=True)
    #: GB/T 4754 division code (two digits)
    industry = models.CharField(_("industry"), max_length=2)
    priority = models.SmallIntegerField(_("priority"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = GLOBAL
    detail_view = "edit"

    class Meta:
        ordering = ["keyword"]
        verbose_name = _("industry keyword")
        verbose_name_plural = _("industry keywords")

    def __str__(self) -> str:
        return self.keyword


class RoundAlias(ObjectUrls, TimeStampedModel):
    """An extra spelling of a financing round ("A1轮" → A), checked before the built-in rules."""

    alias = models.CharField(_("alias"), max_length=50, unique=True)
    #: financing_round code
    round = models.CharField(_("round"), max_length=20)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = GLOBAL
    detail_view = "edit"

    class Meta:
        ordering = ["alias"]
        verbose_name = _("round alias")
        verbose_name_plural = _("round aliases")

    def __str__(self) -> str:
        return self.alias


class SavedQuery(ObjectUrls, ScopedModel):
    """A named catalog search (filters and keywords as a query string), private or shared."""

    class Kind(models.TextChoices):
        PROJECT = "project", _("Projects")
        INVESTOR = "investor", _("Investors")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("list"), max_length=20, choices=Kind.choices)
    #: the list page's query string, without the page number
    query_string = models.TextField(_("query"), blank=True)
    shared = models.BooleanField(_("shared with everyone who sees the list"), default=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("saved query")
        verbose_name_plural = _("saved queries")

    def __str__(self) -> str:
        return self.name


class ClusterRun(models.Model):
    """One periodic clustering of project descriptions (TF-IDF over segmented text, k-means)."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    project_count = models.PositiveIntegerField(_("projects"), default=0)
    cluster_count = models.PositiveSmallIntegerField(_("clusters"), default=0)
    #: parameters used (k, max features, growth window in days)
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = GLOBAL

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("clustering run")
        verbose_name_plural = _("clustering runs")

    def __str__(self) -> str:
        return str(self.created_at)


class TopicCluster(models.Model):
    """One cluster of a run: its theme words, size and growth."""

    run = models.ForeignKey(
        ClusterRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="clusters"
    )
    number = models.PositiveSmallIntegerField(_("number"))
    theme_words = models.JSONField(_("theme words"), default=list)
    size = models.PositiveIntegerField(_("projects"))
    #: projects first seen in the last window / in the window before
    recent = models.PositiveIntegerField(_("recent projects"), default=0)
    previous = models.PositiveIntegerField(_("previous projects"), default=0)
    sample_project_ids = models.JSONField(_("sample projects"), default=list, blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = GLOBAL

    class Meta:
        ordering = ["run", "-size"]
        verbose_name = _("topic cluster")
        verbose_name_plural = _("topic clusters")

    def __str__(self) -> str:
        return " ".join(self.theme_words[:3])
