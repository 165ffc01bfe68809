"""The web console's sign-in sessions, kept on the server.

The browser holds only a random session id (an HttpOnly cookie); the row here
says whose session it is, when it began and its CSRF token. Keeping the session
on the server is what lets it end at once: sign-out deletes the row, and every
request checks the account again, so a disabled account or a password changed
after the session began ends it on the next click (see
:meth:`SessionStore.user_for`).

Like users and idempotency keys, sessions are bookkeeping, not events: the
table ``rectify_console_sessions`` sits beside the events in the same database.
"""

from __future__ import annotations

import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from infrastructure.side_tables import SideDatabase
from infrastructure.users import User, UserStore

# A console session lasts a working day without activity, then asks to sign in again.
DEFAULT_IDLE_SECONDS = 12 * 60 * 60


@dataclass(frozen=True)
class ConsoleSession:
    """One signed-in browser: whose, since when, and the token its forms must carry."""

    session_id: str
    user_id: str
    csrf_token: str
    created_at: float
    last_seen: float


class SessionStore(ABC):
    """Begin, find and end console sessions."""

    def __init__(
        self, *, idle_seconds: float = DEFAULT_IDLE_SECONDS, now: Callable[[], float] = time.time
    ) -> None:
        self.idle_seconds = idle_seconds
        self.now = now

    def begin(self, user_id: str) -> ConsoleSession:
        """A new session for ``user_id`` with fresh random id and CSRF token."""
        now = self.now()
        session = ConsoleSession(
            session_id=secrets.token_urlsafe(32),
            user_id=user_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
        )
        self._insert(session)
        return session

    def find(self, session_id: str | None) -> ConsoleSession | None:
        """The live session with that id, or None (unknown, or idle too long)."""
        if not session_id or len(session_id) > 100:
            return None
        session = self._select(session_id)
        if session is None:
            return None
        now = self.now()
        if now - session.last_seen > self.idle_seconds:
            self.end(session_id)
            return None
        # Touch at most once a minute: reading a page should not write every time.
        if now - session.last_seen > 60:
            self._touch(session_id, now)
        return session

    def user_for(self, session: ConsoleSession, users: UserStore) -> User | None:
        """The session's user if the account still allows it, else None (and the session ends).

        A disabled account, or a password changed after the session began, ends it.
        """
        user = users.get(session.user_id)
        if (
            user is None
            or not user.active
            or (
                user.password_changed_at is not None
                and user.password_changed_at > session.created_at
            )
        ):
            self.end(session.session_id)
            return None
        return user

    def end(self, session_id: str) -> None:
        """Forget the session (sign-out)."""
        self._delete(session_id)

    @abstractmethod
    def _insert(self, session: ConsoleSession) -> None: ...

    @abstractmethod
    def _select(self, session_id: str) -> ConsoleSession | None: ...

    @abstractmethod
    def _touch(self, session_id: str, now: float) -> None: ...

    @abstractmethod
    def _delete(self, session_id: str) -> None: ...


class InMemorySessionStore(SessionStore):
    """Sessions in a dict, for the in-memory (popo) backend and tests."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self._rows: dict[str, ConsoleSession] = {}
        self._lock = threading.Lock()

    def _insert(self, session: ConsoleSession) -> None:
        with self._lock:
            self._rows[session.session_id] = session

    def _select(self, session_id: str) -> ConsoleSession | None:
        with self._lock:
            return self._rows.get(session_id)

    def _touch(self, session_id: str, now: float) -> None:
        with self._lock:
            row = self._rows.get(session_id)
            if row is not None:
                self._rows[session_id] = ConsoleSession(
                    row.session_id, row.user_id, row.csrf_token, row.created_at, now
                )

    def _delete(self, session_id: str) -> None:
        with self._lock:
            self._rows.pop(session_id, None)


_DDL = {
    "sqlite": [
        "CREATE TABLE IF NOT EXISTS rectify_console_sessions ("
        " session_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, csrf_token TEXT NOT NULL,"
        " created_at REAL NOT NULL, last_seen REAL NOT NULL)",
    ],
    "postgres": [
        "CREATE TABLE IF NOT EXISTS rectify_console_sessions ("
        " session_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, csrf_token TEXT NOT NULL,"
        " created_at DOUBLE PRECISION NOT NULL, last_seen DOUBLE PRECISION NOT NULL)",
    ],
}


class SqlSessionStore(SessionStore):
    """Sessions in ``rectify_console_sessions`` beside the events (SQLite or PostgreSQL)."""

    def __init__(self, database: SideDatabase, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.database = database
        database.ensure_tables(_DDL)  # type: ignore[arg-type]

    def _insert(self, session: ConsoleSession) -> None:
        self.database.execute(
            "INSERT INTO rectify_console_sessions"
            " (session_id, user_id, csrf_token, created_at, last_seen) VALUES (?, ?, ?, ?, ?)",
            (
                session.session_id,
                session.user_id,
                session.csrf_token,
                session.created_at,
                session.last_seen,
            ),
        )

    def _select(self, session_id: str) -> ConsoleSession | None:
        rows = self.database.execute(
            "SELECT session_id, user_id, csrf_token, created_at, last_seen"
            " FROM rectify_console_sessions WHERE session_id = ?",
            (session_id,),
            write=False,
        )
        if not rows:
            return None
        sid, user_id, csrf, created, seen = rows[0]
        return ConsoleSession(sid, user_id, csrf, float(created), float(seen))

    def _touch(self, session_id: str, now: float) -> None:
        self.database.execute(
            "UPDATE rectify_console_sessions SET last_seen = ? WHERE session_id = ?",
            (now, session_id),
        )

    def _delete(self, session_id: str) -> None:
        self.database.execute(
            "DELETE FROM rectify_console_sessions WHERE session_id = ?", (session_id,)
        )


def session_store_for(database: SideDatabase | None) -> SessionStore:
    """Sessions beside the events, or in memory when there is no side database (popo)."""
    return SqlSessionStore(database) if database is not None else InMemorySessionStore()
