"""The conflict policy: which value a catalog record keeps when sources disagree, with provenance.

A record's values come from the raw items linked to it (their ``Ingestion.normalized`` values).
For each schema field (``name``, ``place``, ``amount``...; see :data:`PROJECT_COLUMNS` and
:data:`INVESTOR_COLUMNS` for the model columns each one fills):

1. a value a person entered (provenance ``{"kind": "manual"}``) stays until the mark is cleared;
   so does a value whose origin is unknown (no provenance: entered before provenance existed);
2. an empty value (missing, not recognized, an undisclosed amount) never overwrites anything;
3. otherwise the value of the highest-ranked contribution wins. The rank (:func:`rank`) is the
   source's trust (``CrawlSource.trust``, 0-100), then the newest record (its ``published_at``,
   else the raw item's ``fetched_at``), then the lowest raw item id.

Because the winner is a maximum over a total order, applying contributions one at a time in any
order gives the same record as computing it from all of them at once: the pipeline applies each
new raw item as it comes; manual merge and split recompute from the linked ingestions
(:func:`recompute`). Either way, running again over the same raw items changes nothing.

Provenance per field: ``{"kind": "source", "source": id, "source_name", "trust", "url",
"fetched_at", "published_at", "raw_item": id}`` or ``{"kind": "manual", "user": id, "username",
"at"}``. Tags (a union) and investors' aliases (every other name seen) have no per-field rank.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from ibcloud.catalog.models import Ingestion, Tag
from ibcloud.core.signals import record_sensitive_action

#: schema field → the model columns it fills (projects)
PROJECT_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "full_name": ("full_name",),
    "credit_code": ("credit_code",),
    "place": ("province_code", "province", "city_code", "city"),
    "industry": ("industry_section", "industry"),
    "round": ("round",),
    "amount": ("amount_low", "amount_high", "amount_currency", "amount_text"),
    "valuation": ("valuation",),
    "share_offered": ("share_offered",),
    "use_of_funds": ("use_of_funds",),
    "summary": ("summary",),
    "website": ("website",),
    "founded_on": ("founded_on",),
    "published_at": ("published_at",),
}
#: schema field → the model columns it fills (investors)
INVESTOR_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "full_name": ("full_name",),
    "credit_code": ("credit_code",),
    "investor_type": ("investor_type",),
    "capital_type": ("capital_type",),
    "fund_size": ("fund_size_low", "fund_size_high", "fund_size_text"),
    "place": ("province_code", "province", "city_code", "city"),
    "founded_on": ("founded_on",),
    "description": ("description",),
    "website": ("website",),
    "preferred_industries": ("preferred_industries",),
    "preferred_rounds": ("preferred_rounds",),
    "preferred_regions": ("preferred_regions",),
    "nationwide": ("nationwide",),
    "ticket": ("ticket_min", "ticket_max", "ticket_text"),
    "published_at": ("published_at",),
}
COLUMNS = {"project": PROJECT_COLUMNS, "investor": INVESTOR_COLUMNS}
#: text columns cut to their model's max_length
MAX_LENGTHS = {
    "name": 200,
    "full_name": 300,
    "credit_code": 18,
    "website": 500,
    "amount_text": 100,
    "fund_size_text": 100,
    "ticket_text": 100,
    "round": 20,
    "investor_type": 20,
    "capital_type": 10,
    "province": 30,
    "city": 30,
}
_NULLABLE = {
    "amount_low", "amount_high", "valuation", "share_offered", "founded_on", "published_at",
    "fund_size_low", "fund_size_high", "ticket_min", "ticket_max",
}  # fmt: skip
_LISTS = {"preferred_industries", "preferred_rounds", "preferred_regions"}


# --- Values ------------------------------------------------------------------------------------


#: dataclass → its field names (``dataclasses.fields`` is slow for a per-value call)
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def to_json(value: Any) -> Any:
    """A normalized value (dataclasses, dates, decimals) as plain JSON data."""
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    names = _FIELD_NAMES.get(type(value))
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES[type(value)] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return {name: to_json(getattr(value, name)) for name in names}
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    return value


def empty_value(column: str) -> Any:
    """What a column holds when it has no value."""
    if column in _NULLABLE:
        return None
    if column in _LISTS:
        return []
    if column == "nationwide":
        return False
    return ""


def _text(value: Any, column: str) -> str:
    text = str(value or "").strip()
    limit = MAX_LENGTHS.get(column)
    return text[:limit] if limit else text


def _amount(value: dict, raw: Any, prefix: str, low: str, high: str) -> dict | None:
    if not isinstance(value, dict) or not value.get("disclosed", True):
        return None
    if value.get("low") is None and value.get("high") is None:
        return None
    return {
        f"{prefix}{low}": value.get("low"),
        f"{prefix}{high}": value.get("high"),
        **({f"{prefix}currency": value.get("currency") or ""} if prefix == "amount_" else {}),
        f"{prefix}text": _text(raw if isinstance(raw, str) else "", f"{prefix}text"),
    }


def _date(value: Any) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _datetime(value: Any) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        try:
            moment = datetime.datetime.fromisoformat(str(value))
        except ValueError:
            return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


@functools.lru_cache(maxsize=50_000)
def _moment(text: str) -> datetime.datetime:
    # rank() parses the same provenance stamps for every field of every record it compares
    return _datetime(text) or _MIN_MOMENT


_MIN_MOMENT = datetime.datetime.min.replace(tzinfo=datetime.UTC)


def column_values(item_type: str, field: str, entry: dict | None) -> dict[str, Any] | None:
    """The model column values of one normalized field entry; None when it has no value.

    ``entry`` is an ``Ingestion.normalized`` item: ``{"value": JSON, "raw": ..., "rule": ...}``.
    """
    if not entry:
        return None
    value, raw = entry.get("value"), entry.get("raw")
    if value is None or value == "" or value == [] or value is False:
        return None
    if isinstance(value, dict) and "display" in value:  # a company name
        value = value.get("display")
    if field == "amount":
        return _amount(value, raw, "amount_", "low", "high")
    if field == "fund_size":
        return _amount(value, raw, "fund_size_", "low", "high")
    if field == "ticket":
        return _amount(value, raw, "ticket_", "min", "max")
    if field == "valuation":
        if not isinstance(value, dict) or not value.get("disclosed", True):
            return None
        amount = value.get("low") if value.get("low") is not None else value.get("high")
        return None if amount is None else {"valuation": amount}
    if field == "place":
        if not isinstance(value, dict) or not value.get("province_code"):
            return None
        return {
            "province_code": value.get("province_code") or "",
            "province": _text(value.get("province"), "province"),
            "city_code": value.get("city_code") or "",
            "city": _text(value.get("city"), "city"),
        }
    if field == "industry":
        if not isinstance(value, dict) or not value.get("section"):
            return None
        return {
            "industry_section": value.get("section") or "",
            "industry": value.get("division") or "",
        }
    if field == "founded_on":
        found = _date(value)
        return None if found is None else {"founded_on": found}
    if field == "published_at":
        found = _datetime(value)
        return None if found is None else {"published_at": found}
    if field == "share_offered":
        try:
            return {"share_offered": Decimal(str(value)).quantize(Decimal("0.01"))}
        except ArithmeticError:
            return None
    columns = COLUMNS[item_type].get(field)
    if not columns:
        return None
    (column,) = columns
    if column in _LISTS:
        items = [str(item) for item in value] if isinstance(value, list) else [str(value)]
        return {column: sorted(set(items))} if items else None
    if column == "nationwide":
        return {"nationwide": True} if value else None
    text = _text(value, column)
    return {column: text} if text else None


def has_value(entity: Any, columns: Iterable[str]) -> bool:
    """Whether any of ``columns`` holds a value on ``entity``."""
    for column in columns:
        if getattr(entity, column) not in _EMPTY:
            return True
    return False


_EMPTY = (None, "", [], False)


# --- The policy --------------------------------------------------------------------------------


def source_provenance(
    raw_item_id: int,
    source_id: int,
    source_name: str,
    trust: int,
    url: str,
    fetched_at: datetime.datetime,
    published_at: datetime.datetime | None = None,
) -> dict[str, Any]:
    """The provenance of values contributed by one raw item."""
    return {
        "kind": "source",
        "source": source_id,
        "source_name": source_name,
        "trust": trust,
        "url": url,
        "fetched_at": fetched_at.isoformat() if fetched_at else None,
        "published_at": published_at.isoformat() if published_at else None,
        "raw_item": raw_item_id,
    }


def manual_provenance(user: Any, at: datetime.datetime | None = None) -> dict[str, Any]:
    """The provenance of a value a person entered."""
    return {
        "kind": "manual",
        "user": getattr(user, "pk", None),
        "username": getattr(user, "username", "") or "",
        "at": (at or timezone.now()).isoformat(),
    }


def rank(provenance: dict[str, Any]) -> tuple:
    """The policy's order of contributions: higher wins (trust, newest, lowest raw item id)."""
    moment = provenance.get("published_at") or provenance.get("fetched_at") or ""
    return (
        int(provenance.get("trust") or 0),
        _moment(moment) if isinstance(moment, str) else (_datetime(moment) or _MIN_MOMENT),
        -int(provenance.get("raw_item") or 0),
    )


