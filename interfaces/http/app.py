"""The FastAPI application: :func:`create_app` wires routers, errors and middleware
around a :class:`RectifyApp`; :func:`create_app_from_env` builds everything from
the environment, for ``uvicorn --factory interfaces.http.app:create_app_from_env``
and for gunicorn (``gunicorn -k uvicorn_worker.UvicornWorker
'interfaces.http.app:create_app_from_env()'``).

Other routers join with one line, and may use the same authentication::

    from interfaces.http.security import current_user, require_roles
    app.include_router(queries.router)

Every service comes from the composition root
(:class:`infrastructure.composition.Services`) and is kept on ``app.state``
(``services``, ``rectify``, ``users``, ``idempotency``, ``evidence``, ``auth``,
``commands``, ``audit``, ``integration``, ``followers``, ``read_models``). The app's lifespan —
no router's — starts the followers of the log in this process
(``RECTIFY_PROJECTIONS=inline``, the default) or only reads their positions
(``external``), and the daily purge of old Idempotency-Key answers.

Serving: the endpoints that call the (synchronous) application are plain
``def`` and run in AnyIO's thread pool. On PostgreSQL that pool is sized below
the event store's connections (``POSTGRES_POOL_SIZE`` + ``POSTGRES_MAX_OVERFLOW``,
5 + 10 by default) less those the followers in the same process use
(:meth:`infrastructure.composition.Backend.http_threads`): 10 threads by
default. A request then never waits for a connection that the library would
give up on after ``POSTGRES_CONNECT_TIMEOUT``; more concurrent requests queue
for a thread instead. ``RECTIFY_HTTP_THREADS`` overrides it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as distribution_version
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from application.app import RectifyApp
from infrastructure.composition import Services
from infrastructure.evidence import EvidenceStore
from infrastructure.idempotency import IdempotencyPurger, IdempotencyStore, purge_settings
from infrastructure.persistence import database_url_from_env
from infrastructure.projections.host import ReadModels
from infrastructure.sessions import SessionStore
from infrastructure.tokens import TokenIssuer
from infrastructure.users import UserStore
from interfaces.http.commands import Commands
from interfaces.http.middleware import (
    BodyLimitMiddleware,
    DatabaseUnavailableMiddleware,
    IdempotencyMiddleware,
    NulGuardMiddleware,
    WriteGuardMiddleware,
)
from interfaces.http.password_checks import ClientAddressMiddleware, install_login_threads
from interfaces.http.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers
from interfaces.http.routers import audit as audit_routes
from interfaces.http.routers import (
    auth,
    cases,
    checklists,
    inspections,
    orders,
    sites,
    verifications,
)
from interfaces.http.routers import documents as document_routes
from interfaces.http.routers import evidence as evidence_routes
from interfaces.http.routers import feed as feed_routes
from interfaces.http.routers import notifications as notification_routes
from interfaces.http.routers import queries as read_model_routes
from interfaces.http.routers import webhooks as webhook_routes
from interfaces.http.security import Authenticator
from interfaces.web import install_console, is_console_path

logger = logging.getLogger("rectify.http")

TOKEN_TTL_VARIABLE = "RECTIFY_TOKEN_TTL_MINUTES"
THREADS_VARIABLE = "RECTIFY_HTTP_THREADS"

DESCRIPTION = """
Rectification cases (隐患整改): inspect a site, report hazards, order them put
right, verify, and close (销号). Every change is an event.

**Logging in.** `POST /token` with a user id and password (OAuth2 password
flow; Swagger UI's *Authorize* button does it) returns a bearer token that
expires. Roles: inspector, responsible party, supervisor, auditor. A request its
role may not make is refused with 403 and records nothing; an auditor's every
change is refused before anything else about it is looked at. A responsible
party sees only the orders addressed to them (and their cases and
verifications); another party's order is 403, not 404.

**Versions.** Every record carries its `version`, also sent as a strong `ETag`
(`"3"`). A change must send, in `If-Match`, the ETag it was based on — the
record's own, or for a record created under another (a hazard under an
inspection, an order or verification under a case) the parent's: missing → 428,
malformed → 400, stale → 412 with the current ETag. Every command answers with
the new version of each record it changed and the log `position` of its last
event (also `X-Log-Position`).

**Retries.** A `POST` command may carry an `Idempotency-Key` (per user): a retry
with the same key and body returns the first successful response
(`Idempotent-Replayed: true`) and records nothing new; the same key with another
body is 422. An error response is not kept, since it recorded nothing.

**Signed actions.** Closing a case and granting an extension take the
supervisor's password again; the event records signer, time and meaning. A
wrong password is 403 (rule `signature_rejected`).

