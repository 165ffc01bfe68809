"""The audit use cases (审计): replay a case, see any aggregate as of a moment of its
past, read and export the global log, and prove the log was not rewritten.

Everything here reads; nothing records an event. Log order is the notification
id (the position), never the timestamp: two processes' clocks may disagree, the
log's order does not.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification

from application.app import RectifyApp
from application.audit.chain import (
    Anchor,
    AuditChainView,
    ChainLink,
    VerifyReport,
    verify_chain,
)
from application.audit.describe import (
    Change,
    aggregate_state,
    aggregate_type_of,
    changes_between,
    event_type_of,
    public_state,
    sentence_for,
    to_jsonable,
    topics_for,
)
from application.errors import NotFound
from domain.errors import InvalidCommand
from domain.hazard import Hazard
from domain.values import Actor

PAGE_SIZE = 1000
MAX_LOG_PAGE = 1000
# One page request of the global log reads at most this many events looking
# for matches, so a rare filter over a long log answers in bounded time; the
# page then says where to continue.
MAX_SCAN_PER_PAGE = 20_000


class EventLocator(Protocol):
    """Finds the stored events of given aggregates, with their log positions."""

    def notifications_of(self, originator_ids: Sequence[UUID]) -> list[Notification]: ...


class NotInHistory(NotFound):
    """The asked-for version or moment is not in the aggregate's history."""

    def __init__(self, message: str, aggregate_id: UUID) -> None:
        Exception.__init__(self, message)
        self.kind = "version"
        self.aggregate_id = aggregate_id


# -- what the audit returns --------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    """One event as an auditor reads it."""

    position: int
    aggregate_id: UUID
    aggregate_type: str
    version: int
    event_type: str
    topic: str
    time: datetime
    actor_id: str | None
    actor_name: str | None
    actor_role: str | None
    sentence_zh: str
    sentence_en: str
    reason: str | None
    changes: tuple[Change, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "aggregate_id": str(self.aggregate_id),
            "aggregate_type": self.aggregate_type,
            "version": self.version,
            "event_type": self.event_type,
            "topic": self.topic,
            "time": self.time.isoformat(),
            "actor": {"id": self.actor_id, "name": self.actor_name, "role": self.actor_role},
            "sentence": {"zh": self.sentence_zh, "en": self.sentence_en},
            "reason": self.reason,
            "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in self.changes],
        }


@dataclass(frozen=True)
class ReplayStep:
    """A timeline entry with the case's state just after it."""

    entry: AuditEntry
    case_state: dict[str, Any]


@dataclass(frozen=True)
class CaseTimeline:
    """Every event of a case, in log order (see :meth:`AuditService.timeline`)."""

    case_id: UUID
    steps: tuple[ReplayStep, ...]

    @property
    def entries(self) -> list[AuditEntry]:
        return [step.entry for step in self.steps]


@dataclass(frozen=True)
class LogFilter:
    """Which events of the global log to show."""

    actor: str | None = None
    event_types: tuple[str, ...] = ()
    aggregate_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class LogPage:
    """One page of the global log. ``next_after`` is where the next page starts
    (None at the end of the log); ``scanned_through`` how far this page read."""

    entries: list[AuditEntry]
    next_after: int | None
    scanned_through: int


@dataclass
class _Replay:
    """Aggregates rebuilt event by event, and the diff each event made."""

    aggregates: dict[UUID, Aggregate] = field(default_factory=dict)

    def apply(self, event: Any) -> tuple[Aggregate, list[Change]]:
        current = self.aggregates.get(event.originator_id)
        before = public_state(current) if current is not None else {}
        aggregate = event.mutate(current)
        self.aggregates[event.originator_id] = aggregate
        return aggregate, changes_between(before, public_state(aggregate))


