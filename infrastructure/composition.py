"""The composition root: every service of rectify, built for one database URL.

The backend is chosen here, once, from the URL (:func:`backend_for`): a
:class:`Backend` knows how its kind of store keeps the side tables, evidence,
read models and the audit chain, and how followers lock and wake. Everything
else asks :class:`Services` for what it needs and wires nothing itself::

    with Services.open("sqlite:///var/rectify.sqlite3") as services:
        services.app.register_site(...)          # the application (commands)
        services.users, services.idempotency, services.evidence, services.token_secret
        services.read_models, services.queries    # read models and their queries
        services.audit, services.audit_chain      # the audit service and hash chain
        with services.followers():                # every follower of the log, running
            ...

``Services.around(app, users)`` gives the same services around an application
built elsewhere (a test's, with its clock); it closes only what it opened.

The built-in followers (see :mod:`infrastructure.followers`) are registered at
the bottom of this module.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Self

from argon2 import PasswordHasher
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from application.app import OverdueReport, RectifyApp
from application.audit.chain import AuditChainProjection, AuditChainView
from application.audit.service import AuditService, EventLocator
from application.ports import Clock, PasswordChecker
from infrastructure.audit.memory import InMemoryAuditChain, ScanningEventLocator
from infrastructure.audit.postgres import PostgresAuditChain, PostgresEventLocator
from infrastructure.audit.sqlite import SQLiteAuditChain, SQLiteEventLocator
from infrastructure.clock import SystemClock
from infrastructure.evidence import (
    EVIDENCE_DIR_VARIABLE,
    DirectoryEvidenceStore,
    EvidenceStore,
    InMemoryEvidenceStore,
    TableEvidenceStore,
)
from infrastructure.followers import EXTERNAL, FOLLOWERS, FollowerHost, projections_mode
from infrastructure.idempotency import (
    IdempotencyStore,
    InMemoryIdempotencyStore,
    SqlIdempotencyStore,
)
from infrastructure.integration.services import (
    DEFAULT_DELIVERY_SECONDS,
    DEFAULT_REMINDER_SECONDS,
    DELIVERY_SECONDS,
    REMINDER_SECONDS,
    Integration,
)
from infrastructure.persistence import database_url_from_env, environment_for, pool_connect_kwargs
from infrastructure.projections.locks import NoLock, PostgresAdvisoryLock, WorkerLock
from infrastructure.projections.maintenance import lock_holders
from infrastructure.projections.runner import ProjectionRunner
from infrastructure.projections.waker import NotifyWaker
from infrastructure.readmodels.queries import ReadModelQueries
from infrastructure.readmodels.store import ReadModelStore
from infrastructure.side_tables import (
    SQLITE_LOCK_TIMEOUT_SECONDS,
    PostgresSideDatabase,
    SideDatabase,
    SQLiteSideDatabase,
    postgres_conninfo,
)
from infrastructure.tokens import load_or_create_secret
from infrastructure.users import InMemoryUserStore, SqlUserStore, UserStore, lockout_policy

BackendKind = Literal["sqlite", "postgres", "popo"]

# Held while the event store creates its tables: PostgreSQL's CREATE TABLE IF
# NOT EXISTS is not safe when two sessions run it at the same moment (both pass
# the check, one fails on the catalog's unique index), which is what happens
# when several workers or a worker and the CLI start on a fresh database.
_SCHEMA_LOCK_KEY = int.from_bytes(
    hashlib.blake2b(b"rectify:event-store-schema", digest_size=8).digest(), "big", signed=True
)
# The projection runners and the overdue check of an API process share the
# event store's pool with the request threads.
CONNECTIONS_KEPT_FOR_FOLLOWERS = 5


# -- backends ----------------------------------------------------------------------------


class Backend(ABC):
    """What differs between the kinds of store; one instance per database."""

    kind: BackendKind

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    @abstractmethod
    def side_database(self) -> SideDatabase | None:
        """A connection for the ``rectify_*`` tables (None: they live in memory)."""

    @abstractmethod
    def evidence_store(self, side: SideDatabase | None) -> EvidenceStore:
        """Where evidence files are kept."""

    @abstractmethod
    def read_model_store(self, app: RectifyApp) -> ReadModelStore:
        """Where the read models of ``app`` live."""

    @abstractmethod
    def audit_chain(self, app: RectifyApp) -> AuditChainView:
        """The hash chain beside ``app``'s events (its table created if missing)."""

    @abstractmethod
    def event_locator(self, app: RectifyApp) -> EventLocator:
        """Finds given aggregates' events with their log positions."""

    def schema_lock(self) -> AbstractContextManager[None]:
        """Held while the event store creates its tables."""
        return nullcontext()

    def worker_lock(self, app: RectifyApp, name: str) -> WorkerLock:
        """Who may advance follower ``name``: anyone, where one process serves the store."""
        return NoLock()

    def notify_waker(
        self, app: RectifyApp, wakes: Iterable[Callable[[], None]]
    ) -> NotifyWaker | None:
        """Wakes followers when events are committed; None: they poll."""
        return None

    def http_threads(self) -> int | None:
        """How many request threads an API process may run (None: AnyIO's default)."""
        return None

    def lock_holders(self, store: ReadModelStore, names: Iterable[str]) -> dict[str, str] | None:
        """Which worker process leads each follower; None where no lock is taken."""
        return None


