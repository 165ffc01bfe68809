"""Connections for the service's own tables beside the event store.

Users, idempotency keys, evidence and the token secret are configuration and
bookkeeping, not events: they live in small tables of their own (``rectify_*``)
in the same database as the events, so one URL still configures everything.

The stores write their SQL once, with ``?`` placeholders, and this module runs
it on SQLite (one connection guarded by a lock: SQLite serialises writers
anyway) or on PostgreSQL (a small psycopg pool). Data definition differs
between the two, so each store passes both dialects' DDL.
"""

from __future__ import annotations

import select
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

Dialect = Literal["sqlite", "postgres"]

# Each pool serves short statements only (a user lookup, an idempotency row),
# so a few connections per process are enough, while the event store keeps its
# own larger pool for the commands themselves.
POSTGRES_SIDE_POOL_SIZE = 4
# Every authenticated request looks its user up here: with the database down,
# it must give up quickly (503) rather than hold the request.
POSTGRES_POOL_WAIT_SECONDS = 0.5
SQLITE_LOCK_TIMEOUT_SECONDS = 30.0
# Arbitrary constants naming the advisory locks that serialise table creation:
# of the side tables, and of everything else created at startup (the event store's).
SIDE_TABLES_DDL_LOCK = 0x5245_4354_4946_59  # "RECTIFY"
STARTUP_LOCK = 0x5245_4354_4946_5A


class Executor(ABC):
    """Runs statements inside one transaction (or one autocommit statement)."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` with ``?`` placeholders; return the rows it produced, if any."""

    @abstractmethod
    def rowcount(self) -> int:
        """How many rows the last statement changed."""


class SideDatabase(ABC):
    """A database for the side tables: run a statement, or several in one transaction."""

    dialect: Dialect

    @abstractmethod
    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Executor]:
        """Run statements in one transaction, committed when the block ends without error.

        ``write=False`` promises only reads, which SQLite then runs without
        taking its write lock.
        """

    def execute(
        self, sql: str, params: Sequence[Any] = (), *, write: bool = True
    ) -> list[tuple[Any, ...]]:
        """Run one statement in a transaction of its own."""
        with self.transaction(write=write) as tx:
            return tx.execute(sql, params)

    def ensure_tables(self, ddl: Mapping[Dialect, Sequence[str]]) -> None:
        """Create tables and indexes (``IF NOT EXISTS``) with this dialect's DDL."""
        with self.transaction() as tx:
            for statement in ddl[self.dialect]:
                tx.execute(statement)

    def ensure_columns(self, table: str, columns: Mapping[str, Mapping[Dialect, str]]) -> None:
        """Add ``columns`` (name → type by dialect) that ``table``, made by an
        earlier version, lacks; SQLite has no ``ADD COLUMN IF NOT EXISTS``."""
        with self.transaction() as tx:
            present = {row[1] for row in tx.execute(f"PRAGMA table_info({table})")}
            for name, types in columns.items():
                if name not in present:
                    tx.execute(f"ALTER TABLE {table} ADD COLUMN {name} {types[self.dialect]}")

    @contextmanager
    def startup_lock(self) -> Iterator[None]:
        """Hold, across processes, the lock under which one process at a time starts.

        Only PostgreSQL needs it (SQLite serialises its writers anyway): several
        workers starting together on a fresh database would otherwise race to
        create the same tables.
        """
        yield

    @abstractmethod
    def close(self) -> None:
        """Release the connections."""


class _SQLiteExecutor(Executor):
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._cursor = connection.cursor()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(sql, tuple(params))
        return [tuple(row) for row in self._cursor.fetchall()]

    def rowcount(self) -> int:
        return self._cursor.rowcount


class SQLiteSideDatabase(SideDatabase):
    """Side tables in the SQLite file (or shared in-memory database) of the events."""

    dialect: Dialect = "sqlite"

    def __init__(self, db_name: str, *, lock_timeout: float = SQLITE_LOCK_TIMEOUT_SECONDS) -> None:
        self.db_name = db_name
        # uri=True as eventsourcing does, so the shared in-memory name
        # "file:…?mode=memory&cache=shared" reaches the same database.
        self._connection = sqlite3.connect(
            db_name,
            uri=True,
            check_same_thread=False,
            isolation_level=None,
            timeout=lock_timeout,
        )
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Executor]:
        with self._lock:
            # IMMEDIATE takes the write lock at once, so a read-then-write
            # sequence cannot be overtaken by another process between the two.
            self._connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield _SQLiteExecutor(self._connection)
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class _PostgresExecutor(Executor):
    def __init__(self, connection: Any) -> None:
        self._cursor = connection.cursor()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(sql.replace("?", "%s"), tuple(params))
        if self._cursor.description is None:
            return []
        return [tuple(row) for row in self._cursor.fetchall()]

    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


