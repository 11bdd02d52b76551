"""Batched row writes for the ingest pipeline: one ``executemany`` per table and batch.

Django's ``bulk_create`` and ``bulk_update`` compile SQL per field per row
(``field_as_sql``/``get_db_prep_save``) and need a model instance per row; at thousands of
records a second that was most of the single writer's time. Here the values of a column go
through one adapter chosen once per column (:func:`column_adapter`), with the same conversions as
the field's ``get_db_prep_save`` on the current backend (SQLite or PostgreSQL: the connection's
``ops`` adapt dates and JSON), and one parameterized statement is executed for all rows.

New records need their ids before they are written (ingestions, tags and rounds point at them):
:func:`reserve_ids` takes them from the table's sequence inside the batch's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

import orjson
from django.conf import settings
from django.db import connections, router
from django.db.models import CheckConstraint, JSONField, Model
from django.db.models.constants import OnConflict

#: field types whose Python values the database driver takes as they are
_PLAIN = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "ForeignKey",
    "IntegerField",
    "OneToOneField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
}


class JSONText(str):
    """A value already dumped to JSON text (by a worker process): written as it is."""

    __slots__ = ()


def dump_json(value: Any) -> JSONText:
    """``value`` as compact JSON text, non-ASCII kept (half the size of escaped Chinese).

    orjson: about ten times as fast as the standard encoder on a record's provenance and
    normalized values, with the same text for them (dates, which the standard encoder refuses,
    become ISO strings; NaN becomes null). Values orjson refuses (integers past 64 bits) go
    through the standard encoder.
    """
    try:
        return JSONText(orjson.dumps(value).decode())
    except TypeError:
        return JSONText(_dumps(value))


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _json_adapter(connection: Any) -> Callable[[Any], Any]:
    if connection.vendor == "postgresql":
        from psycopg.types.json import Jsonb

        def adapt(value: Any) -> Any:
            if value is None:
                return None
            text = value if isinstance(value, JSONText) else dump_json(value)
            return Jsonb(text, dumps=str)  # the text is the JSON already

        return adapt

    def adapt(value: Any) -> Any:
        if value is None or isinstance(value, JSONText):
            return value
        return dump_json(value)

    return adapt


def column_adapter(field: Any, connection: Any) -> Callable[[Any], Any] | None:
    """The function turning a Python value of ``field`` into its database parameter.

    None when the value goes as it is (text, integers, booleans, foreign keys).
    """
    internal = field.get_internal_type()
    if internal in _PLAIN:
        return None
    if internal == "DateTimeField":
        if connection.vendor == "sqlite" and settings.USE_TZ:
            return _same_as_last(partial(_sqlite_datetime, connection.timezone))
        return _same_as_last(connection.ops.adapt_datetimefield_value)
    if internal == "DateField":
        return connection.ops.adapt_datefield_value
    if internal == "JSONField" and field.encoder is None:
        return _json_adapter(connection)
    return partial(_prep_save, field, connection)


def _same_as_last(adapt: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``adapt``, answering a repeat of the previous value (the same object) without a call:
    a batch stamps all its rows with one ``now``."""
    last: list[Any] = [_UNSET, None]

    def adapt_last(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, adapt(value)
        return last[1]

    return adapt_last


_UNSET = object()


def _sqlite_datetime(zone: Any, value: Any) -> Any:
    # What the SQLite backend's adapt_datetimefield_value stores (naive, in the connection's
    # time zone, str() format), without its per-call setting lookups.
    if value is None:
        return None
    if value.utcoffset() is not None:
        value = value.astimezone(zone).replace(tzinfo=None)
    return value.isoformat(" ")


def _prep_save(field: Any, connection: Any, value: Any) -> Any:
    return field.get_db_prep_save(value, connection)


def _connection(model: type[Model]) -> Any:
    return connections[router.db_for_write(model)]


def _adapted(
    fields: Sequence[Any], connection: Any, rows: Iterable[Sequence[Any]]
) -> list[list[Any]]:
    adapters = [column_adapter(field, connection) for field in fields]
    plain = [i for i, adapter in enumerate(adapters) if adapter is None]
    if len(plain) == len(adapters):
        return [list(row) for row in rows]
    converting = [(i, adapter) for i, adapter in enumerate(adapters) if adapter is not None]
    out = []
    for row in rows:
        row = list(row)
        for i, adapter in converting:
            row[i] = adapter(row[i])
        out.append(row)
    return out


def _json_checks_only(model: type[Model], connection: Any) -> bool:
    """Whether every CHECK constraint of ``model``'s table is a JSONField's ``JSON_VALID``."""
    key = (model, connection.alias)
    found = _JSON_CHECKS_ONLY.get(key)
    if found is None:
        opts = model._meta
        found = not any(isinstance(c, CheckConstraint) for c in opts.constraints) and all(
            field.get_internal_type() == "JSONField"
            for field in opts.concrete_fields
            if field.db_check(connection)
        )
        _JSON_CHECKS_ONLY[key] = found
    return found


_JSON_CHECKS_ONLY: dict[tuple[type[Model], str], bool] = {}


@contextmanager
def _own_json_trusted(model: type[Model], connection: Any) -> Iterator[None]:
    """Skip SQLite's ``JSON_VALID`` checks while writing JSON this module encoded.

    On SQLite every JSONField column has ``CHECK (JSON_VALID(...))``, which parses each value
    again (a third of inserting an ``Ingestion``). The values written here are Python data this
    module encodes, or :class:`JSONText` produced by :func:`dump_json` in a worker, so they are
    valid by construction. Only for tables whose checks are all such JSON checks; restored after.
    """
    if connection.vendor != "sqlite" or not _json_checks_only(model, connection):
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints = ON")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA ignore_check_constraints = OFF")


