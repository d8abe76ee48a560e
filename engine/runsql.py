"""The run row's hot statements as plain SQL, built once per process.

Every run makes the same few writes to its row (take the lease, fence a
batch of steps, end the run, number its events). Through querysets each one
was built, resolved and compiled again — Django's query building was the
largest part of the worker's CPU per run. Here each statement's text is made
once (per set of columns) and run with `cursor.execute` and %s parameters,
which SQLite (>= 3.35 for RETURNING) and PostgreSQL both accept. Values are
prepared by the model fields themselves (`get_db_prep_save`) and rows read
back go through the fields' own converters, so types match the ORM's."""
from __future__ import annotations

import functools
from typing import Any

from django.db import connection

from .models import Run

_FINISHED = tuple(sorted(Run.FINISHED))


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


@functools.lru_cache(maxsize=None)
def _field(name: str):
    return Run._meta.get_field(name)


def preparer(field) -> Any:
    """How a value of `field` is made a query parameter. Dates and JSON go
    through Django (time zone, the backend's JSON adapter); strings, numbers
    and booleans are passed as they are, which the drivers take unchanged —
    `get_db_prep_save` for each of them was most of the cost of a write."""
    from django.db import models

    if isinstance(field, (models.DateTimeField, models.JSONField)) or not isinstance(
            field, (models.CharField, models.TextField, models.IntegerField, models.FloatField, models.BooleanField, models.ForeignKey)):
        return lambda value: field.get_db_prep_save(value, connection)
    return None  # as it is


@functools.lru_cache(maxsize=None)
def _preparer_of(name: str):
    return preparer(_field(name))


def _prep(name: str, value: Any) -> Any:
    prepare = _preparer_of(name)
    return value if prepare is None else prepare(value)


@functools.lru_cache(maxsize=None)
def _columns(vendor: str) -> tuple[list, str]:
    """Run's concrete fields and the select list naming them (for RETURNING)."""
    fields = list(Run._meta.concrete_fields)
    return fields, ", ".join(_q(f.column) for f in fields)


@functools.lru_cache(maxsize=None)
def _converters(vendor: str) -> list[tuple[Any, list]]:
    """Each field's read converters: the backend's (SQLite: text to datetime) and the field's (JSON)."""
    fields, _ = _columns(vendor)
    table = Run._meta.db_table
    # In the order the ORM's compiler applies them: the backend's, then the field's.
    return [(col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
            for col in (f.get_col(table) for f in fields)]


def _run_from_row(row: tuple) -> Run:
    values = []
    for value, (col, converters) in zip(row, _converters(connection.vendor)):
        for convert in converters:
            value = convert(value, col, connection)
        values.append(value)
    fields, _ = _columns(connection.vendor)
    return Run.from_db(connection.alias, [f.attname for f in fields], values)


@functools.lru_cache(maxsize=None)
def _take_sql(vendor: str) -> str:
    _, select = _columns(vendor)
    finished = ", ".join(["%s"] * len(_FINISHED))
    return (f"UPDATE {_q(Run._meta.db_table)} SET {_q('owner')} = %s, {_q('epoch')} = {_q('epoch')} + 1, {_q('lease_until')} = %s "
            f"WHERE {_q('id')} = %s AND {_q('status')} NOT IN ({finished}) "
            f"AND ({_q('owner')} = '' OR {_q('lease_until')} IS NULL OR {_q('lease_until')} < %s) RETURNING {select}")


def take(run_id: int, token: str, now, until) -> Run | None:
    """Take the run's lease if it is free or lapsed and the run not finished,
    and read the run as it is under the lease: one statement. None if not taken."""
    with connection.cursor() as cursor:
        cursor.execute(_take_sql(connection.vendor),
                       [token, _prep("lease_until", until), run_id, *_FINISHED, _prep("lease_until", now)])
        row = cursor.fetchone()
    return None if row is None else _run_from_row(row)


@functools.lru_cache(maxsize=None)
def _update_sql(vendor: str, names: tuple[str, ...], where: tuple[str, ...], returning: tuple[str, ...]) -> str:
    sets = ", ".join(f"{_q(_field(n).column)} = %s" for n in names)
    conditions = " AND ".join(f"{_q(_field(n).column)} = %s" for n in where)
    sql = f"UPDATE {_q(Run._meta.db_table)} SET {sets} WHERE {conditions}"
    if returning:
        sql += " RETURNING " + ", ".join(_q(_field(n).column) for n in returning)
    return sql


def update(run_id: int, values: dict[str, Any], *, owner: str | None = None, also_where: dict[str, Any] | None = None,
           returning: tuple[str, ...] = ()) -> Any:
    """UPDATE the run's row with `values` where id (and `owner`, and
    `also_where`) match. Without `returning`: how many rows (0 or 1); with it:
    the row's new values of those columns, or None if no row matched."""
    where = {"id": run_id}
    if owner is not None:
        where["owner"] = owner
    where.update(also_where or {})
    names = tuple(values)
    sql = _update_sql(connection.vendor, names, tuple(where), returning)
    params = [_prep(n, v) for n, v in values.items()] + [_prep(n, v) for n, v in where.items()]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if not returning:
            return cursor.rowcount
        return cursor.fetchone()


@functools.lru_cache(maxsize=None)
def _raise_seq_sql(vendor: str) -> str:
    seq = _q("event_seq")
    return f"UPDATE {_q(Run._meta.db_table)} SET {seq} = {seq} + %s WHERE {_q('id')} = %s RETURNING {seq}"


def raise_event_seq(run_id: int, count: int) -> int | None:
    """Raise the run's event counter by `count`; the new value, or None if the run is gone."""
    with connection.cursor() as cursor:
        cursor.execute(_raise_seq_sql(connection.vendor), [count, run_id])
        row = cursor.fetchone()
    return None if row is None else row[0]
