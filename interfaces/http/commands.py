"""Running a use case for an endpoint and answering with what it recorded.

Every command answers the same way (:class:`CommandResult`): the record it
created or changed with its new version (also the ``ETag``), every other record
it changed, and the log position of its last event (also ``X-Log-Position``).
The versions are read from the events the command itself saved — not by
loading the records again, which could pick up someone else's later change and
hand the client an ETag that silently skips it.

A keyed request (``Idempotency-Key``) is answered the same way from inside the
events' transaction: :func:`command_answer` renders the response from the
events being committed, and the event store keeps it with them, so a retry
after any crash replays exactly this answer (see
:mod:`infrastructure.idempotency`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Recording
from fastapi import Request, Response

from application.app import RectifyApp
from domain.errors import InvalidCommand
from domain.values import Actor, Evidence, Role
from infrastructure.evidence import EvidenceStore
from infrastructure.idempotency import RecordedEvent, StoredResponse, pending_key
from infrastructure.users import UserStore
from interfaces.http.concurrency import etag, set_version_headers
from interfaces.http.schemas.common import EvidenceRef
from interfaces.http.schemas.views import ChangedRecord, CommandResult

# The kind a client knows each aggregate by, from the first part of its event's
# qualified name; the order-number sequence is bookkeeping and not reported.
KIND_OF_AGGREGATE = {
    "Site": "site",
    "Inspection": "inspection",
    "Hazard": "case",
    "RectificationOrder": "order",
    "Verification": "verification",
}


class Commands:
    """What the command endpoints share: the application, users and evidence."""

    def __init__(
        self,
        rectify: RectifyApp,
        users: UserStore,
        evidence: EvidenceStore,
    ) -> None:
        self.rectify = rectify
        self.users = users
        self.evidence_store = evidence

    def run(
        self,
        response: Response,
        call: Callable[[], Any],
        *,
        kind: str,
        aggregate_id: UUID | None = None,
        location: str | None = None,
    ) -> CommandResult:
        """Run ``call`` (a use case) and describe what it recorded.

        ``aggregate_id`` is the record a change is addressed to; for a creation
        it is None and ``call`` returns the new record's id, answered with 201
        and ``Location: <location>/<id>``.
        """
        pending = pending_key.get()
        if pending is not None:
            pending.answer = partial(
                command_answer, kind=kind, aggregate_id=aggregate_id, location=location
            )
        with self.rectify.collecting_saves() as recordings:
            returned = call()
        recorded = recorded_events(recordings)
        if aggregate_id is None:
            if not isinstance(returned, UUID):
                raise TypeError(f"a creating use case returned {returned!r}, not an id")
            if created_record(recorded, kind) != returned:
                # The answer kept with the events finds the new record this way.
                raise TypeError(f"a creating use case returned {returned}, not the new {kind}")
            aggregate_id = returned
            response.status_code = 201
            if location is not None:
                response.headers["Location"] = f"{location}/{aggregate_id}"
        result = describe_command(recorded, kind=kind, aggregate_id=aggregate_id)
        if result is None:
            # Nothing recorded for the addressed record (no use case does that
            # today); its stored version is then the right one to report.
            version: int = self.rectify.repository.get(aggregate_id).version
            result = CommandResult(
                kind=kind,
                id=aggregate_id,
                version=version,
                position=max((r.position for r in recorded), default=None),
                changed=_changed_records(recorded),
            )
        set_version_headers(response, result.version, result.position)
        return result

    def evidence(self, refs: Sequence[EvidenceRef]) -> list[Evidence]:
        """The evidence a command cites, each checked to have been uploaded as described."""
        found = []
        for ref in refs:
            stored_size = self.evidence_store.size_of(ref.sha256)
            if stored_size is None:
                raise InvalidCommand(
                    f"evidence {ref.sha256} has not been uploaded; POST it to /evidence first",
                    rule="evidence_not_uploaded",
                )
            if stored_size != ref.size:
                raise InvalidCommand(
                    f"evidence {ref.sha256} is {stored_size} bytes, not {ref.size}",
                    rule="evidence_size_mismatch",
                )
            found.append(ref.to_domain())
        return found

    def team(self, user_ids: Sequence[str]) -> list[Actor]:
        """The accounts named as an inspection's team, as actors."""
        team = []
        for user_id in dict.fromkeys(user_ids):
            user = self.users.get(user_id)
            if user is None:
                raise InvalidCommand(f"there is no user {user_id!r}", rule="unknown_user")
            team.append(user.actor())
        return team

    def check_party_account(self, user_id: str | None) -> None:
        """An order may link only an existing responsible party's account."""
        if user_id is None:
            return
        user = self.users.get(user_id)
        if user is None:
            raise InvalidCommand(
                f"there is no user {user_id!r} to address the order to", rule="unknown_user"
            )
        if user.role != Role.RESPONSIBLE_PARTY:
            raise InvalidCommand(
                f"{user_id} is a {user.role.value}, not a responsible party",
                rule="party_account_not_responsible_party",
            )


