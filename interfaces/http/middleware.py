"""What every request passes through before it reaches an endpoint.

From the outside in:

0. :class:`NulGuardMiddleware` — a NUL character in the path, the query or a
   header is refused with 400: no database stores one in text (PostgreSQL
   refuses it outright), so it would otherwise surface as a 500 deep inside.
1. :class:`BodyLimitMiddleware` — a body over the limit (1 MiB; 20 MiB for an
   evidence upload) is refused with 413 before it is read whole.
2. :class:`WriteGuardMiddleware` — a state-changing request must carry a valid
   token (else 401), and an auditor's is refused (403) before anything else
   about it is looked at: auditors change nothing. The web console's forms
   (``exempt`` paths) authenticate by session and CSRF token instead, and its
   use cases refuse an auditor just the same.
3. :class:`IdempotencyMiddleware` — a POST with an ``Idempotency-Key`` is run
   once per user and key; a retry gets the first response back.

Around them all, :class:`DatabaseUnavailableMiddleware` answers 503 with
``Retry-After`` when the database cannot be reached, wherever that is found.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.values import Role
from infrastructure.idempotency import (
    Begun,
    Claim,
    IdempotencyStore,
    KeyAlreadyAnswered,
    PendingKey,
    StoredResponse,
    pending_key,
)
from infrastructure.persistence import is_database_unavailable
from interfaces.http.problems import ProblemError, problem_response
from interfaces.http.security import TOKEN_PATH, USER_SCOPE_KEY, Authenticator

MiB = 1024 * 1024
DEFAULT_BODY_LIMIT = 1 * MiB
EVIDENCE_BODY_LIMIT = 20 * MiB

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Requests that change state without a logged-in user: logging in.
PUBLIC_WRITES = frozenset({("POST", TOKEN_PATH)})
# POSTs that only read (a document uploaded to be checked against the log):
# authenticated like any other, but auditors, who change nothing, may send them.
DOCUMENT_CHECK_PATH = "/documents/check"
READ_ONLY_POSTS = frozenset({("POST", DOCUMENT_CHECK_PATH)})

IDEMPOTENCY_HEADER = "idempotency-key"
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
_DIGITS = re.compile(r"[0-9]{1,18}")
# Content-addressed already: the same file uploaded twice is stored once.
IDEMPOTENCY_EXEMPT_PATHS = frozenset({TOKEN_PATH, "/evidence", DOCUMENT_CHECK_PATH})
REPLAYED_HEADER = "idempotent-replayed"
# How long a retry waits for the same request, still running in this process,
# to finish. An attempt that died with its process holds nothing: there is no
# lease to wait out.
IN_PROGRESS_WAIT_SECONDS = 10.0

logger = logging.getLogger("rectify.http")


class NulGuardMiddleware:
    """Refuse a request with a NUL character in its path, query or headers (400).

    JSON bodies are checked field by field by the schemas (``Text``); what
    arrives outside the body is checked here, once for every endpoint.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            where = _nul_in(scope)
            if where is not None:
                await _send_problem(
                    scope,
                    receive,
                    send,
                    ProblemError(
                        400,
                        f"{where} contains a NUL character, which no text may hold",
                        rule="nul_character",
                    ),
                )
                return
        await self.app(scope, receive, send)


def _nul_in(scope: Scope) -> str | None:
    if "\x00" in scope.get("path", ""):
        return "the request's path"
    query: bytes = scope.get("query_string", b"")
    # Percent-encoded (%00) as well as raw; '+' cannot hide one.
    if b"\x00" in query or b"%00" in query:
        return "the request's query"
    if any(b"\x00" in value for _, value in scope.get("headers", ())):
        return "a request header"
    return None


