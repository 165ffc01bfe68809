"""Where the audit trail's hash chain is kept, and how events are found, per backend.

:func:`build_audit` gives the audit service of an application on whatever
store it runs on: SQLite and PostgreSQL keep the chain in a table beside the
events; the in-memory store keeps it in memory, for as long as the application
lives.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from application.app import RectifyApp
from application.audit.chain import AuditChainProjection, AuditChainView
from application.audit.service import AuditService
from infrastructure.audit.memory import InMemoryAuditChain, ScanningEventLocator
from infrastructure.audit.postgres import PostgresAuditChain, PostgresEventLocator
from infrastructure.audit.sqlite import SQLiteAuditChain, SQLiteEventLocator
from infrastructure.persistence import pool_connect_kwargs
from infrastructure.projections.locks import NoLock, PostgresAdvisoryLock, WorkerLock
from infrastructure.projections.runner import ProjectionRunner

__all__ = [
    "InMemoryAuditChain",
    "PostgresAuditChain",
    "SQLiteAuditChain",
    "audit_chain_for",
    "audit_chain_runner",
    "build_audit",
    "chain_lock",
    "event_locator_for",
]


class EventLocator(Protocol):
    def notifications_of(self, originator_ids: Sequence[UUID]) -> list[Notification]: ...


# An in-memory application's chain must live as long as the application (its
# events live there too), and one chain per application.
_memory_chains: weakref.WeakKeyDictionary[POPOApplicationRecorder, InMemoryAuditChain] = (
    weakref.WeakKeyDictionary()
)


def audit_chain_for(app: RectifyApp) -> AuditChainView:
    """The hash chain beside ``app``'s events (its tables created if missing)."""
    recorder = app.recorder
    if isinstance(recorder, SQLiteApplicationRecorder):
        sqlite_chain = SQLiteAuditChain(recorder.datastore)
        sqlite_chain.create_table()
        return sqlite_chain
    if isinstance(recorder, PostgresApplicationRecorder):
        postgres_chain = PostgresAuditChain(recorder.datastore)
        postgres_chain.create_table()
        return postgres_chain
    if isinstance(recorder, POPOApplicationRecorder):
        chain = _memory_chains.get(recorder)
        if chain is None:
            chain = _memory_chains[recorder] = InMemoryAuditChain(recorder)
        return chain
    raise TypeError(f"no audit chain for a {type(recorder).__name__}")


def event_locator_for(app: RectifyApp) -> EventLocator:
    """Finds given aggregates' events with their log positions in ``app``'s store."""
    recorder = app.recorder
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SQLiteEventLocator(recorder)
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresEventLocator(recorder)
    return ScanningEventLocator(recorder)


def build_audit(app: RectifyApp) -> AuditService:
    """The audit service of ``app``: timelines, as-of states, the log, the chain."""
    return AuditService(app, chain=audit_chain_for(app), locator=event_locator_for(app))


def chain_lock(app: RectifyApp) -> WorkerLock:
    """Who may advance the chain: on PostgreSQL, the holder of an advisory lock named
    after the projection (several API processes and workers may run it); elsewhere
    anyone (the chain's own write lock and tracking keep it exactly once anyway)."""
    recorder = app.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresAdvisoryLock(
            pool_connect_kwargs(recorder.datastore.pool), AuditChainProjection.name
        )
    return NoLock()


def audit_chain_runner(app: RectifyApp, **options: Any) -> ProjectionRunner[AuditChainView]:
    """A projection runner that keeps ``app``'s hash chain up to date (in a thread
    with ``start()``, or synchronously with ``catch_up()``); ``options`` go to
    :class:`~infrastructure.projections.runner.ProjectionRunner` (e.g. ``lock=``)."""
    return ProjectionRunner(app, AuditChainProjection(audit_chain_for(app)), **options)
