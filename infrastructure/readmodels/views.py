"""Read-model views: the library's tracking recorders, extended with the tables
of one projection, so the rows an event changes and the position it moved the
projection to are written in one transaction.

``SQLiteReadModelView`` subclasses ``SQLiteTrackingRecorder`` and
``PostgresReadModelView`` subclasses ``PostgresTrackingRecorder``; both keep
their position in their own table, ``<prefix><projection>_tracking`` (one row
per upstream application, as the library's single-row tracking does), so the
views of several projections can share one database with the events.

Applying a batch first moves the recorded position from below the batch's first
event to its last, and raises ``IntegrityError`` if the position was already
there: whoever else applied those events wins, this transaction rolls back, and
nothing is applied twice. Only then are the rows changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder
from psycopg.sql import SQL, Composed

from application.projections.changes import Change
from infrastructure.readmodels.schema import LIVE_PREFIX, TABLES, Table
from infrastructure.readmodels.sql import POSTGRES, SQLITE, Dialect
from infrastructure.recorders import bounded_retries

T = TypeVar("T")

Batch = Sequence[tuple[Sequence[Change], Tracking]]


class ReadModelTables:
    """What the two views share: the tables of one projection under a prefix."""

    dialect: Dialect
    projection_name: str
    prefix: str
    tables: tuple[Table, ...]
    tracking_table: str

    def _setup(self, projection_name: str, prefix: str) -> None:
        self.projection_name = projection_name
        self.prefix = prefix
        self.tables = TABLES[projection_name]
        self.tracking_table = f"{prefix}{projection_name}_tracking"

    # -- writing --------------------------------------------------------------------

    def write_transaction(self) -> Any:
        """A context manager: a cursor in a transaction that commits on success."""
        raise NotImplementedError

    def apply(self, batch: Batch) -> None:
        """Apply every change of the batch and track its last event, in one transaction."""
        if not batch:
            return
        with self.write_transaction() as cursor:
            self.apply_in(cursor, batch)

    def apply_in(self, cursor: Any, batch: Batch) -> None:
        """Like :meth:`apply`, inside a transaction the caller holds."""
        first, last = batch[0][1], batch[-1][1]
        self._advance(cursor, last.application_name, first.notification_id, last.notification_id)
        # Consecutive changes of one shape (the items of an inspection, the
        # history rows of a burst of events) go as one executemany, in order.
        statement = self.dialect.statement
        run_sql: str | None = None
        run: list[list[Any]] = []
        for changes, _ in batch:
            for change in changes:
                sql, params = statement(change, self.prefix)
                if sql != run_sql and run:
                    self._execute_run(cursor, run_sql, run)
                    run = []
                run_sql = sql
                run.append(params)
        if run:
            self._execute_run(cursor, run_sql, run)

    @staticmethod
    def _execute_run(cursor: Any, sql: str | None, run: list[list[Any]]) -> None:
        # Even a run of one goes as executemany: in a PostgreSQL pipeline that
        # is a prepared statement, parsed and planned once per connection
        # rather than once per event — most of a rebuild's time on the server.
        cursor.executemany(sql, run)

    def _advance(self, cursor: Any, application_name: str, first: int, last: int) -> None:
        q = self.dialect.q
        cursor.execute(
            q(
                f"UPDATE {self.tracking_table} SET notification_id = ? "
                "WHERE application_name = ? AND notification_id < ? RETURNING notification_id"
            ),
            (last, application_name, first),
        )
        if cursor.fetchone() is not None:
            return
        current = self.position_in(cursor, application_name)
        if current is not None:
            raise IntegrityError(
                f"projection {self.projection_name} is already at {current}; "
                f"events from {first} were applied by another worker"
            )
        # No row yet: two first-comers both get here, and the primary key
        # refuses the second.
        cursor.execute(
            q(
                f"INSERT INTO {self.tracking_table} (application_name, notification_id) "
                "VALUES (?, ?)"
            ),
            (application_name, last),
        )

    def position_in(self, cursor: Any, application_name: str) -> int | None:
        """The recorded position, read in the caller's transaction."""
        cursor.execute(
            self.dialect.q(
                f"SELECT notification_id FROM {self.tracking_table} WHERE application_name = ?"
            ),
            (application_name,),
        )
        row = cursor.fetchone()
        return None if row is None else int(row["notification_id"])

    def set_position_in(self, cursor: Any, application_name: str, position: int | None) -> None:
        """Record ``position`` (None: forget it), in the caller's transaction."""
        q = self.dialect.q
        cursor.execute(
            q(f"DELETE FROM {self.tracking_table} WHERE application_name = ?"),
            (application_name,),
        )
        if position is not None:
            cursor.execute(
                q(
                    f"INSERT INTO {self.tracking_table} (application_name, notification_id) "
                    "VALUES (?, ?)"
                ),
                (application_name, position),
            )

    def lock_in(self, cursor: Any) -> None:
        """Keep every other writer of this view waiting until the caller's transaction ends."""
        raise NotImplementedError

    def clear_in(self, cursor: Any) -> None:
        """Delete every row of the projection's tables (not its position)."""
        for table in self.tables:
            cursor.execute(f"DELETE FROM {self.prefix}{table.name}")

    def drop(self) -> None:
        """Drop the tables and the tracking table (for scratch copies)."""
        with self.write_transaction() as cursor:
            for table in self.tables:
                cursor.execute(f"DROP TABLE IF EXISTS {self.prefix}{table.name}")
            cursor.execute(f"DROP TABLE IF EXISTS {self.tracking_table}")

    # -- reading --------------------------------------------------------------------

    def read_transaction(self) -> Any:
        """A context manager: a cursor in a transaction that is rolled back."""
        raise NotImplementedError

    def rows(self, table: str, cursor: Any | None = None) -> list[dict[str, Any]]:
        """Every row of ``table``, in key order, as dicts."""
        spec = self.table(table)
        sql = f"SELECT * FROM {self.prefix}{table} ORDER BY {', '.join(spec.key)}"
        if cursor is not None:
            cursor.execute(sql)
            return [dict(row) for row in cursor.fetchall()]
        with self.read_transaction() as c:
            c.execute(sql)
            return [dict(row) for row in c.fetchall()]

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(f"projection {self.projection_name} has no table {name!r}")


