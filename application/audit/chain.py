"""The audit hash chain (防篡改链): every event of the log linked to the one before.

Each event of the notification log gets a link ``(position, hash)`` where

    hash = SHA-256(previous link's hash (32 bytes) || canonical bytes of the event)

and the first link's "previous hash" is :data:`GENESIS`. The canonical bytes
cover what the event store keeps of the event — aggregate id, version, topic,
the stored state bytes exactly as stored — and its position in the log, each
field length-prefixed so that no two different events encode alike.

The chain is written beside the log, once per event, by a projection
(:class:`AuditChainProjection`) whose view records each link together with its
tracking position in one transaction. :func:`verify_chain` recomputes the chain
from the events and compares it with the stored links, naming the first
position where they part: an event altered in place (hash mismatch), a chained
event that is gone (deleted), or an event at a position the chain never
covered (inserted out of band). Notification ids may have gaps; a gap is not a
deletion, because the chain records which positions it covered.

Someone who can rewrite both the events and every later link can make the
chain consistent again; an anchor — a head ``HASH@POSITION`` printed earlier
and kept elsewhere — catches that too (:class:`Anchor`).
"""

from __future__ import annotations

import hashlib
import re
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.projection import Projection

from application.ports import MAX_POSITION

CHAIN_FORMAT = b"rectify-audit-chain/1"
"""The first field of every canonical encoding; a new encoding gets a new name."""

GENESIS = "0" * 64
"""The "previous hash" of the first link."""

_HASH = re.compile(r"^[0-9a-f]{64}$")


