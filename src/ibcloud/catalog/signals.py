"""Signals the catalog sends, so higher apps (matching) react without the catalog importing them.

``catalog_changed``: projects or investors changed. Sent after an ingest run that created or
changed records (``ids`` None: look at ``updated_at``), and after a person's edit, merge or split
(``project_ids`` / ``investor_ids`` name the records). kwargs: ``reason`` ("ingest", "edit",
"merge", "split", "revealed_preferences"), ``project_ids``, ``investor_ids`` (lists or None).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.dispatch import Signal

catalog_changed = Signal()


def send_catalog_changed(
    reason: str,
    project_ids: Iterable[int] | None = None,
    investor_ids: Iterable[int] | None = None,
) -> None:
    """Announce changed catalog records (after the current transaction commits)."""
    from django.db import transaction

    projects = sorted(set(project_ids)) if project_ids is not None else None
    investors = sorted(set(investor_ids)) if investor_ids is not None else None
    transaction.on_commit(
        lambda: catalog_changed.send(
            sender=None, reason=reason, project_ids=projects, investor_ids=investors
        )
    )
