"""The one place the console gets its services from: the FastAPI app's state.

Every page handler asks here, never ``request.app.state`` directly, so how the
services are wired can change in one file.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from application.app import RectifyApp
from application.audit import AuditService
from application.documents import DocumentService
from infrastructure.evidence import EvidenceStore
from infrastructure.idempotency import IdempotencyStore
from infrastructure.integration.notifications import NotificationBook
from infrastructure.projections.host import ReadModelHost
from infrastructure.readmodels.work_lists import WorkLists
from infrastructure.sessions import SessionStore
from infrastructure.users import UserStore


def _state(request: Request) -> Any:
    return request.app.state


def rectify(request: Request) -> RectifyApp:
    """The application: every use case and the aggregates."""
    return _state(request).rectify


def users(request: Request) -> UserStore:
    """The user store the API logs in from (same accounts, same lockout)."""
    return _state(request).users


def sessions(request: Request) -> SessionStore:
    """The console's server-side sessions."""
    return _state(request).console_sessions


def idempotency(request: Request) -> IdempotencyStore:
    """The API's idempotency store, which also keeps each rendered form's key."""
    return _state(request).idempotency


def evidence(request: Request) -> EvidenceStore:
    """Where photos are stored by their SHA-256."""
    return _state(request).evidence


def read_models(request: Request) -> ReadModelHost:
    """The read models (work queues, search, history, dashboard) and their positions."""
    return _state(request).read_models


def work_lists(request: Request) -> WorkLists:
    """The home page's newest-first work queues over the same read models."""
    state = _state(request)
    lists = getattr(state, "console_work_lists", None)
    if lists is None:
        lists = WorkLists(read_models(request).store)
        state.console_work_lists = lists
    return lists


def audit(request: Request) -> AuditService:
    """The audit service (timeline, as-of, log, integrity), built once per app."""
    state = _state(request)
    service = getattr(state, "audit", None)
    if service is None:
        from infrastructure.audit import build_audit

        service = build_audit(state.rectify)
        state.audit = service
    return service


def documents(request: Request) -> DocumentService:
    """Notices and verification records made from the events."""
    service: DocumentService = _state(request).services.documents
    return service


def notifications(request: Request) -> NotificationBook:
    """Each person's reminders of deadlines due soon or passed."""
    book: NotificationBook = _state(request).services.integration.notifications
    return book