class BodyTooLarge(ProblemError):
    """The request body passed its limit; raised from ``receive`` while it is read."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"the request body is larger than {limit} bytes ({limit // MiB} MiB) allowed here",
            rule="body_too_large",
        )


async def _send_problem(scope: Scope, receive: Receive, send: Send, error: ProblemError) -> None:
    response = problem_response(
        error.status_code, str(error.detail), rule=error.rule, headers=error.headers
    )
    await response(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse request bodies over a size limit with 413, whether declared or streamed."""

    def __init__(
        self,
        app: ASGIApp,
        default_limit: int = DEFAULT_BODY_LIMIT,
        limits: Mapping[tuple[str, str], int] | None = None,
        console_path: Callable[[str], bool] | None = None,
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = dict(
            limits
            or {
                ("POST", "/evidence"): EVIDENCE_BODY_LIMIT,
                # A PDF embeds its fonts: a few pages with CJK text pass 1 MiB.
                ("POST", DOCUMENT_CHECK_PATH): EVIDENCE_BODY_LIMIT,
            }
        )
        # The console's forms may carry photos taken on a phone, as /evidence does.
        self.console_path = console_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get((scope["method"], scope["path"]), self.default_limit)
        if self.console_path is not None and self.console_path(scope["path"]):
            limit = max(limit, EVIDENCE_BODY_LIMIT)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not _DIGITS.fullmatch(declared):
                await _send_problem(
                    scope,
                    receive,
                    send,
                    ProblemError(
                        400,
                        "Content-Length must be a non-negative integer",
                        rule="content_length_invalid",
                    ),
                )
                return
            if int(declared) > limit:
                await _send_problem(scope, receive, send, BodyTooLarge(limit))
                return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as error:
            if started:
                raise
            await _send_problem(scope, receive, send, error)


class WriteGuardMiddleware:
    """Authenticate every state-changing request first; refuse auditors' at once.

    The user found is left in the scope for the endpoint (see ``current_user``).
    Paths for which ``exempt`` is true (the console's) are passed through.
    """

    def __init__(self, app: ASGIApp, exempt: Callable[[str], bool] | None = None) -> None:
        self.app = app
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or (scope["method"], scope["path"]) in PUBLIC_WRITES
            or (self.exempt is not None and self.exempt(scope["path"]))
        ):
            await self.app(scope, receive, send)
            return
        auth: Authenticator = scope["app"].state.auth
        header = Headers(scope=scope).get("authorization")
        try:
            user = await anyio.to_thread.run_sync(auth.user_for_header, header)
        except ProblemError as error:
            await _send_problem(scope, receive, send, error)
            return
        if user.role == Role.AUDITOR and (scope["method"], scope["path"]) not in READ_ONLY_POSTS:
            await _send_problem(
                scope,
                receive,
                send,
                ProblemError(
                    403,
                    f"{user.name} ({user.user_id}) is an auditor: auditors read everything "
                    "and change nothing",
                    rule="auditor_changes_nothing",
                ),
            )
            return
        scope[USER_SCOPE_KEY] = user
        await self.app(scope, receive, send)


DATABASE_RETRY_AFTER_SECONDS = 2


