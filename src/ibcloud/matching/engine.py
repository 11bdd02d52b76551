"""The matching engine: full runs, incremental runs and dry runs of rule sets.

A run never scores all pairs. It indexes investors by the blocking keys of the rule set's hard
filters (industry, round, region, capital type: ``Criterion.investor_keys``), groups projects
whose keys are the same, looks each group's candidates up once (the intersection over the
filters of the union of the postings), and scores the group × candidates block with numpy
(``Criterion.matrix``). Each project keeps its best ``max_per_project`` investors at or above the
threshold (equal scores: lower investor id first).

What a run writes (``_write``), against the rule set's existing matches:

* a new pair → a pending match; a withdrawn pair proposed again → pending (both "added");
* a rejected pair is skipped while its fingerprint (:func:`fingerprint_of`) is unchanged; when
  the data changed materially it is proposed again ("reopened": pending, review fields cleared);
* unmatched pairs are skipped (a reviewer took them back), approved ones stay as they are;
* a pending match no longer proposed → withdrawn; a pending one still proposed gets its new score.

Incremental runs (:func:`match_projects`, :func:`match_investors`) do the same for some projects,
against the investors this process keeps in memory while the investor index stays the same
(:func:`all_investors`). Dry runs compute the same proposals without writing and keep the
difference (:func:`dry_run`, :func:`apply_dry_run`). Large runs score in worker processes.
See docs/matching-engine.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import pickle
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.db.models import Max
from django.utils import timezone

from ibcloud.catalog.models import Investor, Project
from ibcloud.matching import features as ft
from ibcloud.matching.criteria import (
    BLOCKING_KINDS,
    CRITERIA,
    SCORE_ITSELF,
    Context,
    validate_configuration,
)
from ibcloud.matching.engine_models import EngineState, InvestorMatchIndex
from ibcloud.matching.models import DryRun, Match, MatchRuleSet

#: block size (pairs) scored at once: bounds memory whatever the group size
BLOCK_PAIRS = 400_000
#: rows per bulk write
BATCH = 2_000
#: new matches per insert transaction
INSERT_BATCH = 20_000
#: SQLite page cache while a run inserts (KiB)
LARGE_WRITE_CACHE_KB = 256 * 1024
#: JSON text of explanation values, as json.dumps(..., ensure_ascii=False) writes them compactly
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode
#: explanation item texts kept for reuse before the cache starts over
FRAGMENT_CACHE = 300_000
#: added / removed pairs a dry run keeps for display (the counts are exact)
DRY_RUN_LIST_CAP = 500
#: statuses a run never changes
DECIDED = (Match.Status.APPROVED, Match.Status.UNMATCHED)
INVESTOR_INDEX_STATE = "investor_index"

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


@dataclass
class RunReport:
    """What a run did (or, for a dry run, would do)."""

    added: int = 0
    withdrawn: int = 0
    kept: int = 0
    reopened: int = 0
    pairs_scored: int = 0
    proposed: int = 0
    seconds: float = 0.0
    projects: int = 0
    #: seconds per stage of a full run (load, score, diff, write), for benchmarks and logs
    stages: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        result = {**asdict(self), "seconds": round(self.seconds, 3)}
        del result["stages"]
        return result

    def merge(self, other: RunReport) -> None:
        for name in ("added", "withdrawn", "kept", "reopened", "pairs_scored", "proposed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.projects += other.projects


@dataclass
class Configuration:
    """A cleaned rule-set configuration."""

    criteria: list[dict]
    threshold: float
    max_per_project: int

    @classmethod
    def of(cls, rule_set: MatchRuleSet) -> Configuration:
        return cls.clean(
            {
                "criteria": rule_set.criteria,
                "threshold": float(rule_set.threshold),
                "max_per_project": rule_set.max_per_project,
            }
        )

    @classmethod
    def clean(cls, configuration: dict) -> Configuration:
        cleaned = validate_configuration(configuration)
        return cls(cleaned["criteria"], cleaned["threshold"], cleaned["max_per_project"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "criteria": self.criteria,
            "threshold": self.threshold,
            "max_per_project": self.max_per_project,
        }

    def fields(self) -> dict[str, tuple[str, ...]]:
        """Extra model fields the ``field`` criteria read, per entity."""
        wanted: dict[str, list[str]] = {"project": [], "investor": []}
        for item in self.criteria:
            if item["kind"] == "field":
                wanted[item["params"]["entity"]].append(item["params"]["field"])
        return {entity: tuple(dict.fromkeys(names)) for entity, names in wanted.items()}


@dataclass
class Proposal:
    score: float
    #: the explanation items as JSON text (what the insert writes as it is)
    explanation_json: str
    fingerprint: str

    @property
    def explanation(self) -> list[dict]:
        return json.loads(self.explanation_json)


@dataclass
class Proposals:
    """The pairs a configuration proposes, keyed ``(project_id, investor_id)``."""

    pairs: dict[tuple[int, int], Proposal] = field(default_factory=dict)
    pairs_scored: int = 0
    project_ids: set[int] = field(default_factory=set)


# --- Fingerprints ---------------------------------------------------------------------------------


def _digest(values: Any) -> str:
    return hashlib.md5(
        json.dumps(values, default=str, sort_keys=True).encode(), usedforsecurity=False
    ).hexdigest()


def project_fingerprint(project: dict) -> str:
    """The project's match-relevant data: a change here is material (text and tags are not)."""
    return _digest(
        [
            project["industry"],
            project["industry_section"],
            project["round"],
            project["province_code"],
            project["city_code"],
            project["amount_low"],
            project["amount_high"],
            project["currency"],
        ]
    )


def investor_fingerprint(investor: dict) -> str:
    """The investor's stated preferences (activity and revealed deals drift, so they are not)."""
    return _digest(
        [
            sorted(investor["industries"]),
            sorted(investor["rounds"]),
            sorted(investor["regions"]),
            investor["nationwide"],
            investor["ticket_min"],
            investor["ticket_max"],
            investor["capital_type"],
        ]
    )


