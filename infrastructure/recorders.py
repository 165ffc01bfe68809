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
- **Group commit (PostgreSQL).** The library takes a table lock and a commit
  for every save, so saves from concurrent requests queue one behind another.
  Here the saves that arrive while a transaction commits are written together
  in the next one (:class:`_GroupCommit`): one lock, one commit, notification
  ids in order. A save that finds no transaction under way leads at once; it
  never waits for company. If the shared transaction fails on a conflict, it is
  rolled back and each save is written alone, so only the conflicting one is
  refused, with the error it would have had alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar
from uuid import UUID

import psycopg
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
        self,
        stored_events: Sequence[StoredEvent],
        ids: Sequence[int] | None,
        pending: PendingKey | None,
    ) -> list[tuple[str, tuple[Any, ...]]]:
        """The statements that write ``pending``'s answer beside these events."""
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
        for sql, params in self._stage(stored_events, ids, pending_key.get()):
            c.execute(sql, params)
        return ids


@dataclass(eq=False)
class _Save:
    """One caller's events waiting in :class:`_GroupCommit`, and what became of them."""

    stored_events: Sequence[StoredEvent]
    pending: PendingKey | None
    """The caller's keyed request: the committer runs on another thread, whose
    context does not hold the caller's :data:`pending_key`."""
    wake: threading.Event = field(default_factory=threading.Event)
    leads: bool = False
    done: bool = False
    ids: Sequence[int] | None = None
    error: BaseException | None = None

    def outcome(self) -> Sequence[int] | None:
        if self.error is not None:
            raise self.error
        return self.ids


@dataclass
class _Batch:
    """The saves one shared transaction is writing, and the answers it staged."""

    saves: list[_Save]
    staged: list[tuple[PendingKey, list[RecordedEvent], bool]] = field(default_factory=list)


# What says the database is away (after the bounded retries), rather than that
# one save is at fault.
_OUTAGE = (InterfaceError, OperationalError)

# Set on the leading thread while it writes a shared transaction, for the
# recorder's hook inside the library's insert to split the ids and stage answers.
_writing_batch: ContextVar[_Batch | None] = ContextVar("rectify_writing_batch", default=None)


class _GroupCommit:
    """Leader/follower group commit: the saves that queue while one transaction
    commits are written by the next in one transaction.

    A save that finds no transaction under way leads: it takes the queue (itself
    and whoever arrived meanwhile), writes it, hands the lead to the first save
    that queued during its commit, and returns. The others wait for their
    outcome without holding a connection.
    """

    def __init__(
        self,
        write_together: Callable[[list[_Save]], None],
        write_alone: Callable[[_Save], Sequence[int] | None],
    ) -> None:
        self._write_together = write_together
        self._write_alone = write_alone
        self._lock = threading.Lock()
        self._queue: list[_Save] = []
        self._leading = False

    def save(self, save: _Save) -> Sequence[int] | None:
        with self._lock:
            self._queue.append(save)
            if not self._leading:
                self._leading = save.leads = True
        if not save.leads:
            save.wake.wait()
            if save.done:
                return save.outcome()
        with self._lock:
            batch, self._queue = self._queue, []
        outage: BaseException | None = None
        try:
            outage = self._write(batch)
        finally:
            with self._lock:
                if outage is not None:
                    # The database is away: the saves that queued meanwhile
                    # would each wait as long to learn it; they learn it now.
                    for late in self._queue:
                        late.error = outage
                    batch += self._queue
                    self._queue = []
                if self._queue:
                    self._queue[0].leads = True
                    self._queue[0].wake.set()
                else:
                    self._leading = False
            for other in batch:
                other.done = True
                if other is not save:
                    other.wake.set()
        return save.outcome()

    def _write(self, batch: list[_Save]) -> BaseException | None:
        """Write the batch, each save's outcome set on it; return the error that
        says the database is away, if one did."""
        if len(batch) > 1:
            try:
                self._write_together(batch)
                return None
            except _OUTAGE as error:
                for save in batch:
                    save.error = error
                return error
            except Exception:
                # A version conflict or a key already answered (IntegrityError),
                # or one save's own failure: the transaction was rolled back;
                # write each alone, so only the one at fault is refused, exactly
                # as it would have been without company.
                return self._write_each_alone(batch)
            except BaseException as error:
                for save in batch:
                    save.error = error
                raise
        return self._write_each_alone(batch)

    def _write_each_alone(self, batch: list[_Save]) -> BaseException | None:
        for index, save in enumerate(batch):
            try:
                save.ids = self._write_alone(save)
            except _OUTAGE as error:
                for rest in batch[index:]:
                    rest.error = error
                return error
            except BaseException as error:
                save.error = error
        return None


