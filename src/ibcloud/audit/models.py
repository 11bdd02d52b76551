"""The operation log (操作日志): one append-only row per change or sensitive action by a person.

django-auditlog writes a row for every create/update/delete of an audited model (see
``AUDITLOG_LOGENTRY_MODEL``); :mod:`ibcloud.audit.receivers` writes one for every sensitive action
announced through ``core.signals.sensitive_action``. Rows are never edited or deleted one by one;
only the retention purge (:func:`ibcloud.audit.services.purge_expired`) removes old rows.
"""

from __future__ import annotations

from typing import Any

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ibcloud.core.scoping import DataScopeFields, RestrictedQuerySet


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an audit entry."""


#: Labels of the event codes the platform sends. Other codes are stored and shown as they are.
EVENT_LABELS: dict[str, Any] = {
    "create": _("Create"),
    "update": _("Update"),
    "delete": _("Delete"),
    "access": _("Access"),
    "login": _("Login"),
    "login_failed": _("Failed login"),
    "logout": _("Logout"),
    "export": _("Export"),
    "unlock": _("Unlock account"),
    "force_logout": _("Force logout"),
    "account_disable": _("Disable account"),
    "account_enable": _("Enable account"),
    "password_reset": _("Password reset"),
    "password_change": _("Password change"),
    "role_change": _("Role change"),
    "permission_change": _("Permission change"),
    "audit_purge": _("Audit log purge"),
}

SYSTEM_ACTOR = _("System")


class AuditEntryManager(LogEntryManager.from_queryset(RestrictedQuerySet)):
    """auditlog's manager (``log_create``, ``get_for_object``) plus ``restrict``."""


class AuditEntry(AbstractLogEntry):
    """Who did what to which object, when, from where; before/after of each changed field."""

    class Action(AbstractLogEntry.Action):
        # A sensitive action that is not a model change (login, export, unlock, ...).
        EVENT = 4

        choices = (*AbstractLogEntry.Action.choices, (EVENT, _("event")))

    action = models.PositiveSmallIntegerField(
        choices=Action.choices, verbose_name=_("action"), db_index=True
    )
    # PROTECT, not auditlog's CASCADE: removing a stale content type must not erase history.
    content_type = models.ForeignKey(
        "contenttypes.ContentType",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("content type"),
    )
    event = models.CharField(_("event"), max_length=50, db_index=True, blank=True)
    description = models.TextField(_("description"), blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    # Copied from the actor when the row is written, so scoping by department and the actor's
    # name stay true after the actor moves department or is deleted.
    actor_department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("actor's department"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_username = models.CharField(_("actor's username"), max_length=150, blank=True)

    objects = AuditEntryManager()
    scope_fields = DataScopeFields(department="actor_department", owner="actor")

    class Meta(AbstractLogEntry.Meta):
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-timestamp", "-id"]
        indexes = [models.Index(fields=["content_type", "object_pk"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.event_label} · {self.object_repr}"

    def get_absolute_url(self) -> str:
        return reverse("audit:entry_detail", args=[self.pk])

    # --- append-only --------------------------------------------------------------------------

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Insert a new row; an existing row is never written again."""
        if not self._state.adding or self.pk is not None:
            raise AppendOnlyError("Audit entries cannot be changed.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("Audit entries cannot be deleted; old ones expire by retention.")

    def _save_table(self, *args: Any, **kwargs: Any) -> Any:
        # Runs after the pre_save signal, where auditlog sets the actor, IP and user agent of
        # the current request (middleware, API token or ``auditlog.context.set_actor``), so the
        # fields derived from them are filled here, just before the insert.
        self._complete()
        return super()._save_table(*args, **kwargs)

    def _complete(self) -> None:
        """Derive the actor's department and name and the event code; redact secrets."""
        from ibcloud.audit.services import changes_as_text, drop_reverse_relations, redact

        if self.actor_id is not None:
            actor = self.actor
            if not self.actor_email:
                self.actor_email = getattr(actor, "email", None)
            if self.actor_department_id is None:
                self.actor_department_id = actor.department_id
            if not self.actor_username:
                self.actor_username = actor.get_username()
        self.user_agent = str(self.user_agent or "")[:300]
        if not self.event:
            self.event = ACTION_EVENTS.get(self.action, "")
        model = self.content_type.model_class() if self.content_type_id else None
        self.changes = redact(drop_reverse_relations(model, self.changes))
        self.additional_data = redact(self.additional_data)
        self.serialized_data = redact(self.serialized_data)
        if not self.changes_text:
            self.changes_text = changes_as_text(self.changes)

    # --- display --------------------------------------------------------------------------------

    @property
    def event_label(self) -> str:
        return str(EVENT_LABELS.get(self.event, self.event))

    @property
    def actor_display(self) -> str:
        if self.actor_id is not None and self.actor is not None:
            return str(self.actor)
        return self.actor_username or str(SYSTEM_ACTOR)

    @property
    def model_label(self) -> str:
        """The audited model's verbose name (or its label when the model is gone)."""
        model = self.content_type.model_class()
        if model is None:
            return f"{self.content_type.app_label}.{self.content_type.model}"
        return str(model._meta.verbose_name)

    @property
    def summary(self) -> str:
        from ibcloud.audit.services import summarize

        return summarize(self)


ACTION_EVENTS = {
    AuditEntry.Action.CREATE: "create",
    AuditEntry.Action.UPDATE: "update",
    AuditEntry.Action.DELETE: "delete",
    AuditEntry.Action.ACCESS: "access",
}
