"""Deciding whether an incoming record is a catalog record we already have (pure, no database).

The pipeline (:mod:`ibcloud.catalog.ingest`) describes the incoming record as a :class:`Probe` and
each catalog record near it as a :class:`Candidate`, finds the candidates through a
:class:`CandidateIndex` (blocking: only records sharing a name-key prefix are ever compared, never
all pairs), and asks :func:`decide` for a :class:`Decision` with a human-readable reason.

The evidence, strongest first (see ``docs/catalog-ingest.md``):

1. **Credit code**: the same unified social credit code is the same company, whatever the names
   and places say. *Different* credit codes are never the same company.
2. **Name key**: the same company-name matching key (``normalization.names.name_key``, computed
   from the registered name and from the short name).
3. **Short name within the registered name**: one key starts with the other, the shorter one
   having at least :data:`MIN_CONTAINED_LENGTH` characters ("云图智能" / "云图智能科技").
4. **Similar names**: rapidfuzz ``ratio`` of the keys at least :data:`SIMILARITY_THRESHOLD`
   (a typo or a variant of a long name; "星河智能" / "星河智联" score 75 and stay apart).

Levels 2-4 are vetoed by a conflicting region: both sides know the province and they differ, or
both know the city and they differ. So "云图智能" in 深圳 and "云途智能" in 杭州, or two
"云图智能" in different cities, stay apart.

Among the candidates that pass, the strongest level wins, then the higher score, then the one
whose region agrees most (same city, then same province), then the lowest id. A probe without a
region whose best match exists in several provinces is ambiguous: it goes to the candidate that
has no region either (where such records went before) or, if there is none, becomes a new record.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

#: rapidfuzz ``ratio`` (0-100) from which two name keys are near-duplicates
SIMILARITY_THRESHOLD = 88.0
#: the shorter key must be at least this long to count as the start of the longer one
MIN_CONTAINED_LENGTH = 3
#: name-key prefix length the candidates are blocked on
BLOCK_PREFIX = 2

# Levels of evidence, strongest last so ``max`` picks the strongest.
SIMILAR, CONTAINED, SAME_KEY, CREDIT_CODE = 1, 2, 3, 4
LEVEL_CODES = {
    SIMILAR: "similar",
    CONTAINED: "contained",
    SAME_KEY: "name_key",
    CREDIT_CODE: "credit_code",
}


@dataclass(frozen=True)
class Probe:
    """An incoming record as dedup sees it: its name keys, region and credit code."""

    keys: tuple[str, ...]
    province_code: str = ""
    city_code: str = ""
    credit_code: str = ""


@dataclass(frozen=True)
class Candidate:
    """A catalog record as dedup sees it (registered-name key, short-name key, aliases' keys)."""

    id: int
    keys: tuple[str, ...]
    province_code: str = ""
    city_code: str = ""
    credit_code: str = ""


@dataclass(frozen=True)
class Decision:
    """The verdict on a probe: the matching candidate's id (None: a new record) and why."""

    candidate_id: int | None
    code: str
    reason: str
    score: float = 0.0


#: keys up to this long are indexed by their deletion variants (one deletion each); longer
#: ones are few and compared one by one
VARIANT_MAX_LENGTH = 7


@functools.lru_cache(maxsize=50_000)
def deletion_variants(key: str) -> tuple[str, ...]:
    """``key`` and the strings made by deleting up to ``int(0.28 * len(key))`` of its characters.

    ``fuzz.ratio`` is 100 × (1 − d / (m + n)) for the insertions and deletions d that turn one
    key (length m) into the other (n): at the threshold (88), d ≤ 0.12 (m + n) and the longer
    key is at most 1.28 times the shorter, so each key loses at most 0.273 × its length to
    reach their longest common subsequence. That subsequence is a variant of both: two keys
    similar enough always share a variant.
    """
    depth = int(len(key) * 0.28)
    found = {key}
    for count in range(1, depth + 1):
        for positions in itertools.combinations(range(len(key)), count):
            kept, start = [], 0
            for position in positions:
                kept.append(key[start:position])
                start = position + 1
            kept.append(key[start:])
            found.add("".join(kept))
    return tuple(found)


def block_of(key: str) -> str:
    """The blocking key of a name key: its first :data:`BLOCK_PREFIX` characters."""
    return key[:BLOCK_PREFIX]


def region_conflict(probe: Probe, candidate: Candidate) -> str:
    """Why the two cannot be the same company by their regions ("" when they can)."""
    if probe.province_code and candidate.province_code:
        if probe.province_code != candidate.province_code:
            return f"different provinces ({probe.province_code} / {candidate.province_code})"
    if probe.city_code and candidate.city_code and probe.city_code != candidate.city_code:
        return f"different cities ({probe.city_code} / {candidate.city_code})"
    return ""


def region_agreement(probe: Probe, candidate: Candidate) -> int:
    """2: same city, 1: same province, 0: not known on both sides."""
    if probe.city_code and probe.city_code == candidate.city_code:
        return 2
    if probe.province_code and probe.province_code == candidate.province_code:
        return 1
    return 0


def name_evidence(probe_keys: Iterable[str], candidate_keys: Iterable[str]) -> tuple[int, float]:
    """The strongest name evidence between two sets of keys: (level, score), (0, best) if none."""
    best_level, best_score = 0, 0.0
    candidate_keys = [key for key in candidate_keys if key]
    for key in probe_keys:
        if not key:
            continue
        for other in candidate_keys:
            if key == other:
                return SAME_KEY, 100.0
            shorter, longer = (key, other) if len(key) <= len(other) else (other, key)
            if len(shorter) >= MIN_CONTAINED_LENGTH and longer.startswith(shorter):
                score = 100.0 * len(shorter) / len(longer)
                if (CONTAINED, score) > (best_level, best_score):
                    best_level, best_score = CONTAINED, score
                continue
            score = fuzz.ratio(key, other, score_cutoff=SIMILARITY_THRESHOLD)
            if score and (SIMILAR, score) > (best_level, best_score):
                best_level, best_score = SIMILAR, score
            elif best_level == 0:
                best_score = max(best_score, fuzz.ratio(key, other))
    return best_level, best_score


def compare(probe: Probe, candidate: Candidate) -> Decision | None:
    """The evidence that ``probe`` is ``candidate`` as a decision, or None when it is not."""
    if probe.credit_code and candidate.credit_code:
        if probe.credit_code == candidate.credit_code:
            return Decision(candidate.id, "credit_code", "same credit code", 100.0)
        return None
    if region_conflict(probe, candidate):  # first: it is cheap, and vetoes most candidates
        return None
    level, score = name_evidence(probe.keys, candidate.keys)
    if not level:
        return None
    return Decision(candidate.id, LEVEL_CODES[level], _reason(level, score), score)


def _reason(level: int, score: float) -> str:
    if level == SAME_KEY:
        return "same name key"
    if level == CONTAINED:
        return "short name is the start of the registered name"
    return f"similar names (similarity {score:.0f})"


def decide(probe: Probe, candidates: Iterable[Candidate]) -> Decision:
    """Which of ``candidates`` the probe is, by the rules in the module docstring."""
    scored: list[tuple[tuple, Candidate, Decision]] = []
    levels = {code: level for level, code in LEVEL_CODES.items()}
    for candidate in candidates:
        decision = compare(probe, candidate)
        if decision is None:
            continue
        rank = (
            levels[decision.code],
            decision.score,
            region_agreement(probe, candidate),
            -candidate.id,
        )
        scored.append((rank, candidate, decision))
    if not scored:
        return Decision(None, "new", "no matching record")
    scored.sort(key=lambda item: item[0], reverse=True)
    best_rank, best, decision = scored[0]
    if probe.province_code or decision.code == "credit_code":
        return decision
    # A probe without a region: ties in other provinces make the choice ambiguous.
    tied = [c for rank, c, _d in scored if rank[:2] == best_rank[:2]]
    provinces = {c.province_code for c in tied if c.province_code}
    if len(provinces) <= 1:
        return decision
    unplaced = [c for c in tied if not c.province_code]
    if unplaced:
        chosen = min(unplaced, key=lambda c: c.id)
        return Decision(
            chosen.id,
            decision.code,
            decision.reason + "; region unknown, matched the record without a region",
            decision.score,
        )
    return Decision(
        None,
        "ambiguous",
        "region unknown and records with this name exist in several provinces",
        decision.score,
    )


@dataclass
class CandidateIndex:
    """Catalog records held for dedup, with the lookups :func:`decide` needs.

    Exact keys and key prefixes are dictionary lookups; similar names are searched with rapidfuzz
    only among the keys of the probe's block (same first :data:`BLOCK_PREFIX` characters). The
    pipeline fills it block by block from the database (:meth:`missing_blocks` says which blocks
    a batch needs) and adds the records it creates or changes.
    """

    candidates: dict[int, Candidate] = field(default_factory=dict)
    #: name key → ids of the records with that key
    exact: dict[str, set[int]] = field(default_factory=dict)
    #: proper prefix (at least MIN_CONTAINED_LENGTH long) of a key → ids of the records
    prefixes: dict[str, set[int]] = field(default_factory=dict)
    #: block → the keys in it
    block_keys: dict[str, set[str]] = field(default_factory=dict)
    #: deletion variant (see :func:`deletion_variants`) → the keys of at most
    #: :data:`VARIANT_MAX_LENGTH` characters that have it
    variants: dict[str, set[str]] = field(default_factory=dict)
    #: block → its keys longer than :data:`VARIANT_MAX_LENGTH` (compared one by one)
    long_keys: dict[str, set[str]] = field(default_factory=dict)
    credit_codes: dict[str, int] = field(default_factory=dict)
    loaded: set[str] = field(default_factory=set)

    def missing_blocks(self, probes: Iterable[Probe]) -> set[str]:
        """The blocks ``probes`` need that have not been loaded yet."""
        wanted = {block_of(key) for probe in probes for key in probe.keys if key}
        return wanted - self.loaded

    def mark_loaded(self, blocks: Iterable[str]) -> None:
        """Record that ``blocks`` are loaded (even when no record was in them)."""
        self.loaded.update(blocks)

    def add(self, candidate: Candidate) -> None:
        """Add or replace a record (after it was created or its names or region changed)."""
        old = self.candidates.get(candidate.id)
        if old == candidate:
            return
        keys = {key for key in candidate.keys if key}
        old_keys: set[str] = set()
        if old is not None:
            # Only what changed is touched: the pipeline re-adds each record it merges into.
            old_keys = {key for key in old.keys if key}
            self._forget(candidate.id, old_keys - keys)
            if old.credit_code and self.credit_codes.get(old.credit_code) == candidate.id:
                del self.credit_codes[old.credit_code]
        self.candidates[candidate.id] = candidate
        for key in keys - old_keys:
            holders = self.exact.get(key)
            if holders is None:
                holders = self.exact[key] = set()
                self._add_key(key)
            holders.add(candidate.id)
            for end in range(MIN_CONTAINED_LENGTH, len(key)):
                self.prefixes.setdefault(key[:end], set()).add(candidate.id)
        if candidate.credit_code:
            self.credit_codes[candidate.credit_code] = candidate.id

    def remove(self, candidate_id: int) -> None:
        """Forget a record (deleted, or merged into another)."""
        old = self.candidates.pop(candidate_id, None)
        if old is None:
            return
        self._forget(candidate_id, {key for key in old.keys if key})
        if old.credit_code and self.credit_codes.get(old.credit_code) == candidate_id:
            del self.credit_codes[old.credit_code]

    def _forget(self, candidate_id: int, keys: Iterable[str]) -> None:
        for key in keys:
            holders = self.exact.get(key)
            if holders is not None:
                holders.discard(candidate_id)
                if not holders:
                    del self.exact[key]
                    self._remove_key(key)
            for end in range(MIN_CONTAINED_LENGTH, len(key)):
                members = self.prefixes.get(key[:end])
                if members is not None:
                    members.discard(candidate_id)

    def _add_key(self, key: str) -> None:
        block = block_of(key)
        self.block_keys.setdefault(block, set()).add(key)
        if len(key) > VARIANT_MAX_LENGTH:
            self.long_keys.setdefault(block, set()).add(key)
            return
        for variant in deletion_variants(key):
            self.variants.setdefault(variant, set()).add(key)

    def _remove_key(self, key: str) -> None:
        block = block_of(key)
        self.block_keys.get(block, set()).discard(key)
        if len(key) > VARIANT_MAX_LENGTH:
            self.long_keys.get(block, set()).discard(key)
            return
        for variant in deletion_variants(key):
            keys = self.variants.get(variant)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.variants[variant]

    def similar_pool(self, key: str) -> list[str]:
        """The keys of ``key``'s block that may be similar to it: every key whose ``fuzz.ratio``
        with ``key`` reaches :data:`SIMILARITY_THRESHOLD`, and a few more.

        Two keys that similar differ by few insertions and deletions, so they share a deletion
        variant (see :func:`deletion_variants`); only long keys are compared one by one.
        """
        block = block_of(key)
        if len(key) > VARIANT_MAX_LENGTH:
            return list(self.block_keys.get(block, ()))
        found: set[str] = set()
        for variant in deletion_variants(key):
            keys = self.variants.get(variant)
            if keys:
                found.update(keys)
        pool = [other for other in found if other.startswith(block)]
        pool.extend(self.long_keys.get(block, ()))
        return pool

    def holder_of(self, credit_code: str) -> int | None:
        """The record holding ``credit_code``, if it is known here."""
        return self.credit_codes.get(credit_code) if credit_code else None

    def candidates_for(self, probe: Probe) -> list[Candidate]:
        """The records with any name evidence for the probe (never the whole catalog)."""
        ids: set[int] = set()
        for key in probe.keys:
            if not key:
                continue
            ids |= self.exact.get(key, set())
            ids |= self.prefixes.get(key, set())  # records whose key starts with this one
            for end in range(MIN_CONTAINED_LENGTH, len(key)):  # records whose key starts it
                ids |= self.exact.get(key[:end], set())
            keys = self.similar_pool(key)
            if keys:
                # Every key above the threshold, not the best n: with a cap, which of several
                # equally similar keys were kept depended on set order (it varied run to run).
                for similar, _score, _index in process.extract(
                    key, keys, scorer=fuzz.ratio, score_cutoff=SIMILARITY_THRESHOLD, limit=None
                ):
                    ids |= self.exact.get(similar, set())
        return [self.candidates[i] for i in sorted(ids) if i in self.candidates]

    def same_key_candidates(self, probe: Probe) -> list[Candidate]:
        """The records holding one of the probe's keys exactly."""
        ids: set[int] = set()
        for key in probe.keys:
            if key:
                ids |= self.exact.get(key, set())
        return [self.candidates[i] for i in sorted(ids) if i in self.candidates]

    def find(self, probe: Probe) -> Decision:
        """:func:`decide` over the probe's candidates (the credit code holder first)."""
        holder = self.holder_of(probe.credit_code)
        if holder is not None:
            return Decision(holder, "credit_code", "same credit code", 100.0)
        # No candidate shares the probe's credit code (it would be the holder), so the strongest
        # evidence left is the same name key. When a record with the same key passes, weaker
        # evidence can neither win nor tie with it: the same decision comes from those records
        # alone, without the similarity search (most merges are found this way).
        same = self.same_key_candidates(probe)
        if same:
            decision = decide(probe, same)
            if decision.code != "new":
                return decision
        return decide(probe, self.candidates_for(probe))


def similar_keys(key: str, keys: Iterable[str], limit: int = 10) -> list[tuple[str, float]]:
    """The ``keys`` most similar to ``key`` with their rapidfuzz ratio (for suggestions)."""
    found = process.extract(key, list(keys), scorer=fuzz.ratio, limit=limit, score_cutoff=50)
    return [(match, float(score)) for match, score, _index in found]