def recorded_events(recordings: Sequence[Recording[UUID]]) -> list[RecordedEvent]:
    """What a command's saves recorded, as the event store reports it while committing."""
    return [
        RecordedEvent(
            originator_id=UUID(str(r.notification.originator_id)),
            originator_version=r.notification.originator_version,
            topic=r.notification.topic,
            position=r.notification.id,
        )
        for r in recordings
    ]


def _kind_of(event: RecordedEvent) -> str | None:
    # A topic is "module:Aggregate.Event".
    return KIND_OF_AGGREGATE.get(event.topic.rpartition(":")[2].split(".")[0])


def created_record(recorded: Sequence[RecordedEvent], kind: str) -> UUID | None:
    """The one record of ``kind`` a command created (its first event is among these)."""
    created = {
        e.originator_id for e in recorded if e.originator_version == 1 and _kind_of(e) == kind
    }
    return created.pop() if len(created) == 1 else None


def describe_command(
    recorded: Sequence[RecordedEvent], *, kind: str, aggregate_id: UUID
) -> CommandResult | None:
    """What a command did, from its events; None if none of them is ``aggregate_id``'s."""
    changed = _changed_records(recorded)
    version = next((c.version for c in changed if c.id == aggregate_id), None)
    if version is None:
        return None
    position = max((r.position for r in recorded), default=None)
    return CommandResult(
        kind=kind, id=aggregate_id, version=version, position=position, changed=changed
    )


def command_answer(
    recorded: Sequence[RecordedEvent],
    *,
    kind: str,
    aggregate_id: UUID | None,
    location: str | None,
) -> StoredResponse | None:
    """The response :meth:`Commands.run` gives for these events, byte for byte as
    FastAPI renders it; None where it cannot be told from the events alone."""
    target = aggregate_id if aggregate_id is not None else created_record(recorded, kind)
    if target is None:
        return None
    result = describe_command(recorded, kind=kind, aggregate_id=target)
    if result is None:
        return None
    body = result.model_dump_json(by_alias=True).encode()
    headers = [("content-length", str(len(body))), ("content-type", "application/json")]
    if aggregate_id is None and location is not None:
        headers.append(("location", f"{location}/{target}"))
    headers.append(("etag", etag(result.version)))
    if result.position is not None:
        headers.append(("x-log-position", str(result.position)))
    return StoredResponse(201 if aggregate_id is None else 200, headers, body)


def _changed_records(recorded: Sequence[RecordedEvent]) -> list[ChangedRecord]:
    latest: dict[UUID, ChangedRecord] = {}
    for event in recorded:
        kind = _kind_of(event)
        if kind is None:
            continue
        known = latest.get(event.originator_id)
        if known is None or event.originator_version > known.version:
            latest[event.originator_id] = ChangedRecord(
                kind=kind, id=event.originator_id, version=event.originator_version
            )
    return list(latest.values())


async def commands(request: Request) -> Commands:
    """Dependency: the app's :class:`Commands`."""
    return request.app.state.commands
