"""Deals (推进中的项目): the engagements the bank pushes forward, their milestones, the activity
timeline kept on each, attachments, and the milestone templates admins maintain.

The flow (docs/deals.md): a :class:`Deal` is opened by hand or from an approved match
(``services.open_deal_from_match``); its type (dictionary ``deal_type``) names the stage list it
moves through (the item's ``extra.stage_dict``, admins edit both under 字典); milestones come from a
:class:`MilestoneTemplate` or by hand; reminders and the daily digest run as jobs (``tasks.py``).

Scope: a deal belongs to its department and to its lead (``owner`` is kept equal to ``lead``, so
"own records" reaches the deals a person leads). Milestones, activities and attachments follow
their deal; a milestone's own owner also reaches it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ibcloud.core.models import ObjectUrls, ScopedModel, TimeStampedModel
from ibcloud.core.scoping import GLOBAL, DataScopeFields, RestrictedQuerySet


class Deal(ObjectUrls, ScopedModel):
    """An engagement: type and stage, client, linked catalog project and investors, team, size,
    expected fee, status and tags."""

    class Status(models.TextChoices):
        # "Active" alone is 启用 (switched on) elsewhere; a deal that is active is 进行中
        ACTIVE = "active", pgettext_lazy("deal status", "Active")
        ON_HOLD = "on_hold", _("On hold")
        COMPLETED = "completed", _("Completed")
        TERMINATED = "terminated", _("Terminated")

    #: statuses of a deal that is over; ``closed_on`` is set when it enters one
    CLOSED = (Status.COMPLETED, Status.TERMINATED)

    code = models.CharField(_("code"), max_length=30, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=200)
    #: value of dictionary ``deal_type`` (ipo, ma, private_placement, bond, advisory, other)
    deal_type = models.CharField(_("type"), max_length=30, db_index=True)
    #: value of the type's stage list (``deal_type`` item's ``extra.stage_dict``)
    stage = models.CharField(_("stage"), max_length=30)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE
    )
    client = models.CharField(_("client"), max_length=300, blank=True)
    project = models.ForeignKey(
        "catalog.Project",
        verbose_name=_("linked project"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deals",
    )
    investors = models.ManyToManyField(
        "catalog.Investor", verbose_name=_("investors"), blank=True, related_name="deals"
    )
    #: the approved match the deal was opened from
    match = models.ForeignKey(
        "matching.Match",
        verbose_name=_("from match"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deals",
    )
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("lead"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="led_deals",
        db_index=False,
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), blank=True, related_name="deals"
    )
    #: GB/T 4754 division or section code (catalog's industry), for grouping
    industry = models.CharField(_("industry"), max_length=2, blank=True, db_index=True)
    #: deal size in CNY
    deal_size = models.DecimalField(
        _("deal size (CNY)"), max_digits=18, decimal_places=2, null=True, blank=True
    )
    expected_fee = models.DecimalField(
        _("expected fee (CNY)"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    tags = models.ManyToManyField(
        "catalog.Tag", verbose_name=_("tags"), blank=True, related_name="+"
    )
    description = models.TextField(_("description"), blank=True)
    opened_on = models.DateField(_("opened on"), default=timezone.localdate, db_index=True)
    expected_close_on = models.DateField(_("expected close"), null=True, blank=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True, db_index=True)
    #: stage as of the last change, when it changed (for "days in stage")
    stage_changed_at = models.DateTimeField(_("stage changed at"), null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = DataScopeFields(department="department", owner="owner")

    class Meta:
        ordering = ["-opened_on", "-id"]
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        permissions = [("export_deal_report", _("Can export deal reports (PPTX, weekly report)"))]
        indexes = [
            models.Index(fields=["deal_type", "stage"], name="deals_deal_type_stage"),
            models.Index(fields=["department", "status"], name="deals_deal_dept_status"),
            # covering indexes of the dashboard (charts.py): the active count and fee, and the
            # type / stage / department / industry breakdowns of deals opened in a range
            models.Index(
                fields=["status", "opened_on", "expected_fee"], name="deals_deal_status_opened"
            ),
            models.Index(
                fields=["opened_on", "deal_type", "stage", "department", "industry"],
                name="deals_deal_opened_cover",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.status in self.CLOSED


class Milestone(ObjectUrls, TimeStampedModel):
    """A key event of a deal: due date, owner, status, completion date.

    Overdue means still open (pending or in progress) with ``due_date`` before today
    (``services.overdue_q``). ``reminded_for`` holds the due date the owner was last reminded
    of, so the reminder job sends once per due date and again only when the date moves.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Not started")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")
        SKIPPED = "skipped", _("Skipped")

    OPEN = (Status.PENDING, Status.IN_PROGRESS)

    detail_view = "edit"

    deal = models.ForeignKey(
        Deal, verbose_name=_("deal"), on_delete=models.CASCADE, related_name="milestones"
    )
    name = models.CharField(_("name"), max_length=200)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    start_date = models.DateField(_("start date"), null=True, blank=True)
    due_date = models.DateField(_("due date"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="milestones",
        db_index=False,
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    completed_on = models.DateField(_("completed on"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    reminded_for = models.DateField(_("reminded for due date"), null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = DataScopeFields(department="deal__department", owner=("deal__owner", "owner"))

    class Meta:
        ordering = ["deal", "sort_order", "due_date", "id"]
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        indexes = [
            models.Index(fields=["deal", "status", "due_date"], name="deals_ms_deal_status_due"),
            # overdue counts and the heatmap read (status, due date, deal) from the index alone
            models.Index(fields=["status", "due_date", "deal"], name="deals_ms_status_due"),
            models.Index(fields=["owner", "status", "due_date"], name="deals_ms_owner_due"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_overdue(self) -> bool:
        """``services.overdue_q`` for one milestone (lists select its deal along)."""
        return (
            self.status in self.OPEN
            and self.due_date < timezone.localdate()
            and not self.deal.is_closed
        )


class DealActivity(TimeStampedModel):
    """One entry of a deal's timeline: a note someone wrote, or a change the platform recorded
    (created, stage or status changed, milestone done, attachment added)."""

    class Kind(models.TextChoices):
        NOTE = "note", _("Note")
        CREATED = "created", pgettext_lazy("deal activity", "Created")
        STAGE = "stage", _("Stage changed")
        STATUS = "status", _("Status changed")
        MILESTONE = "milestone", _("Milestone")
        ATTACHMENT = "attachment", _("Attachment")
        UPDATED = "updated", pgettext_lazy("deal activity", "Updated")

    deal = models.ForeignKey(
        Deal, verbose_name=_("deal"), on_delete=models.CASCADE, related_name="activities"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.NOTE)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    text = models.TextField(_("text"), blank=True)
    #: what changed, for entries the platform writes: {"from": ..., "to": ...} and the like
    data = models.JSONField(_("data"), default=dict, blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = DataScopeFields(department="deal__department", owner="deal__owner")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("deal activity")
        verbose_name_plural = _("deal activities")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text[:50]}"


def attachment_path(instance: DealAttachment, filename: str) -> str:
    """Where an attachment is stored: by deal, under a dated folder (the storage keeps names
    unique)."""
    return f"deals/{instance.deal_id}/{timezone.localdate():%Y%m}/{filename}"


class DealAttachment(TimeStampedModel):
    """A file kept with a deal, in the default storage (disk, or S3-compatible storage when
    configured); downloaded only through the scoped view, never from a public URL."""

    deal = models.ForeignKey(
        Deal, verbose_name=_("deal"), on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=500)
    name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = RestrictedQuerySet.as_manager()
    scope_fields = DataScopeFields(department="deal__department", owner="deal__owner")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class MilestoneTemplate(ObjectUrls, TimeStampedModel):
    """A list of milestones a deal can start from: one per deal type (IPO: 立项, 尽职调查, 内核,
    申报, 反馈回复, 上会, 注册, 发行) and the financing template (BP, NDA, 约见, 尽调, 投决, TS,
    交割). Admins edit them; applying one to a deal adds its items with due dates counted from
    the deal's start."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    #: deal type it is offered for first ('' for any type, e.g. the financing template)
    deal_type = models.CharField(_("deal type"), max_length=30, blank=True)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = GLOBAL

    class Meta:
        ordering = ["deal_type", "name"]
        verbose_name = _("milestone template")
        verbose_name_plural = _("milestone templates")

    def __str__(self) -> str:
        return self.name


class MilestoneTemplateItem(models.Model):
    """One milestone of a template: its name and when it falls due, in days from the deal's
    start; ``duration_days`` sets the planned start for the timeline."""

    template = models.ForeignKey(
        MilestoneTemplate,
        verbose_name=_("template"),
        on_delete=models.CASCADE,
        related_name="items",
    )
    name = models.CharField(_("name"), max_length=200)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    offset_days = models.PositiveIntegerField(_("due after (days)"), default=0)
    duration_days = models.PositiveIntegerField(_("planned duration (days)"), default=0)

    class Meta:
        ordering = ["template", "sort_order", "id"]
        verbose_name = _("milestone template item")
        verbose_name_plural = _("milestone template items")

    def __str__(self) -> str:
        return self.name