class AuditService:
    """Reads the record for auditors and supervisors; changes nothing in it."""

    def __init__(self, app: RectifyApp, *, chain: AuditChainView, locator: EventLocator) -> None:
        self.app = app
        self.chain = chain
        self.locator = locator

    # -- entries --------------------------------------------------------------------------

    def _entry(
        self,
        notification: Notification,
        event: Any,
        aggregate: Aggregate | None = None,
        changes: Iterable[Change] = (),
    ) -> AuditEntry:
        actor = getattr(event, "actor", None)
        zh, en = sentence_for(event, aggregate)
        return AuditEntry(
            position=notification.id,
            aggregate_id=event.originator_id,
            aggregate_type=aggregate_type_of(type(event)),
            version=event.originator_version,
            event_type=event_type_of(type(event)),
            topic=notification.topic,
            time=event.timestamp,
            actor_id=actor.user_id if isinstance(actor, Actor) else None,
            actor_name=actor.name if isinstance(actor, Actor) else None,
            actor_role=actor.role.value if isinstance(actor, Actor) else None,
            sentence_zh=zh,
            sentence_en=en,
            reason=getattr(event, "reason", None),
            changes=tuple(changes),
        )

    # -- the case timeline ------------------------------------------------------------------

    def _hazard(self, case_id: UUID) -> Hazard:
        try:
            hazard: Aggregate = self.app.repository.get(case_id)
        except AggregateNotFoundError:
            raise NotFound("case", case_id) from None
        if not isinstance(hazard, Hazard):
            raise NotFound("case", case_id)
        return hazard

    def timeline(self, case_id: UUID) -> CaseTimeline:
        """Every event of the case — the hazard, its orders, its verifications, and the
        inspection's events that concern it — in log order, each with who, when, a
        sentence, why, what changed, and the case's state just after it.

        The inspection's events shown are its opening and closing, the recording
        of the hazard's checklist item and the report of this hazard; its other
        items and hazards belong to other cases.
        """
        hazard = self._hazard(case_id)
        parts = {hazard.id, *hazard.order_ids, *hazard.verification_ids}
        replay = _Replay()
        steps = []
        for notification in self.locator.notifications_of([*parts, hazard.inspection_id]):
            event = self.app.mapper.to_domain_event(notification)
            aggregate, changes = replay.apply(event)
            if event.originator_id not in parts and not _concerns(event, hazard):
                continue
            steps.append(
                ReplayStep(
                    self._entry(notification, event, aggregate, changes),
                    _case_state(case_id, [replay.aggregates[i] for i in _ordered(replay, parts)]),
                )
            )
        return CaseTimeline(case_id, tuple(steps))

    # -- as of ------------------------------------------------------------------------------

    def aggregate_state(
        self, aggregate_id: UUID, *, at: datetime | None = None, version: int | None = None
    ) -> dict[str, Any]:
        """Any aggregate as of a version or a moment (its latest state with neither).

        The repository starts from the latest snapshot at or before that
        version, when there is one.
        """
        _one_of(at, version)
        if at is not None:
            version = self._version_at(aggregate_id, self._aware(at))
        return aggregate_state(self._get(aggregate_id, version))

    def _get(self, aggregate_id: UUID, version: int | None) -> Aggregate:
        if version is not None and version < 1:
            raise InvalidCommand("version must be at least 1", rule="version_invalid")
        try:
            aggregate: Aggregate = self.app.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFound("aggregate", aggregate_id) from None
        if version is not None and aggregate.version != version:
            raise NotInHistory(
                f"{aggregate_id} has no version {version}; its latest is {aggregate.version}",
                aggregate_id,
            )
        return aggregate

    def _version_at(self, aggregate_id: UUID, at: datetime) -> int:
        found = False
        for event in self.app.events.get(aggregate_id, desc=True):
            found = True
            if _timestamp(event) <= at:
                return event.originator_version
        if not found:
            raise NotFound("aggregate", aggregate_id)
        raise NotInHistory(f"{aggregate_id} did not exist yet at {at.isoformat()}", aggregate_id)

    def case_state(
        self,
        case_id: UUID,
        *,
        at: datetime | None = None,
        version: int | None = None,
        position: int | None = None,
    ) -> dict[str, Any]:
        """The case — hazard, orders, verifications — as of a moment, a version of
        the hazard, or a log position (its latest state with none of them).

        A version of the hazard stands for the log position of that version's
        event, so the orders and verifications are shown as they were then.
        """
        _one_of(at, version, position)
        hazard = self._hazard(case_id)
        parts = [hazard.id, *hazard.order_ids, *hazard.verification_ids]
        notifications = self.locator.notifications_of(parts)
        if version is not None:
            if version < 1:
                raise InvalidCommand("version must be at least 1", rule="version_invalid")
            matching = [
                n
                for n in notifications
                if n.originator_id == case_id and n.originator_version == version
            ]
            if not matching:
                raise NotInHistory(
                    f"case {case_id} has no version {version}; its latest is {hazard.version}",
                    case_id,
                )
            position = matching[0].id
        versions: dict[UUID, int] = {}
        last_position = 0
        for notification in notifications:
            if position is not None and notification.id > position:
                break
            if at is not None:
                event = self.app.mapper.to_domain_event(notification)
                if _timestamp(event) > self._aware(at):
                    continue
            versions[_uuid(notification.originator_id)] = notification.originator_version
            last_position = notification.id
        if case_id not in versions:
            when = f"at {self._aware(at).isoformat()}" if at is not None else f"at {position}"
            raise NotInHistory(f"case {case_id} did not exist yet {when}", case_id)
        aggregates = [self._get(i, versions[i]) for i in parts if i in versions]
        state = _case_state(case_id, aggregates)
        state["position"] = last_position
        return state

    def _aware(self, moment: datetime) -> datetime:
        # A moment without a zone is read in the service's own time zone, as
        # people in 安义 would write it.
        if moment.tzinfo is None:
            return moment.replace(tzinfo=self.app.time_zone)
        return moment

    # -- the global log -----------------------------------------------------------------------

    def _scan(self, log_filter: LogFilter, after: int) -> Iterator[tuple[Notification, Any]]:
        """(notification, event) of the log after ``after`` that pass the filter, streamed."""
        topics = topics_for(log_filter.event_types)
        since = self._aware(log_filter.since) if log_filter.since else None
        until = self._aware(log_filter.until) if log_filter.until else None
        for notification in self._notifications(log_filter.aggregate_id, topics, after):
            event: Any = self.app.mapper.to_domain_event(notification)
            if log_filter.actor is not None:
                actor = getattr(event, "actor", None)
                if not isinstance(actor, Actor) or actor.user_id != log_filter.actor:
                    yield notification, None
                    continue
            if (since and event.timestamp < since) or (until and event.timestamp > until):
                yield notification, None
                continue
            yield notification, event

    def _notifications(
        self, aggregate_id: UUID | None, topics: Sequence[str], after: int
    ) -> Iterator[Notification]:
        if aggregate_id is not None:
            for notification in self.locator.notifications_of([aggregate_id]):
                if notification.id > after and (not topics or notification.topic in topics):
                    yield notification
            return
        yield from self.notifications(after=after, topics=topics)

    def notifications(
        self, *, after: int = 0, upto: int | None = None, topics: Sequence[str] = ()
    ) -> Iterator[Notification]:
        """The stored events of the log in order, read a page at a time."""
        while True:
            page = self.app.recorder.select_notifications(
                start=after, limit=PAGE_SIZE, stop=upto, topics=topics, inclusive_of_start=False
            )
            if not page:
                return
            yield from page
            after = page[-1].id

    def log_page(self, log_filter: LogFilter, *, after: int = 0, limit: int = 100) -> LogPage:
        """Up to ``limit`` events of the log after position ``after`` that pass the filter."""
        if not 1 <= limit <= MAX_LOG_PAGE:
            raise InvalidCommand(
                f"limit must be between 1 and {MAX_LOG_PAGE}", rule="page_limit_invalid"
            )
        if after < 0:
            raise InvalidCommand("after must not be negative", rule="page_after_invalid")
        entries: list[AuditEntry] = []
        last = after
        for scanned, (notification, event) in enumerate(self._scan(log_filter, after), 1):
            last = notification.id
            if event is not None:
                entries.append(self._entry(notification, event))
            if len(entries) == limit or scanned == MAX_SCAN_PER_PAGE:
                return LogPage(entries, last, last)
        return LogPage(entries, None, last)

    # -- export -------------------------------------------------------------------------------

    EXPORT_FIELDS = (
        "position",
        "aggregate_id",
        "aggregate_type",
        "aggregate_version",
        "event_type",
        "topic",
        "time",
        "actor_id",
        "actor_name",
        "actor_role",
        "reason",
        "sentence_zh",
        "sentence_en",
        "state",
        "state_encoding",
        "chain_hash",
    )

    def export_records(self, log_filter: LogFilter | None = None) -> Iterator[dict[str, Any]]:
        """Every event of the log that passes the filter, as a flat record, streamed.

        ``state`` is the event exactly as stored (UTF-8 JSON text, or base64 if
        the store compresses or encrypts), and ``chain_hash`` its link in the
        hash chain (None until chained), so an export can be checked offline.
        The filter is checked at once, before anything is read or streamed.
        """
        log_filter = log_filter or LogFilter()
        topics_for(log_filter.event_types)
        return self._export_records(log_filter)

    def _export_records(self, log_filter: LogFilter) -> Iterator[dict[str, Any]]:
        links = self._links_from(0)
        link = next(links, None)
        for notification, event in self._scan(log_filter, 0):
            if event is None:
                continue
            while link is not None and link.position < notification.id:
                link = next(links, None)
            entry = self._entry(notification, event)
            state, encoding = _state_text(notification.state)
            yield {
                "position": entry.position,
                "aggregate_id": str(entry.aggregate_id),
                "aggregate_type": entry.aggregate_type,
                "aggregate_version": entry.version,
                "event_type": entry.event_type,
                "topic": entry.topic,
                "time": entry.time.isoformat(),
                "actor_id": entry.actor_id,
                "actor_name": entry.actor_name,
                "actor_role": entry.actor_role,
                "reason": entry.reason,
                "sentence_zh": entry.sentence_zh,
                "sentence_en": entry.sentence_en,
                "state": state,
                "state_encoding": encoding,
                "chain_hash": (
                    link.hash if link is not None and link.position == notification.id else None
                ),
            }

    def export_jsonl(self, log_filter: LogFilter | None = None) -> Iterator[str]:
        """The export as JSON Lines, one event per line (the filter checked at once)."""
        records = self.export_records(log_filter)
        return (json.dumps(record, ensure_ascii=False) + "\n" for record in records)

    def export_csv(self, log_filter: LogFilter | None = None) -> Iterator[str]:
        """The export as CSV with a header row; ``state`` is the stored JSON text."""
        return _csv_chunks(self.export_records(log_filter), self.EXPORT_FIELDS)

    # -- the hash chain -------------------------------------------------------------------------

    def head(self) -> ChainLink | None:
        """The chain's last link: print it and keep it elsewhere as an anchor."""
        return self.chain.head()

    def catch_up(self) -> int:
        """Chain every event the chain has not reached yet; returns how many."""
        return self.chain.catch_up(self.app.name)

    def _links_from(self, after: int, upto: int | None = None) -> Iterator[ChainLink]:
        while True:
            page = self.chain.select_links(after, upto, PAGE_SIZE)
            if not page:
                return
            yield from page
            after = page[-1].position

    def verify_through(self, position: int, anchor: Anchor | None = None) -> VerifyReport:
        """Recompute the chain from the start of the log up to ``position`` only and
        compare it with the stored links (and ``anchor``), as :meth:`verify` does for
        the whole log: what a document made at ``position`` rests on."""
        return verify_chain(
            self.notifications(upto=position),
            self._links_from(0, position),
            anchor=anchor,
        )

    def verify(self, anchor: Anchor | None = None) -> VerifyReport:
        """Recompute the chain from the stored events and compare it with the stored links.

        Reads only: events the chain has not reached yet are counted, not chained.
        """
        head = self.chain.head()
        upto = head.position if head is not None else 0
        unchained = sum(1 for _ in self.notifications(after=upto))
        return verify_chain(
            self.notifications(upto=upto),
            self._links_from(0, upto),
            anchor=anchor,
            unchained=unchained,
        )


