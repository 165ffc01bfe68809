"""Who may advance a projection: one worker at a time.

On PostgreSQL several processes may run the same projection (API processes
and ``rectify projections run`` workers); a session-level advisory lock per
projection name lets exactly one of them advance it while the others wait to
take over. The lock lives on a connection of its own: if that process dies,
PostgreSQL ends the session and releases the lock.

The lock is an optimisation of who works, not what keeps the rows right: the
views refuse to record a position that is not past the one already recorded
(see :mod:`infrastructure.readmodels.views`), so even two workers that both
believed they held the lock could not apply an event twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
from typing import Any, Protocol

import psycopg


class WorkerLock(Protocol):
    """Exclusive right to advance one projection."""

    def acquire(self) -> bool:
        """Take the lock if it is free; return whether this worker now holds it."""
        ...

    def still_held(self) -> bool:
        """Whether the lock is still this worker's (its connection may have died)."""
        ...

    def release(self) -> None: ...


class NoLock:
    """For a store only one process uses at a time (POPO), or where the view's
    position check alone serialises the workers (SQLite's single writer)."""

    def acquire(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def release(self) -> None:
        return None


WORKER_LABEL_PREFIX = "rectify-projections"


def worker_label() -> str:
    """How a lock's session names its process (``application_name``), so that
    ``rectify projections status`` can say which worker leads: ``rectify-projections
    pid 1234 on host``."""
    return f"{WORKER_LABEL_PREFIX} pid {os.getpid()} on {socket.gethostname()}"[:63]


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (PostgreSQL advisory locks take a bigint)."""
    digest = hashlib.blake2b(f"rectify:projection:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresAdvisoryLock:
    """``pg_try_advisory_lock`` on a dedicated connection, per projection name."""

    def __init__(self, connect_kwargs: dict[str, Any], name: str) -> None:
        self._connect_kwargs = {k: v for k, v in connect_kwargs.items() if k != "row_factory"}
        self.name = name
        self.key = advisory_key(name)
        self._conn: psycopg.Connection[Any] | None = None
        self._held = False
        self._mutex = threading.Lock()

    def acquire(self) -> bool:
        with self._mutex:
            if self._held and self._alive():
                return True
            self._forget()
            try:
                self._conn = psycopg.connect(
                    **self._connect_kwargs,
                    autocommit=True,
                    application_name=worker_label(),
                )
                row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            except psycopg.Error:
                self._forget()
                return False
            self._held = bool(row and row[0])
            if not self._held:
                self._forget()
            return self._held

    def still_held(self) -> bool:
        with self._mutex:
            if self._held and self._alive():
                return True
            self._forget()
            return False

    def release(self) -> None:
        with self._mutex:
            if self._held and self._conn is not None:
                # A failure means the session is gone, and the lock with it.
                with contextlib.suppress(psycopg.Error):
                    self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            self._forget()

    def _alive(self) -> bool:
        if self._conn is None or self._conn.closed:
            return False
        try:
            self._conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def _forget(self) -> None:
        self._held = False
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
