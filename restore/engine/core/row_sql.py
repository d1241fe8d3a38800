"""Hand-written SQL for the few statements that run for every item restored.

Why: building a query through the ORM costs ~0.4-0.5 ms of CPU, sending the same statement through
the connection's cursor ~0.03 ms (an ID-map lookup: 503 vs 28 us of CPU). A restore makes five
or six of them per item, under the GIL the HTTP threads need: at 20 ms per request they were ~45%
of the restore process' busy time. So these statements are written out once per model and column
set (cached), and values still go through each field's own conversion to and from the database
(`get_db_prep_save` / `from_db_value`; text and integers need only str() / int()), so JSON,
datetimes and foreign keys are stored exactly as the ORM stores them, on SQLite and PostgreSQL
alike. Everything else keeps using the ORM.

While a restore runs on SQLite (`shared_connection`), these statements go through one connection
that its threads share under a lock, unless the calling thread is inside a transaction of its own
(then its own connection: the statement belongs to that transaction). Why: each SQLite connection
finds the database changed by the others before every statement and reads its pages again; the
same five statements per item from three threads cost 317-321 us of CPU on a connection each,
234-244 us on one shared (plain `sqlite3`, this schema). Autocommit statements either way: what
one commits, every connection sees.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone


class _Shared:
    """One connection for the statements of every thread of the restores running in this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # one statement at a time (and its rows read)
        self.users = 0
        self.wrapper: BaseDatabaseWrapper | None = None


_shared = _Shared()
_opening = threading.Lock()


@contextlib.contextmanager
def shared_connection() -> Iterator[None]:
    """While in this block (a restore running), on SQLite, the statements here share one
    connection (nested or concurrent blocks share it too; the last one out closes it)."""
    if connection.vendor != "sqlite":
        yield
        return
    with _opening:
        if _shared.users == 0:
            wrapper = connections.create_connection(DEFAULT_DB_ALIAS)
            wrapper.inc_thread_sharing()
            wrapper.ensure_connection()
            _shared.wrapper = wrapper
        _shared.users += 1
    try:
        yield
    finally:
        with _opening:
            _shared.users -= 1
            if _shared.users == 0 and _shared.wrapper is not None:
                wrapper, _shared.wrapper = _shared.wrapper, None
                with _shared.lock:
                    wrapper.close()
                wrapper.dec_thread_sharing()


def _run(
    sql: str, params: Sequence[Any], own: BaseDatabaseWrapper, *, fetch: bool = False
) -> tuple[Any, int]:
    """Run one statement: its first row (with `fetch`) and how many rows it wrote.

    On the shared connection the statement goes to the sqlite3 connection itself, its errors
    turned into Django's as the ORM turns them: Django's cursor wrapper around it (the thread's
    connection looked up, the query's placeholders converted, debug logging checked on every
    statement) cost as much CPU as SQLite running the statement. Elsewhere the thread's own
    connection (`own`), through Django."""
    if _shared.wrapper is not None and not own.in_atomic_block:
        with _shared.lock:
            wrapper = _shared.wrapper  # still open: closing takes the lock
            if wrapper is not None:
                if wrapper.connection is None:
                    wrapper.ensure_connection()
                with wrapper.wrap_database_errors:
                    cursor = wrapper.connection.execute(_qmark(sql), params)
                    try:
                        return (cursor.fetchone() if fetch else None), cursor.rowcount
                    finally:
                        cursor.close()
    with own.cursor() as cursor:
        cursor.execute(sql, params)
        return (cursor.fetchone() if fetch else None), cursor.rowcount


@functools.cache
def _qmark(sql: str) -> str:
    """The statement in sqlite3's placeholder style, converted as Django's SQLite cursor does."""
    return re.sub(r"(?<!%)%s", "?", sql).replace("%%", "%")


def select_one(
    model: type[models.Model],
    columns: Sequence[str],
    where: dict[str, Any],
    *,
    for_update: bool = False,
) -> dict[str, Any] | None:
    """The first row matching `where` (field name → value), as field name → Python value."""
    own = connections[DEFAULT_DB_ALIAS]
    sql = _select_sql(model, tuple(columns), tuple(where), for_update)
    row, _ = _run(sql, _prepared(model, where, own), own, fetch=True)
    if row is None:
        return None
    return {
        name: _loaded(model, name, value, own) for name, value in zip(columns, row, strict=True)
    }


def exists(model: type[models.Model], where: dict[str, Any]) -> bool:
    return select_one(model, ["pk"], where) is not None


def insert(
    model: type[models.Model],
    values: dict[str, Any],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
) -> int:
    """INSERT one row; fields not given take their defaults (and `auto_now` fields the time).

    With `conflict` (a unique constraint's fields): an existing row is kept as it is, or, with
    `update`, those of its fields are set from the new row (an upsert, one statement).
    Returns how many rows the statement wrote (0: a conflicting row was kept)."""
    own = connections[DEFAULT_DB_ALIAS]
    values = {**_defaults(model, values), **values}
    sql = _insert_sql(model, tuple(values), tuple(conflict), tuple(update))
    return _run(sql, _prepared(model, values, own), own)[1]