class SQLiteBackend(Backend):
    """A SQLite file (or a shared in-memory SQLite database): one writer at a time."""

    kind: BackendKind = "sqlite"

    def side_database(self) -> SideDatabase:
        db_name = self.env.get("SQLITE_DBNAME")
        if not db_name:
            raise ValueError("SQLite settings without SQLITE_DBNAME")
        return SQLiteSideDatabase(
            db_name,
            lock_timeout=float(self.env.get("SQLITE_LOCK_TIMEOUT") or SQLITE_LOCK_TIMEOUT_SECONDS),
        )

    def evidence_store(self, side: SideDatabase | None) -> EvidenceStore:
        configured = os.environ.get(EVIDENCE_DIR_VARIABLE, "").strip()
        if configured:
            return DirectoryEvidenceStore(Path(configured))
        db_name = self.env.get("SQLITE_DBNAME") or ""
        if "mode=memory" in db_name or ":memory:" in db_name:
            return InMemoryEvidenceStore()
        return DirectoryEvidenceStore(Path(db_name).parent / "evidence")

    def read_model_store(self, app: RectifyApp) -> ReadModelStore:
        return ReadModelStore(app, app.factory.datastore, dialect="sqlite")  # type: ignore[attr-defined]

    def audit_chain(self, app: RectifyApp) -> AuditChainView:
        recorder = app.recorder
        assert isinstance(recorder, SQLiteApplicationRecorder)  # for the type checker
        chain = SQLiteAuditChain(recorder.datastore)
        chain.create_table()
        return chain

    def event_locator(self, app: RectifyApp) -> EventLocator:
        recorder = app.recorder
        assert isinstance(recorder, SQLiteApplicationRecorder)  # for the type checker
        return SQLiteEventLocator(recorder)


class PostgresBackend(Backend):
    """PostgreSQL: any number of processes; advisory locks elect one leader per follower."""

    kind: BackendKind = "postgres"

    def side_database(self) -> SideDatabase:
        return PostgresSideDatabase(postgres_conninfo(self.env))

    def evidence_store(self, side: SideDatabase | None) -> EvidenceStore:
        if side is None:
            raise ValueError("evidence on PostgreSQL is kept in a table of the side database")
        return TableEvidenceStore(side)

    def read_model_store(self, app: RectifyApp) -> ReadModelStore:
        return ReadModelStore(app, app.factory.datastore, dialect="postgres")  # type: ignore[attr-defined]

    def _recorder(self, app: RectifyApp) -> PostgresApplicationRecorder:
        recorder = app.recorder
        assert isinstance(recorder, PostgresApplicationRecorder)  # for the type checker
        return recorder

    def audit_chain(self, app: RectifyApp) -> AuditChainView:
        chain = PostgresAuditChain(self._recorder(app).datastore)
        chain.create_table()
        return chain

    def event_locator(self, app: RectifyApp) -> EventLocator:
        return PostgresEventLocator(self._recorder(app))

    def _connect_kwargs(self, app: RectifyApp) -> dict[str, Any]:
        return pool_connect_kwargs(self._recorder(app).datastore.pool)

    @contextmanager
    def _schema_lock(self) -> Iterator[None]:
        import psycopg  # only PostgreSQL deployments need the driver loaded here

        # The lock is the session's: closing the connection releases it, also
        # when construction fails.
        with psycopg.connect(postgres_conninfo(self.env), autocommit=True) as connection:
            connection.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK_KEY,))
            yield

    def schema_lock(self) -> AbstractContextManager[None]:
        return self._schema_lock()

    def worker_lock(self, app: RectifyApp, name: str) -> WorkerLock:
        return PostgresAdvisoryLock(self._connect_kwargs(app), name)

    def notify_waker(
        self, app: RectifyApp, wakes: Iterable[Callable[[], None]]
    ) -> NotifyWaker | None:
        return NotifyWaker(self._connect_kwargs(app), self._recorder(app).channel_name, wakes)

    def lock_holders(self, store: ReadModelStore, names: Iterable[str]) -> dict[str, str] | None:
        return lock_holders(store, names)

    def http_threads(self) -> int | None:
        # Below the event store's connections (pool + overflow), less those the
        # followers in the same process use: a request then never waits for a
        # connection the library would give up on.
        connections = int(self.env.get("POSTGRES_POOL_SIZE") or 5) + int(
            self.env.get("POSTGRES_MAX_OVERFLOW") or 10
        )
        return max(1, connections - CONNECTIONS_KEPT_FOR_FOLLOWERS)


