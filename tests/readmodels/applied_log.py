"""A minimal view for library-style projections in tests: one unkeyed row per
applied event, written with the library's tracking in one transaction, so an
event applied twice shows up as two rows."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg.sql import SQL

from infrastructure.readmodels.store import ReadModelStore


class SQLiteAppliedLog(SQLiteTrackingRecorder):
    table = "applied_log"

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.table} (notification_id INTEGER, worker TEXT)",
        ]

    def record(self, tracking: Tracking, worker: str = "") -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"INSERT INTO {self.table} VALUES (?, ?)", (tracking.notification_id, worker))
            self._insert_tracking(c, tracking)

    def applied(self) -> list[int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT notification_id FROM {self.table} ORDER BY notification_id")
            return [row[0] for row in c.fetchall()]

    def workers(self) -> set[str]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT DISTINCT worker FROM {self.table}")
            return {row[0] for row in c.fetchall()}


class PostgresAppliedLog(PostgresTrackingRecorder):
    def __init__(self, datastore: PostgresDatastore, *, name: str) -> None:
        super().__init__(datastore, tracking_table_name=f"{name}_tracking")
        self.table = name
        self.sql_create_statements.append(
            SQL(f"CREATE TABLE IF NOT EXISTS {name} (notification_id BIGINT, worker TEXT)")  # type: ignore[arg-type]
        )

    def record(self, tracking: Tracking, worker: str = "") -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                SQL(f"INSERT INTO {self.table} VALUES (%s, %s)"),  # type: ignore[arg-type]
                (tracking.notification_id, worker),
            )
            self._insert_tracking(c, tracking)

    def applied(self) -> list[int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(SQL(f"SELECT notification_id FROM {self.table} ORDER BY notification_id"))  # type: ignore[arg-type]
            return [row["notification_id"] for row in c.fetchall()]

    def workers(self) -> set[str]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(SQL(f"SELECT DISTINCT worker FROM {self.table}"))  # type: ignore[arg-type]
            return {row["worker"] for row in c.fetchall()}


def applied_log_view(store: ReadModelStore, name: str) -> Any:
    """An applied-log view named ``name`` in the store's database, its tables created."""
    view: Any
    if isinstance(store.datastore, PostgresDatastore):
        view = PostgresAppliedLog(store.datastore, name=name)
    else:
        view = SQLiteAppliedLog(store.datastore)
    view.create_table()
    return view


class AppliedLog:
    """A library-style projection (``process_event`` only) over an applied-log
    view, noting which worker applied each event."""

    def __init__(self, view: Any, worker: str = "", name: str = "applied_log") -> None:
        self.view = view
        self.worker = worker
        self.name = name

    def process_event(self, event: Any, tracking: Tracking) -> None:
        self.view.record(tracking, self.worker)