def wins(
    incoming: dict[str, Any],
    current: dict[str, Any] | None,
    current_has_value: bool,
    ranks: dict[int, tuple] | None = None,
) -> bool:
    """Whether a contribution with provenance ``incoming`` replaces the current value.

    ``ranks`` (provenance ``id`` → :func:`rank`) lets a caller comparing the same provenances
    field after field rank each once; the dicts must stay alive while it is used.
    """
    if current is None:
        return not current_has_value  # a value of unknown origin is kept like a manual one
    if current.get("kind") == "manual":
        return False
    if not current_has_value:
        return True
    if current.get("raw_item") == incoming.get("raw_item"):
        return True  # the same raw item again (re-processed after a rule change)
    if ranks is None:
        return rank(incoming) > rank(current)
    mine = ranks.get(id(incoming))
    if mine is None:
        mine = ranks[id(incoming)] = rank(incoming)
    theirs = ranks.get(id(current))
    if theirs is None:
        theirs = ranks[id(current)] = rank(current)
    return mine > theirs


def field_columns(item_type: str, normalized: dict[str, dict]) -> dict[str, dict[str, Any]]:
    """The column values of each field of ``normalized`` that has a value (schema order).

    Pure, so the ingest pipeline computes it in its worker processes.
    """
    found = {}
    for field in COLUMNS[item_type]:
        entry = normalized.get(field)
        if entry:
            values = column_values(item_type, field, entry)
            if values is not None:
                found[field] = values
    return found


