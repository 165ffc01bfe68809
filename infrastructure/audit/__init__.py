"""Where the audit trail's hash chain is kept, and how events are found, per backend.

SQLite and PostgreSQL keep the chain in a table beside the events; the
in-memory store keeps it in memory, for as long as the application lives.
Which one an application gets is chosen by :mod:`infrastructure.composition`.
"""

from __future__ import annotations

from typing import Any

from infrastructure.audit.memory import InMemoryAuditChain, ScanningEventLocator
from infrastructure.audit.postgres import PostgresAuditChain, PostgresEventLocator
from infrastructure.audit.sqlite import SQLiteAuditChain, SQLiteEventLocator

__all__ = [
    "InMemoryAuditChain",
    "PostgresAuditChain",
    "PostgresEventLocator",
    "SQLiteAuditChain",
    "SQLiteEventLocator",
    "ScanningEventLocator",
    "build_audit",
]


def build_audit(app: Any) -> Any:
    """The audit service of ``app``; see :func:`infrastructure.composition.build_audit`."""
    # Imported here: the composition root imports this package's backends.
    from infrastructure.composition import build_audit as build

    return build(app)
