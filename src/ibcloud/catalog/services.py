"""The catalog's entry points: ingest raw items, re-process quarantine, merge, split, manual edits.

Thin: the pipeline is :mod:`ibcloud.catalog.ingest`, the conflict policy and manual merge/split
:mod:`ibcloud.catalog.merge`, dedup :mod:`ibcloud.catalog.dedup`, quarantine rules
:mod:`ibcloud.catalog.cleaning`. The UI, the API and the jobs call these functions.
See ``docs/catalog-ingest.md``.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from ibcloud.catalog import dedup, ingest, merge
from ibcloud.catalog.ingest import IngestReport
from ibcloud.catalog.models import FundingRound, Ingestion, Investor, Project
from ibcloud.catalog.signals import send_catalog_changed
from ibcloud.crawler.models import RawItem

__all__ = [
    "IngestReport",
    "clear_manual_edit",
    "ingest_pending",
    "ingest_raw_items",
    "merge_investors",
    "merge_projects",
    "refresh_revealed_preferences",
    "reprocess_quarantined",
    "save_manual_edit",
    "split_investor",
    "split_project",
    "suggest_duplicates",
]


def _item_type(entity: Any) -> str:
    if isinstance(entity, Project):
        return "project"
    if isinstance(entity, Investor):
        return "investor"
    raise TypeError(f"not a catalog record: {entity!r}")


# --- Ingest ---------------------------------------------------------------------------------------


def ingest_pending(limit: int | None = None, job: Any = None) -> IngestReport:
    """Take in the raw items not processed yet (oldest first, at most ``limit``).

    ``job`` is the running job's ``JobContext``: progress is reported to it (and a cancel request
    stops the run between batches; what was stored stays stored).
    """
    total = RawItem.objects.filter(processed_at__isnull=True).count()
    if limit is not None:
        total = min(total, limit)
    if not total:
        return IngestReport()

    def progress(done: int, of: int) -> None:
        if job is not None:
            job.progress(100 * done / max(of, 1), f"{done}/{of}")

    return ingest.run_batches(ingest.pending_pages(limit), total=total, progress=progress)


def ingest_raw_items(raw_items: Iterable[Any], *, reprocess: bool = False) -> IngestReport:
    """Take in the given raw items (instances or ids).

    Items processed already are skipped unless ``reprocess``: then each is processed again and
    its ``Ingestion`` row updated (an item linked to a record keeps its link).
    """
    ids = sorted({getattr(item, "pk", item) for item in raw_items})
    if not reprocess:
        ids = sorted(
            RawItem.objects.filter(pk__in=ids, processed_at__isnull=True).values_list(
                "pk", flat=True
            )
        )
    if not ids:
        return IngestReport()
    return ingest.run_batches(ingest.pages_of(ids), total=len(ids), reprocess=True)


def reprocess_quarantined(ingestions: Iterable[Ingestion]) -> IngestReport:
    """Process the raw items of ``ingestions`` again (after a rule was fixed); their rows update.

    Records that pass now go through dedup and merge like new ones; the others stay quarantined
    with the current reason.
    """
    ids = [ingestion.raw_item_id for ingestion in ingestions]
    report = ingest_raw_items(ids, reprocess=True)
    if report.created or report.merged:
        send_catalog_changed("ingest")
    return report


# --- Manual merge, split and edits ----------------------------------------------------------------


def merge_projects(target: Project, others: Iterable[Project], user: Any, request: Any = None):
    """Merge ``others`` into ``target`` (raw items, rounds, tags move; values recomputed)."""
    result = merge.merge_records("project", target, others, user, request)
    send_catalog_changed("merge", project_ids=[target.pk])
    return result


def split_project(project: Project, ingestions: Iterable[Ingestion], user: Any, request=None):
    """Split the raw items ``ingestions`` of ``project`` off into a new project; returns it."""
    new = merge.split_record("project", project, ingestions, user, request)
    send_catalog_changed("split", project_ids=[project.pk, new.pk])
    return new


def merge_investors(target: Investor, others: Iterable[Investor], user: Any, request: Any = None):
    """Merge ``others`` into ``target`` (raw items, rounds, tags, aliases move)."""
    result = merge.merge_records("investor", target, others, user, request)
    send_catalog_changed("merge", investor_ids=[target.pk])
    return result


def split_investor(investor: Investor, ingestions: Iterable[Ingestion], user: Any, request=None):
    """Split the raw items ``ingestions`` of ``investor`` off into a new investor; returns it."""
    new = merge.split_record("investor", investor, ingestions, user, request)
    send_catalog_changed("split", investor_ids=[investor.pk, new.pk])
    return new


def save_manual_edit(entity: Project | Investor, changed_fields: list[str], user: Any) -> None:
    """Mark ``changed_fields`` (model fields or schema fields) of a saved edit as manual.

    Crawled values no longer overwrite them until :func:`clear_manual_edit`.
    """
    merge.save_manual_edit(entity, _item_type(entity), changed_fields, user)
    _changed("edit", entity)


def clear_manual_edit(entity: Project | Investor, fields: list[str], user: Any):
    """Let the sources' values apply again to ``fields`` (recomputed by the policy)."""
    result = merge.clear_manual_edit(entity, _item_type(entity), fields, user)
    _changed("edit", entity)
    return result