def pair_fingerprint(project_print: str, investor_print: str) -> str:
    return hashlib.md5((project_print + investor_print).encode(), usedforsecurity=False).hexdigest()


def fingerprint_of(project: Project, investor: Investor) -> str:
    """The current fingerprint of a pair (32 hex digits): a rejected match whose stored
    fingerprint differs is proposed again."""
    p = ft.project_features({f: getattr(project, f) for f in ft.PROJECT_COLUMNS})
    i = ft.investor_features({f: getattr(investor, f) for f in ft.INVESTOR_COLUMNS}, focus_text="")
    return pair_fingerprint(project_fingerprint(p), investor_fingerprint(i))


# --- Loading --------------------------------------------------------------------------------------


def load_projects(ids: Iterable[int] | None = None, extra: tuple[str, ...] = ()) -> list[dict]:
    """Feature dicts of projects (all, or ``ids``)."""
    columns = list(dict.fromkeys([*ft.PROJECT_COLUMNS, *extra]))
    rows = Project.objects.order_by("id")
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return [ft.project_features(row, extra) for row in rows.values(*columns).iterator(5000)]


def load_investors(
    ids: Iterable[int] | None = None, extra: tuple[str, ...] = (), refresh: bool = True
) -> list[dict]:
    """Feature dicts of investors (all, or ``ids``), with focus text from the index."""
    if refresh:
        refresh_investor_index()
    columns = list(dict.fromkeys([*ft.INVESTOR_COLUMNS, *extra]))
    rows = Investor.objects.order_by("id")
    index = InvestorMatchIndex.objects.all()
    if ids is not None:
        ids = list(ids)
        rows = rows.filter(pk__in=ids)
        index = index.filter(pk__in=ids)
    focus = dict(index.values_list("investor_id", "focus_text").iterator(5000))
    return [
        ft.investor_features(row, extra, focus_text=focus.get(row["id"]))
        for row in rows.values(*columns).iterator(5000)
    ]


def refresh_investor_index(investor_ids: Iterable[int] | None = None) -> int:
    """Bring the investors' focus text and blocking keys up to date: those changed since the
    last refresh (``updated_at`` past the watermark), plus ``investor_ids``. Returns how many."""
    state, _created = EngineState.objects.get_or_create(name=INVESTOR_INDEX_STATE)
    changed = Investor.objects.all()
    if state.watermark is not None:
        changed = changed.filter(updated_at__gt=state.watermark)
    ids = set(changed.values_list("id", flat=True))
    if investor_ids is not None:
        ids |= set(investor_ids)
    if not ids:
        return 0
    newest = None
    index_rows = []
    columns = ["id", "updated_at", *ft.INVESTOR_COLUMNS[1:]]
    for chunk in _chunks(sorted(ids), 5000):
        for row in Investor.objects.filter(pk__in=chunk).values(*columns):
            features = ft.investor_features(row)
            index_rows.append(
                InvestorMatchIndex(
                    investor_id=row["id"],
                    focus_text=features["text"],
                    source_updated_at=row["updated_at"],
                )
            )
            if newest is None or row["updated_at"] > newest:
                newest = row["updated_at"]
    with transaction.atomic():
        for chunk in _chunks(sorted(ids), 5000):
            InvestorMatchIndex.objects.filter(investor_id__in=chunk).delete()
        InvestorMatchIndex.objects.bulk_create(index_rows, batch_size=BATCH)
        # a new random version, not a count: a restored or recreated database never brings
        # back a version some process still holds investors for
        changes: dict[str, Any] = {"version": secrets.randbits(62)}
        if newest is not None and (state.watermark is None or newest > state.watermark):
            changes["watermark"] = newest
        EngineState.objects.filter(pk=state.pk).update(**changes)
    return len(index_rows)


@dataclass
class InvestorSet:
    """Investors ready to score: their frame and blocking postings (key → frame rows)."""

    frame: ft.InvestorFrame
    postings: dict[str, np.ndarray]
    _prints: dict[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, investors: list[dict]) -> InvestorSet:
        frame = ft.investor_frame(investors)
        postings: dict[str, list[int]] = defaultdict(list)
        for column, features in enumerate(frame.features):
            for kind in BLOCKING_KINDS:
                for key in CRITERIA[kind].investor_keys(features):
                    postings[key].append(column)
        arrays = {key: np.array(cols, dtype=np.int64) for key, cols in postings.items()}
        return cls(frame, arrays)

    def fingerprint(self, column: int) -> str:
        found = self._prints.get(column)
        if found is None:
            found = self._prints[column] = investor_fingerprint(self.frame.features[column])
        return found

    def fingerprints(self, ids: Iterable[int] | None = None) -> dict[int, str]:
        """Investor id → fingerprint, of every investor or of those of ``ids`` in the set."""
        if ids is None:
            return {int(i): self.fingerprint(n) for n, i in enumerate(self.frame.ids)}
        wanted = np.array(sorted(set(ids)), dtype=np.int64)
        if not len(wanted) or not len(self.frame.ids):
            return {}
        columns = np.minimum(self.frame.column_of(wanted), len(self.frame.ids) - 1)
        found = self.frame.ids[columns] == wanted
        return {
            int(i): self.fingerprint(int(c))
            for i, c in zip(wanted[found], columns[found], strict=True)
        }


#: (index version, extra fields) → the investors as last loaded by this process
_INVESTOR_CACHE: dict[tuple, InvestorSet] = {}


def _index_version() -> int:
    return (
        EngineState.objects.filter(name=INVESTOR_INDEX_STATE)
        .values_list("version", flat=True)
        .first()
        or 0
    )


def all_investors(extra: tuple[str, ...] = (), fresh: bool = False) -> InvestorSet:
    """Every investor, ready to score; kept in this process until the investor index changes
    (``refresh_investor_index`` bumps its version), so incremental matches load nothing.
    ``fresh``: read them again anyway (full runs do: a row changed without a new ``updated_at``
    is read too)."""
    refresh_investor_index()
    key = (_index_version(), extra)
    found = None if fresh else _INVESTOR_CACHE.get(key)
    if found is None:
        found = InvestorSet.of(load_investors(None, extra, refresh=False))
        _INVESTOR_CACHE.clear()
        _INVESTOR_CACHE[key] = found
    return found


