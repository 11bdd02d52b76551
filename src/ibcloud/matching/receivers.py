"""Reactions to the catalog: changed projects or investors are matched again (incremental)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from ibcloud.catalog.signals import catalog_changed


@receiver(catalog_changed, dispatch_uid="matching.match_changed_records")
def match_changed_records(sender: Any, reason: str = "", **kwargs: Any) -> None:
    """Queue an incremental match (it reads what changed from ``updated_at``)."""
    from ibcloud.matching.models import MatchRuleSet
    from ibcloud.matching.tasks import start_incremental

    if MatchRuleSet.objects.filter(is_active=True).exists():
        start_incremental()