def _changed(reason: str, entity: Project | Investor) -> None:
    """Announce that a person changed ``entity`` (matching re-matches it)."""
    if _item_type(entity) == "project":
        send_catalog_changed(reason, project_ids=[entity.pk])
    else:
        send_catalog_changed(reason, investor_ids=[entity.pk])


def suggest_duplicates(entity: Project | Investor, limit: int = 10) -> list[tuple[Any, str]]:
    """Records that dedup would consider the same as ``entity``, with the reason (best first).

    For the merge page: candidates come from the same blocks the pipeline uses; region conflicts
    and different credit codes are left out.
    """
    item_type = _item_type(entity)
    model = type(entity)
    run = ingest.Run()
    probe_candidate = ingest.candidate_of(entity, item_type)
    probe = dedup.Probe(
        probe_candidate.keys, entity.province_code, entity.city_code, entity.credit_code
    )
    run.load_candidates(item_type, [probe])
    index = run.indexes[item_type]
    index.remove(entity.pk)
    found = []
    for candidate in index.candidates_for(probe):
        decision = dedup.compare(probe, candidate)
        if decision is not None:
            found.append((-dedup_level(decision), -decision.score, candidate.id, decision.reason))
    found.sort()
    records = model.objects.in_bulk([row[2] for row in found[:limit]])
    return [(records[row[2]], row[3]) for row in found[:limit] if row[2] in records]


def dedup_level(decision: dedup.Decision) -> int:
    """The strength of a decision's evidence (credit code 4 … similar names 1)."""
    return {code: level for level, code in dedup.LEVEL_CODES.items()}.get(decision.code, 0)


# --- Revealed preferences -----------------------------------------------------------------------


def refresh_revealed_preferences(investors: Iterable[Investor] | None = None) -> int:
    """Recompute investors' revealed preferences from the funding rounds they took part in.

    Sets ``revealed_preferences`` ({"deal_count", "industries", "rounds", "regions",
    "amount_median", "last_deal_on"}) and ``last_active_on`` (the newest deal, or the source's
    update time when later). ``investors`` None: every investor in a round. Returns how many
    investors changed.
    """
    through = FundingRound.investors.through
    links = through.objects.all()
    if investors is not None:
        ids = [investor.pk for investor in investors]
        links = links.filter(investor_id__in=ids)
    else:
        ids = None
    deals: dict[int, list[dict]] = {}
    for row in links.values(
        "investor_id",
        "fundinground__round",
        "fundinground__announced_on",
        "fundinground__amount_low",
        "fundinground__amount_high",
        "fundinground__project__industry",
        "fundinground__project__industry_section",
        "fundinground__project__province_code",
    ).order_by("investor_id", "fundinground_id"):
        deals.setdefault(row["investor_id"], []).append(row)
    queryset = Investor.objects.all()
    queryset = queryset.filter(pk__in=ids) if ids is not None else queryset.filter(pk__in=deals)
    changed = []
    now = timezone.now()
    for investor in queryset.only("id", "revealed_preferences", "last_active_on", "published_at"):
        rows = deals.get(investor.pk, [])
        preferences = _preferences(rows)
        last_deal = max(
            (r["fundinground__announced_on"] for r in rows if r["fundinground__announced_on"]),
            default=None,
        )
        candidates = [
            d for d in (last_deal, investor.published_at and investor.published_at.date()) if d
        ]
        last_active = max(candidates) if candidates else None
        if preferences != investor.revealed_preferences or last_active != investor.last_active_on:
            investor.revealed_preferences = preferences
            investor.last_active_on = last_active
            # bulk_update skips auto_now; incremental matching watches updated_at
            investor.updated_at = now
            changed.append(investor)
    Investor.objects.bulk_update(
        changed, ["revealed_preferences", "last_active_on", "updated_at"], batch_size=500
    )
    if changed:
        send_catalog_changed("revealed_preferences", investor_ids=[i.pk for i in changed])
    return len(changed)


def _preferences(rows: list[dict]) -> dict[str, Any]:
    if not rows:
        return {}
    industries = Counter(
        r["fundinground__project__industry"] or r["fundinground__project__industry_section"]
        for r in rows
        if r["fundinground__project__industry"] or r["fundinground__project__industry_section"]
    )
    rounds = Counter(r["fundinground__round"] for r in rows if r["fundinground__round"])
    regions = Counter(
        r["fundinground__project__province_code"]
        for r in rows
        if r["fundinground__project__province_code"]
    )
    amounts = []
    for r in rows:
        low, high = r["fundinground__amount_low"], r["fundinground__amount_high"]
        if low is not None and high is not None:
            amounts.append((low + high) / 2)
        elif low is not None or high is not None:
            amounts.append(low if low is not None else high)
    dates = [r["fundinground__announced_on"] for r in rows if r["fundinground__announced_on"]]
    return {
        "deal_count": len(rows),
        "industries": dict(sorted(industries.items())),
        "rounds": dict(sorted(rounds.items())),
        "regions": dict(sorted(regions.items())),
        "amount_median": int(statistics.median(amounts)) if amounts else None,
        "last_deal_on": max(dates).isoformat() if dates else None,
    }
