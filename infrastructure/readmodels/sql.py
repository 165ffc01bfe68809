"""SQL for the read models, for SQLite and PostgreSQL: table definitions, and
the statement each projection change becomes.

A :class:`~application.projections.changes.Lookup` value becomes a scalar
sub-select, so a change that needs another row's column costs no round trip
and sees the rows written earlier in the same transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from application.projections.changes import Change, Delete, Insert, Lookup, Update, Upsert
from infrastructure.readmodels.schema import Table

_TYPES = {
    "sqlite": {"text": "TEXT", "int": "INTEGER", "real": "REAL"},
    "postgres": {"text": "TEXT", "int": "BIGINT", "real": "DOUBLE PRECISION"},
}


@dataclass(frozen=True)
class Dialect:
    """How SQL differs between the two databases, for what the read models use."""

    name: str
    placeholder: str

    def ddl(self, table: Table, prefix: str, *, unlogged: bool = False) -> list[str]:
        """``CREATE TABLE`` and ``CREATE INDEX`` statements, idempotent.

        ``unlogged``: on PostgreSQL, a table whose writes skip the write-ahead
        log (lost in a crash), for scratch copies that are thrown away anyway.
        """
        types = _TYPES[self.name]
        columns = ", ".join(f"{name} {types[kind]}" for name, kind in table.columns)
        name = prefix + table.name
        kind = "UNLOGGED TABLE" if unlogged and self.name == "postgres" else "TABLE"
        statements = [
            f"CREATE {kind} IF NOT EXISTS {name} ({columns}, PRIMARY KEY ({', '.join(table.key)}))"
        ]
        for index in table.indexes:
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {name}_{'_'.join(index)}_idx "
                f"ON {name} ({', '.join(index)})"
            )
        kinds = dict(table.columns)
        for index in table.sort_indexes:
            columns = ", ".join(self.sort_key(column, kinds[column]) for column in index)
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {name}_{'_'.join(index)}_sort_idx "
                f"ON {name} ({columns})"
            )
        return statements

    def sort_key(self, column: str, kind: str = "text") -> str:
        """``column`` as a sort key: text by code point, as SQLite compares it."""
        return f'{column} COLLATE "C"' if self.name == "postgres" and kind == "text" else column

    def q(self, sql: str) -> str:
        """Rewrite a statement written with ``?`` placeholders for this database."""
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def statement(self, change: Change, prefix: str) -> tuple[str, list[Any]]:
        """The SQL and parameters that carry out ``change`` on tables with ``prefix``."""
        if isinstance(change, Upsert):
            key, values = dict(change.key), dict(change.values)
            sql = _upsert_sql(self, prefix, change.table, _shape(key), _shape(values))
            return sql, _params(key) + _params(values)
        if isinstance(change, Update):
            key, values = dict(change.key), dict(change.values)
            sql = _update_sql(self, prefix, change.table, _shape(key), _shape(values))
            return sql, _params(values) + _params(key)
        if isinstance(change, Insert):
            row = dict(change.row)
            return _insert_sql(self, prefix, change.table, _shape(row)), _params(row)
        if isinstance(change, Delete):
            key = dict(change.key)
            return _delete_sql(self, prefix, change.table, _shape(key)), _params(key)
        raise TypeError(f"not a read-model change: {change!r}")


SQLITE = Dialect("sqlite", "?")
POSTGRES = Dialect("postgres", "%s")

# A column's shape: its name, and for a Lookup the (table, key, column) it reads.
_Shape = tuple[tuple[str, tuple[str, str, str] | None], ...]


def _shape(values: Mapping[str, Any]) -> _Shape:
    return tuple(
        (name, (v.table, v.key, v.column) if isinstance(v, Lookup) else None)
        for name, v in values.items()
    )


def _params(values: Mapping[str, Any]) -> list[Any]:
    return [v.value if isinstance(v, Lookup) else v for v in values.values()]


def _value_sql(dialect: Dialect, prefix: str, lookup: tuple[str, str, str] | None) -> str:
    if lookup is None:
        return dialect.placeholder
    table, key, column = lookup
    return f"(SELECT {column} FROM {prefix}{table} WHERE {key} = {dialect.placeholder})"


def _conditions(dialect: Dialect, prefix: str, key: _Shape) -> str:
    return " AND ".join(f"{name} = {_value_sql(dialect, prefix, lk)}" for name, lk in key)


@functools.cache
def _upsert_sql(dialect: Dialect, prefix: str, table: str, key: _Shape, values: _Shape) -> str:
    columns = [name for name, _ in key + values]
    placeholders = [_value_sql(dialect, prefix, lk) for _, lk in key + values]
    sql = (
        f"INSERT INTO {prefix}{table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(placeholders)}) "
        f"ON CONFLICT ({', '.join(name for name, _ in key)}) "
    )
    if not values:
        return sql + "DO NOTHING"
    return sql + "DO UPDATE SET " + ", ".join(f"{name} = excluded.{name}" for name, _ in values)


@functools.cache
def _update_sql(dialect: Dialect, prefix: str, table: str, key: _Shape, values: _Shape) -> str:
    assignments = ", ".join(f"{name} = {_value_sql(dialect, prefix, lk)}" for name, lk in values)
    return f"UPDATE {prefix}{table} SET {assignments} WHERE {_conditions(dialect, prefix, key)}"


@functools.cache
def _insert_sql(dialect: Dialect, prefix: str, table: str, row: _Shape) -> str:
    columns = ", ".join(name for name, _ in row)
    values = ", ".join(_value_sql(dialect, prefix, lk) for _, lk in row)
    return f"INSERT INTO {prefix}{table} ({columns}) VALUES ({values})"


@functools.cache
def _delete_sql(dialect: Dialect, prefix: str, table: str, key: _Shape) -> str:
    return f"DELETE FROM {prefix}{table} WHERE {_conditions(dialect, prefix, key)}"