def _chunks(values: list, size: int) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- Scoring --------------------------------------------------------------------------------------


class Scorer:
    """Scores blocks of pairs under one configuration."""

    def __init__(self, configuration: Configuration, context: Context) -> None:
        self.configuration = configuration
        self.context = context
        items = configuration.criteria
        self.filters = [(CRITERIA[c["kind"]], c) for c in items if c["mode"] == "filter"]
        self.scores = [(CRITERIA[c["kind"]], c) for c in items if c["mode"] == "score"]
        self.ordered = self.filters + self.scores
        self.total_weight = float(sum(c["weight"] for _k, c in self.scores))
        self.blocking = [(k, c) for k, c in self.filters if k.blocking]
        self.threshold = configuration.threshold
        self.k = configuration.max_per_project
        self._fragments: dict[tuple, str] = {}
        self._heads = [
            json.dumps(
                {"kind": item["kind"], "mode": item["mode"], "weight": item["weight"]},
                separators=(",", ":"),
            )[:-1]
            + ',"score":'
            for _criterion, item in self.ordered
        ]

    def candidate_keys(self, project: dict) -> tuple:
        """Per blocking filter: the posting keys of the project's candidates (None: any)."""
        result = []
        for criterion, item in self.blocking:
            keys = criterion.project_keys(project, item["params"])
            result.append(None if keys is None else tuple(sorted(set(keys))))
        return tuple(result)

    def block(
        self,
        projects: ft.ProjectFrame,
        rows: np.ndarray,
        investors: ft.InvestorFrame,
        columns: np.ndarray,
        banned: np.ndarray | None = None,
    ) -> Scored:
        """Each row's best ``k`` pairs among rows × columns (passing the filters, not
        ``banned``, at or above the threshold), or more when scores tie at the k-th place;
        with their totals and per-criterion scores (NaN: unknown)."""
        shape = (len(rows), len(columns))
        eligible = np.ones(shape, dtype=bool)
        matrices: list[np.ndarray] = []
        for criterion, item in self.filters:
            scores = criterion.matrix(
                projects, rows, investors, columns, item["params"], self.context
            )
            params = item["params"]
            with np.errstate(invalid="ignore"):
                passed = scores >= params["pass_score"]
            if params["any_when_empty"]:
                passed |= np.isnan(scores)
            eligible &= passed
            matrices.append(scores)
        if banned is not None:
            eligible &= ~banned
        total = np.zeros(shape)
        for criterion, item in self.scores:
            scores = criterion.matrix(
                projects, rows, investors, columns, item["params"], self.context
            )
            # the same operations, in the same order, as the scalar form's sum
            filled = np.where(np.isnan(scores), item["params"]["missing_score"], scores)
            filled *= item["weight"]
            total += filled
            matrices.append(scores)
        if self.total_weight:
            total *= 100.0 / self.total_weight
            np.round(total, 2, out=total)
        else:
            total.fill(100.0)
        eligible &= total >= self.threshold - 1e-9
        np.copyto(total, -1.0, where=~eligible)
        width = shape[1]
        if width > self.k:
            kth = np.partition(total, width - self.k, axis=1)[:, width - self.k]
            keep = eligible & (total >= kth[:, None])
        else:
            keep = eligible
        prow, pcol = np.nonzero(keep)
        values = [np.broadcast_to(m, shape)[prow, pcol] for m in matrices]
        return Scored(prow, pcol, total[prow, pcol], values, shape[0] * shape[1])

    def explanation(self, project: dict, investor: dict, values: list[float]) -> list[dict]:
        """The explanation items of one pair, from its per-criterion scores."""
        return json.loads(self.explanation_json(project, investor, values))

    def explanation_json(self, project: dict, investor: dict, values: list[float]) -> str:
        """The explanation items of one pair as JSON text. An item depends on the criterion,
        the score, the investor and a few project fields (``Criterion.describe_key``), so the
        text of each item is kept and reused across the pairs that share them."""
        fragments = self._fragments
        if len(fragments) > FRAGMENT_CACHE:
            fragments.clear()
        parts = []
        for number, ((criterion, item), value) in enumerate(zip(self.ordered, values, strict=True)):
            score = None if value != value else value  # NaN: unknown
            project_key = criterion.describe_key(project)
            key = None
            if project_key is not None:
                key = (number, project_key, investor["id"], score)
                text = fragments.get(key)
                if text is not None:
                    parts.append(text)
                    continue
            if item["mode"] == "score" and self.total_weight:
                used = item["params"]["missing_score"] if score is None else score
                points = round(item["weight"] * used * 100.0 / self.total_weight, 2)
            else:
                points = 0.0
            # the code and arguments: reused by the pairs whose score falls in the same class
            # (``Criterion.describe_class``), e.g. a revealed preference's "similar" or "weak"
            tail_key = None
            score_class = criterion.describe_class(score)
            if project_key is not None and score_class is not SCORE_ITSELF:
                tail_key = (number, project_key, investor["id"], score_class, "tail")
            tail = fragments.get(tail_key) if tail_key is not None else None
            if tail is None:
                code, args = criterion.describe(score, project, investor, item["params"])
                tail = "".join((',"code":', _ENCODE(code), ',"args":', _ENCODE(args), "}"))
                if tail_key is not None:
                    fragments[tail_key] = tail
            # what json.dumps gives for the item dict, the fixed part written once
            text = "".join(
                (
                    self._heads[number],
                    "null" if score is None else repr(round(score, 4)),
                    ',"points":',
                    repr(points),
                    tail,
                )
            )
            if key is not None and tail_key is None:
                fragments[key] = text
            parts.append(text)
        return "[" + ",".join(parts) + "]"


