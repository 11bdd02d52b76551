"""The ingest pipeline's pure stage: one raw item → its normalized values and all the writer needs.

Runs in the worker processes of a large run (or in-process for small ones, and for the
normalization preview): see :mod:`ibcloud.catalog.ingest` for the pipeline around it.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ibcloud.catalog import cleaning, merge
from ibcloud.catalog.normalization.record import memo_key
from ibcloud.catalog.writes import JSONText, dump_json

logger = logging.getLogger(__name__)


@dataclass
class Prepared:
    """The pure stage's result for one raw item (plain data, crosses process boundaries).

    Besides what a person sees in the preview (normalized fields, ignored keys, verdict), an
    accepted record carries what the writer needs, computed here so the single writer process
    does not: the column values per field, its name keys, dedup region, provenance date, tags,
    and the ``Ingestion.normalized`` JSON text. Across processes the ``normalized`` dict itself
    is left out (the JSON text says the same; :meth:`normalized_values` reads it back).
    """

    raw_item_id: int
    item_type: str
    #: schema field → {"value": JSON, "rule": str, "problem": str, "raw": as found}
    normalized: dict[str, dict]
    ignored: list[str]
    reason_code: str
    reason: str
    #: (name, its key) of the registered name, the short name and the aliases
    name_keys: tuple[tuple[str, str], ...] = ()
    #: text → its search_text (the record's names, summary or description, tags)
    segmented: dict[str, str] = field(default_factory=dict)
    #: what the ``Ingestion.normalized`` column stores, as JSON text (see :meth:`stored_json`)
    normalized_json: str = ""
    #: schema field → its model column values (``merge.field_columns``), accepted records only
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: province code, city code and credit code, as dedup compares them
    region: tuple[str, str, str] = ("", "", "")
    #: when the source published it (provenance; the newest wins among equal trust)
    published: datetime.datetime | None = None
    #: tag names, cut to the column's length
    tags: tuple[str, ...] = ()
    #: an investor's names as published (short name, aliases): the record's aliases
    seen_names: tuple[str, ...] = ()
    #: whether it names investors of a funding round
    has_round: bool = False

    @property
    def keys(self) -> tuple[str, ...]:
        """The name keys dedup probes with, each once, in the order of :attr:`name_keys`."""
        return tuple(dict.fromkeys(key for _name, key in self.name_keys if key))

    def stored_json(self) -> JSONText:
        """The ``Ingestion.normalized`` value: the normalized fields, plus ``_ignored`` keys."""
        if self.normalized_json:
            return JSONText(self.normalized_json)
        return _normalized_json(self.normalized, self.ignored)

    def normalized_values(self) -> dict[str, dict]:
        """The normalized fields (read back from the JSON text after crossing processes)."""
        if not self.normalized and self.normalized_json:
            self.normalized = orjson.loads(str(self.normalized_json))
            self.normalized.pop("_ignored", None)
        return self.normalized

    def __reduce__(self) -> tuple:
        # A flat tuple pickles faster than the instance dict; the JSON text stands in for the
        # normalized dict.
        state = [getattr(self, name) for name in _PREPARED_FIELDS]
        if self.normalized_json:
            state[2] = {}
        return (_restore_prepared, tuple(state))


def _restore_prepared(*state: Any) -> Prepared:
    return Prepared(*state)


_PREPARED_FIELDS = tuple(f.name for f in dataclasses.fields(Prepared))


_rules: Any = None


def set_rules(rules: Any) -> None:
    """The normalization rules :func:`prepare` uses in this process."""
    global _rules
    _rules = rules


def init_worker(rules: Any) -> None:
    """Set up a pool process: Django (when spawned), the rules, a lower priority."""
    import django
    from django.apps import apps

    if not apps.ready:  # spawned (Windows), not forked: set Django up in the child
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ibcloud.settings")
        django.setup()
    set_rules(rules)
    # The single writer (the main process) is the pipeline's bottleneck: when the cores are
    # busy, the workers, which only need to stay a batch ahead of it, give way to it.
    if hasattr(os, "nice"):
        os.nice(WORKER_NICENESS)


def prepare(item: tuple[int, str, Any, str]) -> Prepared:
    """Normalize, judge, key and segment one raw item ``(id, item_type, data, fetched_at iso)``.

    ``data`` is the raw item's data, or its JSON text.
    """
    from ibcloud.catalog.normalization.names import name_key
    from ibcloud.catalog.normalization.record import normalize_record
    from ibcloud.catalog.segmentation import search_text

    raw_item_id, item_type, data, fetched_at = item
    if isinstance(data, str):  # JSON text straight from the database (see _raw_rows)
        try:
            data = orjson.loads(data)
        except ValueError as exc:
            return Prepared(raw_item_id, item_type, {}, [], "broken", f"not JSON: {exc}"[:500])
    verdict = cleaning.check_data(data)
    if not verdict.accepted:
        return Prepared(raw_item_id, item_type, {}, [], verdict.code, verdict.reason)
    reference = datetime.datetime.fromisoformat(fetched_at)
    try:
        record = normalize_record(item_type, data, _rules, reference)
    except Exception as exc:  # noqa: BLE001 - a record the rules choke on is quarantined
        logger.warning("normalizing raw item %s failed", raw_item_id, exc_info=True)
        return Prepared(
            raw_item_id, item_type, {}, [], "broken", f"normalization failed: {exc!r}"[:500]
        )
    verdict = cleaning.check_normalized(data, record, _rules.spam_words if _rules else ())
    raw = getattr(record, "raw", None) or {}
    normalized = {}
    for name, entry in record.fields.items():
        normalized[name] = _entry(name, entry, raw.get(name))
    prepared = Prepared(
        raw_item_id,
        item_type,
        normalized,
        list(getattr(record, "ignored", []) or []),
        verdict.code,
        verdict.reason,
    )
    if not verdict.accepted:
        prepared.normalized_json = prepared.stored_json()
        return prepared
    values = {name: entry["value"] for name, entry in normalized.items()}
    if not values.get("name") and values.get("full_name"):
        # A listing with only the registered name: it is the display name too.
        normalized["name"] = {
            "value": values["full_name"],
            "rule": "no short name: the registered name is used",
            "problem": "",
            "raw": normalized["full_name"].get("raw"),
        }
        values["name"] = values["full_name"]
    names = [values.get("full_name"), values.get("name")]
    if item_type == "investor":
        names.extend(values.get("aliases") or [])
    prepared.name_keys = tuple((str(name), name_key(str(name))) for name in names if name)
    prepared.segmented = {
        part: _segmented(part, search_text) for part in merge.text_parts(item_type, values)
    }
    _writer_values(prepared, values)
    return prepared


#: remembered field entries: ``id`` of a normalization result the normalizer remembered (see
#: ``normalization.record.MEMO_FIELDS``; held here, so the id stays its own) → (the result,
#: its raw value, the entry)
_entries: dict[int, tuple[Any, Any, dict]] = {}
ENTRIES_SIZE = 20_000


def _entry(name: str, result: Any, raw_value: Any) -> dict[str, Any]:
    """The ``Ingestion.normalized`` entry of one field: its value as JSON data, rule, problem
    and the raw value. A result the normalizer remembered for a repeated raw value gives the
    same entry again (built once)."""
    found = _entries.get(id(result))
    if found is not None and found[0] is result and found[1] == raw_value:
        return found[2]
    to_json = merge.to_json
    value = result.value
    entry = {
        "value": to_json(getattr(value, "display", value)),
        "rule": str(result.rule),
        "problem": str(result.problem or ""),
        "raw": to_json(raw_value) if isinstance(raw_value, str | int | float | list) else None,
    }
    if memo_key(name, raw_value) is not None:
        if len(_entries) >= ENTRIES_SIZE:
            _entries.clear()
        _entries[id(result)] = (result, raw_value, entry)
    return entry


def _normalized_json(normalized: dict[str, dict], ignored: list[str]) -> JSONText:
    """The normalized fields plus ``_ignored``, as JSON text."""
    if not ignored:
        return dump_json(normalized)
    return dump_json({**normalized, "_ignored": {"value": ignored}})


def _writer_values(prepared: Prepared, values: dict[str, Any]) -> None:
    """What the writer needs of an accepted record (see :class:`Prepared`)."""
    prepared.columns = merge.field_columns(prepared.item_type, prepared.normalized)
    for field_values in prepared.columns.values():
        for column, value in field_values.items():
            if isinstance(value, datetime.datetime):
                field_values[column] = _shared_zone(value)
    place = values.get("place") if isinstance(values.get("place"), dict) else {}
    credit = values.get("credit_code")
    prepared.region = (
        place.get("province_code") or "",
        place.get("city_code") or "",
        str(credit) if credit else "",
    )
    published = values.get("published_at")
    prepared.published = _shared_zone(merge._datetime(published)) if published else None
    prepared.tags = tuple(str(t)[:50] for t in values.get("tags") or [] if t)
    if prepared.item_type == "investor":
        prepared.seen_names = (
            str(values.get("name") or ""),
            *(str(a) for a in values.get("aliases") or []),
        )
    prepared.has_round = bool(values.get("investor_names"))
    prepared.normalized_json = prepared.stored_json()


#: one instance per fixed UTC offset (see :func:`_shared_zone`)
_zones: dict[tuple, datetime.tzinfo] = {}


def _shared_zone(moment: datetime.datetime | None) -> datetime.datetime | None:
    """``moment`` with the process's one instance of its fixed-offset zone.

    ``fromisoformat`` makes a new zone object per parsed "+08:00"; pickled back to the writer,
    each was rebuilt apart (a quarter of the cost of reading a record's results), while pickle
    sends an object shared across a batch once. The value, its offset and name are unchanged.
    """
    if moment is None or type(moment.tzinfo) is not datetime.timezone:
        return moment
    zone = moment.tzinfo
    shared = _zones.setdefault((moment.utcoffset(), moment.tzname()), zone)
    return moment if shared is zone else moment.replace(tzinfo=shared)


#: how much lower the pool's scheduling priority is than the writer's (POSIX ``nice``)
WORKER_NICENESS = 5

#: texts segmented by this process lately: sources repeat each other's names and summaries
_segmented_cache: dict[str, str] = {}
SEGMENTED_CACHE_SIZE = 50_000


def _segmented(text: str, search_text: Callable[..., str]) -> str:
    found = _segmented_cache.get(text)
    if found is None:
        if len(_segmented_cache) >= SEGMENTED_CACHE_SIZE:
            _segmented_cache.clear()
        found = _segmented_cache[text] = search_text(text)
    return found


def prepare_many(items: list[tuple[int, str, Any, str]]) -> list[Prepared]:
    """:func:`prepare` over a batch (one task for the process pool)."""
    return [prepare(item) for item in items]