def insert_rows(
    model: type[Model],
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    ignore_conflicts: bool = False,
) -> None:
    """``INSERT`` ``rows`` (Python values of the fields ``names``, by attname) in one go.

    ``ignore_conflicts`` skips rows a unique constraint refuses, as ``bulk_create`` does.
    """
    connection = _connection(model)
    fields = [model._meta.get_field(name) for name in names]
    values = _adapted(fields, connection, rows)
    if not values:
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    insert = connection.ops.insert_statement(on_conflict=on_conflict)
    suffix = connection.ops.on_conflict_suffix_sql(fields, on_conflict, None, None)
    # Only quoted column and table names of the model are formatted in; values are parameters.
    sql = f"{insert} {quote(model._meta.db_table)} ({columns}) VALUES ({marks}) {suffix}"
    with _own_json_trusted(model, connection), connection.cursor() as cursor:
        cursor.executemany(sql, values)


def update_rows(model: type[Model], objs: list[Any], names: list[str]) -> None:
    """Write ``names`` of ``objs`` back, one ``UPDATE ... WHERE id`` executed for all rows.

    Django's ``bulk_update`` builds a CASE expression per column over the whole batch, which
    costs ~35 times as much on SQLite; the values are adapted as ``save()`` would store them.
    """
    if not objs:
        return
    connection = _connection(model)
    fields = [model._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    pk = model._meta.pk
    # Only quoted column and table names of the model are formatted in; values are parameters.
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(pk.column)} = %s"  # noqa: S608
    attnames = [field.attname for field in fields]
    rows = _adapted(
        [*fields, pk],
        connection,
        ([*(getattr(obj, name) for name in attnames), obj.pk] for obj in objs),
    )
    with _own_json_trusted(model, connection), connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def reserve_ids(model: type[Model], count: int) -> list[int] | None:
    """``count`` new primary keys for ``model`` (call inside the writing transaction).

    SQLite: after the highest id ever used (``sqlite_sequence``, so a deleted record's id is
    not reused), safe because the transaction holds the write lock from its start (``BEGIN
    IMMEDIATE``); inserting them moves the sequence on. PostgreSQL: from the id sequence. None
    on other databases (the caller falls back to the ORM).

    SQLite gives the same ids again until rows with them are inserted: a caller taking ids one
    by one counts on from the first.
    """
    if count <= 0:
        return []
    connection = _connection(model)
    table = model._meta.db_table
    column = model._meta.pk.column
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT max("  # noqa: S608 - the model's own quoted table and column names
                " coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0),"
                f" coalesce((SELECT max({quote(column)}) FROM {quote(table)}), 0))",
                [table],
            )
            start = cursor.fetchone()[0] + 1
            return list(range(start, start + count))
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [quote(table), column, count],
            )
            return sorted(row[0] for row in cursor.fetchall())
    return None


