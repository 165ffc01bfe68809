"""Idempotency keys: a retried command returns its first response and records nothing new.

Each key belongs to one user (two users may pick the same key) and to one
request: the method and path, and a hash of the body. The table
``rectify_idempotency`` sits beside the events in the same database, so keys
survive a restart and are shared by every API process.

**Exactly once.** A command's answer is written in the *same transaction* as
its events: while a keyed request runs, :data:`pending_key` names it, and the
event store's recorder (:mod:`infrastructure.recorders`) inserts the key's row
beside the events it commits. So whatever dies when — the process a
millisecond after the commit, the database before the answer reached the
client — a retry finds either the answer (the command committed: replay it) or
nothing (it did not: run it now). No row is ever left "pending", so no retry
waits behind an attempt that died.

Two attempts of one key racing in different processes cannot both commit: the
second's insert of the key's row fails on the primary key, which rolls back its
events too (:class:`KeyAlreadyAnswered`), and it answers the first's response.
Within one process the HTTP layer serialises attempts of one key.

A keyed request that commits no events (the in-memory store, which has no
transactions) keeps its answer afterwards with :meth:`IdempotencyStore.keep`.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID

from infrastructure.side_tables import Dialect, SideDatabase


@dataclass(frozen=True)
class StoredResponse:
    """The first response to a keyed request, replayed to its retries."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Claim(StrEnum):
    """What :meth:`IdempotencyStore.begin` found."""

    STARTED = "started"
    """The key has no answer: run the request."""
    REPLAY = "replay"
    """The same request was answered before: replay ``response``."""
    MISMATCH = "mismatch"
    """The key was used for another request (path or body)."""


@dataclass(frozen=True)
class Begun:
    """The result of looking a key up."""

    claim: Claim
    response: StoredResponse | None = None
    method_path: str | None = None
    """For a mismatch: the request the key was first used for."""


@dataclass(frozen=True)
class RecordedEvent:
    """What the event store knows of one event it is committing: enough to answer."""

    originator_id: UUID
    originator_version: int
    topic: str
    position: int


@dataclass
class PendingKey:
    """A keyed request now running, for the recorder to answer in the events' transaction.

    The HTTP layer sets it (:data:`pending_key`) before running the request; the
    endpoint sets :attr:`answer`, which turns the events a command records into
    its response; the recorder calls it inside the transaction and writes the
    row. :attr:`stored` says the answer was committed with the events.
    """

    user_id: str
    key: str
    method_path: str
    request_hash: str
    with_events: bool = True
    """Whether the store reads answers from the events' database (not in memory)."""
    answer: Callable[[Sequence[RecordedEvent]], StoredResponse | None] | None = None
    recorded: list[RecordedEvent] = field(default_factory=list)
    stored: bool = False

    def statements(
        self, recorded_now: Sequence[RecordedEvent], now: float
    ) -> list[tuple[str, tuple[Any, ...]]]:
        """The SQL (``?`` placeholders) that writes this key's answer with ``recorded_now``.

        Empty when there is nothing to answer from (no ``answer`` set, or it
        gave none): the request then keeps its answer afterwards, as before.
        On a second save by the same request the row is brought up to date.
        """
        if self.answer is None or not self.with_events:
            return []
        response = self.answer([*self.recorded, *recorded_now])
        if response is None:
            return []
        values = (
            response.status,
            json.dumps(response.headers),
            response.body,
        )
        if self.stored:
            return [
                (
                    "UPDATE rectify_idempotency SET status = ?, headers = ?, body = ?"
                    " WHERE user_id = ? AND idempotency_key = ?",
                    (*values, self.user_id, self.key),
                )
            ]
        return [
            # A row left "pending" by an earlier version of the service
            # answers nothing; it must not block the key.
            (
                "DELETE FROM rectify_idempotency"
                " WHERE user_id = ? AND idempotency_key = ? AND state = ?",
                (self.user_id, self.key, _PENDING),
            ),
            # No ON CONFLICT: another attempt's committed answer must make this
            # transaction fail, and take its events with it.
            (
                "INSERT INTO rectify_idempotency (user_id, idempotency_key, method_path,"
                " request_hash, state, status, headers, body, created_at, completed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.user_id,
                    self.key,
                    self.method_path,
                    self.request_hash,
                    _DONE,
                    *values,
                    now,
                    now,
                ),
            ),
        ]

    def committed(self, recorded_now: Sequence[RecordedEvent], *, stored: bool) -> None:
        """The events' transaction committed (with the key's answer if ``stored``)."""
        self.recorded.extend(recorded_now)
        self.stored = self.stored or stored


