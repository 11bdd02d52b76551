"""Base models every module builds on, plus the platform-wide records kept by ``core``:
background jobs, dictionaries (字典) and system parameters (参数)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ibcloud.core.scoping import GLOBAL, DataScopeFields, RestrictedQuerySet


class ObjectUrls:
    """``get_absolute_url`` / ``get_edit_url`` / ``get_delete_url`` from the URL-name convention
    ``<app_label>:<model_name>_<view>`` every app follows (docs/development.md)."""

    #: the view a record's link opens; "edit" for models without a detail page
    detail_view = "detail"

    def object_url(self, view: str) -> str:
        meta = self._meta
        return reverse(f"{meta.app_label}:{meta.model_name}_{view}", args=[self.pk])

    def get_absolute_url(self) -> str:
        return self.object_url(self.detail_view)

    def get_edit_url(self) -> str:
        return self.object_url("edit")

    def get_delete_url(self) -> str:
        return self.object_url("delete")


def _ownership(on_delete) -> tuple[models.ForeignKey, models.ForeignKey]:
    """The owner and department foreign keys the data scope reads."""
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=on_delete,
        null=True,
        blank=True,
        related_name="+",
    )
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        on_delete=on_delete,
        null=True,
        blank=True,
        related_name="+",
    )
    return owner, department


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class ScopedModel(TimeStampedModel):
    """A record that belongs to an owner and a department, narrowed by the data scope."""

    owner, department = _ownership(models.PROTECT)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = DataScopeFields(department="department", owner="owner")

    class Meta:
        abstract = True


class ScopedRecord(models.Model):
    """A machine-written record (job run, delivery) scoped by the owner and department it served.

    Unlike :class:`ScopedModel`, deleting the user or department keeps the record (SET_NULL):
    logs outlive the people they mention.
    """

    owner, department = _ownership(models.SET_NULL)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = DataScopeFields(department="department", owner="owner")

    class Meta:
        abstract = True


class Job(ScopedRecord):
    """One run of a background task: the row the UI, the API and alerts read."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        RETRYING = "retrying", _("Retrying")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    name = models.CharField(_("task"), max_length=200, db_index=True)
    queue = models.CharField(_("queue"), max_length=50, default="default")
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    arguments = models.JSONField(_("arguments"), default=dict, blank=True)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    message = models.CharField(_("message"), max_length=500, blank=True)
    result = models.JSONField(_("result"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    log = models.TextField(_("log"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    task_id = models.CharField(_("queue task id"), max_length=64, blank=True)
    worker = models.CharField(_("worker"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")

    def __str__(self) -> str:
        return f"{self.name} #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class DictType(TimeStampedModel):
    """A named value list (字典) such as financing rounds or deal types."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    is_system = models.BooleanField(
        _("built in"), default=False, help_text=_("Built-in lists can be edited but not deleted.")
    )

    objects = RestrictedQuerySet.as_manager()
    scope_fields = GLOBAL

    class Meta:
        ordering = ["code"]
        verbose_name = _("dictionary")
        verbose_name_plural = _("dictionaries")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class DictItem(TimeStampedModel):
    """One value of a dictionary; ``parent`` gives two-level lists such as industries."""

    dict_type = models.ForeignKey(
        DictType, verbose_name=_("dictionary"), on_delete=models.CASCADE, related_name="items"
    )
    value = models.CharField(_("value"), max_length=64)
    label = models.CharField(_("label"), max_length=100)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="children",
    )
    sort_order = models.IntegerField(_("sort order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    extra = models.JSONField(_("extra"), default=dict, blank=True)

    objects = RestrictedQuerySet.as_manager()
    scope_fields = GLOBAL

    class Meta:
        ordering = ["dict_type", "sort_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dict_type", "value"], name="unique_dict_item_value")
        ]
        verbose_name = _("dictionary item")
        verbose_name_plural = _("dictionary items")

    def __str__(self) -> str:
        return self.label


class Parameter(TimeStampedModel):
    """A system parameter (参数) overriding the default declared in ``core.parameters``."""

    key = models.CharField(_("key"), max_length=100, unique=True)
    value = models.JSONField(_("value"))

    objects = RestrictedQuerySet.as_manager()
    scope_fields = GLOBAL

    class Meta:
        ordering = ["key"]
        verbose_name = _("system parameter")
        verbose_name_plural = _("system parameters")

    def __str__(self) -> str:
        return self.key


class TableConfig(models.Model):
    """A person's choice of the columns a list table shows, in their order (列设置).

    ``table`` names the table class (:func:`ibcloud.core.tables.table_key`); ``columns`` lists
    the shown columns, among those a person may choose (``core.tables.optional_columns``).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="table_configs",
        verbose_name=_("user"),
    )
    table = models.CharField(_("table"), max_length=100)
    columns = models.JSONField(_("columns"), default=list)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "table"], name="tableconfig_unique_user_table")
        ]
        verbose_name = _("table columns")
        verbose_name_plural = _("table columns")

    def __str__(self) -> str:
        return f"{self.user}: {self.table}"
