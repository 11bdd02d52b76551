"""The ingest pipeline: raw items → cleaned, normalized, deduplicated catalog records.

Two stages, so the costly pure work can use every core:

1. :func:`~ibcloud.catalog.prepare.prepare` (pure, picklable in and out; in
   :mod:`ibcloud.catalog.prepare`): normalize the record
   (:func:`~ibcloud.catalog.normalization.record.normalize_record`, against the raw item's fetch
   time for relative dates), judge it (:func:`ibcloud.catalog.cleaning.check_record`), compute its
   name keys, segment its texts for the search index, and everything else the writer would
   otherwise compute (column values per field, the ``Ingestion.normalized`` JSON text). Large
   runs spread this over a process pool (:data:`POOL_THRESHOLD`); small ones run it in-process.
2. :class:`Run` (the main process, one transaction per batch): exact duplicates by content hash,
   dedup against the catalog (:mod:`ibcloud.catalog.dedup`, candidates loaded block by block),
   the conflict policy (:mod:`ibcloud.catalog.merge`), then batched writes (one ``executemany``
   per table through :mod:`ibcloud.catalog.writes`: records, ingestions, tags, and
   ``RawItem.processed_at``; funding rounds through the ORM).

The single writer is the bottleneck of a large run, so work moves off it wherever it can: see
``bench/ingest.py`` for the throughput, and :func:`_bulk_settings` for the run-wide settings.

Every raw item processed gets exactly one ``Ingestion`` row; re-processing updates that row. A
raw item already linked to a record keeps its link when re-processed (a person may have moved it
there by a merge or split), so a re-run never reshuffles records. Runs must not overlap: the
job takes a lock (:mod:`ibcloud.catalog.tasks`).
"""

from __future__ import annotations

import datetime
import gc
import logging
import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Q, TextField
from django.db.models.base import ModelState
from django.db.models.functions import Cast
from django.utils import timezone

from ibcloud.catalog import dedup, merge, search
from ibcloud.catalog.models import FundingRound, Ingestion, Investor, Project, Tag
from ibcloud.catalog.prepare import (  # prepare, set_rules: also the preview's entry points
    Prepared,
    init_worker,
    prepare,  # noqa: F401
    prepare_many,
    set_rules,
)
from ibcloud.catalog.writes import (
    insert_objects,
    insert_rows,
    load_objects,
    reserve_ids,
    select_column,
    update_rows,
)
from ibcloud.crawler.models import CrawlSource, RawItem

logger = logging.getLogger(__name__)

#: raw items per batch (one transaction, one round of bulk writes)
BATCH_SIZE = 5000
#: the first batch of a run (see :func:`batch_sizes`)
FIRST_BATCH_SIZE = 1000
#: pending raw items from which the pure stage runs in a process pool
POOL_THRESHOLD = 5000
#: ids a batch takes from a PostgreSQL sequence at a time for the records it creates
ID_CHUNK = 64
#: cap on the process pool (one process per core by default)
MAX_WORKERS = int(os.environ.get("IBCLOUD_INGEST_WORKERS", "0")) or (os.cpu_count() or 1)
#: segmented texts kept between batches of a run (so merged records need not be cut again)
TEXT_CACHE_LIMIT = 200_000

Outcome = Ingestion.Outcome
#: the columns of an ``Ingestion`` row the pipeline writes (besides ``raw_item_id``)
INGESTION_COLUMNS = (
    "outcome",
    "reason_code",
    "reason",
    "project_id",
    "investor_id",
    "normalized",
    "processed_at",
    "content_hash",
)
MODELS = {"project": Project, "investor": Investor}