# An in-memory application's chain must live as long as the application (its
# events live there too), and one chain per application.
_MEMORY_CHAIN = "_rectify_memory_audit_chain"
_MEMORY_READ_MODELS = "_rectify_read_model_database"


class MemoryBackend(Backend):
    """The in-memory (POPO) store: one process, nothing kept."""

    kind: BackendKind = "popo"

    def side_database(self) -> None:
        return None

    def evidence_store(self, side: SideDatabase | None) -> EvidenceStore:
        return InMemoryEvidenceStore()

    def read_model_store(self, app: RectifyApp) -> ReadModelStore:
        # One private in-memory SQLite database per application, however many
        # stores are opened on it, as a file or a PostgreSQL database would be.
        # Memory mode makes the library interlock readers and writers, as a
        # shared in-memory database needs.
        name = app.__dict__.setdefault(
            _MEMORY_READ_MODELS, f"file:rectify_rm_{uuid.uuid4().hex}?mode=memory&cache=shared"
        )
        datastore = SQLiteDatastore(name, lock_timeout=30)
        return ReadModelStore(app, datastore, dialect="sqlite", owns_datastore=True)

    def audit_chain(self, app: RectifyApp) -> AuditChainView:
        chain = app.__dict__.get(_MEMORY_CHAIN)
        if chain is None:
            chain = app.__dict__[_MEMORY_CHAIN] = InMemoryAuditChain(app.recorder)
        return chain

    def event_locator(self, app: RectifyApp) -> EventLocator:
        return ScanningEventLocator(app.recorder)


_BACKENDS: dict[str, type[Backend]] = {
    "eventsourcing.sqlite": SQLiteBackend,
    "eventsourcing.postgres": PostgresBackend,
    "eventsourcing.popo": MemoryBackend,
}


def backend_for(env: Mapping[str, str] | Any) -> Backend:
    """The backend of eventsourcing settings ``env`` (from :func:`environment_for`,
    or a running application's ``env``): the one place the kind of store is chosen."""
    module = env.get("PERSISTENCE_MODULE") or "eventsourcing.popo"
    try:
        return _BACKENDS[module](env)
    except KeyError:
        raise ValueError(f"no backend for persistence module {module!r}") from None


def backend_of_url(database_url: str | None) -> Backend:
    """The backend a database URL selects (the default SQLite file without one)."""
    return backend_for(environment_for(database_url or database_url_from_env()))


# -- building -----------------------------------------------------------------------------


def build_app(
    database_url: str | None = None,
    *,
    clock: Clock | None = None,
    passwords: PasswordChecker | None = None,
    settings: Mapping[str, str] | None = None,
) -> RectifyApp:
    """The application alone, on the database at ``database_url``.

    Without a URL, ``RECTIFY_DATABASE_URL`` is used, and without that the
    SQLite file ``./var/rectify.sqlite3``. ``settings`` adds application
    settings (``TIME_ZONE``, ``DEADLINE_DAYS_GENERAL`` …) over the persistence
    ones.
    """
    env = environment_for(database_url or database_url_from_env())
    if settings:
        env.update(settings)
    with backend_for(env).schema_lock():
        return RectifyApp(env, clock=clock or SystemClock(), passwords=passwords)


def user_store(
    side: SideDatabase | None, *, hasher: PasswordHasher | None = None, owns: bool = False
) -> UserStore:
    """The users beside the events, or in memory without a side database."""
    policy = lockout_policy(os.environ)
    if side is None:
        return InMemoryUserStore(hasher, **policy)
    return SqlUserStore(side, hasher, owns_database=owns, **policy)


def idempotency_store(side: SideDatabase | None, *, owns: bool = False) -> IdempotencyStore:
    """The Idempotency-Key answers beside the events, or in memory."""
    if side is None:
        return InMemoryIdempotencyStore()
    return SqlIdempotencyStore(side, owns_database=owns)