def apply_values(
    entity: Any,
    item_type: str,
    normalized: dict[str, dict],
    provenance: dict[str, Any],
    columns: dict[str, dict[str, Any]] | None = None,
) -> set[str]:
    """Apply one raw item's normalized values to ``entity`` by the policy; the changed fields.

    Sets the winning columns and their provenance; does not save. ``columns`` is
    :func:`field_columns` of ``normalized`` when the caller has it already.
    """
    changed: set[str] = set()
    record_provenance = entity.provenance
    if columns is None:
        columns = field_columns(item_type, normalized)
    all_columns = COLUMNS[item_type]
    ranks: dict[int, tuple] = {}  # the fields of a record mostly share a few provenances
    for field, values in columns.items():
        columns_of_field = all_columns[field]
        current = record_provenance.get(field)
        if not wins(provenance, current, has_value(entity, columns_of_field), ranks):
            continue
        for column in columns_of_field:
            new = values.get(column, empty_value(column))
            if getattr(entity, column) != new:
                setattr(entity, column, new)
                changed.add(field)
        if current != provenance:
            record_provenance[field] = provenance
            changed.add(field)
    return changed


def reset_values(entity: Any, item_type: str) -> None:
    """Empty every field that came from a source (manual values stay), before a recompute."""
    for field, columns in COLUMNS[item_type].items():
        current = entity.provenance.get(field)
        if current is None and has_value(entity, columns):
            continue  # unknown origin: kept
        if current is not None and current.get("kind") == "manual":
            continue
        for column in columns:
            setattr(entity, column, empty_value(column))
        entity.provenance.pop(field, None)


