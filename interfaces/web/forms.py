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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from application.audit.describe import sentence_for
from application.errors import ApplicationError, SignatureRejected, StaleVersion
from domain.errors import DomainError, NotPermitted
from domain.values import Actor, Evidence
from infrastructure.idempotency import Claim, StoredResponse
from interfaces.web import deps
from interfaces.web.core import Viewer, redirect
from interfaces.web.messages import FieldError, error_for

FORM_KEY_FIELD = "form_key"
VERSION_FIELD = "version"
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
IN_PROGRESS_WAIT_SECONDS = 10.0
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
) -> Response:
    """Run one form's command once; see the module's docstring.

    ``run`` calls the use case and returns what it returned; ``next_url`` gives
    the page to go to from that and the log position; ``show_again`` renders
    the form's page with an :class:`Outcome` and a status code.
    """
    sent_key = form.get(FORM_KEY_FIELD)
    key = sent_key if isinstance(sent_key, str) else ""
    store = deps.idempotency(request)
    user_id = viewer.user.user_id
    method_path = f"POST {request.url.path}"
    # A form without a well-formed key (not one the console rendered) still runs,
    # only without the protection against a second send.
    claimed = _KEY_PATTERN.match(key) is not None
    if claimed:
        fingerprint = _fingerprint(form)
        begun = await run_in_threadpool(store.begin, user_id, key, method_path, fingerprint)
        waited = 0.0
        while begun.claim == Claim.IN_PROGRESS and waited < IN_PROGRESS_WAIT_SECONDS:
            await anyio.sleep(0.05)
            waited += 0.05
            begun = await run_in_threadpool(store.begin, user_id, key, method_path, fingerprint)
        if begun.claim == Claim.REPLAY and begun.response is not None:
            location = dict(begun.response.headers).get("location", "/")
            return redirect(request, location)
        if begun.claim in (Claim.MISMATCH, Claim.IN_PROGRESS):
            outcome = Outcome([error_for("form_reused")], values=text_values(form), action=action)
            return show_again(outcome, 409)

    def abandon() -> None:
        if claimed:
            store.abandon(user_id, key)

    app = deps.rectify(request)
    try:

        def call() -> tuple[Any, int | None]:
            with app.collecting_saves() as recordings:
                returned = run()
            position = max((r.notification.id for r in recordings), default=None)
            return returned, position

        returned, position = await run_in_threadpool(call)
    except StaleVersion as error:
        await run_in_threadpool(abandon)
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
        await run_in_threadpool(abandon)
        return show_again(
            Outcome([error_for(error.rule)], values=text_values(form), action=action), 422
        )
    except (DomainError, ApplicationError) as error:
        await run_in_threadpool(abandon)
        permitted = not isinstance(error, NotPermitted | SignatureRejected)
        status = 403 if not permitted else (409 if error.rule == "concurrent_write" else 422)
        outcome = Outcome(
            [error_for(error.rule, permitted=permitted)], values=text_values(form), action=action
        )
        return show_again(outcome, status)
    except BaseException:
        await run_in_threadpool(abandon)
        raise
    url = next_url(returned, position)
    if position is not None:
        url, hash_mark, fragment = url.partition("#")
        url += ("&" if "?" in url else "?") + f"after={position}" + hash_mark + fragment
    if claimed:
        stored = StoredResponse(303, [("location", url)], b"")
        await run_in_threadpool(store.complete, user_id, key, stored)
    return redirect(request, url)