@dataclass
class IngestReport:
    """What a run did: counts per outcome and per quarantine reason."""

    processed: int = 0
    created: int = 0
    merged: int = 0
    duplicate: int = 0
    quarantined: int = 0
    reasons: Counter = field(default_factory=Counter)

    def count(self, outcome: str, reason_code: str = "") -> None:
        self.processed += 1
        setattr(self, outcome, getattr(self, outcome) + 1)
        if reason_code:
            self.reasons[reason_code] += 1

    def add(self, other: IngestReport) -> None:
        for name in ("processed", "created", "merged", "duplicate", "quarantined"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reasons.update(other.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {
            "processed": self.processed,
            "created": self.created,
            "merged": self.merged,
            "duplicate": self.duplicate,
            "quarantined": self.quarantined,
            "reasons": dict(sorted(self.reasons.items())),
        }


# --- Stage 2: dedup, merge, store ---------------------------------------------------------------


@dataclass
class SourceInfo:
    id: int
    name: str
    trust: int
    owner_id: int | None
    department_id: int | None


def candidate_of(entity: Any, item_type: str) -> dedup.Candidate:
    """The record as dedup sees it: its name key, short name's and aliases' keys, region."""
    name_key = merge.cached_name_key
    keys = [entity.name_key]
    short = name_key(entity.name) if entity.name else ""
    if short and short not in keys:
        keys.append(short)
    if item_type == "investor":
        for alias in entity.aliases or []:
            key = name_key(alias)
            if key and key not in keys:
                keys.append(key)
    return dedup.Candidate(
        entity.pk,
        tuple(key for key in keys if key),
        entity.province_code,
        entity.city_code,
        entity.credit_code,
    )


_CANDIDATE_FIELDS = (
    "id",
    "name",
    "full_name",
    "name_key",
    "province_code",
    "city_code",
    "credit_code",
)


class Run:
    """One ingest run: the dedup index and caches that live across its batches."""

    def __init__(self) -> None:
        self.indexes = {"project": dedup.CandidateIndex(), "investor": dedup.CandidateIndex()}
        self.sources: dict[int, SourceInfo] = {}
        self.tags: dict[str, int] = {}
        self.segmented: dict[str, str] = {}
        self.report = IngestReport()
        self._templates: dict[str, dict[str, Any]] = {}

    def blank(self, item_type: str) -> Any:
        """A new, unsaved record with the model's defaults.

        Built from a template instance rather than through ``Model.__init__`` (which costs as much
        as the rest of creating a record here); mutable defaults are fresh per record.
        """
        template = self._templates.get(item_type)
        if template is None:
            model = MODELS[item_type]
            instance = model()
            template = {k: v for k, v in instance.__dict__.items() if k != "_state"}
            self._templates[item_type] = template
        model = MODELS[item_type]
        entity = model.__new__(model)
        values = entity.__dict__
        values.update(template)
        for name, value in template.items():
            if isinstance(value, dict | list):
                values[name] = type(value)(value)
        entity._state = ModelState()
        return entity

    # --- lookups

    def source(self, source_id: int) -> SourceInfo:
        if source_id not in self.sources:
            for row in CrawlSource.objects.filter(pk=source_id).values(
                "id", "name", "trust", "owner_id", "department_id"
            ):
                self.sources[row["id"]] = SourceInfo(**row)
        return self.sources[source_id]

    def load_candidates(self, item_type: str, probes: list[dedup.Probe]) -> None:
        """Load the blocks and credit-code holders this batch needs into the index."""
        index = self.indexes[item_type]
        model = MODELS[item_type]
        fields = _CANDIDATE_FIELDS + (("aliases",) if item_type == "investor" else ())
        blocks = sorted(index.missing_blocks(probes))
        query = Q()
        for block in blocks:
            # a range on the indexed name_key column: the records whose key starts with block
            query |= Q(name_key__gte=block, name_key__lt=block + "\U0010ffff")
        codes = sorted({p.credit_code for p in probes if p.credit_code} - set(index.credit_codes))
        if codes:
            query |= Q(credit_code__in=codes)
        if not query:
            return
        for entity in model.objects.filter(query).only(*fields).iterator(chunk_size=2000):
            if entity.pk not in index.candidates:
                index.add(candidate_of(entity, item_type))
        index.mark_loaded(blocks)

    def search_text(self, item_type: str, entity: Any, tag_names: Iterable[str]) -> str:
        from ibcloud.catalog.segmentation import search_text

        values = {
            "name": entity.name,
            "full_name": entity.full_name,
            "summary": getattr(entity, "summary", ""),
            "description": getattr(entity, "description", ""),
            "aliases": getattr(entity, "aliases", []),
            "tags": sorted(tag_names),
        }
        pieces = []
        for part in merge.text_parts(item_type, values):
            segmented = self.segmented.get(part)
            if segmented is None:
                segmented = search_text(part)
            if segmented:
                pieces.append(segmented)
        return " ".join(pieces)

    def remember_prepared(self, prepared: Iterable[Prepared]) -> None:
        """Keep what the workers computed that the writer would otherwise compute again: the
        segmented texts and the names' keys."""
        if len(self.segmented) > TEXT_CACHE_LIMIT:
            self.segmented.clear()
        for item in prepared:
            self.segmented.update(item.segmented)
            merge.remember_name_keys(item.name_keys)

    def tag_ids(self, names: Iterable[str]) -> dict[str, int]:
        wanted = {name[:50] for name in names if name}
        missing = wanted - set(self.tags)
        if missing:
            Tag.objects.bulk_create(
                [Tag(name=name) for name in sorted(missing)], ignore_conflicts=True
            )
            self.tags.update(Tag.objects.filter(name__in=missing).values_list("name", "id"))
        return {name: self.tags[name] for name in wanted if name in self.tags}

    # --- one batch

    def store(
        self, rows: list[dict[str, Any]], prepared: list[Prepared], reprocess: bool = False
    ) -> IngestReport:
        """Dedup, merge and write one batch; ``rows`` are the raw items' values, in id order."""
        with transaction.atomic():
            return _Batch(self, rows, prepared, reprocess).run()


@dataclass
class _Work:
    """One raw item in a batch: its row, its prepared values, what became of it."""

    row: dict[str, Any]
    prepared: Prepared
    outcome: str = ""
    reason_code: str = ""
    reason: str = ""
    entity: Any = None
    existing: Ingestion | None = None


class _Batch:
    """The main-process work for one batch (see :meth:`Run.store`)."""

    def __init__(
        self, run: Run, rows: list[dict[str, Any]], prepared: list[Prepared], reprocess: bool
    ) -> None:
        self.run_state = run
        self.reprocess = reprocess
        by_id = {item.raw_item_id: item for item in prepared}
        self.work = [_Work(row, by_id[row["id"]]) for row in rows]
        self.now = timezone.now()
        self.report = IngestReport()
        #: entities by (item_type, id); new ones get their ids when created (see _new_id)
        self.entities: dict[tuple[str, int], Any] = {}
        self.created: dict[tuple[str, int], Any] = {}
        self.dirty: dict[tuple[str, int], set[str]] = {}
        self.tags: dict[tuple[str, int], set[str]] = {}
        self.rounds: list[tuple[Any, dict]] = []
        self.free_ids: dict[str, deque[int]] = {}
        self.last_ids: dict[str, int] = {}
        self.sequential = connections[router.db_for_write(Project)].vendor == "sqlite"
        #: entities that lost an ingestion (re-processed into quarantine): recomputed at the end
        self.orphaned: set[tuple[str, int]] = set()

    def run(self) -> IngestReport:
        self._existing()
        self._duplicates()
        self._dedup()
        self._write()
        self.run_state.report.add(self.report)
        return self.report

    # --- steps

    def _existing(self) -> None:
        ids = [w.row["id"] for w in self.work]
        # Mostly none (a first run): ask with plain SQL before building ORM objects.
        table = Ingestion._meta.db_table
        sql = f"SELECT raw_item_id FROM {table} WHERE raw_item_id IN ({{ids}})"  # noqa: S608
        taken = select_column(Ingestion, sql, ids)
        existing = {}
        if taken:
            existing = {i.raw_item_id: i for i in Ingestion.objects.filter(raw_item_id__in=taken)}
        for w in self.work:
            w.existing = existing.get(w.row["id"])

    def _linked_id(self, w: _Work) -> int | None:
        if w.existing is None:
            return None
        return (
            w.existing.project_id if w.prepared.item_type == "project" else w.existing.investor_id
        )

    def _duplicates(self) -> None:
        """Exact duplicates: content already taken in from another source (or earlier here)."""
        hashes = {
            w.row["content_hash"]
            for w in self.work
            if not w.prepared.reason_code and self._linked_id(w) is None
        }
        if not hashes:
            return
        ids = [w.row["id"] for w in self.work]
        earlier: dict[tuple[str, str], tuple[int, int]] = {}
        # Earlier ingestions with the same content (not quarantined, not of this batch).
        hashes = sorted(hashes)
        connection = connections[router.db_for_read(Ingestion)]
        marks = ", ".join(["%s"] * len(hashes))
        others = ", ".join(["%s"] * len(ids))
        sql = (
            "SELECT content_hash, raw_item_id, project_id, investor_id"  # noqa: S608 - only
            f" FROM {Ingestion._meta.db_table} WHERE content_hash IN ({marks})"  # placeholders
            f" AND outcome <> %s AND raw_item_id NOT IN ({others}) ORDER BY raw_item_id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*hashes, Outcome.QUARANTINED.value, *ids])
            rows = cursor.fetchall()
        for content_hash, raw_item_id, project_id, investor_id in rows:
            for item_type, entity_id in (("project", project_id), ("investor", investor_id)):
                if entity_id and (item_type, content_hash) not in earlier:
                    earlier[(item_type, content_hash)] = (entity_id, raw_item_id)
        self.duplicate_of = earlier

    def _dedup(self) -> None:
        duplicate_of = getattr(self, "duplicate_of", {})
        for item_type in ("project", "investor"):
            works = [w for w in self.work if w.prepared.item_type == item_type]
            if not works:
                continue
            accepted = [w for w in works if not w.prepared.reason_code]
            probes = {id(w): self._probe(w) for w in accepted}
            self.run_state.load_candidates(item_type, list(probes.values()))
            linked = {self._linked_id(w) for w in accepted} - {None}
            wanted = linked | {
                duplicate_of[(item_type, w.row["content_hash"])][0]
                for w in accepted
                if (item_type, w.row["content_hash"]) in duplicate_of
            }
            index = self.run_state.indexes[item_type]
            # The records most raw items will merge into (same name key, no veto): read in the
            # same query as the linked ones instead of one query per record as each is matched.
            for w in accepted:
                probe = probes[id(w)]
                for candidate in index.same_key_candidates(probe):
                    if dedup.compare(probe, candidate) is not None:
                        wanted.add(candidate.id)
            self._fetch(item_type, wanted)
            in_batch: dict[str, tuple[int, int]] = {}
            for w in works:
                if w.prepared.reason_code:
                    self._quarantine(w)
                    continue
                self._decide(w, index, probes[id(w)], duplicate_of, in_batch)
                self._apply(w)
                # Later records see this one as it now stands, as they would in a later batch:
                # the decisions do not depend on where the batches begin and end.
                index.add(candidate_of(w.entity, item_type))

    def _decide(
        self,
        w: _Work,
        index: dedup.CandidateIndex,
        probe: dedup.Probe,
        duplicate_of: dict[tuple[str, str], tuple[int, int]],
        in_batch: dict[str, tuple[int, int]],
    ) -> None:
        """Which record ``w`` goes to (``w.entity``, a new one if none), and why."""
        item_type = w.prepared.item_type
        content_hash = w.row["content_hash"]
        linked_id = self._linked_id(w)
        if linked_id is not None and (item_type, linked_id) in self.entities:
            w.entity = self.entities[(item_type, linked_id)]
            w.outcome = w.existing.outcome
            w.reason = w.existing.reason
            w.reason_code = ""
            return
        earlier = duplicate_of.get((item_type, content_hash))
        if earlier and (item_type, earlier[0]) in self.entities:
            w.entity = self.entities[(item_type, earlier[0])]
            w.outcome = Outcome.DUPLICATE
            w.reason = f"same content as raw item #{earlier[1]}"
            return
        if content_hash in in_batch:
            key, raw_item_id = in_batch[content_hash]
            w.entity = self.entities[(item_type, key)]
            w.outcome = Outcome.DUPLICATE
            w.reason = f"same content as raw item #{raw_item_id}"
            return
        decision = index.find(probe)
        target = decision.candidate_id
        if target is not None and (item_type, target) not in self.entities:
            self._fetch(item_type, {target})
        if target is not None and (item_type, target) in self.entities:
            w.entity = self.entities[(item_type, target)]
            w.outcome = Outcome.MERGED
            w.reason = decision.reason
        else:
            if target is not None:  # deleted since it was indexed
                index.remove(target)
            w.entity = self._new_entity(item_type, w)
            w.outcome = Outcome.CREATED
            w.reason = decision.reason if decision.code == "ambiguous" else ""
        in_batch[content_hash] = (w.entity.pk, w.row["id"])

    def _probe(self, w: _Work) -> dedup.Probe:
        return dedup.Probe(w.prepared.keys, *w.prepared.region)

    def _fetch(self, item_type: str, ids: set[int]) -> None:
        ids = {i for i in ids if i is not None and (item_type, i) not in self.entities}
        if not ids:
            return
        for entity in load_objects(MODELS[item_type], sorted(ids)):
            self.entities[(item_type, entity.pk)] = entity

    def _new_id(self, item_type: str) -> int:
        """The id of a record this batch creates: known before it is written, so the dedup
        index, tags and ingestions point at it from the start."""
        if self.sequential and item_type in self.last_ids:
            # SQLite: the batch holds the write lock, so nobody else takes ids meanwhile
            self.last_ids[item_type] += 1
            return self.last_ids[item_type]
        free = self.free_ids.setdefault(item_type, deque())
        if not free:
            free.extend(reserve_ids(MODELS[item_type], 1 if self.sequential else ID_CHUNK))
        self.last_ids[item_type] = free.popleft()
        return self.last_ids[item_type]

    def _new_entity(self, item_type: str, w: _Work) -> Any:
        source = self.run_state.source(w.row["source_id"])
        entity = self.run_state.blank(item_type)
        entity.owner_id = source.owner_id
        entity.department_id = source.department_id
        entity.pk = self._new_id(item_type)
        key = (item_type, entity.pk)
        self.entities[key] = entity
        self.created[key] = entity
        return entity

    def _quarantine(self, w: _Work) -> None:
        w.outcome = Outcome.QUARANTINED
        w.reason_code = w.prepared.reason_code
        w.reason = w.prepared.reason
        linked = self._linked_id(w)
        if linked is not None:
            self.orphaned.add((w.prepared.item_type, linked))

    def _provenance(self, w: _Work) -> dict[str, Any]:
        source = self.run_state.source(w.row["source_id"])
        return merge.source_provenance(
            w.row["id"],
            source.id,
            source.name,
            source.trust,
            w.row["url"],
            w.row["fetched_at"],
            w.prepared.published,
        )

    def _apply(self, w: _Work) -> None:
        """The conflict policy: ``w``'s values into its record (in memory; written later)."""
        prepared = w.prepared
        item_type = prepared.item_type
        entity = w.entity
        key = (item_type, entity.pk)
        columns = self._without_taken_credit_code(item_type, entity, prepared)
        old_names = (entity.name, entity.full_name)
        changed = merge.apply_values(entity, item_type, {}, self._provenance(w), columns=columns)
        fetched = w.row["fetched_at"]
        if entity.first_seen_at is None or fetched < entity.first_seen_at:
            entity.first_seen_at = fetched
            changed.add("first_seen_at")
        if entity.last_seen_at is None or fetched > entity.last_seen_at:
            entity.last_seen_at = fetched
            changed.add("last_seen_at")
        if item_type == "investor":
            aliases = merge.merged_aliases(
                entity.aliases or [],
                [old_names[0], *prepared.seen_names],
                (entity.name, entity.full_name),
            )
            if aliases != (entity.aliases or []):
                entity.aliases = aliases
                changed.add("aliases")
        if changed & {"name", "full_name"}:
            new_key = merge.entity_key(entity)
            if new_key != entity.name_key:
                entity.name_key = new_key
                changed.add("name_key")
        if prepared.tags:
            self.tags.setdefault(key, set()).update(prepared.tags)
        if item_type == "project" and prepared.has_round:
            self.rounds.append((entity, prepared.normalized_values()))
        self.dirty.setdefault(key, set()).update(changed)

    def _without_taken_credit_code(
        self, item_type: str, entity: Any, prepared: Prepared
    ) -> dict[str, dict[str, Any]]:
        """A credit code another record holds cannot be set here (unique); drop it."""
        columns = prepared.columns
        code = prepared.region[2]
        if not code or "credit_code" not in columns:
            return columns
        holder = self.run_state.indexes[item_type].holder_of(code)
        if holder is None or holder == entity.pk:
            return columns
        return {name: values for name, values in columns.items() if name != "credit_code"}

    # --- writing

    def _write(self) -> None:
        run = self.run_state
        now = self.now
        for entity in self.created.values():
            entity.name = entity.name or entity.full_name or "?"
            entity.name_key = merge.entity_key(entity)
        # New records.
        for item_type in ("project", "investor"):
            new = [e for (t, _i), e in self.created.items() if t == item_type]
            if not new:
                continue
            for entity in new:
                entity.search_text = run.search_text(
                    item_type, entity, self.tags.get((item_type, entity.pk), ())
                )
            model = MODELS[item_type]
            connection = connections[router.db_for_write(model)]
            table = model._meta.db_table
            with search.triggers_suspended(connection, table):
                insert_objects(model, new, now)
                search.index_rows(connection, table, [(e.pk, e.search_text) for e in new])
        # Changed records.
        created = {id(entity) for entity in self.created.values()}
        for item_type in ("project", "investor"):
            model = MODELS[item_type]
            changed = {
                entity_id: self.dirty.get((item_type, entity_id), set())
                for (t, entity_id), entity in self.entities.items()
                if t == item_type
                and id(entity) not in created
                and (self.dirty.get((item_type, entity_id)) or (item_type, entity_id) in self.tags)
            }
            if not changed:
                continue
            existing_tags = _tag_names(item_type, list(changed))
            columns: set[str] = set()
            to_update = []
            reindex = []  # (id, the text the index holds, the new text)
            for entity_id, fields in changed.items():
                entity = self.entities[(item_type, entity_id)]
                new_tags = self.tags.get((item_type, entity_id), set()) - existing_tags.get(
                    entity_id, set()
                )
                if not fields and not new_tags:
                    continue
                text_changed = bool(
                    fields & {"name", "full_name", "summary", "description", "aliases"}
                )
                if text_changed or new_tags:
                    text = run.search_text(
                        item_type,
                        entity,
                        existing_tags.get(entity_id, set())
                        | self.tags.get((item_type, entity_id), set()),
                    )
                    if text != entity.search_text:
                        reindex.append((entity_id, entity.search_text, text))
                        entity.search_text = text
                        columns.add("search_text")
                if not fields and "search_text" not in columns:
                    continue
                for name in fields:
                    columns.update(merge.COLUMNS[item_type].get(name, (name,)))
                columns.add("provenance")
                entity.updated_at = now
                columns.add("updated_at")
                to_update.append(entity)
            if to_update:
                connection = connections[router.db_for_write(model)]
                table = model._meta.db_table
                with search.triggers_suspended(connection, table):
                    update_rows(model, to_update, sorted(columns))
                    search.reindex_rows(connection, table, reindex)
        self._write_tags()
        self._write_rounds()
        self._write_ingestions()
        self._recompute_orphaned()

    def _write_tags(self) -> None:
        if not self.tags:
            return
        ids = self.run_state.tag_ids(name for names in self.tags.values() for name in names)
        for item_type in ("project", "investor"):
            model = MODELS[item_type]
            through = model.tags.through
            fk = f"{item_type}_id"
            links = [
                (entity_id, ids[name])
                for (t, entity_id), names in self.tags.items()
                if t == item_type
                for name in sorted(names)
                if name in ids
            ]
            if links:
                insert_rows(through, (fk, "tag_id"), links, ignore_conflicts=True)

    def _write_rounds(self) -> None:
        """Funding rounds named with their investors: one per project and round, names merged."""
        if not self.rounds:
            return
        from ibcloud.catalog.normalization.names import name_key

        projects = {entity.pk for entity, _n in self.rounds}
        existing = {
            (r.project_id, r.round): r for r in FundingRound.objects.filter(project_id__in=projects)
        }
        all_names = {
            str(name) for _e, n in self.rounds for name in n["investor_names"]["value"] if name
        }
        investors = _investors_by_key({name_key(name): name for name in all_names})
        for entity, normalized in self.rounds:
            code = str(normalized.get("round", {}).get("value") or "undisclosed")[:20]
            names = [str(n) for n in normalized["investor_names"]["value"] if n]
            amount = merge.column_values("project", "amount", normalized.get("amount")) or {}
            published = normalized.get("published_at", {}).get("value")
            announced = merge._date(published) if published else None
            funding = existing.get((entity.pk, code))
            if funding is None:
                funding = FundingRound.objects.create(
                    project=entity,
                    round=code,
                    announced_on=announced,
                    amount_low=amount.get("amount_low"),
                    amount_high=amount.get("amount_high"),
                    amount_currency=amount.get("amount_currency", ""),
                    amount_text=amount.get("amount_text", ""),
                    investor_names=sorted(set(names)),
                )
                existing[(entity.pk, code)] = funding
            else:
                merged_names = sorted(set(funding.investor_names) | set(names))
                updates: dict[str, Any] = {}
                if merged_names != funding.investor_names:
                    updates["investor_names"] = merged_names
                if announced and (funding.announced_on is None or announced > funding.announced_on):
                    updates["announced_on"] = announced
                if funding.amount_low is None and amount.get("amount_low") is not None:
                    updates.update({k: v for k, v in amount.items()})
                if updates:
                    for key, value in updates.items():
                        setattr(funding, key, value)
                    funding.save(update_fields=[*updates, "updated_at"])
            matched = [investors[name_key(n)] for n in names if name_key(n) in investors]
            if matched:
                funding.investors.add(*matched)

    def _write_ingestions(self) -> None:
        new, changed = [], []
        now = self.now
        for w in self.work:
            entity_id = w.entity.pk if w.entity is not None else None
            is_project = w.prepared.item_type == "project"
            values = (
                w.outcome,
                w.reason_code,
                w.reason,
                entity_id if is_project else None,
                None if is_project else entity_id,
                w.prepared.stored_json(),
                now,
                w.row["content_hash"],
            )
            self.report.count(w.outcome, w.reason_code)
            if w.existing is None:
                new.append((w.row["id"], *values))
            else:
                for name, value in zip(INGESTION_COLUMNS, values, strict=True):
                    setattr(w.existing, name, value)
                changed.append(w.existing)
        if new:
            insert_rows(Ingestion, ("raw_item_id", *INGESTION_COLUMNS), new)
        if changed:
            update_rows(Ingestion, changed, list(INGESTION_COLUMNS))
        update_rows(RawItem, [_Stamp(w.row["id"], now) for w in self.work], ["processed_at"])

    def _recompute_orphaned(self) -> None:
        for item_type, entity_id in sorted(self.orphaned):
            entity = MODELS[item_type].objects.filter(pk=entity_id).first()
            if entity is not None:
                merge.recompute_entity(entity, item_type)
                self.run_state.indexes[item_type].add(candidate_of(entity, item_type))


@dataclass
class _Stamp:
    """A raw item's id and the time it was processed (for :func:`update_rows`)."""

    pk: int
    processed_at: datetime.datetime


def _tag_names(item_type: str, ids: list[int]) -> dict[int, set[str]]:
    through = MODELS[item_type].tags.through
    fk = f"{item_type}_id"
    names: dict[int, set[str]] = {}
    for entity_id, name in through.objects.filter(**{f"{fk}__in": ids}).values_list(
        fk, "tag__name"
    ):
        names.setdefault(entity_id, set()).add(name)
    return names


def _investors_by_key(names_by_key: dict[str, str]) -> dict[str, Investor]:
    """Catalog investors whose name key, or short name, is one of ``names_by_key``."""
    from ibcloud.catalog.normalization.names import name_key

    keys = {key for key in names_by_key if key}
    if not keys:
        return {}
    found: dict[str, Investor] = {}
    query = Q(name_key__in=keys) | Q(name__in=set(names_by_key.values()))
    for investor in Investor.objects.filter(query).order_by("id"):
        for key in {investor.name_key, name_key(investor.name)}:
            if key in keys and key not in found:
                found[key] = investor
    return found


# --- Driving a run --------------------------------------------------------------------------------

RAW_FIELDS = ("id", "source_id", "item_type", "url", "fetched_at", "content_hash")


def _raw_rows(queryset: Any) -> list[dict[str, Any]]:
    """Rows of :data:`RAW_FIELDS` plus ``data_json``, the data as JSON text: the workers decode
    it, not the main process (decoding 100k records costs seconds of the single writer's time)."""
    return list(queryset.values(*RAW_FIELDS, data_json=Cast("data", TextField())))


def _payload(rows: list[dict[str, Any]]) -> list[tuple[int, str, Any, str]]:
    return [(r["id"], r["item_type"], r["data_json"], r["fetched_at"].isoformat()) for r in rows]


def _pool(workers: int, rules: Any):
    from ibcloud.catalog.segmentation import segment

    segment("预热")  # load the dictionary once here, so forked workers share it
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    return context.Pool(workers, initializer=init_worker, initargs=(rules,))


def run_batches(
    pages: Iterator[list[dict[str, Any]]],
    *,
    total: int,
    reprocess: bool = False,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Run the pipeline over ``pages`` of raw item rows (values of :data:`RAW_FIELDS`)."""
    from ibcloud.catalog.normalization.rules import load_rules

    rules = load_rules()
    set_rules(rules)
    with _bulk_settings(total):
        return _run_batches(pages, rules, total, reprocess, workers, progress)


#: SQLite page cache of the writing connection during a large run (KiB, as ``cache_size``)
BULK_CACHE_KIB = 64 * 1024
#: WAL pages between checkpoints during a large run (SQLite's default is 1000)
BULK_CHECKPOINT_PAGES = 20_000


@contextmanager
def _bulk_settings(total: int) -> Iterator[None]:
    """Settings for a large run: no automatic garbage collection; on SQLite a bigger page cache,
    and fewer, larger checkpoints.

    Each batch commits thousands of rows across a dozen indexes and the full-text index; with
    the default 1,000-page auto-checkpoint, the same index pages were copied from the WAL into
    the database after almost every batch. Checkpointing every ~80 MB copies each page once per
    interval; the run ends with a checkpoint of its own, so its cost is the run's, and the
    previous settings are restored. ``synchronous`` stays as configured.
    """
    if total < POOL_THRESHOLD:
        yield
        return
    # Batches allocate millions of dicts and lists that live for a batch (results, records,
    # the dedup index): each collection of the young ones scanned them all again, ~6 % of the
    # run even at 50,000 allocations between collections. The pipeline makes no reference
    # cycles to speak of (peak memory of a 100k run did not grow without the collector), so it
    # runs without one, and so do the workers forked meanwhile; it resumes afterwards.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with _sqlite_bulk_settings():
            yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _sqlite_bulk_settings() -> Iterator[None]:
    connection = connections[router.db_for_write(Ingestion)]
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        cache_size = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA wal_autocheckpoint")
        checkpoint = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = {-BULK_CACHE_KIB:d}")
        cursor.execute(f"PRAGMA wal_autocheckpoint = {BULK_CHECKPOINT_PAGES:d}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint = {checkpoint:d}")
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            cursor.execute(f"PRAGMA cache_size = {cache_size:d}")


def _run_batches(
    pages: Iterator[list[dict[str, Any]]],
    rules: Any,
    total: int,
    reprocess: bool,
    workers: int | None,
    progress: Callable[[int, int], None] | None,
) -> IngestReport:
    run = Run()
    workers = MAX_WORKERS if workers is None else workers
    use_pool = workers > 1 and total >= POOL_THRESHOLD
    done = 0

    def store(rows: list[dict[str, Any]], prepared: list[Prepared]) -> None:
        nonlocal done
        run.remember_prepared(prepared)
        run.store(rows, prepared, reprocess)
        done += len(rows)
        if progress is not None:
            progress(done, total)

    if not use_pool:
        for rows in pages:
            store(rows, prepare_many(_payload(rows)))
        return run.report
    pool = _pool(workers, rules)
    try:
        in_flight: deque = deque()
        for rows in pages:
            in_flight.append((rows, pool.apply_async(prepare_many, (_payload(rows),))))
            if len(in_flight) > workers:
                rows_done, result = in_flight.popleft()
                store(rows_done, result.get())
        while in_flight:
            rows_done, result = in_flight.popleft()
            store(rows_done, result.get())
    finally:
        pool.terminate()
        pool.join()
    return run.report


def batch_sizes(batch_size: int = BATCH_SIZE) -> Iterator[int]:
    """The sizes of a run's batches: :data:`FIRST_BATCH_SIZE`, then as much larger each time,
    up to ``batch_size``.

    The pool prepares a batch as one task: a small first batch lets the writer start after
    a fraction of a second, not after a full batch (~1 s), and it stays busy from then on.
    """
    size = min(FIRST_BATCH_SIZE, batch_size)
    while True:
        yield size
        size = min(size + FIRST_BATCH_SIZE, batch_size)


def pending_pages(limit: int | None = None, batch_size: int = BATCH_SIZE) -> Iterator[list[dict]]:
    """Pages of raw items not processed yet, oldest id first, up to ``limit`` items."""
    last_id = 0
    left = limit
    sizes = batch_sizes(batch_size)
    while left is None or left > 0:
        size = next(sizes) if left is None else min(next(sizes), left)
        rows = _raw_rows(
            RawItem.objects.filter(processed_at__isnull=True, pk__gt=last_id).order_by("pk")[:size]
        )
        if not rows:
            return
        last_id = rows[-1]["id"]
        if left is not None:
            left -= len(rows)
        yield rows


def pages_of(ids: list[int], batch_size: int = BATCH_SIZE) -> Iterator[list[dict]]:
    """Pages of the raw items with ``ids``, in id order."""
    ids = sorted(set(ids))
    start = 0
    for size in batch_sizes(batch_size):
        if start >= len(ids):
            return
        chunk = ids[start : start + size]
        start += size
        yield _raw_rows(RawItem.objects.filter(pk__in=chunk).order_by("pk"))
