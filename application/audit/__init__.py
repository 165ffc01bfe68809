"""Audit (审计): case timelines, state as of any moment, the global log and its export,
and the hash chain that proves the log was not rewritten."""

from application.audit.chain import (
    GENESIS,
    Anchor,
    AuditChainProjection,
    AuditChainView,
    ChainLink,
    ChainProblem,
    ProblemKind,
    VerifyReport,
    canonical_bytes,
    link_hash,
    verify_chain,
)
from application.audit.service import (
    AuditEntry,
    AuditService,
    CaseTimeline,
    EventLocator,
    LogFilter,
    LogPage,
    NotInHistory,
    ReplayStep,
)

__all__ = [
    "GENESIS",
    "Anchor",
    "AuditChainProjection",
    "AuditChainView",
    "AuditEntry",
    "AuditService",
    "CaseTimeline",
    "ChainLink",
    "ChainProblem",
    "EventLocator",
    "LogFilter",
    "LogPage",
    "NotInHistory",
    "ProblemKind",
    "ReplayStep",
    "VerifyReport",
    "canonical_bytes",
    "link_hash",
    "verify_chain",
]