pending_key: ContextVar[PendingKey | None] = ContextVar("rectify_pending_key", default=None)
"""The keyed request the current thread (or task) is running, if any."""


class KeyAlreadyAnswered(Exception):
    """Another attempt of the same keyed request committed first; this one recorded nothing."""

    def __init__(self, user_id: str, key: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} of {user_id} was answered by another attempt")
        self.user_id = user_id
        self.key = key


IDEMPOTENCY_TABLE = "rectify_idempotency"


def is_key_conflict(error: BaseException | None) -> bool:
    """Whether a database error is the key's row colliding with another attempt's."""
    seen = 0
    while error is not None and seen < 5:
        diag = getattr(error, "diag", None)
        if diag is not None and getattr(diag, "table_name", None) == IDEMPOTENCY_TABLE:
            return True
        if f"{IDEMPOTENCY_TABLE}." in str(error) and "UNIQUE" in str(error).upper():
            return True
        error = error.__cause__
        seen += 1
    return False


@dataclass
class _Record:
    method_path: str
    request_hash: str
    created_at: float
    response: StoredResponse


class IdempotencyStore(ABC):
    """Remembers keyed requests per user and their first responses."""

    answers_with_events = False
    """Whether the event store writes answers beside the events it commits (see above)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def begin(self, user_id: str, key: str, method_path: str, request_hash: str) -> Begun:
        """Look ``key`` up for this request: run it, replay it, or refuse it."""
        record = self._find(user_id, key)
        if record is None:
            return Begun(Claim.STARTED)
        if (record.method_path, record.request_hash) != (method_path, request_hash):
            return Begun(Claim.MISMATCH, method_path=record.method_path)
        return Begun(Claim.REPLAY, response=record.response)

    def keep(
        self,
        user_id: str,
        key: str,
        method_path: str,
        request_hash: str,
        response: StoredResponse,
    ) -> None:
        """Keep the answer of a request that committed it with no events; the first kept wins."""
        self._insert(user_id, key, _Record(method_path, request_hash, self._clock(), response))

    @abstractmethod
    def purge(self, older_than_seconds: float) -> int:
        """Forget answered keys older than this; return how many."""

    def close(self) -> None:  # noqa: B027 - an optional hook; most stores hold nothing
        """Release connections, if any."""

    @abstractmethod
    def _find(self, user_id: str, key: str) -> _Record | None:
        """The answered record of ``key``, if any."""

    @abstractmethod
    def _insert(self, user_id: str, key: str, record: _Record) -> None:
        """Insert ``record`` unless the key is answered already."""


class InMemoryIdempotencyStore(IdempotencyStore):
    """Keys kept in the process, for the in-memory (popo) store and tests."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self._records: dict[tuple[str, str], _Record] = {}
        self._lock = threading.Lock()

    def _find(self, user_id: str, key: str) -> _Record | None:
        with self._lock:
            return self._records.get((user_id, key))

    def _insert(self, user_id: str, key: str, record: _Record) -> None:
        with self._lock:
            self._records.setdefault((user_id, key), record)

    def purge(self, older_than_seconds: float) -> int:
        cutoff = self._clock() - older_than_seconds
        with self._lock:
            old = [k for k, r in self._records.items() if r.created_at < cutoff]
            for k in old:
                del self._records[k]
            return len(old)


IDEMPOTENCY_DDL: dict[Dialect, list[str]] = {
    "sqlite": [
        "CREATE TABLE IF NOT EXISTS rectify_idempotency ("
        " user_id TEXT NOT NULL,"
        " idempotency_key TEXT NOT NULL,"
        " method_path TEXT NOT NULL,"
        " request_hash TEXT NOT NULL,"
        " state TEXT NOT NULL,"
        " status INTEGER,"
        " headers TEXT,"
        " body BLOB,"
        " created_at REAL NOT NULL,"
        " completed_at REAL,"
        " PRIMARY KEY (user_id, idempotency_key))",
    ],
    "postgres": [
        "CREATE TABLE IF NOT EXISTS rectify_idempotency ("
        " user_id TEXT NOT NULL,"
        " idempotency_key TEXT NOT NULL,"
        " method_path TEXT NOT NULL,"
        " request_hash TEXT NOT NULL,"
        " state TEXT NOT NULL,"
        " status INTEGER,"
        " headers TEXT,"
        " body BYTEA,"
        " created_at DOUBLE PRECISION NOT NULL,"
        " completed_at DOUBLE PRECISION,"
        " PRIMARY KEY (user_id, idempotency_key))",
    ],
}

# Rows are written answered ("done"); "pending" rows exist only in databases an
# earlier version of the service wrote, and are treated as absent.
_PENDING = "pending"
_DONE = "done"