def recompute(
    entity: Any, item_type: str, contributions: Iterable[tuple[dict[str, dict], dict[str, Any]]]
) -> None:
    """Rebuild ``entity``'s source values from all its contributions (normalized, provenance)."""
    reset_values(entity, item_type)
    for normalized, provenance in contributions:
        apply_values(entity, item_type, normalized, provenance)


def mark_manual(entity: Any, item_type: str, fields: Iterable[str], user: Any) -> list[str]:
    """Mark ``fields`` (schema fields or columns) as entered by ``user``; returns those marked."""
    by_column = {
        column: field for field, columns in COLUMNS[item_type].items() for column in columns
    }
    marked: list[str] = []
    stamp = manual_provenance(user)
    for name in fields:
        field = name if name in COLUMNS[item_type] else by_column.get(name)
        if field and field not in marked:
            entity.provenance[field] = dict(stamp)
            marked.append(field)
    return marked


def merged_aliases(
    current: Iterable[str], names: Iterable[str], keep_out: Iterable[str]
) -> list[str]:
    """Aliases: every name seen (``current`` and ``names``) except the record's own names."""
    excluded = {name for name in keep_out if name}
    return sorted({name for name in [*current, *names] if name and name not in excluded})


# --- Records (database): recompute, merge, split -----------------------------------------------


def text_parts(item_type: str, values: dict[str, Any]) -> list[str]:
    """The texts a record is searched by, in order: names, summary/description, tags."""
    text_field = "summary" if item_type == "project" else "description"
    parts = [values.get("name"), values.get("full_name")]
    if item_type == "investor":
        parts.extend(values.get("aliases") or [])
    parts.append(values.get(text_field))
    parts.extend(values.get("tags") or [])
    return [str(part) for part in parts if part]


def entity_key(entity: Any) -> str:
    """The record's name key: of its registered name, else of its short name."""
    return cached_name_key(entity.full_name or entity.name or "")[:200]


#: name → its key, remembered (see :func:`cached_name_key`)
_name_keys: dict[str, str] = {}
NAME_KEYS_SIZE = 100_000


def cached_name_key(name: str) -> str:
    """``normalization.names.name_key`` remembered (a pure function the writer calls often)."""
    found = _name_keys.get(name)
    if found is None:
        from ibcloud.catalog.normalization.names import name_key

        found = name_key(name)
        remember_name_keys(((name, found),))
    return found


def remember_name_keys(pairs: Iterable[tuple[str, str]]) -> None:
    """Remember names' keys computed elsewhere (the ingest workers key every name they see,
    so the single writer need not key them again)."""
    for name, key in pairs:
        if len(_name_keys) >= NAME_KEYS_SIZE:
            _name_keys.clear()
        _name_keys[name] = key


def contributions(item_type: str, ingestions: Iterable[Ingestion]) -> list[tuple[dict, dict]]:
    """(normalized, provenance) of each ingestion, with its source's current trust."""
    result = []
    for ingestion in ingestions:
        raw = ingestion.raw_item
        source = raw.source
        published = ingestion.normalized.get("published_at", {}).get("value")
        provenance = source_provenance(
            raw.pk,
            source.pk,
            source.name,
            source.trust,
            raw.url,
            raw.fetched_at,
            _datetime(published) if published else None,
        )
        result.append((ingestion.normalized, provenance))
    return result


def recompute_entity(
    entity: Any, item_type: str, *, save: bool = True, keep_aliases: bool = True
) -> Any:
    """Rebuild a record's source values, aliases, tags and search text from its ingestions.

    ``keep_aliases`` False rebuilds an investor's aliases from its ingestions alone (after a
    split, so the split-off names do not pull that company's records back in).
    """
    relation = "project" if item_type == "project" else "investor"
    ingestions = list(
        Ingestion.objects.filter(**{relation: entity})
        .exclude(outcome=Ingestion.Outcome.QUARANTINED)
        .select_related("raw_item__source")
        .order_by("raw_item_id")
    )
    recompute(entity, item_type, contributions(item_type, ingestions))
    if not entity.name:
        entity.name = entity.full_name or "?"
    entity.name_key = entity_key(entity)
    seen = [i.raw_item.fetched_at for i in ingestions]
    entity.first_seen_at = min(seen) if seen else entity.first_seen_at
    entity.last_seen_at = max(seen) if seen else entity.last_seen_at
    if item_type == "investor":
        names = []
        for ingestion in ingestions:
            names.append(str(ingestion.normalized.get("name", {}).get("value") or ""))
            names.extend(str(a) for a in ingestion.normalized.get("aliases", {}).get("value") or [])
        current = (entity.aliases or []) if keep_aliases else []
        entity.aliases = merged_aliases(current, names, (entity.name, entity.full_name))
    if save:
        entity.save()
        tags = {
            str(t)[:50]
            for i in ingestions
            for t in i.normalized.get("tags", {}).get("value") or []
            if t
        }
        if tags:
            entity.tags.add(*Tag.objects.filter(name__in=tags))
        refresh_search_text(entity, item_type)
    return entity


