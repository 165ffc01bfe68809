"""Running a console form: once per rendered form, based on the version it showed.

A form's hidden fields are its CSRF token, the ``version`` of the record the
page showed and a ``form_key`` made when it was rendered. :func:`submit`

1. claims the key in the API's idempotency store (per user): a second send of
   the same form gets the first answer back (a redirect) and records nothing;
2. runs the use case with the version as the expected one: if the record has
   changed since, nothing is recorded and the page is shown again with what
   changed, by whom, and the person's input kept;
3. on a rule's refusal, shows the message beside the field, in their language;
4. on success, redirects to the next page with ``?after=<log position>`` so
   that page waits for the read models to include this change (read your own
   write).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from application.audit.describe import sentence_for
from application.errors import ApplicationError, SignatureRejected, StaleVersion
from domain.errors import DomainError, NotPermitted
from domain.values import Actor, Evidence, Role
from infrastructure.idempotency import (
    Claim,
    KeyAlreadyAnswered,
    PendingKey,
    RecordedEvent,
    StoredResponse,
    pending_key,
)
from interfaces.http.commands import created_record
from interfaces.web import deps
from interfaces.web.core import Viewer, check_csrf, redirect, require_viewer
from interfaces.web.messages import FieldError, error_for

FORM_KEY_FIELD = "form_key"
VERSION_FIELD = "version"
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_PHOTO_BYTES = 20 * 1024 * 1024
# Fields that are not the person's input: left out of the "same form?" fingerprint.
_NOT_INPUT = frozenset({"csrf_token", FORM_KEY_FIELD})


@dataclass(frozen=True)
class Change:
    """One change someone else made after the form's version: who, when, what."""

    version: int
    time: Any
    actor_name: str
    sentence_zh: str
    sentence_en: str


@dataclass
class Outcome:
    """Why a form is shown again: errors by field, and what changed since, if stale."""

    errors: list[FieldError] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    action: str = ""

    def for_field(self, name: str) -> list[FieldError]:
        return [e for e in self.errors if e.field == name]

    @property
    def general(self) -> list[FieldError]:
        return [e for e in self.errors if e.field == ""]

    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)


def text_values(form: FormData | Mapping[str, Any]) -> dict[str, str]:
    """The form's text fields (photos left out), to show again as they were typed."""
    return {
        k: v for k, v in form.items() if isinstance(v, str) and k not in _NOT_INPUT | {"password"}
    }


def _fingerprint(form: FormData) -> str:
    digest = hashlib.sha256()
    for name, value in sorted(form.multi_items(), key=lambda item: item[0]):
        if name in _NOT_INPUT:
            continue
        digest.update(name.encode() + b"\0")
        if isinstance(value, UploadFile):
            digest.update(f"file:{value.filename}:{value.size}".encode())
        else:
            digest.update(str(value).encode())
        digest.update(b"\0")
    return "form:" + digest.hexdigest()


def expected_version(form: Mapping[str, Any]) -> int | None:
    """The version of the record the form was rendered with."""
    raw = form.get(VERSION_FIELD)
    if isinstance(raw, str) and raw.isdigit():
        return int(raw)
    return None


def changes_since(request: Request, aggregate_id: UUID, version: int) -> list[Change]:
    """What was recorded on ``aggregate_id`` after ``version``: who, when, in words."""
    app = deps.rectify(request)
    found = []
    for event in app.events.get(aggregate_id, gt=version):
        actor = getattr(event, "actor", None)
        zh, en = sentence_for(event)
        found.append(
            Change(
                version=event.originator_version,
                time=getattr(event, "timestamp", None),
                actor_name=actor.name if isinstance(actor, Actor) else "",
                sentence_zh=zh,
                sentence_en=en,
            )
        )
    return found


async def photos(request: Request, form: FormData, name: str = "photos") -> list[Evidence]:
    """Store the photos a form sent (by SHA-256) and return what the events cite."""
    store = deps.evidence(request)
    cited = []
    for upload in form.getlist(name):
        if not isinstance(upload, UploadFile) or not upload.filename:
            continue
        data = await upload.read()
        if not data:
            continue
        if len(data) > MAX_PHOTO_BYTES:
            raise FormRefused("photo_too_large")
        media_type = upload.content_type or "application/octet-stream"
        cited.append(
            await run_in_threadpool(store.put, data, name=upload.filename, media_type=media_type)
        )
    return cited


