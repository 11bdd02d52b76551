"""Writing a run's proposals: the rule set's existing matches, the pairs not to propose, the
difference (:func:`diff`) and its write (:func:`write`), and the reviewers' notice.

Against the rule set's existing matches:

* a new pair → a pending match; a withdrawn pair proposed again → pending (both "added");
* a rejected pair is skipped while its fingerprint (``scoring.fingerprint_of``) is unchanged;
  when the data changed materially it is proposed again ("reopened": pending, review fields
  cleared);
* unmatched pairs are skipped (a reviewer took them back), approved ones stay as they are;
* a pending match no longer proposed → withdrawn; a pending one still proposed gets its new score.

See docs/matching-engine.md.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connections, router, transaction
from django.utils import timezone

from ibcloud.matching.models import Match, MatchRuleSet
from ibcloud.matching.scoring import Proposal, Proposals, pair_fingerprint

#: rows per bulk write
BATCH = 2_000
#: new matches per insert transaction
INSERT_BATCH = 20_000
#: SQLite page cache while a run inserts (KiB)
LARGE_WRITE_CACHE_KB = 256 * 1024
#: statuses a run never changes


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


def chunks(values: list, size: int) -> Iterable[list]:
    """``values`` in slices of at most ``size`` (bounded queries and transactions)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- Existing matches and writes ------------------------------------------------------------------


def existing_matches(rule_set: MatchRuleSet | None, project_ids: Iterable[int] | None) -> dict:
    """(project, investor) → {id, status, score, fingerprint} of the rule set's matches."""
    if rule_set is None or rule_set.pk is None:
        return {}
    rows = Match.objects.filter(rule_set=rule_set)
    if project_ids is not None:
        ids = list(project_ids)
        found = {}
        for chunk in chunks(ids, 5000):
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


def blocked_pairs(existing: dict, project_prints: dict[int, str], investor_prints: dict[int, str]):
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


def write(rule_set: MatchRuleSet, changes: Diff) -> RunReport:
    """Apply a diff. Rows whose status a person changed meanwhile are left alone."""
    now = timezone.now()
    report = RunReport(kept=changes.kept)
    report.added += _insert(rule_set, changes.create, now)

    def update(pairs: list[tuple[dict, Proposal]], expected: str, pending: bool) -> int:
        count = 0
        for chunk in chunks(pairs, BATCH):
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
    for chunk in chunks([row["id"] for row in changes.withdraw], BATCH):
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
        for chunk in chunks(rows, INSERT_BATCH):
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


def notify_reviewers(rule_set: MatchRuleSet, count: int) -> None:
    """Tell reviewers once per run that new matches wait."""
    if count <= 0:
        return
    # imported here: the review services import the engine, which imports this module
    from ibcloud.matching import services

    services.notify_review_waiting(rule_set, count)
