"""The engine's own bookkeeping tables (no user ever edits them).

* :class:`InvestorMatchIndex`: each investor's segmented focus text, so runs need not segment
  20k descriptions again (seconds); blocking keys ("i:65", "r:a", … see ``criteria.py``) are
  computed in memory from the investors' preferences.
* :class:`EngineState`: named watermarks (what the incremental job has seen), versions (the
  investor index's, so processes know when their investors in memory are stale) and locks (one
  engine job per rule set at a time), taken with one conditional UPDATE so two workers on two
  machines cannot both hold one.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class InvestorMatchIndex(models.Model):
    """An investor as the engine last indexed it."""

    investor = models.OneToOneField(
        "catalog.Investor",
        verbose_name=_("investor"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    #: description and preferred industry names, segmented, stop words removed
    focus_text = models.TextField(_("focus words"), blank=True)
    #: the investor's ``updated_at`` when indexed
    source_updated_at = models.DateTimeField(_("investor updated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("investor match index")
        verbose_name_plural = _("investor match index")

    def __str__(self) -> str:
        return str(self.investor_id)


class EngineState(models.Model):
    """A named watermark or lock of the matching engine."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    watermark = models.DateTimeField(_("watermark"), null=True, blank=True)
    locked_by = models.CharField(_("locked by"), max_length=100, blank=True)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    #: bumped whenever what it names changes (the investor index: processes keep the investors
    #: in memory while it stays the same)
    version = models.PositiveBigIntegerField(_("version"), default=0)

    class Meta:
        verbose_name = _("matching engine state")
        verbose_name_plural = _("matching engine states")

    def __str__(self) -> str:
        return self.name
