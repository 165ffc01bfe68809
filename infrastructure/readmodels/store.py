"""Where an application's read models live, and how to open their views.

They live in the application's own database, in tables prefixed ``rm_``: the
SQLite file or the PostgreSQL database of the events. An in-memory (POPO)
application gets a private in-memory SQLite database for them (see
:mod:`infrastructure.composition`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal
from zoneinfo import ZoneInfo

from eventsourcing.application import Application
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
    """The database the read models of one application are kept in.

    Its datastore and SQL dialect are chosen by the composition root
    (:meth:`infrastructure.composition.Backend.read_model_store`).
    """

    def __init__(
        self,
        app: Application[Any],
        datastore: SQLiteDatastore | PostgresDatastore,
        *,
        dialect: Literal["sqlite", "postgres"],
        owns_datastore: bool = False,
    ) -> None:
        self.app = app
        self.time_zone = ZoneInfo(app.env.get("TIME_ZONE", "Asia/Shanghai"))
        self.datastore = datastore
        self.dialect = dialect
        self._owns_datastore = owns_datastore
        self._live_views: dict[str, ReadModelView] = {}

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgres"

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
        if self.is_postgres:
            assert isinstance(self.datastore, PostgresDatastore)  # for the type checker
            view = PostgresReadModelView(self.datastore, projection_name=name, prefix=prefix)
        else:
            assert isinstance(self.datastore, SQLiteDatastore)  # for the type checker
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
        if not self.is_postgres:  # SQLite has one writer anyway
            yield
            return
        datastore = self.datastore
        assert isinstance(datastore, PostgresDatastore)  # for the type checker
        with datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (DDL_LOCK_KEY,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (DDL_LOCK_KEY,))

    def postgres_connect_kwargs(self) -> dict[str, Any]:
        """How to open a connection of one's own (for an advisory lock)."""
        if not self.is_postgres:
            raise TypeError("not a PostgreSQL store")
        assert isinstance(self.datastore, PostgresDatastore)  # for the type checker
        return pool_connect_kwargs(self.datastore.pool)

    def close(self) -> None:
        if self._owns_datastore:
            self.datastore.close()