@dataclass
class Scored:
    """The pairs of a block left after scoring: local row and column numbers, totals and the
    per-criterion scores (in the order filters, then scores)."""

    rows: np.ndarray
    columns: np.ndarray
    total: np.ndarray
    values: list[np.ndarray]
    pairs: int


def compute(
    configuration: Configuration,
    projects: list[dict],
    investors: list[dict] | InvestorSet,
    blocked: dict[int, set[int]],
    context: Context,
    progress: Progress | None = None,
    workers: int | None = None,
) -> Proposals:
    """The proposals of ``configuration`` for ``projects`` among ``investors`` (pure: no DB).

    ``blocked``: project id → investor ids that must not be proposed (rejected with an
    unchanged fingerprint, unmatched). Large runs are scored by ``workers`` processes
    (default :func:`worker_count`), each taking whole groups of projects."""
    scorer = Scorer(configuration, context)
    result = Proposals(project_ids={p["id"] for p in projects})
    if not isinstance(investors, InvestorSet):
        if not investors:
            return result
        investors = InvestorSet.of(investors)
    if not projects or not len(investors.frame):
        return result
    inv = investors.frame
    frame = ft.project_frame(projects, inv)
    posting_arrays = investors.postings
    everyone = np.arange(len(inv), dtype=np.int64)

    groups: dict[tuple, list[int]] = defaultdict(list)
    for row, features in enumerate(frame.features):
        groups[scorer.candidate_keys(features)].append(row)
    work: list[tuple[np.ndarray, np.ndarray]] = []
    for keys, group_rows in groups.items():
        candidates = everyone
        for per_filter in keys:
            if per_filter is None:
                continue
            parts = [posting_arrays[key] for key in per_filter if key in posting_arrays]
            union = np.unique(np.concatenate(parts)) if parts else everyone[:0]
            candidates = np.intersect1d(candidates, union, assume_unique=True)
        if len(candidates):
            work.append((np.array(group_rows, dtype=np.int64), candidates))
    pairs = sum(len(rows) * len(candidates) for rows, candidates in work)
    task = _Task(configuration, context, frame, investors, blocked)
    count = worker_count(pairs) if workers is None else workers
    if count > 1 and len(work) > 1:
        try:
            _compute_in_processes(task, work, count, result, progress, pairs)
            return result
        except (OSError, AssertionError, RuntimeError) as exc:
            # a daemonic worker cannot start processes, a sandbox may forbid them: score here
            logger.warning("matching in one process (%s)", exc)
            result.pairs.clear()
            result.pairs_scored = 0
    done = reported = 0
    for rows, candidates in work:
        _score_group(task, scorer, rows, candidates, result)
        done += len(rows) * len(candidates)
        if progress is not None and done - reported >= pairs / 50:
            progress(done / max(pairs, 1), "scoring")
            reported = done
    return result


#: pairs above which a full run is scored by several processes
PARALLEL_ABOVE = 5_000_000