class FormRefused(Exception):
    """A form value the console itself cannot turn into a command (a malformed date)."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


async def submit(
    request: Request,
    viewer: Viewer,
    form: FormData,
    *,
    action: str,
    run: Callable[[], Any],
    next_url: Callable[[Any, int | None], str],
    show_again: Callable[[Outcome, int], Response],
    versioned: UUID | None = None,
    creates: str | None = None,
) -> Response:
    """Run one form's command once; see the module's docstring.

    ``run`` calls the use case and returns what it returned; ``next_url`` gives
    the page to go to from that and the log position; ``show_again`` renders
    the form's page with an :class:`Outcome` and a status code. ``creates``
    names the kind of record the command creates (``"site"``, ``"order"`` …):
    the answer kept with the events finds the new record by it, as the API's
    commands do.
    """
    sent_key = form.get(FORM_KEY_FIELD)
    key = sent_key if isinstance(sent_key, str) else ""
    store = deps.idempotency(request)
    user_id = viewer.user.user_id
    method_path = f"POST {request.url.path}"
    # A form without a well-formed key (not one the console rendered) still runs,
    # only without the protection against a second send.
    claimed = _KEY_PATTERN.match(key) is not None
    fingerprint = _fingerprint(form) if claimed else ""

    async def answered() -> Response | None:
        """The first send's answer, if this form was sent and recorded before."""
        if not claimed:
            return None
        begun = await run_in_threadpool(store.begin, user_id, key, method_path, fingerprint)
        if begun.claim == Claim.REPLAY and begun.response is not None:
            return redirect(request, dict(begun.response.headers).get("location", "/"))
        if begun.claim == Claim.MISMATCH:
            outcome = Outcome([error_for("form_reused")], values=text_values(form), action=action)
            return show_again(outcome, 409)
        return None

    replay = await answered()
    if replay is not None:
        return replay

    def url_after(returned: Any, position: int | None) -> str:
        url = next_url(returned, position)
        if position is not None:
            # ?after= goes before any #fragment, or the browser would not send it.
            url, hash_mark, fragment = url.partition("#")
            url += ("&" if "?" in url else "?") + f"after={position}" + hash_mark + fragment
        return url

    def answer(recorded: Sequence[RecordedEvent]) -> StoredResponse:
        # Written in the events' transaction: a second send finds it even when
        # this process dies before the redirect leaves it.
        returned = created_record(recorded, creates) if creates else None
        position = max((r.position for r in recorded), default=None)
        return StoredResponse(303, [("location", url_after(returned, position))], b"")

    pending = PendingKey(
        user_id, key, method_path, fingerprint, with_events=store.answers_with_events
    )
    pending.answer = answer
    app = deps.rectify(request)

    def call() -> tuple[Any, int | None]:
        token = pending_key.set(pending if claimed else None)
        try:
            with app.collecting_saves() as recordings:
                returned = run()
        finally:
            pending_key.reset(token)
        position = max((r.notification.id for r in recordings), default=None)
        return returned, position

    try:
        returned, position = await run_in_threadpool(call)
    except KeyAlreadyAnswered:
        # Another send of this form committed first; this one recorded nothing.
        replay = await answered()
        if replay is None:
            raise
        return replay
    except StaleVersion as error:
        # A second send of a versioned form finds its own first send's change.
        replay = await answered()
        if replay is not None:
            return replay
        changes = (
            await run_in_threadpool(changes_since, request, versioned, error.expected)
            if versioned is not None
            else []
        )
        outcome = Outcome(
            [error_for(error.rule)], changes=changes, values=text_values(form), action=action
        )
        return show_again(outcome, 409)
    except FormRefused as error:
        return show_again(
            Outcome([error_for(error.rule)], values=text_values(form), action=action), 422
        )
    except (DomainError, ApplicationError) as error:
        replay = await answered()
        if replay is not None:
            return replay
        permitted = not isinstance(error, NotPermitted | SignatureRejected)
        status = 403 if not permitted else (409 if error.rule == "concurrent_write" else 422)
        outcome = Outcome(
            [error_for(error.rule, permitted=permitted)], values=text_values(form), action=action
        )
        return show_again(outcome, status)
    url = url_after(returned, position)
    if claimed and not pending.stored:
        # Nothing kept the answer with events (the in-memory store): keep it now.
        stored = StoredResponse(303, [("location", url)], b"")
        await run_in_threadpool(store.keep, user_id, key, method_path, fingerprint, stored)
    return redirect(request, url)


def text(form: FormData, name: str) -> str:
    """What the person typed into field ``name`` (empty if nothing, or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def with_sent(offered: list[str], outcome: Outcome | None) -> list[str]:
    """The actions offered, and the one just refused: its form shows again with the
    person's input, even if a change meanwhile means it would now be refused."""
    if outcome is not None and outcome.action and outcome.action not in offered:
        return [*offered, outcome.action]
    return offered


RecordPage = Callable[[Request, Viewer, UUID, "Outcome | None", int], Response]
"""Renders a record's page: (request, viewer, record id, outcome, status)."""


async def record_command(
    request: Request,
    record_id: UUID,
    *,
    action: str,
    roles: tuple[Role, ...],
    run: Callable[[Viewer, FormData, list[Evidence]], Any],
    page: RecordPage,
    page_url: str,
    next_url: Callable[[Any], str] | None = None,
    creates: str | None = None,
) -> Response:
    """One of a record's forms (a case's, an order's): the person and their CSRF
    token checked, photos stored, then :func:`submit` against the record's version;
    back to ``page_url`` (or ``next_url`` of what the command returned)."""
    viewer = require_viewer(request, *roles)
    form = await check_csrf(request, viewer)
    taken = await photos(request, form)
    return await submit(
        request,
        viewer,
        form,
        action=action,
        run=lambda: run(viewer, form, taken),
        next_url=lambda returned, _: next_url(returned) if next_url is not None else page_url,
        show_again=lambda outcome, status: page(request, viewer, record_id, outcome, status),
        versioned=record_id,
        creates=creates,
    )