class StoredRecord(Protocol):
    """What the chain covers of an event: a notification as the recorder returns it."""

    @property
    def id(self) -> int: ...
    @property
    def originator_id(self) -> UUID | str: ...
    @property
    def originator_version(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def state(self) -> bytes: ...


@dataclass(frozen=True)
class ChainLink:
    """One link: the log position it covers and the chained hash (hex) up to it."""

    position: int
    hash: str

    @property
    def anchor(self) -> str:
        """``HASH@POSITION``, the form printed and accepted by ``--anchor``."""
        return f"{self.hash}@{self.position}"


@dataclass(frozen=True)
class Anchor:
    """A head of the chain recorded earlier, to check the log against."""

    hash: str
    position: int

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """Parse ``HASH@POSITION``; raise ``ValueError`` saying what is wrong."""
        hash_text, at, position_text = (text or "").strip().partition("@")
        hash_text = hash_text.lower()
        if not at or not _HASH.match(hash_text):
            raise ValueError(f"an anchor is HASH@POSITION with a 64-digit hex hash, not {text!r}")
        try:
            position = int(position_text)
        except ValueError:
            raise ValueError(
                f"the anchor's position must be an integer, not {position_text[:40]!r}"
            ) from None
        if not 1 <= position <= MAX_POSITION:
            raise ValueError("the anchor's position must be between 1 and 2^63-1")
        return cls(hash=hash_text, position=position)

    def __str__(self) -> str:
        return f"{self.hash}@{self.position}"


def _id_text(originator_id: UUID | str) -> str:
    if isinstance(originator_id, UUID):
        return str(originator_id)
    try:
        return str(UUID(originator_id))
    except ValueError:
        return originator_id


def canonical_bytes(
    position: int, originator_id: UUID | str, originator_version: int, topic: str, state: bytes
) -> bytes:
    """The stable encoding of one stored event at one position of the log.

    Each field is an 8-byte big-endian length followed by the field's bytes:
    the format name, the position and version in decimal ASCII, the aggregate
    id as a lowercase hyphenated UUID, the topic in UTF-8 and the stored state
    bytes unchanged (so the hash covers exactly what the database holds,
    whatever the serialisation).
    """
    return b"".join(
        (
            _FORMAT_FIELD,
            _field(str(int(position)).encode("ascii")),
            _field(_id_text(originator_id).encode("utf-8")),
            _field(str(int(originator_version)).encode("ascii")),
            _field(topic.encode("utf-8")),
            _field(bytes(state)),
        )
    )


def _field(value: bytes) -> bytes:
    return len(value).to_bytes(8, "big") + value


_FORMAT_FIELD = _field(CHAIN_FORMAT)


def link_hash(previous: str, canonical: bytes) -> str:
    """The hash of a link from the previous link's hash and the event's canonical bytes."""
    digest = hashlib.sha256(bytes.fromhex(previous))
    digest.update(canonical)
    return digest.hexdigest()


def event_link_hash(previous: str, record: StoredRecord) -> str:
    """The hash of the link for ``record``, following a link whose hash is ``previous``."""
    return link_hash(
        previous,
        canonical_bytes(
            record.id, record.originator_id, record.originator_version, record.topic, record.state
        ),
    )


def chain_records(previous: ChainLink | None, records: Iterable[StoredRecord]) -> list[ChainLink]:
    """The links for ``records`` (in log order) following ``previous`` (None: the start)."""
    head = previous.hash if previous is not None else GENESIS
    links = []
    for record in records:
        head = event_link_hash(head, record)
        links.append(ChainLink(record.id, head))
    return links


# -- writing: a projection, exactly once ---------------------------------------------------


class AuditChainView(TrackingRecorder):
    """Where the chain is kept: beside the events, written with its tracking position.

    An implementation reads the stored events itself, inside the transaction
    that writes their links, so the hash covers the bytes as stored (not the
    event as re-encoded by whoever processes it).
    """

    @abstractmethod
    def chain_through(self, tracking: Tracking) -> int:
        """Chain every stored event up to ``tracking.notification_id`` not yet chained,
        and record ``tracking``, in one transaction. Returns how many links were added.

        A position already tracked is skipped (returns 0), so a repeated call
        changes nothing: each event is chained exactly once.
        """

    @abstractmethod
    def catch_up(self, application_name: str, batch_size: int = 1000) -> int:
        """Chain every stored event not yet chained, one transaction per batch.

        Returns how many links were added.
        """

    @abstractmethod
    def head(self) -> ChainLink | None:
        """The last link, or None while the chain is empty."""

    @abstractmethod
    def select_links(self, after: int, upto: int | None, limit: int) -> Sequence[ChainLink]:
        """Links with ``after < position <= upto`` (no upper bound if None), in order."""


class AuditChainProjection(Projection[AuditChainView]):
    """Keeps the hash chain up to date with the log, like any projection.

    Run it with a projection runner; each event's link is written with the
    event's tracking position in one transaction, so it is chained exactly
    once however often the runner restarts.
    """

    name = "rectify_audit_chain"
    topics = ()  # every event of the log is chained

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.chain_through(tracking)

    def process_batch(self, items: Sequence[tuple[Any, Tracking]]) -> None:
        """Chain a runner's page of events in one transaction (the view reads the
        stored events itself, so only the last position matters)."""
        if items:
            self.view.chain_through(items[-1][1])


# -- verifying ------------------------------------------------------------------------------


class ProblemKind(StrEnum):
    ALTERED = "altered"  # the event (or its link) no longer hashes to the stored link
    DELETED = "deleted"  # a chained position has no event any more
    INSERTED = "inserted"  # an event sits at a position the chain did not cover
    ANCHOR_MISMATCH = "anchor_mismatch"  # the log recomputes to another hash at the anchor
    ANCHOR_NOT_CHAINED = "anchor_not_chained"  # the chain does not cover the anchor's position


_PROBLEM_TEXT = {
    ProblemKind.ALTERED: (
        "the event at position {p} does not match its chain link: it was altered out of band "
        "(or another event was swapped into its place)"
    ),
    ProblemKind.DELETED: "the event at position {p} was chained but is missing: it was deleted",
    ProblemKind.INSERTED: (
        "the event at position {p} was never chained: it was inserted out of band"
    ),
    ProblemKind.ANCHOR_MISMATCH: (
        "the log recomputes to a different hash at the anchor's position {p}: "
        "the record before it was rewritten, chain included"
    ),
    ProblemKind.ANCHOR_NOT_CHAINED: (
        "the chain does not cover the anchor's position {p}: it was truncated or rewritten"
    ),
}


@dataclass(frozen=True)
class ChainProblem:
    """The first place where the log and its chain disagree."""

    kind: ProblemKind
    position: int

    @property
    def message(self) -> str:
        return _PROBLEM_TEXT[self.kind].format(p=self.position)


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of recomputing the chain from the events.

    ``checked`` counts the chained events recomputed before the first problem
    (all of them when there is none); ``head`` is the last link recomputed and
    matched; ``unchained`` counts events after the chain's head that the
    projection has not reached yet (not an error: they are simply not covered).
    """

    checked: int
    head: ChainLink | None
    problem: ChainProblem | None = None
    unchained: int = 0
    anchor: Anchor | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(
    events: Iterable[StoredRecord],
    links: Iterable[ChainLink],
    *,
    anchor: Anchor | None = None,
    unchained: int = 0,
) -> VerifyReport:
    """Recompute the chain over ``events`` and compare it with ``links``.

    Both are in log order and cover the same range (the events up to the
    chain's head). Memory stays constant: both are consumed as streams.
    """
    event_iter: Iterator[StoredRecord] = iter(events)
    link_iter: Iterator[ChainLink] = iter(links)
    event = next(event_iter, None)
    link = next(link_iter, None)
    running = GENESIS
    checked = 0
    last: ChainLink | None = None
    anchor_seen = False

    def report(kind: ProblemKind | None = None, position: int = 0) -> VerifyReport:
        problem = ChainProblem(kind, position) if kind is not None else None
        return VerifyReport(checked, last, problem, unchained, anchor)

    while event is not None or link is not None:
        if link is None or (event is not None and event.id < link.position):
            assert event is not None
            return report(ProblemKind.INSERTED, event.id)
        if event is None or link.position < event.id:
            return report(ProblemKind.DELETED, link.position)
        running = event_link_hash(running, event)
        if running != link.hash:
            return report(ProblemKind.ALTERED, link.position)
        if anchor is not None and not anchor_seen and link.position >= anchor.position:
            if link.position > anchor.position:
                return report(ProblemKind.ANCHOR_NOT_CHAINED, anchor.position)
            if running != anchor.hash:
                return report(ProblemKind.ANCHOR_MISMATCH, anchor.position)
            anchor_seen = True
        checked += 1
        last = link
        event = next(event_iter, None)
        link = next(link_iter, None)
    if anchor is not None and not anchor_seen:
        return report(ProblemKind.ANCHOR_NOT_CHAINED, anchor.position)
    return report()