def worker_count(pairs: int) -> int:
    """Processes to score ``pairs`` with: ``IBCLOUD_MATCH_WORKERS`` (default: the CPU count, at
    most 4); 1 for runs too small to gain from more."""
    if pairs < PARALLEL_ABOVE:
        return 1
    configured = os.environ.get("IBCLOUD_MATCH_WORKERS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, min(4, os.cpu_count() or 1))


@dataclass
class _Task:
    """What scoring needs, handed once to each worker process."""

    configuration: Configuration
    context: Context
    frame: ft.ProjectFrame
    investors: InvestorSet
    blocked: dict[int, set[int]]


def _score_group(
    task: _Task, scorer: Scorer, rows_all: np.ndarray, candidates: np.ndarray, result: Proposals
) -> None:
    """Score one group of projects (same candidates) block by block, keeping the best."""
    frame, inv = task.frame, task.investors.frame
    step = max(1, BLOCK_PAIRS // len(candidates))
    for start in range(0, len(rows_all), step):
        rows = rows_all[start : start + step]
        banned = None
        for local, row in enumerate(rows):
            ids = task.blocked.get(int(frame.ids[row]))
            if ids:
                if banned is None:
                    banned = np.zeros((len(rows), len(candidates)), dtype=bool)
                banned[local] = np.isin(inv.ids[candidates], list(ids))
        scored = scorer.block(frame, rows, inv, candidates, banned)
        result.pairs_scored += scored.pairs
        _keep_best(scorer, frame, rows, task.investors, candidates, scored, scorer.k, result)


#: the task of this worker process (set by :func:`_start_worker`)
_WORKER_TASK: _Task | None = None


def _start_worker(pickled: bytes | None) -> None:
    global _WORKER_TASK  # noqa: PLW0603 - one task per worker process
    if pickled is not None:
        # a spawned process (Windows) starts empty: set Django up before the classes load
        import django

        django.setup()
        _WORKER_TASK = pickle.loads(pickled)  # noqa: S301 - bytes from the parent process


def _score_chunk(work: list[tuple[np.ndarray, np.ndarray]]) -> tuple[dict, int, int]:
    task = _WORKER_TASK
    assert task is not None
    scorer = Scorer(task.configuration, task.context)
    part = Proposals()
    done = 0
    for rows, candidates in work:
        _score_group(task, scorer, rows, candidates, part)
        done += len(rows) * len(candidates)
    return part.pairs, part.pairs_scored, done


def _compute_in_processes(
    task: _Task,
    work: list[tuple[np.ndarray, np.ndarray]],
    count: int,
    result: Proposals,
    progress: Progress | None,
    pairs: int,
) -> None:
    """Score the groups in ``count`` processes: forked ones share the parent's arrays; spawned
    ones (Windows) get the task pickled once each."""
    global _WORKER_TASK  # noqa: PLW0603 - inherited by forked workers
    # chunks of about equal pairs, several per worker so the last ones finish together
    chunks: list[list] = [[] for _ in range(count * 4)]
    sizes = [0] * len(chunks)
    for item in sorted(work, key=lambda w: -len(w[0]) * len(w[1])):
        smallest = sizes.index(min(sizes))
        chunks[smallest].append(item)
        sizes[smallest] += len(item[0]) * len(item[1])
    chunks = [chunk for chunk in chunks if chunk]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if any(
        criterion.kind == "text"
        for criterion, _item in Scorer(task.configuration, task.context).ordered
    ):
        # built lazily: build the investors' here once, not in every worker (the projects'
        # are built block by block in the workers)
        _ = task.investors.frame.text
    if method == "fork":
        _WORKER_TASK, argument = task, None
    else:
        argument = pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL)
    done = 0
    try:
        with context.Pool(count, initializer=_start_worker, initargs=(argument,)) as pool:
            for found, scored, chunk_pairs in pool.imap_unordered(_score_chunk, chunks):
                result.pairs.update(found)
                result.pairs_scored += scored
                done += chunk_pairs
                if progress is not None:
                    progress(done / max(pairs, 1), "scoring")
    finally:
        _WORKER_TASK = None


def _keep_best(
    scorer: Scorer,
    frame: ft.ProjectFrame,
    rows: np.ndarray,
    investors: InvestorSet,
    candidates: np.ndarray,
    scored: Scored,
    k: int,
    result: Proposals,
) -> None:
    """Each row's best ``k`` scored pairs (higher score first, then lower investor id)."""
    if not len(scored.rows):
        return
    # candidates are in id order, so the column number breaks ties by investor id
    order = np.lexsort((scored.columns, -scored.total, scored.rows))
    local_rows = scored.rows[order]
    starts = np.r_[0, np.flatnonzero(np.diff(local_rows)) + 1]
    rank = np.arange(len(local_rows)) - np.repeat(starts, np.diff(np.r_[starts, len(local_rows)]))
    chosen = order[rank < k]
    values = np.vstack(scored.values)[:, chosen].T.tolist() if scored.values else None
    last_row, last_print = -1, ""
    for n, (local, col, score) in enumerate(
        zip(
            scored.rows[chosen].tolist(),
            scored.columns[chosen].tolist(),
            scored.total[chosen].tolist(),
            strict=True,
        )
    ):
        row = int(rows[local])
        column = int(candidates[col])
        project, investor = frame.features[row], investors.frame.features[column]
        project_print = project_fingerprint(project) if row != last_row else last_print
        last_row, last_print = row, project_print
        investor_print = investors.fingerprint(column)
        result.pairs[(project["id"], investor["id"])] = Proposal(
            score=score,
            explanation_json=scorer.explanation_json(
                project, investor, values[n] if values is not None else []
            ),
            fingerprint=pair_fingerprint(project_print, investor_print),
        )


# --- Existing matches and writes ------------------------------------------------------------------


def _existing(rule_set: MatchRuleSet | None, project_ids: Iterable[int] | None) -> dict:
    """(project, investor) → {id, status, score, fingerprint} of the rule set's matches."""
    if rule_set is None or rule_set.pk is None:
        return {}
    rows = Match.objects.filter(rule_set=rule_set)
    if project_ids is not None:
        ids = list(project_ids)
        found = {}
        for chunk in _chunks(ids, 5000):
            for row in rows.filter(project_id__in=chunk).values(
                "id", "project_id", "investor_id", "status", "score", "fingerprint"
            ):
                found[(row["project_id"], row["investor_id"])] = row
        return found
    return {
        (row["project_id"], row["investor_id"]): row
        for row in rows.values(
            "id", "project_id", "investor_id", "status", "score", "fingerprint"
        ).iterator(10_000)
    }


def _blocked(existing: dict, project_prints: dict[int, str], investor_prints: dict[int, str]):
    """Pairs not to propose: unmatched, and rejected with an unchanged fingerprint."""
    blocked: dict[int, set[int]] = defaultdict(set)
    for (project_id, investor_id), row in existing.items():
        if row["status"] == Match.Status.UNMATCHED:
            blocked[project_id].add(investor_id)
        elif row["status"] == Match.Status.REJECTED:
            p, i = project_prints.get(project_id), investor_prints.get(investor_id)
            if p is None or i is None or pair_fingerprint(p, i) == row["fingerprint"]:
                blocked[project_id].add(investor_id)
    return blocked


@dataclass
class Diff:
    """What writing ``proposals`` over ``existing`` changes."""

    create: list[tuple[tuple[int, int], Proposal]] = field(default_factory=list)
    revive: list[tuple[dict, Proposal]] = field(default_factory=list)  # withdrawn → pending
    reopen: list[tuple[dict, Proposal]] = field(default_factory=list)  # rejected → pending
    rescore: list[tuple[dict, Proposal]] = field(default_factory=list)
    withdraw: list[dict] = field(default_factory=list)
    kept: int = 0

    def added_pairs(self) -> list[tuple[int, int, float]]:
        rows = [(p, i, prop.score) for (p, i), prop in self.create]
        rows += [(r["project_id"], r["investor_id"], prop.score) for r, prop in self.revive]
        rows += [(r["project_id"], r["investor_id"], prop.score) for r, prop in self.reopen]
        return sorted(rows)

    def removed_pairs(self) -> list[tuple[int, int, float]]:
        return sorted((r["project_id"], r["investor_id"], float(r["score"])) for r in self.withdraw)


def diff(existing: dict, proposals: Proposals) -> Diff:
    """Compare proposals with the existing matches (of the projects the proposals cover)."""
    result = Diff()
    for pair, proposal in proposals.pairs.items():
        row = existing.get(pair)
        if row is None:
            result.create.append((pair, proposal))
        elif row["status"] == Match.Status.WITHDRAWN:
            result.revive.append((row, proposal))
        elif row["status"] == Match.Status.REJECTED:
            result.reopen.append((row, proposal))
        elif row["status"] == Match.Status.PENDING:
            result.kept += 1
            changed = Decimal(str(round(proposal.score, 2))) != Decimal(row["score"])
            if changed or row["fingerprint"] != proposal.fingerprint:
                result.rescore.append((row, proposal))
        else:
            result.kept += 1
    for pair, row in existing.items():
        if (
            row["status"] == Match.Status.PENDING
            and pair[0] in proposals.project_ids
            and pair not in proposals.pairs
        ):
            result.withdraw.append(row)
    return result


def _write(rule_set: MatchRuleSet, changes: Diff) -> RunReport:
    """Apply a diff. Rows whose status a person changed meanwhile are left alone."""
    now = timezone.now()
    report = RunReport(kept=changes.kept)
    report.added += _insert(rule_set, changes.create, now)

    def update(pairs: list[tuple[dict, Proposal]], expected: str, pending: bool) -> int:
        count = 0
        for chunk in _chunks(pairs, BATCH):
            with transaction.atomic():
                ids = [row["id"] for row, _p in chunk]
                still = set(
                    Match.objects.filter(pk__in=ids, status=expected).values_list("pk", flat=True)
                )
                objects = []
                for row, proposal in chunk:
                    if row["id"] not in still:
                        continue
                    match = Match(
                        pk=row["id"],
                        score=round(proposal.score, 2),
                        explanation=proposal.explanation,
                        fingerprint=proposal.fingerprint,
                        status=Match.Status.PENDING,
                        proposed_at=now,
                        updated_at=now,
                    )
                    objects.append(match)
                fields = ["score", "explanation", "fingerprint", "updated_at"]
                if pending:
                    fields += [
                        "status",
                        "proposed_at",
                        "reviewed_by",
                        "reviewed_at",
                        "reject_reason",
                        "reject_note",
                    ]
                Match.objects.bulk_update(objects, fields, batch_size=500)
                count += len(objects)
        return count

    report.added += update(changes.revive, Match.Status.WITHDRAWN, True)
    report.reopened += update(changes.reopen, Match.Status.REJECTED, True)
    update(changes.rescore, Match.Status.PENDING, False)
    for chunk in _chunks([row["id"] for row in changes.withdraw], BATCH):
        report.withdrawn += Match.objects.filter(pk__in=chunk, status=Match.Status.PENDING).update(
            status=Match.Status.WITHDRAWN, updated_at=now
        )
    return report


def _insert(rule_set: MatchRuleSet, rows: list[tuple[tuple[int, int], Proposal]], now: Any) -> int:
    """Insert new pending matches with one prepared statement per batch.

    Model instances and ``bulk_create`` cost more than the scoring at a full run's 500k rows;
    the values go through each field's own ``get_db_prep_save``, columns the engine does not
    set get the field's default, and a pair someone created meanwhile is skipped
    (``ON CONFLICT DO NOTHING``, on SQLite and PostgreSQL)."""
    if not rows:
        return 0
    connection = connections[router.db_for_write(Match)]
    fields = [f for f in Match._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    names = {f.attname for f in fields}
    constant = {
        "created_at": now,
        "updated_at": now,
        "proposed_at": now,
        "rule_set_id": rule_set.pk,
        "department_id": rule_set.department_id,
        "source": Match.Source.AUTO,
        "status": Match.Status.PENDING,
    }
    prepared: dict[str, Any] = {}
    for f in fields:
        value = constant[f.attname] if f.attname in constant else f.get_default()
        prepared[f.attname] = f.get_db_prep_save(value, connection)
    varying = ["project_id", "investor_id", "score", "explanation", "fingerprint"]
    if not set(varying) <= names:
        raise RuntimeError("Match lost a column the engine writes")
    json_cast = "::jsonb" if connection.vendor == "postgresql" else ""
    placeholders = ", ".join(
        "%s" + (json_cast if f.attname == "explanation" else "") for f in fields
    )
    # names come from the model's own metadata, values are parameters
    sql = (
        f"INSERT INTO {quote(Match._meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(f.column) for f in fields)}) VALUES ({placeholders}) "
        "ON CONFLICT DO NOTHING"
    )
    order = [f.attname for f in fields]
    # in key order, the project and (rule set, project, investor) indexes grow at one end
    rows = sorted(rows, key=lambda row: row[0])
    at = {name: n for n, name in enumerate(order)}
    template = [prepared[name] for name in order]
    inserted = 0
    with _large_writes(connection):
        for chunk in _chunks(rows, INSERT_BATCH):
            params = []
            for (project_id, investor_id), proposal in chunk:
                values = template.copy()
                values[at["project_id"]] = project_id
                values[at["investor_id"]] = investor_id
                # the float nearest the 2-decimal score: what the Decimal's text becomes on
                # SQLite (a REAL), and what PostgreSQL's numeric(5, 2) takes exactly
                values[at["score"]] = round(proposal.score, 2)
                values[at["explanation"]] = proposal.explanation_json
                values[at["fingerprint"]] = proposal.fingerprint
                params.append(values)
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                cursor.executemany(sql, params)
            inserted += len(chunk)
    return inserted


@contextlib.contextmanager
def _large_writes(connection: Any) -> Iterator[None]:
    """On SQLite, a page cache that holds the match table's indexes while a run inserts
    (the default 2 MB makes every index update a page read); the setting is restored after."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = {-LARGE_WRITE_CACHE_KB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


def _notify(rule_set: MatchRuleSet, count: int) -> None:
    """Tell reviewers once per run that new matches wait (the review side's function)."""
    if count <= 0:
        return
    from ibcloud.matching import services  # noqa: PLC0415 - written by the review side

    notify = getattr(services, "notify_review_waiting", None)
    if notify is not None:
        notify(rule_set, count)


def _notify_safely(rule_set: MatchRuleSet, count: int) -> None:
    try:
        _notify(rule_set, count)
    except ImportError:
        pass


# --- Full runs ------------------------------------------------------------------------------------


def _proposals_for(
    configuration: Configuration,
    rule_set: MatchRuleSet | None,
    project_ids: Iterable[int] | None,
    investor_ids: Iterable[int] | None,
    progress: Progress | None,
    stages: dict[str, float] | None = None,
) -> tuple[Proposals, dict]:
    clock = _Clock(stages)
    extra = configuration.fields()
    projects = load_projects(project_ids, extra["project"])
    clock.lap("load_projects")
    if investor_ids is None:
        investors = all_investors(extra["investor"], fresh=True)
    else:
        investors = InvestorSet.of(load_investors(investor_ids, extra["investor"]))
    clock.lap("load_investors")
    existing = _existing(rule_set, None if project_ids is None else [p["id"] for p in projects])
    blocked = _blocked(
        existing,
        {p["id"]: project_fingerprint(p) for p in projects},
        investors.fingerprints(pair[1] for pair in existing),
    )
    clock.lap("existing")
    proposals = compute(configuration, projects, investors, blocked, Context.now(), progress)
    clock.lap("score")
    return proposals, existing


class _Clock:
    """Seconds per stage into ``stages`` (when given)."""

    def __init__(self, stages: dict[str, float] | None) -> None:
        self.stages = stages
        self.last = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        if self.stages is not None:
            self.stages[name] = round(now - self.last, 3)
        self.last = now


def _progress_of(job: Any, low: float = 0, high: float = 90) -> Progress | None:
    if job is None:
        return None
    return lambda fraction, message: job.progress(low + (high - low) * fraction, message)


def run_rule_set(rule_set: MatchRuleSet, *, job: Any = None) -> RunReport:
    """Re-match every project under ``rule_set`` and write the result (see the module doc).

    ``job`` is the running job's context: progress is reported and a cancel request stops the
    run before anything is written."""
    started = time.monotonic()
    stages: dict[str, float] = {}
    configuration = Configuration.of(rule_set)
    proposals, existing = _proposals_for(
        configuration, rule_set, None, None, _progress_of(job), stages
    )
    if job is not None:
        job.progress(90, "writing")
    clock = _Clock(stages)
    changes = diff(existing, proposals)
    clock.lap("diff")
    report = _write(rule_set, changes)
    clock.lap("write")
    report.stages = stages
    report.pairs_scored = proposals.pairs_scored
    report.proposed = len(proposals.pairs)
    report.projects = len(proposals.project_ids)
    report.seconds = time.monotonic() - started
    MatchRuleSet.objects.filter(pk=rule_set.pk).update(last_run_at=timezone.now())
    _notify_safely(rule_set, report.added + report.reopened)
    return report


def active_rule_sets() -> list[MatchRuleSet]:
    return list(MatchRuleSet.objects.filter(is_active=True).order_by("id"))


# --- Incremental runs -----------------------------------------------------------------------------


def match_projects(
    project_ids: Iterable[int], rule_sets: Iterable[MatchRuleSet] | None = None
) -> RunReport:
    """Match the given projects again under each active rule set (or ``rule_sets``): only their
    candidate investors are loaded; their matches are added, rescored or withdrawn."""
    started = time.monotonic()
    ids = sorted(set(project_ids))
    total = RunReport()
    if not ids:
        return total
    for rule_set in rule_sets if rule_sets is not None else active_rule_sets():
        configuration = Configuration.of(rule_set)
        extra = configuration.fields()
        projects = load_projects(ids, extra["project"])
        # every investor, kept in memory while the index stays the same: the blocking
        # postings find the candidates without a query
        investors = all_investors(extra["investor"])
        existing = _existing(rule_set, [p["id"] for p in projects])
        blocked = _blocked(
            existing,
            {p["id"]: project_fingerprint(p) for p in projects},
            investors.fingerprints(pair[1] for pair in existing),
        )
        proposals = compute(configuration, projects, investors, blocked, Context.now())
        report = _write(rule_set, diff(existing, proposals))
        report.pairs_scored = proposals.pairs_scored
        report.proposed = len(proposals.pairs)
        report.projects = len(projects)
        _notify_safely(rule_set, report.added + report.reopened)
        total.merge(report)
    total.seconds = time.monotonic() - started
    return total


def match_investors(
    investor_ids: Iterable[int], rule_sets: Iterable[MatchRuleSet] | None = None
) -> RunReport:
    """After investors changed: re-match the projects whose proposals they can enter or leave.

    Those are the projects where a changed investor now passes the filters and reaches the
    threshold and the project's current weakest proposal (or the project has free slots), and
    the projects where it holds a pending match now."""
    started = time.monotonic()
    ids = sorted(set(investor_ids))
    total = RunReport()
    if not ids:
        return total
    refresh_investor_index(ids)
    for rule_set in rule_sets if rule_sets is not None else active_rule_sets():
        configuration = Configuration.of(rule_set)
        extra = configuration.fields()
        investors = load_investors(ids, extra["investor"])
        affected = set(
            Match.objects.filter(
                rule_set=rule_set, investor_id__in=ids, status=Match.Status.PENDING
            ).values_list("project_id", flat=True)
        )
        if investors:
            affected |= _projects_reached(configuration, rule_set, investors)
        if affected:
            total.merge(match_projects(affected, [rule_set]))
    total.seconds = time.monotonic() - started
    return total


def _projects_reached(
    configuration: Configuration, rule_set: MatchRuleSet, investors: list[dict]
) -> set[int]:
    """Projects where one of ``investors`` would enter the best ``max_per_project``."""
    scorer = Scorer(configuration, Context.now())
    query = Project.objects.all()
    condition = None
    from django.db.models import Q

    for investor in investors:
        q = Q()
        for criterion, item in scorer.blocking:
            part = _project_condition(criterion.kind, investor, item["params"])
            if part is not None:
                q &= part
        condition = q if condition is None else condition | q
    if condition is not None:
        query = query.filter(condition)
    project_ids = list(query.values_list("id", flat=True))
    if not project_ids:
        return set()
    extra = configuration.fields()
    reached: set[int] = set()
    for chunk in _chunks(project_ids, 20_000):
        projects = load_projects(chunk, extra["project"])
        proposals = compute(
            configuration,
            projects,
            investors,
            {},
            Context.now(),
        )
        if not proposals.pairs:
            continue
        weakest: dict[int, tuple[int, float]] = {}
        rows = Match.objects.filter(
            rule_set=rule_set,
            project_id__in=list({p for p, _i in proposals.pairs}),
            status__in=[Match.Status.PENDING, Match.Status.APPROVED],
        ).values_list("project_id", "score")
        for project_id, score in rows:
            count, low = weakest.get(project_id, (0, 101.0))
            weakest[project_id] = (count + 1, min(low, float(score)))
        for (project_id, _investor_id), proposal in proposals.pairs.items():
            count, low = weakest.get(project_id, (0, 101.0))
            if count < configuration.max_per_project or proposal.score >= low:
                reached.add(project_id)
    return reached


def _project_condition(kind: str, investor: dict, params: dict):
    """A database condition on projects that includes every project ``investor`` can pass
    the ``kind`` filter with (a superset; the scorer decides). None: no narrowing."""
    from django.db.models import Q

    if kind == "industry":
        if not investor["industries"]:
            return None if params["any_when_empty"] else Q(pk__in=[])
        sections = {ft.section_of(c) for c in investor["industries"]} - {""}
        q = Q(industry__in=investor["industries"]) | Q(industry_section__in=sections)
        if params["any_when_empty"]:
            q |= Q(industry="", industry_section="")
        return q
    if kind == "round":
        if not investor["rounds"]:
            return None if params["any_when_empty"] else Q(pk__in=[])
        rounds = set(investor["rounds"])
        for code in investor["rounds"]:
            rounds.update(ft.adjacent_rounds(code))
        q = Q(round__in=rounds)
        if params["any_when_empty"]:
            q |= Q(round="")
        return q
    if kind == "region":
        if investor["nationwide"] or not investor["regions"]:
            return None
        provinces = {ft.province_of(c) for c in investor["regions"]}
        q = Q(province_code__in=provinces)
        if params["any_when_empty"]:
            q |= Q(province_code="")
        return q
    return None


# --- Dry runs -------------------------------------------------------------------------------------


def _pairs_digest(added: list, removed: list) -> str:
    return _digest([[p, i] for p, i, _s in added] + ["|"] + [[p, i] for p, i, _s in removed])


def dry_run(
    configuration: dict,
    rule_set: MatchRuleSet | None = None,
    user: Any = None,
    job: Any = None,
) -> DryRun:
    """What ``configuration`` would propose, against the rule set's current pending and approved
    matches; saved as a :class:`DryRun` (lists capped for display, counts exact)."""
    started = time.monotonic()
    config = Configuration.clean(configuration)
    proposals, existing = _proposals_for(config, rule_set, None, None, _progress_of(job))
    changes = diff(existing, proposals)
    added, removed = changes.added_pairs(), changes.removed_pairs()
    current = sum(1 for row in existing.values() if row["status"] in ("pending", "approved"))
    summary = {
        "total": len(proposals.pairs),
        "current": current,
        "added": len(added),
        "removed": len(removed),
        "kept": changes.kept,
        "rescored": len(changes.rescore),
        "reopened": len(changes.reopen),
        "pairs_scored": proposals.pairs_scored,
        "seconds": round(time.monotonic() - started, 3),
        "rule_set_version": rule_set.version if rule_set is not None else None,
        "digest": _pairs_digest(added, removed),
    }
    row = DryRun.objects.create(
        rule_set=rule_set,
        configuration=config.as_dict(),
        created_by=user if getattr(user, "is_authenticated", False) else None,
        job=getattr(job, "job", None),
        summary=summary,
        added=[[p, i, round(s, 2)] for p, i, s in added[:DRY_RUN_LIST_CAP]],
        removed=[[p, i, round(s, 2)] for p, i, s in removed[:DRY_RUN_LIST_CAP]],
    )
    return row


def apply_dry_run(dry_run: DryRun, user: Any) -> RunReport:
    """Save the dry run's configuration into its rule set (version + 1) and write exactly the
    changes it showed. Refuses (ValidationError) when the rule set or the data changed since:
    the user runs a new dry run."""
    rule_set = dry_run.rule_set
    if rule_set is None:
        raise ValidationError("Save the rule set before applying a dry run.")
    rule_set.refresh_from_db()
    if dry_run.summary.get("rule_set_version") != rule_set.version:
        raise ValidationError(
            "The rule set was changed after this dry run; run a new dry run before applying."
        )
    started = time.monotonic()
    config = Configuration.clean(dry_run.configuration)
    proposals, existing = _proposals_for(config, rule_set, None, None, None)
    changes = diff(existing, proposals)
    if _pairs_digest(changes.added_pairs(), changes.removed_pairs()) != dry_run.summary.get(
        "digest"
    ):
        raise ValidationError(
            "The matches this dry run showed are no longer what the rules give (projects, "
            "investors or reviews changed since); run a new dry run before applying."
        )
    rule_set.criteria = config.criteria
    rule_set.threshold = Decimal(str(config.threshold))
    rule_set.max_per_project = config.max_per_project
    rule_set.version += 1
    rule_set.save()
    report = _write(rule_set, changes)
    report.pairs_scored = proposals.pairs_scored
    report.proposed = len(proposals.pairs)
    report.projects = len(proposals.project_ids)
    report.seconds = time.monotonic() - started
    MatchRuleSet.objects.filter(pk=rule_set.pk).update(last_run_at=timezone.now())
    _notify_safely(rule_set, report.added + report.reopened)
    from ibcloud.core.signals import record_sensitive_action

    record_sensitive_action(
        None,
        "matching.dry_run_applied",
        target=rule_set,
        description=f"dry run {dry_run.pk} applied to {rule_set}",
        actor=user if getattr(user, "is_authenticated", False) else None,
        dry_run=dry_run.pk,
        **report.as_dict(),
    )
    return report


def latest_change() -> Any:
    """The newest ``updated_at`` of projects and investors (for the incremental job)."""
    project = Project.objects.aggregate(at=Max("updated_at"))["at"]
    investor = Investor.objects.aggregate(at=Max("updated_at"))["at"]
    return max([d for d in (project, investor) if d], default=None)
