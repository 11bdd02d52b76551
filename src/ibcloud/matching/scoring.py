"""Scoring for the matching engine: the inputs and outputs of a run's computation
(:class:`Configuration`, :class:`InvestorSet`, :class:`Proposals`), the pair fingerprints, and the
scoring itself (:func:`compute`).

Projects whose blocking keys are the same form a group; each group's candidates are looked up
once in the investors' postings and the group × candidates block is scored with numpy
(:meth:`Scorer.block`), in worker processes for large runs. Each project keeps its best
``max_per_project`` investors at or above the threshold (equal scores: lower investor id first),
with the explanation JSON of each pair. Pure: no database access. See docs/matching-engine.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import pickle
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ibcloud.catalog.models import Investor, Project
from ibcloud.matching import features as ft
from ibcloud.matching.criteria import (
    BLOCKING_KINDS,
    CRITERIA,
    SCORE_ITSELF,
    Context,
)
from ibcloud.matching.criteria_validation import validate_configuration
from ibcloud.matching.models import MatchRuleSet

#: block size (pairs) scored at once: bounds memory whatever the group size
BLOCK_PAIRS = 400_000
#: JSON text of explanation values, as json.dumps(..., ensure_ascii=False) writes them compactly
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode
#: explanation item texts kept for reuse before the cache starts over
FRAGMENT_CACHE = 300_000

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


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


def digest(values: Any) -> str:
    """md5 of the values' sorted-key JSON: a short, stable digest of plain data."""
    return hashlib.md5(
        json.dumps(values, default=str, sort_keys=True).encode(), usedforsecurity=False
    ).hexdigest()


def project_fingerprint(project: dict) -> str:
    """The project's match-relevant data: a change here is material (text and tags are not)."""
    return digest(
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
    return digest(
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


# --- Investors ready to score ---------------------------------------------------------------------


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