def refresh_search_text(entity: Any, item_type: str) -> None:
    """Recompute and store a record's ``search_text`` from its current values and tags."""
    from ibcloud.catalog.segmentation import search_text

    values = {
        "name": entity.name,
        "full_name": entity.full_name,
        "summary": getattr(entity, "summary", ""),
        "description": getattr(entity, "description", ""),
        "aliases": getattr(entity, "aliases", []),
        "tags": sorted(entity.tags.values_list("name", flat=True)),
    }
    text = " ".join(filter(None, (search_text(part) for part in text_parts(item_type, values))))
    if text != entity.search_text:
        entity.search_text = text
        type(entity).objects.filter(pk=entity.pk).update(search_text=text)


# --- Manual merge and split ---------------------------------------------------------------------

#: Sent inside the merge transaction before the merged-away records are deleted, so apps above
#: the catalog (matches, deals) can point their rows at the target. kwargs: ``item_type``,
#: ``target``, ``others`` (the records about to be deleted), ``user``.
records_merged = Signal()


def _snapshot(entity: Any, item_type: str) -> dict[str, Any]:
    columns = [c for cols in COLUMNS[item_type].values() for c in cols]
    return {column: to_json(getattr(entity, column)) for column in columns}


def merge_records(
    item_type: str, target: Any, others: Iterable[Any], user: Any, request: Any = None
) -> Any:
    """Merge ``others`` into ``target``: their raw items, rounds, tags and manual values move over,
    the target's values are recomputed by the policy, the others are deleted. Audited.
    """
    from ibcloud.catalog.models import FundingRound, ProjectFinancial

    others = [other for other in others if other.pk != target.pk]
    if not others:
        raise ValidationError(_("Choose at least one other record to merge into this one."))
    model = type(target)
    relation = item_type
    with transaction.atomic():
        before = _snapshot(target, item_type)
        other_ids = [other.pk for other in others]
        Ingestion.objects.filter(**{f"{relation}_id__in": other_ids}).update(**{relation: target})
        # A value a person entered on a merged-away record survives where the target has none.
        for other in sorted(others, key=lambda o: o.pk):
            for field, columns in COLUMNS[item_type].items():
                provenance = other.provenance.get(field) or {}
                mine = target.provenance.get(field) or {}
                if provenance.get("kind") == "manual" and mine.get("kind") != "manual":
                    for column in columns:
                        setattr(target, column, getattr(other, column))
                    target.provenance[field] = provenance
        tags = Tag.objects.filter(
            pk__in=model.tags.through.objects.filter(**{f"{relation}_id__in": other_ids}).values(
                "tag_id"
            )
        )
        target.tags.add(*tags)
        if item_type == "project":
            FundingRound.objects.filter(project_id__in=other_ids).update(project=target)
            years = set(target.financials.values_list("year", flat=True))
            for financial in ProjectFinancial.objects.filter(project_id__in=other_ids).order_by(
                "project_id"
            ):
                if financial.year not in years:
                    financial.project = target
                    financial.save(update_fields=["project", "updated_at"])
                    years.add(financial.year)
        else:
            for funding in FundingRound.objects.filter(investors__in=other_ids).distinct():
                funding.investors.add(target)
            target.aliases = merged_aliases(
                target.aliases or [],
                [n for o in others for n in [o.name, *(o.aliases or [])]],
                (target.name, target.full_name),
            )
            if target.coverage_banker_id is None:
                target.coverage_banker_id = next(
                    (o.coverage_banker_id for o in others if o.coverage_banker_id), None
                )
        records_merged.send(
            sender=model, item_type=item_type, target=target, others=others, user=user
        )
        names = [f"#{o.pk} {o.name}" for o in others]
        for other in others:
            other.delete()  # first: the target may now take over their credit code
        recompute_entity(target, item_type)
        record_sensitive_action(
            request,
            f"{item_type}_merge",
            target=target,
            actor=user,
            description=_("Merged %(others)s into %(target)s")
            % {"others": "、".join(names), "target": target.name},
            merged=other_ids,
            before=before,
            after=_snapshot(target, item_type),
        )
    return target