class KeyedPostgresApplicationRecorder(_AnswersKeys, PostgresApplicationRecorder):
    """PostgreSQL's recorder, answering a keyed request in its events' transaction,
    with retries bounded in time, and concurrent saves committed together."""

    gathers_commits = True
    """Whether concurrent saves share a transaction (see :class:`_GroupCommit`)."""

    batch_sizes: list[int] | None = None
    """When a list, each shared transaction's number of saves is appended to it
    (for measurements and tests)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._staged = {}
        self._group = _GroupCommit(self._insert_together, self._insert_alone)
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
        # The application passes ``tracking=None``; anything set (a process
        # application's tracking record) is written alone, as the library does.
        alone = any(value is not None for value in kwargs.values())
        if not self.gathers_commits or alone or not stored_events:
            return self._insert_answering(lambda: self._insert(stored_events, **kwargs))
        return self._group.save(_Save(stored_events, pending_key.get()))

    @bounded_retries
    def _insert(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The library's insert (table lock, notify, insert, ids: one pipeline, one
        transaction), except that an error of Python's own, not the database's
        (an answer that cannot be rendered, say), rolls the events back: the
        library catches every error inside the transaction, which then commits.
        """
        database_error: psycopg.Error | None = None
        ids: Sequence[int] | None = None
        with self.datastore.get_connection() as conn:
            with conn.pipeline() as pipeline, conn.transaction(), conn.cursor() as curs:
                try:
                    self._insert_events(curs, stored_events, **kwargs)
                    self._insert_stored_events(curs, stored_events, **kwargs)
                    # Sync now, so a uniqueness violation is raised here and
                    # not later, at the commit.
                    pipeline.sync()
                    ids = self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
                except psycopg.Error as error:
                    # Raised once the pipeline has ended, as the library does,
                    # so psycopg does not log it a second time; the failed
                    # transaction's commit is a rollback.
                    database_error = error
            if database_error is not None:
                raise database_error
        return ids

    def _insert_alone(self, save: _Save) -> Sequence[int] | None:
        token = pending_key.set(save.pending)
        try:
            return self._insert_answering(lambda: self._insert(save.stored_events))
        finally:
            pending_key.reset(token)

    def _insert_together(self, saves: list[_Save]) -> None:
        batch = _Batch(saves)
        token = _writing_batch.set(batch)
        try:
            self._insert([event for save in saves for event in save.stored_events])
        finally:
            _writing_batch.reset(token)
        for pending, recorded, stored in batch.staged:
            pending.committed(recorded, stored=stored)
        if self.batch_sizes is not None:
            self.batch_sizes.append(len(saves))

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        batch = _writing_batch.get()
        if batch is None:
            statements = self._stage(stored_events, ids, pending_key.get())
        else:
            statements = self._stage_batch(batch, ids)
        if statements:
            # A nested pipeline syncs when it ends, so a collision with another
            # attempt's row is raised here, where the library catches it and
            # the transaction is rolled back — never committed without it.
            with curs.connection.pipeline():
                for sql, params in statements:
                    curs.execute(sql.replace("?", "%s"), params)
        return ids

    def _stage_batch(
        self, batch: _Batch, ids: Sequence[int] | None
    ) -> list[tuple[str, tuple[Any, ...]]]:
        """Give each save its own ids, in the order its events were inserted, and
        stage each keyed save's answer."""
        assert ids is not None
        statements: list[tuple[str, tuple[Any, ...]]] = []
        start = 0
        batch.staged.clear()  # a retried attempt stages afresh
        for save in batch.saves:
            end = start + len(save.stored_events)
            save.ids = ids[start:end]
            start = end
            if save.pending is not None:
                own = self._stage(save.stored_events, save.ids, save.pending)
                staged = self._staged.pop(id(save.pending))
                batch.staged.append((save.pending, *staged))
                statements.extend(own)
        return statements

    select_events = bounded_retries(PostgresApplicationRecorder.select_events)
    select_notifications = bounded_retries(PostgresApplicationRecorder.select_notifications)
    max_notification_id = bounded_retries(PostgresApplicationRecorder.max_notification_id)