class SQLiteReadModelView(ReadModelTables, SQLiteTrackingRecorder):
    """A projection's tables and position in a SQLite database."""

    dialect = SQLITE

    def __init__(
        self, datastore: SQLiteDatastore, *, projection_name: str, prefix: str = LIVE_PREFIX
    ) -> None:
        # The library builds its CREATE statements in __init__, from these.
        self._setup(projection_name, prefix)
        super().__init__(datastore)
        self.insert_tracking_statement = (
            f"INSERT INTO {self.tracking_table} "
            "VALUES (:application_name, :notification_id) "
            "ON CONFLICT (application_name) DO UPDATE "
            "SET notification_id = :notification_id "
            f"WHERE {self.tracking_table}.notification_id < :notification_id "
            "RETURNING notification_id"
        )
        self.select_max_tracking_id_statement = (
            f"SELECT MAX(notification_id) FROM {self.tracking_table} WHERE application_name=?"
        )

    def construct_create_table_statements(self) -> list[str]:
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.tracking_table} ("
            "application_name TEXT, notification_id INTEGER, "
            "PRIMARY KEY (application_name)) WITHOUT ROWID"
        ]
        for table in self.tables:
            statements += self.dialect.ddl(table, self.prefix)
        return statements

    @contextmanager
    def write_transaction(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as cursor:
            yield cursor

    @contextmanager
    def read_transaction(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=False) as cursor:
            yield cursor

    def lock_in(self, cursor: Any) -> None:
        # A write takes SQLite's one write lock, which is held to the end of
        # the transaction; the write itself changes nothing.
        cursor.execute(f"UPDATE {self.tracking_table} SET notification_id = notification_id")


class PostgresReadModelView(ReadModelTables, PostgresTrackingRecorder):
    """A projection's tables and position in a PostgreSQL database."""

    dialect = POSTGRES
    # A read model's position is asked by every read: with the database down
    # it must fail within a bound (503), not after the library's ten tries.
    max_tracking_id = bounded_retries(PostgresTrackingRecorder.max_tracking_id)
    has_tracking_id = bounded_retries(PostgresTrackingRecorder.has_tracking_id)

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        projection_name: str,
        prefix: str = LIVE_PREFIX,
        **kwargs: Any,
    ) -> None:
        self._setup(projection_name, prefix)
        kwargs["tracking_table_name"] = self.tracking_table
        super().__init__(datastore, **kwargs)
        scratch = prefix != LIVE_PREFIX
        for table in self.tables:
            # The DDL is this module's own text, not input: wrapping it as SQL
            # (in the Composed the recorder's list holds) is safe.
            self.sql_create_statements += [
                Composed([SQL(s)]) for s in self.dialect.ddl(table, prefix, unlogged=scratch)
            ]

    @contextmanager
    def write_transaction(self) -> Iterator[Any]:
        # Pipeline mode sends the statements of a batch without waiting for
        # each reply; a fetch (the tracking check) waits for what it needs.
        with self.datastore.get_connection() as conn:
            try:
                with conn.pipeline(), conn.transaction(), conn.cursor() as cursor:
                    # A read model can always be brought back from the log, so
                    # its commits need not wait for the disk: a crash may lose
                    # the last few, whole (rows and position together), and they
                    # are applied again from the position that was kept.
                    cursor.execute("SET LOCAL synchronous_commit TO OFF", prepare=False)
                    yield _Unprepared(cursor)
            finally:
                if not conn.closed:
                    # A DROP or ROLLBACK seen in a pipeline makes psycopg forget
                    # its prepared statements and defer a DEALLOCATE ALL until
                    # after the connection's next query, which, if that query is
                    # prepared, deallocates it too ("prepared statement does
                    # not exist" at its next use). Run the deferred command now.
                    conn.execute("SELECT 1", prepare=False)

    @contextmanager
    def read_transaction(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=False) as cursor:
            yield cursor

    def lock_in(self, cursor: Any) -> None:
        cursor.execute(f"LOCK TABLE {self.tracking_table} IN EXCLUSIVE MODE")


class _Unprepared:
    """A cursor whose ``execute`` never asks the server to prepare a statement
    (the position check, the DDL and the swap of a rebuild are each run once):
    the connection goes back to a pool whose other users keep prepared
    statements of their own (see ``write_transaction``). The rows of a batch go
    by ``executemany``, which psycopg prepares in a pipeline; the ``SELECT 1``
    after each transaction keeps those valid too."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, query: Any, params: Any = None) -> Any:
        return self._cursor.execute(query, params, prepare=False)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> Any:
        return self._cursor.fetchall()

    def executemany(self, query: Any, params_seq: Any) -> Any:
        return self._cursor.executemany(query, params_seq, returning=False)


ReadModelView = SQLiteReadModelView | PostgresReadModelView


def in_transaction(view: ReadModelTables, work: Callable[[Any], T]) -> T:
    """Run ``work(cursor)`` in one write transaction of ``view``."""
    with view.write_transaction() as cursor:
        return work(cursor)
