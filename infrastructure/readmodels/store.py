"""Where an application's read models live, and how to open their views.

They live in the application's own database, in tables prefixed ``rm_``: the
SQLite file or the PostgreSQL database of the events. An in-memory (POPO)
application gets a private in-memory SQLite database for them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

from eventsourcing.application import Application
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from application.projections.read_models import READ_MODEL_PROJECTIONS, ReadModelProjection
from infrastructure.persistence import pool_connect_kwargs
from infrastructure.projections.locks import advisory_key
from infrastructure.readmodels.schema import LIVE_PREFIX, SCRATCH_PREFIX
from infrastructure.readmodels.views import (
    PostgresReadModelView,
    ReadModelView,
    SQLiteReadModelView,
)

PROJECTION_CLASSES: dict[str, type[ReadModelProjection]] = {
    cls.name: cls for cls in READ_MODEL_PROJECTIONS
}
PROJECTION_NAMES: tuple[str, ...] = tuple(PROJECTION_CLASSES)
DDL_LOCK_KEY = advisory_key("read-model tables")


class ReadModelStore:
    """The database the read models of one application are kept in."""

    def __init__(self, app: Application[Any]) -> None:
        self.app = app
        self.time_zone = ZoneInfo(app.env.get("TIME_ZONE", "Asia/Shanghai"))
        datastore = getattr(app.factory, "datastore", None)
        self._owns_datastore = False
        self._live_views: dict[str, ReadModelView] = {}
        if isinstance(datastore, SQLiteDatastore | PostgresDatastore):
            self.datastore: SQLiteDatastore | PostgresDatastore = datastore
        elif isinstance(app.recorder, POPOApplicationRecorder):
            # Memory mode makes the library interlock readers and writers, as a
            # shared in-memory database needs.
            # One database per application, however many stores are opened on
            # it, as a file or a PostgreSQL database would be.
            name = app.__dict__.setdefault(
                "_rectify_read_model_database",
                f"file:rectify_rm_{uuid.uuid4().hex}?mode=memory&cache=shared",
            )
            self.datastore = SQLiteDatastore(name, lock_timeout=30)
            self._owns_datastore = True
        else:
            raise TypeError(f"no read-model store for {type(app.recorder).__name__}")

    @property
    def is_postgres(self) -> bool:
        return isinstance(self.datastore, PostgresDatastore)

    def view(self, name: str, *, scratch: bool = False) -> ReadModelView:
        """The view (tables + position) of projection ``name``, its tables created.

        A live view is made once per store; a scratch view afresh each time.
        """
        if name not in PROJECTION_CLASSES:
            raise KeyError(f"no projection named {name!r}; known: {', '.join(PROJECTION_NAMES)}")
        if not scratch and name in self._live_views:
            return self._live_views[name]
        prefix = SCRATCH_PREFIX if scratch else LIVE_PREFIX
        view: ReadModelView
        if isinstance(self.datastore, PostgresDatastore):
            view = PostgresReadModelView(self.datastore, projection_name=name, prefix=prefix)
        else:
            view = SQLiteReadModelView(self.datastore, projection_name=name, prefix=prefix)
        with self._ddl_lock():
            view.create_table()
        if not scratch:
            self._live_views[name] = view
        return view

    def projection(self, name: str, *, scratch: bool = False) -> ReadModelProjection:
        """Projection ``name`` writing to its live (or scratch) view."""
        return PROJECTION_CLASSES[name](self.view(name, scratch=scratch), time_zone=self.time_zone)

    @contextmanager
    def _ddl_lock(self) -> Iterator[None]:
        """On PostgreSQL, one process at a time creates tables: two processes
        running ``CREATE TABLE IF NOT EXISTS`` together can both try to create
        them, and one fails."""
        if not isinstance(self.datastore, PostgresDatastore):
            yield
            return
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (DDL_LOCK_KEY,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (DDL_LOCK_KEY,))

    def postgres_connect_kwargs(self) -> dict[str, Any]:
        """How to open a connection of one's own (for an advisory lock)."""
        if not isinstance(self.datastore, PostgresDatastore):
            raise TypeError("not a PostgreSQL store")
        return pool_connect_kwargs(self.datastore.pool)

    def close(self) -> None:
        if self._owns_datastore:
            self.datastore.close()
