"""The audit chain and event lookups on SQLite, in the same file as the events.

Tables: ``audit_chain(position, hash)`` and ``audit_chain_tracking`` (the
chain's own tracking table: the library's ``tracking`` table is keyed by
application name only, and read-model projections in the same file use it too).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, Tracking
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteTrackingRecorder,
    SQLiteTransaction,
)

from application.audit.chain import AuditChainView, ChainLink, chain_records

EVENTS_TABLE = "stored_events"
CHAIN_TABLE = "audit_chain"
TRACKING_TABLE = "audit_chain_tracking"


class _ImmediateTransaction(SQLiteTransaction):
    """Takes SQLite's write lock at BEGIN: the chain reads its head and then writes,
    and a deferred transaction would fail (not wait) if another writer came between."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor


class SQLiteAuditChain(SQLiteTrackingRecorder, AuditChainView):
    """The hash chain beside ``stored_events``, written with its tracking position."""

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        if not self.datastore.single_row_tracking:
            raise ValueError("the audit chain needs single-row tracking")
        self.insert_tracking_statement = (
            f"INSERT INTO {TRACKING_TABLE} "
            "VALUES (:application_name, :notification_id) "
            "ON CONFLICT (application_name) DO UPDATE "
            "SET notification_id = :notification_id "
            f"WHERE {TRACKING_TABLE}.notification_id < :notification_id "
            "RETURNING notification_id"
        )
        self.select_max_tracking_id_statement = (
            f"SELECT MAX(notification_id) FROM {TRACKING_TABLE} WHERE application_name=?"
        )

    def construct_create_table_statements(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {TRACKING_TABLE} ("
            "application_name TEXT, notification_id INTEGER, "
            "PRIMARY KEY (application_name)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} ("
            "position INTEGER PRIMARY KEY, hash TEXT NOT NULL)",
        ]

    def create_table(self) -> None:
        # Only this recorder's own tables, as they are: the library's version also
        # migrates a legacy ``tracking`` table, which is not this recorder's.
        with self.datastore.transaction(commit=True) as c:
            for statement in self.create_table_statements:
                c.execute(statement)

    @contextmanager
    def _writing(self) -> Iterator[SQLiteCursor]:
        with (
            self.datastore.get_connection(commit=True) as connection,
            _ImmediateTransaction(connection, commit=True) as cursor,
        ):
            yield cursor

    # -- writing ------------------------------------------------------------------------

    def chain_through(self, tracking: Tracking) -> int:
        with self._writing() as c:
            tracked = self._max_tracking_id(tracking.application_name, c)
            if tracked is not None and tracked >= tracking.notification_id:
                return 0
            head = self._head(c)
            after = max(tracked or 0, head.position if head else 0)
            records = self._events(c, after, tracking.notification_id, None)
            links = self._append(c, head, records)
            self._insert_tracking(c, tracking)
            return len(links)

    def catch_up(self, application_name: str, batch_size: int = 1000) -> int:
        added = 0
        while True:
            with self._writing() as c:
                tracked = self._max_tracking_id(application_name, c)
                head = self._head(c)
                after = max(tracked or 0, head.position if head else 0)
                records = self._events(c, after, None, batch_size)
                if not records:
                    return added
                added += len(self._append(c, head, records))
                self._insert_tracking(c, Tracking(application_name, records[-1].id))

    def _append(
        self, c: SQLiteCursor, head: ChainLink | None, records: Sequence[Notification]
    ) -> list[ChainLink]:
        links = chain_records(head, records)
        c.executemany(
            f"INSERT INTO {CHAIN_TABLE} (position, hash) VALUES (?, ?)",
            [(link.position, link.hash) for link in links],
        )
        return links

    def _events(
        self, c: SQLiteCursor, after: int, upto: int | None, limit: int | None
    ) -> list[Notification]:
        statement = (
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {EVENTS_TABLE} "
            "WHERE rowid > ?"
        )
        params: list[int] = [after]
        if upto is not None:
            statement += " AND rowid <= ?"
            params.append(upto)
        statement += " ORDER BY rowid"
        if limit is not None:
            statement += " LIMIT ?"
            params.append(limit)
        c.execute(statement, params)
        return [_notification(self.convert_originator_id, row) for row in c.fetchall()]

    # -- reading ------------------------------------------------------------------------

    def _head(self, c: SQLiteCursor) -> ChainLink | None:
        c.execute(f"SELECT position, hash FROM {CHAIN_TABLE} ORDER BY position DESC LIMIT 1")
        row = c.fetchone()
        return ChainLink(row[0], row[1]) if row else None

    def head(self) -> ChainLink | None:
        with self.datastore.transaction(commit=False) as c:
            return self._head(c)

    def select_links(self, after: int, upto: int | None, limit: int) -> list[ChainLink]:
        statement = f"SELECT position, hash FROM {CHAIN_TABLE} WHERE position > ?"
        params: list[int] = [after]
        if upto is not None:
            statement += " AND position <= ?"
            params.append(upto)
        statement += " ORDER BY position LIMIT ?"
        params.append(limit)
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return [ChainLink(row[0], row[1]) for row in c.fetchall()]


class SQLiteEventLocator:
    """Finds the stored events of given aggregates, with their log positions."""

    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        self.recorder = recorder

    def notifications_of(self, originator_ids: Sequence[UUID]) -> list[Notification]:
        if not originator_ids:
            return []
        as_stored = [
            i.hex if self.recorder.datastore.originator_id_type == "uuid" else str(i)
            for i in originator_ids
        ]
        statement = (
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {self.recorder.events_table_name} "
            f"WHERE originator_id IN ({','.join('?' * len(as_stored))}) ORDER BY rowid"
        )
        with self.recorder.datastore.transaction(commit=False) as c:
            c.execute(statement, as_stored)
            return [_notification(self.recorder.convert_originator_id, row) for row in c.fetchall()]


def _notification(convert: Any, row: Any) -> Notification:
    return Notification(
        id=row[0],
        originator_id=convert(row[1]),
        originator_version=row[2],
        topic=row[3],
        state=bytes(row[4]),
    )