class DatabaseUnavailableMiddleware:
    """Answer 503 with ``Retry-After`` when the database cannot be reached.

    The event store and the side tables give up within about a second then
    (see :mod:`infrastructure.recorders`), wherever the request was: in a
    middleware looking a user or a key up, or in an endpoint. The client is
    told to retry; a command retried with its ``Idempotency-Key`` is applied
    once, whether or not the failed attempt committed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            if started or not is_database_unavailable(error):
                raise
            logger.warning(
                "database unavailable on %s %s: %s", scope["method"], scope["path"], error
            )
            await _send_problem(
                scope,
                receive,
                send,
                ProblemError(
                    503,
                    "the database cannot be reached just now; retry in a moment "
                    "(a command retried with the same Idempotency-Key is applied once)",
                    rule="database_unavailable",
                    headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
                ),
            )


def request_hash(body: bytes, content_type: str | None) -> str:
    """A hash of the body that ignores JSON formatting (spacing, key order)."""
    if content_type and "json" in content_type.lower():
        try:
            canonical = json.dumps(
                json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=True
            ).encode("ascii")
        except (ValueError, RecursionError):
            canonical = body
        else:
            return "json:" + hashlib.sha256(canonical).hexdigest()
    return "raw:" + hashlib.sha256(body).hexdigest()


class IdempotencyMiddleware:
    """Run a keyed POST once per user and key; replay its response to retries.

    The answer of a command is committed with its events (see
    :mod:`infrastructure.idempotency`), so a retry finds it whenever the
    command committed — also when the process died or the database went away
    before the client heard. Only a successful (2xx) response is kept: an error
    records nothing, so a retry is evaluated afresh. The same key with another
    path or body is refused (422, ``idempotency_key_reused``).

    Attempts of one key in this process run one after another: a retry arriving
    while the first still runs waits for it (then replays it), and after
    :data:`IN_PROGRESS_WAIT_SECONDS` gets 409 (``idempotency_key_in_use``).
    Attempts in different processes race in the database: the loser's events are
    rolled back with its key's row, and it answers the winner's response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._running: dict[tuple[str, str], tuple[anyio.Lock, int]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(IDEMPOTENCY_HEADER)
        user = scope.get(USER_SCOPE_KEY)
        if (
            scope["method"] != "POST"
            or key is None
            or scope["path"] in IDEMPOTENCY_EXEMPT_PATHS
            or user is None
        ):
            await self.app(scope, receive, send)
            return
        if not IDEMPOTENCY_KEY_PATTERN.match(key):
            await _send_problem(
                scope,
                receive,
                send,
                ProblemError(
                    400,
                    "Idempotency-Key must be 1 to 255 visible ASCII characters",
                    rule="idempotency_key_invalid",
                ),
            )
            return

        body = await _read_body(receive)
        if body is None:
            return  # the client went away before it finished sending
        store: IdempotencyStore = scope["app"].state.idempotency
        query = scope.get("query_string", b"").decode("latin-1")
        method_path = f"POST {scope['path']}" + (f"?{query}" if query else "")
        pending = PendingKey(
            user.user_id,
            key,
            method_path,
            request_hash(body, headers.get("content-type")),
            with_events=store.answers_with_events,
        )
        async with self._one_at_a_time(user.user_id, key) as alone:
            if not alone:
                await _send_problem(
                    scope,
                    receive,
                    send,
                    ProblemError(
                        409,
                        f"a request with Idempotency-Key {key!r} is still being processed; "
                        "retry later",
                        rule="idempotency_key_in_use",
                        headers={"Retry-After": "1"},
                    ),
                )
                return
            begun = await self._look_up(store, pending)
            if begun.claim == Claim.STARTED:
                await self._run_once(scope, receive, send, body, store, pending)
            else:
                await self._answer_from_key(scope, receive, send, begun, key)

    @asynccontextmanager
    async def _one_at_a_time(self, user_id: str, key: str) -> AsyncIterator[bool]:
        """Hold this process's lock of the key; yield False if it stayed taken too long."""
        lock, users = self._running.get((user_id, key), (anyio.Lock(), 0))
        self._running[(user_id, key)] = (lock, users + 1)
        try:
            acquired = False
            with anyio.move_on_after(IN_PROGRESS_WAIT_SECONDS):
                await lock.acquire()
                acquired = True
            if not acquired:
                yield False
                return
            try:
                yield True
            finally:
                lock.release()
        finally:
            lock, users = self._running[(user_id, key)]
            if users <= 1:
                del self._running[(user_id, key)]
            else:
                self._running[(user_id, key)] = (lock, users - 1)

    @staticmethod
    async def _look_up(store: IdempotencyStore, pending: PendingKey) -> Begun:
        return await anyio.to_thread.run_sync(
            store.begin, pending.user_id, pending.key, pending.method_path, pending.request_hash
        )

    @staticmethod
    async def _answer_from_key(
        scope: Scope, receive: Receive, send: Send, begun: Begun, key: str
    ) -> None:
        if begun.claim == Claim.REPLAY:
            assert begun.response is not None
            await _replay(begun.response, send)
            return
        await _send_problem(
            scope,
            receive,
            send,
            ProblemError(
                422,
                f"Idempotency-Key {key!r} was already used for another request "
                f"({begun.method_path} with a different body); use a new key",
                rule="idempotency_key_reused",
            ),
        )

    async def _run_once(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        body: bytes,
        store: IdempotencyStore,
        pending: PendingKey,
    ) -> None:
        body_sent = False

        async def replay_body() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = 0
        response_headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []
        held: list[Message] = []

        async def capturing_send(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_headers = [
                    (name.decode("latin-1"), value.decode("latin-1"))
                    for name, value in message.get("headers", [])
                ]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            if 200 <= status < 300:
                await send(message)
            else:
                # An error may be only this attempt's view: another attempt of
                # the key may have committed meanwhile. Hold it until we know.
                held.append(message)

        token = pending_key.set(pending)
        try:
            await self.app(scope, replay_body, capturing_send)
        except KeyAlreadyAnswered:
            status = 0  # what was held is this attempt's; the winner's answer follows
            held.clear()
        finally:
            pending_key.reset(token)

        if 200 <= status < 300:
            if not pending.stored:
                # Nothing committed the answer with events (the in-memory store).
                stored = StoredResponse(status, response_headers, b"".join(chunks))
                await anyio.to_thread.run_sync(
                    store.keep,
                    pending.user_id,
                    pending.key,
                    pending.method_path,
                    pending.request_hash,
                    stored,
                )
            return
        begun = await self._look_up(store, pending)
        if begun.claim != Claim.STARTED:
            await self._answer_from_key(scope, receive, send, begun, pending.key)
            return
        if not held:
            raise RuntimeError("a keyed request ended without a response")
        for message in held:
            await send(message)


async def _read_body(receive: Receive) -> bytes | None:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


async def _replay(response: StoredResponse, send: Send) -> None:
    headers: list[tuple[bytes, bytes]] = [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers
    ]
    headers.append((REPLAYED_HEADER.encode("latin-1"), b"true"))
    start: dict[str, Any] = {
        "type": "http.response.start",
        "status": response.status,
        "headers": headers,
    }
    await send(start)
    await send({"type": "http.response.body", "body": response.body, "more_body": False})
