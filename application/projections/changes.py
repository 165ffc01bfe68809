"""What a projection asks of its tables, as plain data.

A projection function takes one domain event and returns a list of these
changes; it reads nothing and writes nothing itself, so it can be tested with
an event and an expected list. The infrastructure turns each change into SQL
for SQLite or PostgreSQL and runs them, with the projection's new position in
the log, in one transaction.

Tables are named without the ``rm_`` prefix (``"cases"``); the store adds it,
or the prefix of scratch tables when a projection is rebuilt for a check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Lookup:
    """A value read from another row in the same transaction: ``column`` of the
    row of ``table`` whose ``key`` column equals ``value`` (None when there is none).

    For events that do not carry what a row needs — a later order event does not
    name its site — but an earlier row of the same projection does.
    """

    table: str
    key: str
    value: Any
    column: str


@dataclass(frozen=True)
class Upsert:
    """Insert the row with ``key``, or set ``values`` on it if it exists."""

    table: str
    key: Mapping[str, Any]
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Update:
    """Set ``values`` on the row with ``key``; no row, no change."""

    table: str
    key: Mapping[str, Any]
    values: Mapping[str, Any]


@dataclass(frozen=True)
class Insert:
    """Insert a new row; a row with the same key already there is an error,
    which is how applying one event twice would show itself.
    """

    table: str
    row: Mapping[str, Any]


@dataclass(frozen=True)
class Delete:
    """Delete the row with ``key``."""

    table: str
    key: Mapping[str, Any]


Change = Upsert | Update | Insert | Delete