# psycopg's pool retries a failed connection attempt with back-off (1 s, 2 s,
# 4 s …) for five minutes, and meanwhile makes no other: after an outage of
# ten seconds, the database was back for up to eight before the pool tried
# again. Giving up an attempt after half a second instead makes the next
# request that needs a connection try afresh, so service resumes at once.
RECONNECT_GIVE_UP_SECONDS = 0.5


def sweeping_check(pool: Any) -> Callable[[Any], None]:
    """A psycopg pool ``check`` that, finding one connection broken, sweeps them all.

    After the server restarts every pooled connection is dead. psycopg's own
    check discards one per try and backs off a second before the next, so a
    request met several dead ones in a row and gave up. Sweeping the pool at
    the first (``pool.check()``) leaves only live or new connections for the
    next try, which psycopg makes at once.

    The round trip psycopg's check makes is only paid for a connection that
    :func:`may_be_dead`: an idle connection the server has not written to is
    as alive as a round trip would show, and most requests take two or three
    connections from a pool.
    """

    def check(connection: Any) -> None:
        if not may_be_dead(connection):
            return
        try:
            pool.check_connection(connection)
        except Exception:
            pool.check()
            raise

    return check


def may_be_dead(connection: Any) -> bool:
    """Whether an idle pooled connection needs a round trip to tell it is alive.

    A server that ends a session — a restart, ``pg_terminate_backend``, an idle
    timeout — sends its error and closes the socket, so the socket turns
    readable. An idle connection with nothing to read has not been ended by
    the server; one with anything to read (that, or a stray notice) is
    checked the usual way, which also consumes what is there.
    """
    if connection.closed or connection.broken:
        return True
    try:
        poller = select.poll()
        poller.register(connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    except (AttributeError, OSError, ValueError):
        # No poll() on this platform, or no socket: ask the server.
        return True


class PostgresSideDatabase(SideDatabase):
    """Side tables in the PostgreSQL database of the events, through a small pool."""

    dialect: Dialect = "postgres"

    def __init__(self, conninfo: str, *, max_size: int = POSTGRES_SIDE_POOL_SIZE) -> None:
        from psycopg_pool import ConnectionPool

        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_size,
            timeout=POSTGRES_POOL_WAIT_SECONDS,
            kwargs={"autocommit": True},
            # A connection the server closed (a restart) is replaced before use.
            check=lambda connection: self._check(connection),
            open=True,
            name="rectify-side-tables",
            reconnect_timeout=RECONNECT_GIVE_UP_SECONDS,
        )
        self._check = sweeping_check(self._pool)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Executor]:
        with self._pool.connection() as connection, connection.transaction():
            yield _PostgresExecutor(connection)

    def ensure_tables(self, ddl: Mapping[Dialect, Sequence[str]]) -> None:
        """Create the tables; several processes starting at once do it one at a time.

        ``CREATE TABLE IF NOT EXISTS`` is not safe against itself on PostgreSQL:
        two sessions racing can both pass the check, and the second fails on the
        catalog's unique index. A transaction-scoped advisory lock orders them.
        """
        with self.transaction() as tx:
            tx.execute("SELECT pg_advisory_xact_lock(?)", (SIDE_TABLES_DDL_LOCK,))
            for statement in ddl[self.dialect]:
                tx.execute(statement)

    def ensure_columns(self, table: str, columns: Mapping[str, Mapping[Dialect, str]]) -> None:
        """Add the columns ``table`` lacks, one process at a time (as tables)."""
        with self.transaction() as tx:
            tx.execute("SELECT pg_advisory_xact_lock(?)", (SIDE_TABLES_DDL_LOCK,))
            for name, types in columns.items():
                tx.execute(
                    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {types[self.dialect]}"
                )

    @contextmanager
    def startup_lock(self) -> Iterator[None]:
        with self._pool.connection() as connection:
            connection.execute("SELECT pg_advisory_lock(%s)", (STARTUP_LOCK,))
            try:
                yield
            finally:
                connection.execute("SELECT pg_advisory_unlock(%s)", (STARTUP_LOCK,))

    def close(self) -> None:
        self._pool.close()


def postgres_conninfo(env: Mapping[str, str] | Any) -> str:
    """Build a libpq connection string from eventsourcing's ``POSTGRES_*`` settings."""
    from psycopg.conninfo import make_conninfo

    parts = {
        "host": env.get("POSTGRES_HOST"),
        "port": env.get("POSTGRES_PORT"),
        "dbname": env.get("POSTGRES_DBNAME"),
        "user": env.get("POSTGRES_USER"),
        "password": env.get("POSTGRES_PASSWORD"),
        "connect_timeout": env.get("POSTGRES_CONNECT_TIMEOUT"),
    }
    return make_conninfo(**{key: value for key, value in parts.items() if value})
