"""Idempotency keys: a retried command returns its first response and records nothing new.

Each key belongs to one user (two users may pick the same key) and to one
request: the method and path, and a hash of the body. The table
``rectify_idempotency`` sits beside the events in the same database, so keys
survive a restart and are shared by every API process.

A request claims its key by inserting a *pending* row; the primary key lets
only one of several concurrent retries in. When the response is known the row
becomes *done* and keeps the status, headers and body to replay. A pending row
whose process died is taken over after :data:`PENDING_LEASE_SECONDS`.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from infrastructure.side_tables import Dialect, SideDatabase

# Longer than any command takes; a pending row older than this was left by a
# process that died mid-request, and the key is free again.
PENDING_LEASE_SECONDS = 60.0


@dataclass(frozen=True)
class StoredResponse:
    """The first response to a keyed request, replayed to its retries."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Claim(StrEnum):
    """What :meth:`IdempotencyStore.begin` found."""

    STARTED = "started"
    """The key is new (or its lease expired): run the request, then complete or abandon."""
    REPLAY = "replay"
    """The same request was answered before: replay ``response``."""
    MISMATCH = "mismatch"
    """The key was used for another request (path or body)."""
    IN_PROGRESS = "in_progress"
    """The same request is running now under this key."""


@dataclass(frozen=True)
class Begun:
    """The result of claiming a key."""

    claim: Claim
    response: StoredResponse | None = None
    method_path: str | None = None
    """For a mismatch: the request the key was first used for."""


@dataclass
class _Record:
    method_path: str
    request_hash: str
    created_at: float
    response: StoredResponse | None = None


class IdempotencyStore(ABC):
    """Remembers keyed requests per user and their first responses."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def begin(self, user_id: str, key: str, method_path: str, request_hash: str) -> Begun:
        """Claim ``key`` for this request, or say why it cannot be run."""
        now = self._clock()
        record = self._claim(user_id, key, _Record(method_path, request_hash, now))
        if record is None:
            return Begun(Claim.STARTED)
        if (record.method_path, record.request_hash) != (method_path, request_hash):
            return Begun(Claim.MISMATCH, method_path=record.method_path)
        if record.response is not None:
            return Begun(Claim.REPLAY, response=record.response)
        if now - record.created_at > PENDING_LEASE_SECONDS and self._take_over(
            user_id, key, record.created_at, now
        ):
            return Begun(Claim.STARTED)
        return Begun(Claim.IN_PROGRESS)

    @abstractmethod
    def complete(self, user_id: str, key: str, response: StoredResponse) -> None:
        """Keep the response of a started request, for its retries."""

    @abstractmethod
    def abandon(self, user_id: str, key: str) -> None:
        """Free the key of a started request whose response is not to be kept."""

    @abstractmethod
    def purge(self, older_than_seconds: float) -> int:
        """Forget answered keys older than this; return how many."""

    def close(self) -> None:  # noqa: B027 - an optional hook; most stores hold nothing
        """Release connections, if any."""

    @abstractmethod
    def _claim(self, user_id: str, key: str, record: _Record) -> _Record | None:
        """Insert ``record`` as pending, or return the record already there."""

    @abstractmethod
    def _take_over(self, user_id: str, key: str, created_at: float, now: float) -> bool:
        """Restart the lease of a pending record still created at ``created_at``."""


class InMemoryIdempotencyStore(IdempotencyStore):
    """Keys kept in the process, for the in-memory (popo) store and tests."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self._records: dict[tuple[str, str], _Record] = {}
        self._lock = threading.Lock()

    def _claim(self, user_id: str, key: str, record: _Record) -> _Record | None:
        with self._lock:
            existing = self._records.get((user_id, key))
            if existing is None:
                self._records[(user_id, key)] = record
            return existing

    def _take_over(self, user_id: str, key: str, created_at: float, now: float) -> bool:
        with self._lock:
            record = self._records.get((user_id, key))
            if record is None or record.response is not None or record.created_at != created_at:
                return False
            record.created_at = now
            return True

    def complete(self, user_id: str, key: str, response: StoredResponse) -> None:
        with self._lock:
            record = self._records.get((user_id, key))
            if record is not None:
                record.response = response

    def abandon(self, user_id: str, key: str) -> None:
        with self._lock:
            record = self._records.get((user_id, key))
            if record is not None and record.response is None:
                del self._records[(user_id, key)]

    def purge(self, older_than_seconds: float) -> int:
        cutoff = self._clock() - older_than_seconds
        with self._lock:
            old = [
                k
                for k, r in self._records.items()
                if r.response is not None and r.created_at < cutoff
            ]
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

_PENDING = "pending"
_DONE = "done"


class SqlIdempotencyStore(IdempotencyStore):
    """Keys in the table ``rectify_idempotency`` of the events' database."""

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

    def _claim(self, user_id: str, key: str, record: _Record) -> _Record | None:
        with self.database.transaction() as tx:
            # On PostgreSQL a concurrent insert of the same key waits here until
            # the other transaction commits, then finds its row.
            tx.execute(
                "INSERT INTO rectify_idempotency"
                " (user_id, idempotency_key, method_path, request_hash, state, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, idempotency_key) DO NOTHING",
                (
                    user_id,
                    key,
                    record.method_path,
                    record.request_hash,
                    _PENDING,
                    record.created_at,
                ),
            )
            if tx.rowcount() == 1:
                return None
            rows = tx.execute(
                "SELECT method_path, request_hash, state, status, headers, body, created_at"
                " FROM rectify_idempotency WHERE user_id = ? AND idempotency_key = ?",
                (user_id, key),
            )
        method_path, request_hash, state, status, headers, body, created_at = rows[0]
        response = None
        if state == _DONE:
            response = StoredResponse(
                status=int(status),
                headers=[(str(n), str(v)) for n, v in json.loads(headers)],
                body=bytes(body),
            )
        return _Record(method_path, request_hash, float(created_at), response)

    def _take_over(self, user_id: str, key: str, created_at: float, now: float) -> bool:
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE rectify_idempotency SET created_at = ?"
                " WHERE user_id = ? AND idempotency_key = ? AND state = ? AND created_at = ?",
                (now, user_id, key, _PENDING, created_at),
            )
            return tx.rowcount() == 1

    def complete(self, user_id: str, key: str, response: StoredResponse) -> None:
        self.database.execute(
            "UPDATE rectify_idempotency"
            " SET state = ?, status = ?, headers = ?, body = ?, completed_at = ?"
            " WHERE user_id = ? AND idempotency_key = ?",
            (
                _DONE,
                response.status,
                json.dumps(response.headers),
                response.body,
                self._clock(),
                user_id,
                key,
            ),
        )

    def abandon(self, user_id: str, key: str) -> None:
        self.database.execute(
            "DELETE FROM rectify_idempotency"
            " WHERE user_id = ? AND idempotency_key = ? AND state = ?",
            (user_id, key, _PENDING),
        )

    def purge(self, older_than_seconds: float) -> int:
        with self.database.transaction() as tx:
            tx.execute(
                "DELETE FROM rectify_idempotency WHERE state = ? AND created_at < ?",
                (_DONE, self._clock() - older_than_seconds),
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