def insert_objects(model: type[Model], objs: list[Any], now: Any) -> None:
    """Create ``objs`` (unsaved instances of ``model``), one ``INSERT`` for all.

    Objects without an id get one from :func:`reserve_ids`; those with one keep it (reserved by
    the caller in the same transaction). Fields with ``auto_now``/``auto_now_add`` get ``now``,
    as ``bulk_create`` would set them.
    """
    if not objs:
        return
    missing = [obj for obj in objs if obj.pk is None]
    ids = reserve_ids(model, len(missing))
    if ids is None:
        model.objects.bulk_create(objs, batch_size=500)
        return
    for obj, pk in zip(missing, ids, strict=True):
        obj.pk = pk
    connection = _connection(model)
    fields = list(model._meta.concrete_fields)
    stamped = [
        f.attname
        for f in fields
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    for obj in objs:
        for name in stamped:
            setattr(obj, name, now)
        obj._state.adding = False
        obj._state.db = connection.alias
    attnames = [f.attname for f in fields]
    insert_rows(model, attnames, ([getattr(obj, name) for name in attnames] for obj in objs))


def load_objects(model: type[Model], ids: Sequence[int]) -> list[Any]:
    """The instances of ``model`` with ``ids`` (all columns), read with one plain ``SELECT``.

    The pipeline reads records one or a few at a time while it decides where each raw item
    goes; building the ORM query each time cost ~50 times the query itself.
    """
    if not ids:
        return []
    connection = _connection(model)
    select, attnames, converters = _select_of(model, connection.alias)
    marks = ", ".join(["%s"] * len(ids))
    objs = []
    with connection.cursor() as cursor:
        cursor.execute(f"{select} IN ({marks})", list(ids))
        for row in cursor.fetchall():
            row = list(row)
            for i, col, functions in converters:
                for convert in functions:
                    row[i] = convert(row[i], col, connection)
            objs.append(model.from_db(connection.alias, attnames, row))
    return objs


_SELECTS: dict[tuple[type[Model], str], tuple[str, list[str], list[tuple]]] = {}


def _select_of(model: type[Model], alias: str) -> tuple[str, list[str], list[tuple]]:
    """``SELECT <all columns> FROM <table> WHERE <pk>``, the attnames and the converters."""
    found = _SELECTS.get((model, alias))
    if found is None:
        connection = connections[alias]
        fields = list(model._meta.concrete_fields)
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in fields)
        pk = quote(model._meta.pk.column)
        # Only quoted column and table names of the model are formatted in.
        select = f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {pk}"  # noqa: S608
        converters = []
        for i, field in enumerate(fields):
            col = field.get_col(model._meta.db_table)
            functions = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if field.get_internal_type() == "JSONField" and field.decoder is None:
                # what JSONField.from_db_value does, with orjson (a record's provenance is the
                # largest value the pipeline reads back)
                functions = [
                    f for f in functions if getattr(f, "__func__", None) is not _FROM_DB_VALUE
                ] + [_json_from_db]
            if functions:
                converters.append((i, col, functions))
        found = _SELECTS[(model, alias)] = (select, [f.attname for f in fields], converters)
    return found


_FROM_DB_VALUE = JSONField.from_db_value


def _json_from_db(value: Any, expression: Any, connection: Any) -> Any:
    if not isinstance(value, str | bytes):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


def select_column(model: type[Model], sql: str, ids: Sequence[Any]) -> list[Any]:
    """The first column of ``sql`` (plain SQL over ``model``'s table; ``{ids}`` stands for the
    placeholders of ``ids``), for lookups the pipeline makes once per batch."""
    if not ids:
        return []
    connection = connections[router.db_for_read(model)]
    with connection.cursor() as cursor:
        cursor.execute(sql.format(ids=", ".join(["%s"] * len(ids))), list(ids))
        return [row[0] for row in cursor.fetchall()]
