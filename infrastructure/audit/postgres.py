"""The audit chain and event lookups on PostgreSQL, beside ``rectify_events``.

Tables: ``rectify_audit_chain(position, hash)`` and
``rectify_audit_chain_tracking`` (the name the library's factory gives the
tracking table of the projection named ``rectify_audit_chain``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, Tracking
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresTrackingRecorder,
)
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from application.app import RectifyApp
from application.audit.chain import AuditChainProjection, AuditChainView, ChainLink, chain_records

EVENTS_TABLE = f"{RectifyApp.name.lower()}_events"
CHAIN_TABLE = AuditChainProjection.name
TRACKING_TABLE = f"{AuditChainProjection.name}_tracking"
# A fixed key of PostgreSQL's advisory locks for creating the chain's tables
# (the leading bytes of SHA-256 of "rectify:audit-chain:create").
_CREATE_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"rectify:audit-chain:create").digest()[:8], "big", signed=True
)


class PostgresAuditChain(PostgresTrackingRecorder, AuditChainView):
    """The hash chain beside the events table, written with its tracking position."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        tracking_table_name: str = TRACKING_TABLE,
        events_table_name: str = EVENTS_TABLE,
        chain_table_name: str = CHAIN_TABLE,
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        if not self.datastore.single_row_tracking:
            raise ValueError("the audit chain needs single-row tracking")
        self.check_identifier_length(chain_table_name)
        schema = Identifier(self.datastore.schema)
        self._chain = SQL("{}.{}").format(schema, Identifier(chain_table_name))
        self._events_table = SQL("{}.{}").format(schema, Identifier(events_table_name))
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (position bigint PRIMARY KEY, hash text NOT NULL)"
            ).format(self._chain)
        )

    def create_table(self) -> None:
        # Only this recorder's own tables, as they are: the library's version also
        # migrates legacy multi-row tracking tables by renaming them.
        with self.datastore.transaction(commit=True) as curs:
            # Processes starting together would race on CREATE TABLE IF NOT EXISTS
            # (it can fail on the catalogue's unique index): one at a time.
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (_CREATE_LOCK_KEY,))
            for statement in self.sql_create_statements:
                curs.execute(statement, prepare=False)

    @contextmanager
    def _writing(self) -> Iterator[Cursor[DictRow]]:
        with self.datastore.transaction(commit=True) as curs:
            # One chain writer at a time (a worker and a catch-up may overlap);
            # readers of the chain are not blocked.
            curs.execute(SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(self._chain))
            yield curs

    # -- writing ------------------------------------------------------------------------

    def chain_through(self, tracking: Tracking) -> int:
        with self._writing() as curs:
            tracked = self._max_tracking_id(tracking.application_name, curs)
            if tracked is not None and tracked >= tracking.notification_id:
                return 0
            head = self._head(curs)
            after = max(tracked or 0, head.position if head else 0)
            records = self._events(curs, after, tracking.notification_id, None)
            links = self._append(curs, head, records)
            self._insert_tracking(curs, tracking)
            return len(links)

    def catch_up(self, application_name: str, batch_size: int = 1000) -> int:
        added = 0
        while True:
            with self._writing() as curs:
                tracked = self._max_tracking_id(application_name, curs)
                head = self._head(curs)
                after = max(tracked or 0, head.position if head else 0)
                records = self._events(curs, after, None, batch_size)
                if not records:
                    return added
                added += len(self._append(curs, head, records))
                self._insert_tracking(curs, Tracking(application_name, records[-1].id))

    def _append(
        self, curs: Cursor[DictRow], head: ChainLink | None, records: Sequence[Notification]
    ) -> list[ChainLink]:
        links = chain_records(head, records)
        if links:
            curs.executemany(
                SQL("INSERT INTO {} (position, hash) VALUES (%s, %s)").format(self._chain),
                [(link.position, link.hash) for link in links],
            )
        return links

    def _events(
        self, curs: Cursor[DictRow], after: int, upto: int | None, limit: int | None
    ) -> list[Notification]:
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {} WHERE notification_id > %s"
        ).format(self._events_table)
        params: list[int] = [after]
        if upto is not None:
            statement += SQL(" AND notification_id <= %s")
            params.append(upto)
        statement += SQL(" ORDER BY notification_id")
        if limit is not None:
            statement += SQL(" LIMIT %s")
            params.append(limit)
        curs.execute(statement, params)
        return [_notification(row) for row in curs.fetchall()]

    # -- reading ------------------------------------------------------------------------

    def _head(self, curs: Cursor[DictRow]) -> ChainLink | None:
        curs.execute(
            SQL("SELECT position, hash FROM {} ORDER BY position DESC LIMIT 1").format(self._chain)
        )
        row = curs.fetchone()
        return ChainLink(row["position"], row["hash"]) if row else None

    def head(self) -> ChainLink | None:
        with self.datastore.transaction(commit=False) as curs:
            return self._head(curs)

    def select_links(self, after: int, upto: int | None, limit: int) -> list[ChainLink]:
        statement = SQL("SELECT position, hash FROM {} WHERE position > %s").format(self._chain)
        params: list[int] = [after]
        if upto is not None:
            statement += SQL(" AND position <= %s")
            params.append(upto)
        statement += SQL(" ORDER BY position LIMIT %s")
        params.append(limit)
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(statement, params)
            return [ChainLink(row["position"], row["hash"]) for row in curs.fetchall()]


class PostgresEventLocator:
    """Finds the stored events of given aggregates, with their log positions."""

    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        self.recorder = recorder
        self._statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {}.{} WHERE originator_id = ANY(%s) ORDER BY notification_id"
        ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))

    def notifications_of(self, originator_ids: Sequence[UUID]) -> list[Notification]:
        if not originator_ids:
            return []
        with self.recorder.datastore.transaction(commit=False) as curs:
            curs.execute(self._statement, [list(originator_ids)])
            return [_notification(row) for row in curs.fetchall()]


def _notification(row: Any) -> Notification:
    return Notification(
        id=row["notification_id"],
        originator_id=row["originator_id"],
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
    )