def update(model: type[models.Model], pk: Any, values: dict[str, Any]) -> None:
    """UPDATE one row by primary key."""
    update_where(model, {"pk": pk}, values)


def update_where(model: type[models.Model], where: dict[str, Any], values: dict[str, Any]) -> int:
    """UPDATE the rows matching `where` (field name → value); returns how many."""
    own = connections[DEFAULT_DB_ALIAS]
    sql = _update_sql(model, tuple(values), tuple(where))
    return _run(sql, [*_prepared(model, values, own), *_prepared(model, where, own)], own)[1]


# -- building blocks -------------------------------------------------------------------------------
def _field(model: type[models.Model], name: str) -> models.Field:
    return model._meta.pk if name == "pk" else model._meta.get_field(name)


def _column(model: type[models.Model], name: str) -> str:
    return connection.ops.quote_name(_field(model, name).column)


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _prepared(
    model: type[models.Model], values: dict[str, Any], own: BaseDatabaseWrapper
) -> list[Any]:
    """The values as the ORM would send them through `own` (the thread's connection, looked up
    once per statement: through Django's `connection` proxy every field's conversion looked it up
    again)."""
    out = []
    for name, value in values.items():
        simple = _simple(model, name)
        if value is None:
            out.append(None)
        elif simple is not None:
            out.append(simple(value))
        else:
            out.append(_field(model, name).get_db_prep_save(value, own))
    return out


# Text and integer fields (and keys to integer primary keys) need only str() or int(): the field's
# own conversion would give the same value at three times these statements' CPU.
SIMPLE: dict[str, Callable[[Any], Any]] = {"CharField": str, "TextField": str}
SIMPLE |= dict.fromkeys(
    ["IntegerField", "SmallIntegerField", "PositiveSmallIntegerField", "BigIntegerField"], int
)
SIMPLE |= {"AutoField": int, "BigAutoField": int}


@functools.cache
def _simple(model: type[models.Model], name: str) -> Callable[[Any], Any] | None:
    field = _field(model, name)
    if field.get_internal_type() == "ForeignKey":
        field = field.target_field
    return SIMPLE.get(field.get_internal_type())


def _loaded(model: type[models.Model], name: str, value: Any, own: BaseDatabaseWrapper) -> Any:
    field = _field(model, name)
    if value is not None and hasattr(field, "from_db_value"):
        return field.from_db_value(value, None, own)
    return value


def _defaults(model: type[models.Model], given: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    now = None
    for name, stamped, default in _default_plan(model):
        if name in given:
            continue
        if stamped:
            now = now or timezone.now()
            out[name] = now
        else:
            out[name] = default()
    return out


@functools.cache
def _default_plan(model: type[models.Model]) -> tuple[tuple[str, bool, Callable[[], Any]], ...]:
    """Per field but the primary key: its name, whether it takes the time (`auto_now`,
    `auto_now_add`), and what gives its default (the field's own, as `get_default` calls it)."""
    return tuple(
        (
            field.name,
            bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)),
            field.get_default,
        )
        for field in model._meta.concrete_fields
        if not field.primary_key
    )


def _where(model: type[models.Model], names: tuple[str, ...]) -> str:
    return " AND ".join(f"{_column(model, n)} = %s" for n in names)


@functools.cache
def _select_sql(
    model: type[models.Model], columns: tuple[str, ...], where: tuple[str, ...], for_update: bool
) -> str:
    cols = ", ".join(_column(model, c) for c in columns)
    sql = f"SELECT {cols} FROM {_table(model)} WHERE {_where(model, where)} LIMIT 1"
    if for_update and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    return sql


@functools.cache
def _insert_sql(
    model: type[models.Model],
    names: tuple[str, ...],
    conflict: tuple[str, ...],
    update: tuple[str, ...],
) -> str:
    cols = ", ".join(_column(model, n) for n in names)
    sql = f"INSERT INTO {_table(model)} ({cols}) VALUES ({', '.join(['%s'] * len(names))})"
    if conflict:
        target = ", ".join(_column(model, n) for n in conflict)
        if update:
            sets = ", ".join(f"{_column(model, n)} = EXCLUDED.{_column(model, n)}" for n in update)
            sql += f" ON CONFLICT ({target}) DO UPDATE SET {sets}"
        else:
            sql += f" ON CONFLICT ({target}) DO NOTHING"
    return sql


@functools.cache
def _update_sql(model: type[models.Model], names: tuple[str, ...], where: tuple[str, ...]) -> str:
    sets = ", ".join(f"{_column(model, n)} = %s" for n in names)
    return f"UPDATE {_table(model)} SET {sets} WHERE {_where(model, where)}"
