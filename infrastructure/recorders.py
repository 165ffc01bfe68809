"""The event store's recorders, as the service needs them: answers committed with
events, and a database that is away noticed within a bound.

eventsourcing lets an application choose its recorder class by topic
(``APPLICATION_RECORDER_TOPIC``); :func:`infrastructure.persistence.environment_for`
names the classes here. Each is the library's recorder with two changes:

- **The key's answer in the events' transaction.** While a keyed HTTP request
  runs (:data:`infrastructure.idempotency.pending_key`), inserting its events
  also inserts the key's answer, in the same transaction: both are committed, or
  neither. A key answered by another attempt already makes the insert fail and
  roll the events back: :class:`~infrastructure.idempotency.KeyAlreadyAnswered`.
- **Bounded retries (PostgreSQL).** The library retries a failed statement ten
  times, each waiting up to the pool's timeout for a connection: with the
  database down, a request hung for most of a minute. Here a statement is
  retried only within :data:`RETRY_WITHIN_SECONDS` (enough to replace a
  connection the server closed on restart), so an outage surfaces at once as
  an ``OperationalError`` that the HTTP layer answers with 503.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from infrastructure.idempotency import (
    KeyAlreadyAnswered,
    PendingKey,
    RecordedEvent,
    is_key_conflict,
    pending_key,
)
from infrastructure.side_tables import RECONNECT_GIVE_UP_SECONDS, sweeping_check

# A restarted server closes every pooled connection; replacing one takes a
# moment, an outage does not end within it.
RETRY_WITHIN_SECONDS = 0.5
RETRY_PAUSE_SECONDS = 0.1

F = TypeVar("F", bound=Callable[..., Any])


def bounded_retries(method: F) -> F:
    """The library's ``@retry``-decorated ``method``, retried only within a bound."""
    undecorated: Callable[..., Any] = getattr(method, "__wrapped__", method)

    @wraps(undecorated)
    def retrying(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        while True:
            try:
                return undecorated(*args, **kwargs)
            except (InterfaceError, OperationalError):
                if time.monotonic() - started >= RETRY_WITHIN_SECONDS:
                    raise
                time.sleep(RETRY_PAUSE_SECONDS)

    return retrying  # type: ignore[return-value]


def _recorded(stored_events: Sequence[StoredEvent], ids: Sequence[int]) -> list[RecordedEvent]:
    return [
        RecordedEvent(
            originator_id=UUID(str(event.originator_id)),
            originator_version=event.originator_version,
            topic=event.topic,
            position=position,
        )
        for event, position in zip(stored_events, ids, strict=True)
    ]


class _AnswersKeys:
    """What both recorders share: stage the key's answer, then mark it committed."""

    _staged: dict[int, tuple[list[RecordedEvent], bool]]

    def _stage(
        self, stored_events: Sequence[StoredEvent], ids: Sequence[int] | None
    ) -> list[tuple[str, tuple[Any, ...]]]:
        """The statements that write the running request's answer beside these events."""
        pending = pending_key.get()
        if pending is None or not stored_events or ids is None:
            return []
        recorded = _recorded(stored_events, ids)
        statements = pending.statements(recorded, time.time())
        self._staged[id(pending)] = (recorded, bool(statements))
        return statements

    def _insert_answering(self, insert: Callable[[], Sequence[int] | None]) -> Any:
        pending: PendingKey | None = pending_key.get()
        try:
            ids = insert()
        except IntegrityError as error:
            if pending is not None:
                self._staged.pop(id(pending), None)
                if is_key_conflict(error):
                    raise KeyAlreadyAnswered(pending.user_id, pending.key) from error
            raise
        except BaseException:
            if pending is not None:
                self._staged.pop(id(pending), None)
            raise
        if pending is not None:
            staged = self._staged.pop(id(pending), None)
            if staged is not None:
                pending.committed(staged[0], stored=staged[1])
        return ids


class KeyedSQLiteApplicationRecorder(_AnswersKeys, SQLiteApplicationRecorder):
    """SQLite's recorder, answering a keyed request in its events' transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._staged = {}

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        return self._insert_answering(
            lambda: SQLiteApplicationRecorder.insert_events(self, stored_events, **kwargs)
        )

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        for sql, params in self._stage(stored_events, ids):
            c.execute(sql, params)
        return ids


class KeyedPostgresApplicationRecorder(_AnswersKeys, PostgresApplicationRecorder):
    """PostgreSQL's recorder, answering a keyed request in its events' transaction,
    with retries bounded in time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._staged = {}
        # The datastore's pool serves the read models too. The library sets no
        # check (or psycopg's, with POSTGRES_PRE_PING), which after a restart
        # hands out dead connections one failure at a time, and keeps psycopg's
        # five minutes of reconnection back-off (see side_tables).
        pool = self.datastore.pool
        pool._check = sweeping_check(pool)  # the pool takes a check only when made
        pool.reconnect_timeout = RECONNECT_GIVE_UP_SECONDS

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        insert = bounded_retries(PostgresApplicationRecorder.insert_events)
        return self._insert_answering(lambda: insert(self, stored_events, **kwargs))

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        statements = self._stage(stored_events, ids)
        if statements:
            # A nested pipeline syncs when it ends, so a collision with another
            # attempt's row is raised here, where the library catches it and
            # the transaction is rolled back — never committed without it.
            with curs.connection.pipeline():
                for sql, params in statements:
                    curs.execute(sql.replace("?", "%s"), params)
        return ids

    select_events = bounded_retries(PostgresApplicationRecorder.select_events)
    select_notifications = bounded_retries(PostgresApplicationRecorder.select_notifications)
    max_notification_id = bounded_retries(PostgresApplicationRecorder.max_notification_id)