def side_database_for(env: Mapping[str, str] | Any) -> SideDatabase | None:
    """The side-table database for eventsourcing settings (None: in memory)."""
    return backend_for(env).side_database()


def create_user_store(
    database_url: str | None,
    *,
    hasher: PasswordHasher | None = None,
    database: SideDatabase | None = None,
) -> UserStore:
    """The users on a database URL: ``rectify_users`` beside the events, or in
    memory for ``popo://``. ``database`` shares an open side-table connection."""
    if database is not None:
        return user_store(database, hasher=hasher)
    side = backend_of_url(database_url).side_database()
    return user_store(side, hasher=hasher, owns=True)


def create_idempotency_store(
    database_url: str | None, *, database: SideDatabase | None = None
) -> IdempotencyStore:
    """The Idempotency-Key answers on a database URL."""
    if database is not None:
        return idempotency_store(database)
    return idempotency_store(backend_of_url(database_url).side_database(), owns=True)


def evidence_store_for(env: Mapping[str, str] | Any, side: SideDatabase | None) -> EvidenceStore:
    """The evidence store for eventsourcing settings ``env`` and an open side database."""
    return backend_for(env).evidence_store(side)


def read_model_store(app: RectifyApp) -> ReadModelStore:
    """Where ``app``'s read models live (close it when done)."""
    return backend_for(app.env).read_model_store(app)


def audit_chain_for(app: RectifyApp) -> AuditChainView:
    """The hash chain beside ``app``'s events (its table created if missing)."""
    return backend_for(app.env).audit_chain(app)


def build_audit(app: RectifyApp) -> AuditService:
    """The audit service of ``app``: timelines, as-of states, the log, the chain."""
    return Services.around(app).audit


def audit_chain_runner(app: RectifyApp, **options: Any) -> ProjectionRunner[AuditChainView]:
    """A runner of ``app``'s hash chain alone; ``options`` go to the runner."""
    return Services.around(app).audit_chain_runner(**options)


