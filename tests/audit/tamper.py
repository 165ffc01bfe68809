"""Out-of-band changes to a database's stored events, as someone with direct
access to the database (not through the service) would make them."""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import closing
from typing import Any, Protocol

import psycopg

from infrastructure.persistence import environment_for


class Tamperer(Protocol):
    def flip_byte(self, position: int, offset: int = 2) -> None:
        """Change one byte of the stored state of the event at ``position``."""

    def delete(self, position: int) -> None:
        """Delete the event row at ``position``."""

    def insert_forged(self, position: int, like: int) -> None:
        """Insert a new row at ``position``, a copy of ``like``'s for a new aggregate."""

    def swap(self, first: int, second: int) -> None:
        """Exchange the contents (id, version, topic, state) of two rows."""

    def row(self, position: int) -> tuple[Any, ...] | None: ...


def _flipped(state: bytes, offset: int) -> bytes:
    # XOR with 1 keeps an ASCII byte ASCII: one byte differs, nothing else.
    changed = bytearray(state)
    changed[offset] ^= 1
    return bytes(changed)


class SQLiteTamperer:
    """Edits ``stored_events`` in a SQLite file with the sqlite3 module."""

    def __init__(self, url: str) -> None:
        self.path = environment_for(url)["SQLITE_DBNAME"]

    def _run(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with closing(sqlite3.connect(self.path)) as connection, connection:
            return connection.execute(statement, params).fetchall()

    def row(self, position: int) -> tuple[Any, ...] | None:
        rows = self._run(
            "SELECT originator_id, originator_version, topic, state "
            "FROM stored_events WHERE rowid = ?",
            (position,),
        )
        return tuple(rows[0]) if rows else None

    def flip_byte(self, position: int, offset: int = 2) -> None:
        row = self.row(position)
        assert row is not None
        self._run(
            "UPDATE stored_events SET state = ? WHERE rowid = ?",
            (_flipped(row[3], offset), position),
        )

    def delete(self, position: int) -> None:
        self._run("DELETE FROM stored_events WHERE rowid = ?", (position,))

    def insert_forged(self, position: int, like: int) -> None:
        row = self.row(like)
        assert row is not None
        self._run(
            "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
            "VALUES (?, ?, 1, ?, ?)",
            (position, uuid.uuid4().hex, row[2], row[3]),
        )

    def swap(self, first: int, second: int) -> None:
        a, b = self.row(first), self.row(second)
        assert a is not None and b is not None
        with closing(sqlite3.connect(self.path)) as connection, connection:
            update = (
                "UPDATE stored_events SET originator_id = ?, originator_version = ?, "
                "topic = ?, state = ? WHERE rowid = ?"
            )
            # Through a placeholder id: (id, version) is the table's primary key.
            connection.execute(update, (uuid.uuid4().hex, 1, a[2], a[3], first))
            connection.execute(update, (*a, second))
            connection.execute(update, (*b, first))


class PostgresTamperer:
    """Edits ``rectify_events`` in a PostgreSQL database with psycopg."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _run(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with psycopg.connect(self.url) as connection:
            cursor = connection.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def row(self, position: int) -> tuple[Any, ...] | None:
        rows = self._run(
            "SELECT originator_id, originator_version, topic, state "
            "FROM rectify_events WHERE notification_id = %s",
            (position,),
        )
        return tuple(rows[0]) if rows else None

    def flip_byte(self, position: int, offset: int = 2) -> None:
        row = self.row(position)
        assert row is not None
        self._run(
            "UPDATE rectify_events SET state = %s WHERE notification_id = %s",
            (_flipped(bytes(row[3]), offset), position),
        )

    def delete(self, position: int) -> None:
        self._run("DELETE FROM rectify_events WHERE notification_id = %s", (position,))

    def insert_forged(self, position: int, like: int) -> None:
        row = self.row(like)
        assert row is not None
        self._run(
            "INSERT INTO rectify_events "
            "(originator_id, originator_version, topic, state, notification_id) "
            "VALUES (%s, 1, %s, %s, %s)",
            (uuid.uuid4(), row[2], bytes(row[3]), position),
        )

    def swap(self, first: int, second: int) -> None:
        a, b = self.row(first), self.row(second)
        assert a is not None and b is not None
        update = (
            "UPDATE rectify_events SET originator_id = %s, originator_version = %s, "
            "topic = %s, state = %s WHERE notification_id = %s"
        )
        with psycopg.connect(self.url) as connection:
            connection.execute(update, (uuid.uuid4(), 1, a[2], a[3], first))
            connection.execute(update, (*a, second))
            connection.execute(update, (*b, first))


def tamperer_for(url: str) -> Tamperer:
    if url.startswith("sqlite"):
        return SQLiteTamperer(url)
    return PostgresTamperer(url)


def reset_chain(url: str) -> None:
    """Empty the chain and its tracking, as someone rebuilding it to cover a rewrite would."""
    if url.startswith("sqlite"):
        path = environment_for(url)["SQLITE_DBNAME"]
        with closing(sqlite3.connect(path)) as connection, connection:
            connection.execute("DELETE FROM audit_chain")
            connection.execute("DELETE FROM audit_chain_tracking")
    else:
        with psycopg.connect(url) as connection:
            connection.execute("DELETE FROM rectify_audit_chain")
            connection.execute("DELETE FROM rectify_audit_chain_tracking")


def rewrite_link(url: str, position: int, new_hash: str) -> None:
    """Overwrite one stored link of the chain."""
    if url.startswith("sqlite"):
        path = environment_for(url)["SQLITE_DBNAME"]
        with closing(sqlite3.connect(path)) as connection, connection:
            connection.execute(
                "UPDATE audit_chain SET hash = ? WHERE position = ?", (new_hash, position)
            )
    else:
        with psycopg.connect(url) as connection:
            connection.execute(
                "UPDATE rectify_audit_chain SET hash = %s WHERE position = %s",
                (new_hash, position),
            )
