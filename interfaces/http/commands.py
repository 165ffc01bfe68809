"""Running a use case for an endpoint and answering with what it recorded.

Every command answers the same way (:class:`CommandResult`): the record it
created or changed with its new version (also the ``ETag``), every other record
it changed, and the log position of its last event (also ``X-Log-Position``).
The versions are read from the events the command itself saved — not by
loading the records again, which could pick up someone else's later change and
hand the client an ETag that silently skips it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Recording
from fastapi import Request, Response

from application.app import RectifyApp
from domain.errors import InvalidCommand
from domain.values import Actor, Evidence, Role
from infrastructure.evidence import EvidenceStore
from infrastructure.users import UserStore
from interfaces.http.concurrency import set_version_headers
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
        with self.rectify.collecting_saves() as recordings:
            returned = call()
        if aggregate_id is None:
            if not isinstance(returned, UUID):
                raise TypeError(f"a creating use case returned {returned!r}, not an id")
            aggregate_id = returned
            response.status_code = 201
            if location is not None:
                response.headers["Location"] = f"{location}/{aggregate_id}"
        changed = _changed_records(recordings)
        version = next((c.version for c in changed if c.id == aggregate_id), None)
        if version is None:
            # Nothing recorded for the addressed record (no use case does that
            # today); its stored version is then the right one to report.
            version = self.rectify.repository.get(aggregate_id).version
        position = max((r.notification.id for r in recordings), default=None)
        set_version_headers(response, version, position)
        return CommandResult(
            kind=kind, id=aggregate_id, version=version, position=position, changed=changed
        )

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


def _changed_records(recordings: list[Recording[UUID]]) -> list[ChangedRecord]:
    latest: dict[UUID, ChangedRecord] = {}
    for recording in recordings:
        event = recording.domain_event
        kind = KIND_OF_AGGREGATE.get(type(event).__qualname__.split(".")[0])
        if kind is None:
            continue
        known = latest.get(event.originator_id)
        if known is None or event.originator_version > known.version:
            latest[event.originator_id] = ChangedRecord(
                kind=kind, id=event.originator_id, version=event.originator_version
            )
    return list(latest.values())


def commands(request: Request) -> Commands:
    """Dependency: the app's :class:`Commands`."""
    return request.app.state.commands