class SqlIdempotencyStore(IdempotencyStore):
    """Keys in the table ``rectify_idempotency`` of the events' database."""

    answers_with_events = True

    def __init__(
        self,
        database: SideDatabase,
        clock: Callable[[], float] = time.time,
        *,
        owns_database: bool = False,
    ) -> None:
        super().__init__(clock)
        self.database = database
        self._owns_database = owns_database
        database.ensure_tables(IDEMPOTENCY_DDL)

    def _find(self, user_id: str, key: str) -> _Record | None:
        rows = self.database.execute(
            "SELECT method_path, request_hash, status, headers, body, created_at"
            " FROM rectify_idempotency WHERE user_id = ? AND idempotency_key = ? AND state = ?",
            (user_id, key, _DONE),
            write=False,
        )
        if not rows:
            return None
        method_path, request_hash, status, headers, body, created_at = rows[0]
        response = StoredResponse(
            status=int(status),
            headers=[(str(n), str(v)) for n, v in json.loads(headers)],
            body=bytes(body),
        )
        return _Record(str(method_path), str(request_hash), float(created_at), response)

    def _insert(self, user_id: str, key: str, record: _Record) -> None:
        with self.database.transaction() as tx:
            tx.execute(
                "DELETE FROM rectify_idempotency"
                " WHERE user_id = ? AND idempotency_key = ? AND state = ?",
                (user_id, key, _PENDING),
            )
            tx.execute(
                "INSERT INTO rectify_idempotency (user_id, idempotency_key, method_path,"
                " request_hash, state, status, headers, body, created_at, completed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id, idempotency_key) DO NOTHING",
                (
                    user_id,
                    key,
                    record.method_path,
                    record.request_hash,
                    _DONE,
                    record.response.status,
                    json.dumps(record.response.headers),
                    record.response.body,
                    record.created_at,
                    record.created_at,
                ),
            )

    def purge(self, older_than_seconds: float) -> int:
        with self.database.transaction() as tx:
            tx.execute(
                "DELETE FROM rectify_idempotency WHERE created_at < ?",
                (self._clock() - older_than_seconds,),
            )
            return tx.rowcount()

    def close(self) -> None:
        """Close the database connection if this store opened it."""
        if self._owns_database:
            self.database.close()


DEFAULT_PURGE_HOURS = 24.0
DEFAULT_KEEP_DAYS = 7.0
SECONDS_PER_DAY = 24 * 60 * 60


class IdempotencyPurger:
    """Forgets old answered keys every ``interval`` seconds, in a thread of its own.

    The API runs one per process (``RECTIFY_IDEMPOTENCY_PURGE_HOURS``, 24; 0
    turns it off), so the table does not grow without bound when nobody set up
    ``rectify idempotency purge`` in cron. Several processes purging at once
    delete the same rows at most once: harmless.
    """

    def __init__(
        self,
        store: IdempotencyStore,
        *,
        interval: float,
        keep_seconds: float,
        on_error: Callable[[Exception], None],
    ) -> None:
        self.store = store
        self.interval = interval
        self.keep_seconds = keep_seconds
        self.on_error = on_error
        self.purged = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> IdempotencyPurger:
        if self.interval > 0:
            self._thread = threading.Thread(
                target=self._loop, name="idempotency-purge", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.purged += self.store.purge(self.keep_seconds)
            except Exception as error:
                # A database that is briefly away must not end the loop for good.
                self.on_error(error)


def purge_settings(get: Callable[[str], str | None]) -> tuple[float, float]:
    """(interval seconds, keep seconds) from ``IDEMPOTENCY_PURGE_HOURS`` and
    ``IDEMPOTENCY_KEEP_DAYS`` as ``get`` finds them; ValueError if malformed."""
    hours_text = (get("IDEMPOTENCY_PURGE_HOURS") or "").strip()
    days_text = (get("IDEMPOTENCY_KEEP_DAYS") or "").strip()
    try:
        hours = float(hours_text) if hours_text else DEFAULT_PURGE_HOURS
        days = float(days_text) if days_text else DEFAULT_KEEP_DAYS
    except ValueError:
        raise ValueError(
            "RECTIFY_IDEMPOTENCY_PURGE_HOURS and RECTIFY_IDEMPOTENCY_KEEP_DAYS must be numbers, "
            f"not {hours_text!r} and {days_text!r}"
        ) from None
    if not (0 <= hours < 10**6 and 0 <= days < 10**6):
        raise ValueError(
            "RECTIFY_IDEMPOTENCY_PURGE_HOURS and RECTIFY_IDEMPOTENCY_KEEP_DAYS must be "
            "between 0 and 1,000,000"
        )
    return hours * 3600, days * SECONDS_PER_DAY