# -- helpers ----------------------------------------------------------------------------------


def _csv_chunks(records: Iterator[dict[str, Any]], fieldnames: Sequence[str]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, lineterminator="\r\n")
    writer.writeheader()
    for rows, record in enumerate(records, 1):
        writer.writerow(record)
        if rows % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _concerns(event: Any, hazard: Hazard) -> bool:
    """Whether an event of the hazard's inspection belongs in the case's timeline."""
    name = event_type_of(type(event))
    if name in ("Inspection.Opened", "Inspection.Completed", "Inspection.Cancelled"):
        return True
    if name == "Inspection.ItemRecorded":
        return hazard.item_code is not None and event.item_code == hazard.item_code
    if name == "Inspection.HazardReported":
        return bool(event.hazard_id == hazard.id)
    return False


def _ordered(replay: _Replay, parts: set[UUID]) -> list[UUID]:
    return [i for i in replay.aggregates if i in parts]


def _case_state(case_id: UUID, aggregates: Iterable[Aggregate]) -> dict[str, Any]:
    """The case as the audit shows it: its hazard, orders and verifications."""
    state: dict[str, Any] = {
        "case_id": str(case_id),
        "hazard": None,
        "orders": [],
        "verifications": [],
    }
    for aggregate in aggregates:
        shown = aggregate_state(aggregate)
        if aggregate.id == case_id:
            state["hazard"] = shown
        elif shown["type"] == "rectification_order":
            state["orders"].append(shown)
        else:
            state["verifications"].append(shown)
    return state


def _one_of(*choices: object) -> None:
    if sum(choice is not None for choice in choices) > 1:
        raise InvalidCommand("give at most one of as_of, version and position", rule="as_of_choice")


def _timestamp(event: Any) -> datetime:
    moment: datetime = event.timestamp
    return moment


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


def _state_text(state: bytes) -> tuple[str, str]:
    try:
        return state.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(state).decode("ascii"), "base64"


__all__ = [
    "AuditEntry",
    "AuditService",
    "CaseTimeline",
    "EventLocator",
    "LogFilter",
    "LogPage",
    "NotInHistory",
    "ReplayStep",
    "to_jsonable",
]