def split_record(
    item_type: str, entity: Any, ingestions: Iterable[Ingestion], user: Any, request: Any = None
) -> Any:
    """Move ``ingestions`` of ``entity`` into a new record; both are recomputed. Audited.

    The split-off raw items stay with the new record: re-processing keeps an ingestion's link,
    and the pipeline never merges two existing records, so the split is not undone by ingest.
    """
    relation = item_type
    ids = sorted({i.pk for i in ingestions})
    linked = set(Ingestion.objects.filter(**{relation: entity}).values_list("pk", flat=True))
    if not ids:
        raise ValidationError(_("Choose the raw items to split off."))
    if not set(ids) <= linked:
        raise ValidationError(_("Only raw items of this record can be split off."))
    if set(ids) == linked:
        raise ValidationError(_("Leave at least one raw item with the original record."))
    model = type(entity)
    with transaction.atomic():
        before = _snapshot(entity, item_type)
        moving = Ingestion.objects.filter(pk__in=ids)
        split_tags = {
            str(t)[:50]
            for i in moving
            for t in i.normalized.get("tags", {}).get("value") or []
            if t
        }
        new = model(
            owner_id=entity.owner_id,
            department_id=entity.department_id,
            name="",  # filled by the recompute below from its raw items
            provenance={},
        )
        new.save()
        moving.update(**{relation: new})
        recompute_entity(new, item_type, keep_aliases=False)
        kept_tags = {
            str(t)[:50]
            for i in Ingestion.objects.filter(**{relation: entity})
            for t in i.normalized.get("tags", {}).get("value") or []
            if t
        }
        gone = split_tags - kept_tags
        if gone:
            entity.tags.remove(*Tag.objects.filter(name__in=gone))
        recompute_entity(entity, item_type, keep_aliases=False)
        record_sensitive_action(
            request,
            f"{item_type}_split",
            target=entity,
            actor=user,
            description=_("Split %(count)s raw items of %(entity)s into %(new)s")
            % {"count": len(ids), "entity": entity.name, "new": f"#{new.pk} {new.name}"},
            new_record=new.pk,
            ingestions=ids,
            before=before,
            after=_snapshot(entity, item_type),
        )
    return new


def save_manual_edit(entity: Any, item_type: str, changed_fields: Iterable[str], user: Any) -> None:
    """Mark ``changed_fields`` as entered by ``user`` so crawled values no longer overwrite them.

    Call after the edit was saved; names and texts changed by hand refresh the name key and the
    search text too.
    """
    marked = mark_manual(entity, item_type, changed_fields, user)
    updates = {"provenance": entity.provenance}
    key = entity_key(entity)
    if key != entity.name_key:
        entity.name_key = updates["name_key"] = key
    type(entity).objects.filter(pk=entity.pk).update(**updates)
    if marked:
        refresh_search_text(entity, item_type)


def clear_manual_edit(entity: Any, item_type: str, fields: Iterable[str], user: Any) -> Any:
    """Drop the manual mark of ``fields``: the sources' values apply again (recomputed)."""
    by_column = {c: f for f, cols in COLUMNS[item_type].items() for c in cols}
    for name in fields:
        field = name if name in COLUMNS[item_type] else by_column.get(name)
        current = entity.provenance.get(field) if field else None
        if current and current.get("kind") == "manual":
            del entity.provenance[field]
            for column in COLUMNS[item_type][field]:
                setattr(entity, column, empty_value(column))
    return recompute_entity(entity, item_type)