**Errors** are `application/problem+json`: `detail` says what was refused and
`rule` names the rule (`errors` lists wrong fields). Bodies over 1 MiB (20 MiB
for `POST /evidence`) are 413.
"""

TAGS = [
    {"name": "users", "description": "Logging in; who am I."},
    {"name": "sites", "description": "Sites to be inspected (受检场所)."},
    {"name": "checklists", "description": "Versioned checklist templates (检查表)."},
    {"name": "inspections", "description": "Inspections (检查) and the hazards they find."},
    {"name": "cases", "description": "A hazard (隐患) with its orders and verifications."},
    {"name": "orders", "description": "Rectification orders (整改通知)."},
    {"name": "verifications", "description": "Verifications (复查验收)."},
    {"name": "evidence", "description": "Photos and documents, stored by SHA-256."},
    {
        "name": "integration",
        "description": "The event feed, webhook subscriptions and notifications of deadlines.",
    },
]

IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retry of this command safe: the same key (per user) and body "
    "return the first response and record nothing new; 1 to 255 visible ASCII characters.",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
    "example": "6f1c2d7e-retry-safe-key",
}
NOT_IDEMPOTENCY_KEYED = frozenset({"/token", "/evidence", "/documents/check"})


def _package_version() -> str:
    try:
        return distribution_version("rectify")
    except PackageNotFoundError:
        return "0+unknown"


def create_app(
    rectify: RectifyApp | None = None,
    users: UserStore | None = None,
    *,
    services: Services | None = None,
    idempotency: IdempotencyStore | None = None,
    evidence: EvidenceStore | None = None,
    token_secret: str | None = None,
    token_ttl_minutes: int = 60,
    console_sessions: SessionStore | None = None,
) -> FastAPI:
    """The HTTP API over the composition root's ``services`` — or, given an
    application and users built elsewhere, over the services around them.

    Stores not given come from the services: beside the events (same SQLite
    file or PostgreSQL database; in memory for popo). The services are closed
    at shutdown: with ``rectify`` and ``users`` given, the caller keeps them
    and only the connections opened here close.
    """
    if services is None:
        if rectify is None:
            raise TypeError("create_app needs services, or an application and its users")
        services = Services.around(rectify, users)
    idempotency = idempotency or services.idempotency
    evidence = evidence or services.evidence
    tokens = TokenIssuer(token_secret or services.token_secret, ttl_minutes=token_ttl_minutes)
    if console_sessions is None:
        console_sessions = services.sessions

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threads = _thread_count(services)
        if threads is not None:
            anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        interval, keep = purge_settings(services.app.env.get)
        purger = IdempotencyPurger(
            app.state.idempotency,
            interval=interval,
            keep_seconds=keep,
            on_error=lambda error: logger.warning("idempotency purge failed: %s", error),
        )
        app.state.idempotency_purger = purger.start()
        # Every follower of the log, in this process or (external) only watched.
        followers = services.followers()
        app.state.followers = followers
        app.state.read_models = ReadModels(followers, services.queries)
        app.state.audit_chain_runner = followers.runners.get("audit_chain")
        followers.start()
        try:
            yield
        finally:
            purger.stop()
            await anyio.to_thread.run_sync(followers.stop)
            for name, error in followers.failed.items():
                logger.error("follower %s stopped: %s", name, error)
            for close in reversed(app.state.closers):
                close()

    app = FastAPI(
        title="Rectify — rectification cases (隐患整改)",
        version=_package_version(),
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.rectify = services.app
    app.state.users = services.users
    app.state.idempotency = idempotency
    app.state.evidence = evidence
    app.state.audit = services.audit
    app.state.integration = services.integration
    app.state.auth = Authenticator(tokens, services.users)
    app.state.commands = Commands(services.app, services.users, evidence)
    app.state.closers = [services.close]
    install_login_threads(app, services.users)

    install_problem_handlers(app)
    for module in (
        auth,
        sites,
        checklists,
        inspections,
        cases,
        orders,
        verifications,
        evidence_routes,
    ):
        app.include_router(module.router)
    # The read models: work queues, search, history, dashboard, /health.
    app.include_router(read_model_routes.router)
    app.include_router(audit_routes.router)
    # Notices and records as PDF, the ledger, and the check of a document.
    app.include_router(document_routes.router)
    # The feed, webhook subscriptions and notifications, for other systems and people.
    for module in (feed_routes, webhook_routes, notification_routes):
        app.include_router(module.router)
    # The web console: `/` and `/ui/...` pages, `/static/...` files.
    install_console(app, console_sessions)

    # Added innermost first: a request meets the body limit, then the write
    # guard, then the idempotency check (which needs the guard's user).
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(WriteGuardMiddleware, exempt=is_console_path)
    app.add_middleware(BodyLimitMiddleware, console_path=is_console_path)
    app.add_middleware(NulGuardMiddleware)
    # A database that cannot be reached is a 503, wherever found.
    app.add_middleware(DatabaseUnavailableMiddleware)
    # Outermost: every password check a request leads to knows who asks.
    app.add_middleware(ClientAddressMiddleware)

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _thread_count(services: Services) -> int | None:
    configured = os.environ.get(THREADS_VARIABLE, "").strip()
    if configured:
        if not configured.isascii() or not configured.isdigit() or int(configured) < 1:
            raise ValueError(f"{THREADS_VARIABLE} must be a positive integer, not {configured!r}")
        return int(configured)
    return services.http_threads()


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated document, with problem+json errors and the Idempotency-Key header."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status.isdigit() and int(status) >= 400 and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
            if method == "post" and path not in NOT_IDEMPOTENCY_KEYED:
                operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_PARAMETER))
    app.openapi_schema = schema
    return schema


def create_app_from_env() -> FastAPI:
    """The API on ``RECTIFY_DATABASE_URL`` (default: ``./var/rectify.sqlite3``).

    ``RECTIFY_TOKEN_SECRET`` signs tokens (at least 32 characters); without it a
    secret kept in the database is used. ``RECTIFY_TOKEN_TTL_MINUTES`` (60) is
    how long a token lives.
    """
    return create_app(
        services=Services.open(database_url_from_env()),
        token_ttl_minutes=int(os.environ.get(TOKEN_TTL_VARIABLE, "").strip() or 60),
    )