class Services:
    """Every service of rectify on one database; what it opened, it closes.

    Built lazily: a CLI command that only needs users opens only the side
    tables.
    """

    def __init__(
        self,
        app: RectifyApp,
        *,
        users: UserStore | None = None,
        side: SideDatabase | None = None,
        owns_app: bool = False,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.app = app
        self.env = app.env
        self.backend = backend_for(app.env)
        self._closers: list[Callable[[], None]] = []
        if owns_app:
            self._closers.append(app.close)
        self._side = side
        self._side_opened = side is not None
        self._hasher = hasher
        if users is not None:
            self.users = users

    @classmethod
    def open(
        cls,
        database_url: str | None = None,
        *,
        clock: Clock | None = None,
        settings: Mapping[str, str] | None = None,
        hasher: PasswordHasher | None = None,
    ) -> Services:
        """Everything on ``database_url`` (default: ``RECTIFY_DATABASE_URL``, then
        ``./var/rectify.sqlite3``), the application checking signatures against
        the users beside it."""
        env = environment_for(database_url or database_url_from_env())
        backend = backend_for(env)
        side = backend.side_database()
        users = user_store(side, hasher=hasher)
        try:
            # Several processes started together on a fresh PostgreSQL database
            # would race one another to create the event store's tables.
            with side.startup_lock() if side is not None else nullcontext():
                app = build_app(database_url, clock=clock, passwords=users, settings=settings)
        except BaseException:
            users.close()
            if side is not None:
                side.close()
            raise
        services = cls(app, users=users, side=side, owns_app=True, hasher=hasher)
        # Closed in reverse: the application, the users, then their connection.
        services._closers = [*([side.close] if side is not None else []), users.close, app.close]
        return services

    @classmethod
    def around(cls, app: RectifyApp, users: UserStore | None = None) -> Services:
        """The services of an application built elsewhere (not closed by :meth:`close`)."""
        return cls(app, users=users)

    # -- what an entry point asks for --------------------------------------------------

    def setting(self, key: str, default: str) -> str:
        """A ``RECTIFY_<key>`` setting (the application's environment finds the prefix)."""
        value = self.app.env.get(key)
        return default if value is None or not str(value).strip() else str(value).strip()

    @property
    def side(self) -> SideDatabase | None:
        """The connection for the ``rectify_*`` tables, opened on first use."""
        if not self._side_opened:
            self._side = self.backend.side_database()
            self._side_opened = True
            if self._side is not None:
                self._closers.append(self._side.close)
        return self._side

    @cached_property
    def users(self) -> UserStore:
        return user_store(self.side, hasher=self._hasher)

    @cached_property
    def idempotency(self) -> IdempotencyStore:
        return idempotency_store(self.side)

    @cached_property
    def evidence(self) -> EvidenceStore:
        store = self.backend.evidence_store(self.side)
        self._closers.append(store.close)
        return store

    @cached_property
    def token_secret(self) -> str:
        """``RECTIFY_TOKEN_SECRET``, or the secret every process on the database shares."""
        return os.environ.get("RECTIFY_TOKEN_SECRET", "").strip() or load_or_create_secret(
            self.side
        )

    @cached_property
    def read_models(self) -> ReadModelStore:
        store = self.backend.read_model_store(self.app)
        self._closers.append(store.close)
        return store

    @cached_property
    def queries(self) -> ReadModelQueries:
        return ReadModelQueries(self.read_models)

    @cached_property
    def audit_chain(self) -> AuditChainView:
        return self.backend.audit_chain(self.app)

    @cached_property
    def audit(self) -> AuditService:
        """Timelines, as-of states, the log and the hash chain."""
        return AuditService(
            self.app, chain=self.audit_chain, locator=self.backend.event_locator(self.app)
        )

    def audit_chain_runner(self, **options: Any) -> ProjectionRunner[AuditChainView]:
        """A runner of the chain alone (``catch_up()`` chains what is there now)."""
        return ProjectionRunner(self.app, AuditChainProjection(self.audit_chain), **options)

    def check_overdue(self) -> OverdueReport:
        """Record as overdue every open order past its deadline (from the read
        model's candidates; the application checks each against its events)."""
        return self.app.mark_overdue(self.queries.orders_past_deadline(self.app.today()))

    @cached_property
    def integration(self) -> Integration:
        """The event feed, integration keys, webhooks, reminders and notifications."""
        side = self.side
        if side is None:
            # In memory: the integration's tables in a private in-memory SQLite
            # database, for as long as the services live.
            side = SQLiteSideDatabase(":memory:")
            self._closers.append(side.close)
        integration = Integration(self.app, self.users, side, queries=lambda: self.queries)
        self._closers.append(integration.close)
        return integration

    def worker_lock(self, name: str) -> WorkerLock:
        return self.backend.worker_lock(self.app, name)

    def notify_waker(self, wakes: Iterable[Callable[[], None]]) -> NotifyWaker | None:
        return self.backend.notify_waker(self.app, wakes)

    def followers(
        self, names: Iterable[str] | None = None, *, run: bool | None = None, **options: Any
    ) -> FollowerHost:
        """A host for the followers ``names`` (all without); ``run=None`` follows
        ``RECTIFY_PROJECTIONS`` (inline: run them; external: only report)."""
        if run is None:
            run = projections_mode(self) != EXTERNAL
        return FollowerHost(self, names=names, run=run, **options)

    def http_threads(self) -> int | None:
        return self.backend.http_threads()

    def follower_workers(self, names: Iterable[str]) -> dict[str, str] | None:
        """Which worker process leads each of followers ``names`` (PostgreSQL);
        None where the backend has one process and takes no locks."""
        return self.backend.lock_holders(self.read_models, names)

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close what these services opened, last opened first."""
        closers, self._closers = self._closers, []
        for close in reversed(closers):
            close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the built-in followers (one registration each) ------------------------------------------

FOLLOWERS.log("cases", lambda services: services.read_models.projection("cases"))
FOLLOWERS.log("site_history", lambda services: services.read_models.projection("site_history"))
FOLLOWERS.log("audit_chain", lambda services: AuditChainProjection(services.audit_chain))
FOLLOWERS.periodic(
    "overdue",
    lambda services: services.check_overdue,
    every="OVERDUE_CHECK_SECONDS",
    default_seconds=60,
)
# Other systems: the webhook outbox follows the log; deliveries and reminders are
# periodic jobs (see infrastructure.integration.services for their settings).
FOLLOWERS.log("webhook_outbox", lambda services: services.integration.outbox_projection())
FOLLOWERS.periodic(
    "webhook_delivery",
    lambda services: services.integration.deliver_due,
    every=DELIVERY_SECONDS,
    default_seconds=DEFAULT_DELIVERY_SECONDS,
)
FOLLOWERS.periodic(
    "reminders",
    lambda services: services.integration.send_reminders,
    every=REMINDER_SECONDS,
    default_seconds=DEFAULT_REMINDER_SECONDS,
)
