"""Documents made from the log (文书): the rectification notice and the verification
record, each tied to the log position it was made from, and the check that a
document still says what the log held there.

A document is made from the events of its records up to a position of the
log — never from a read model, which may lag — and names that position and
the hash chain's link there. Its record (kind, subject, position, chain hash,
content and the content's digest) travels inside the PDF, so
:meth:`DocumentService.check` can later rebuild the content from the log at
the same position, compare it field by field, verify the hash chain up to that
position against the printed hash, and tell whether the records changed since.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification

from application.audit.chain import Anchor, ChainLink, VerifyReport
from application.audit.describe import topics_for
from application.audit.service import AuditService
from application.documents.content import (
    Content,
    content_digest,
    flatten,
    notice_content,
    record_content,
)
from application.errors import NotFound
from domain.errors import InvalidCommand
from domain.hazard import Hazard
from domain.inspection import Inspection
from domain.order import RectificationOrder
from domain.site import Site
from domain.verification import Verification

RECORD_FORMAT = "rectify-document/1"
"""The name of the embedded record's layout; a new layout gets a new name."""


class DocumentKind(StrEnum):
    NOTICE = "rectification_notice"  # 整改通知书
    RECORD = "verification_record"  # 复查意见


class ChainNotReady(Exception):
    """The hash chain has not reached the position a document needs yet."""


class UnreadableEvent(Exception):
    """A stored event no longer decodes into an event of the domain."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"the event at position {position} cannot be read: {reason}")
        self.position = position


@dataclass(frozen=True)
class Document:
    """A document's content and where in the log it was made from."""

    kind: DocumentKind
    subject_id: UUID
    position: int
    chain_hash: str
    content: Content

    @property
    def digest(self) -> str:
        return content_digest(self.content)

    @property
    def anchor(self) -> str:
        """``HASH@POSITION``, the chain's link the document rests on."""
        return f"{self.chain_hash}@{self.position}"

    def record(self) -> dict[str, Any]:
        """What is embedded in the PDF for a later check."""
        return {
            "format": RECORD_FORMAT,
            "kind": self.kind.value,
            "subject_id": str(self.subject_id),
            "position": self.position,
            "chain_hash": self.chain_hash,
            "digest": self.digest,
            "content": self.content,
        }


@dataclass(frozen=True)
class FieldDifference:
    """One field whose value differs: as printed, and as the log says."""

    field: str
    printed: Any
    log: Any


class CheckStatus(StrEnum):
    CURRENT = "current"  # matches the log at its position, and nothing changed since
    OUTDATED = "outdated"  # matches the log at its position, but later events changed it
    ALTERED = "altered"  # the document or the log does not match: forged or tampered


@dataclass(frozen=True)
class DocumentCheck:
    """The outcome of checking a document against the log (see :meth:`DocumentService.check`).

    ``chain`` is the hash chain recomputed up to the document's position with its
    printed hash as the anchor; ``differences`` are the fields where the document
    and the log at that position disagree; ``unreadable`` the position of an
    event of the document's records that no longer decodes; ``digest_ok``
    whether the embedded content still hashes to its embedded digest;
    ``rebuild_error`` why the content could not be made from the log at all;
    ``changed_since`` the fields later events changed, at ``later_positions``.
    """

    kind: DocumentKind
    subject_id: UUID
    position: int
    chain_hash: str
    chain: VerifyReport
    digest_ok: bool
    differences: tuple[FieldDifference, ...] = ()
    unreadable: int | None = None
    rebuild_error: str | None = None
    changed_since: tuple[FieldDifference, ...] = ()
    later_positions: tuple[int, ...] = ()

    @property
    def status(self) -> CheckStatus:
        if (
            not self.chain.ok
            or not self.digest_ok
            or self.differences
            or self.unreadable is not None
            or self.rebuild_error is not None
        ):
            return CheckStatus.ALTERED
        if self.changed_since:
            return CheckStatus.OUTDATED
        return CheckStatus.CURRENT

    @property
    def ok(self) -> bool:
        return self.status == CheckStatus.CURRENT

    def findings(self) -> list[str]:
        """What is wrong, one sentence each (empty when the document is current)."""
        found = []
        if self.chain.problem is not None:
            found.append(f"hash chain: {self.chain.problem.message}")
        if self.unreadable is not None:
            found.append(
                f"the event at position {self.unreadable}, one of this document's records, "
                "no longer decodes: it was altered"
            )
        if self.rebuild_error is not None:
            found.append(
                f"the document's content cannot be made from the log any more: {self.rebuild_error}"
            )
        if not self.digest_ok:
            found.append("the embedded content does not match its embedded digest")
        for difference in self.differences:
            found.append(
                f"{difference.field}: the document says {difference.printed!r}, "
                f"the log at position {self.position} says {difference.log!r}"
            )
        if self.changed_since:
            later = ", ".join(str(p) for p in self.later_positions)
            for difference in self.changed_since:
                found.append(
                    f"outdated: {difference.field} is now {difference.log!r} "
                    f"(was {difference.printed!r}; changed by events at {later})"
                )
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "ok": self.ok,
            "kind": self.kind.value,
            "subject_id": str(self.subject_id),
            "position": self.position,
            "chain_hash": self.chain_hash,
            "chain_ok": self.chain.ok,
            "chain_problem": (
                {
                    "kind": self.chain.problem.kind.value,
                    "position": self.chain.problem.position,
                    "message": self.chain.problem.message,
                }
                if self.chain.problem is not None
                else None
            ),
            "digest_ok": self.digest_ok,
            "unreadable_position": self.unreadable,
            "rebuild_error": self.rebuild_error,
            "differences": [_difference(d) for d in self.differences],
            "changed_since": [_difference(d) for d in self.changed_since],
            "later_positions": list(self.later_positions),
            "findings": self.findings(),
        }


def _difference(difference: FieldDifference) -> dict[str, Any]:
    return {"field": difference.field, "document": difference.printed, "log": difference.log}


@dataclass
class _Sources:
    """The events a document is made from, with their positions."""

    notifications: list[Notification] = field(default_factory=list)

    @property
    def position(self) -> int:
        return max(n.id for n in self.notifications)


class DocumentService:
    """Makes documents from the log and checks documents against it."""

    def __init__(self, audit: AuditService) -> None:
        self.audit = audit
        self.app = audit.app

    # -- reading the records as of a position --------------------------------------------------

    def _events(
        self, ids: Iterable[UUID], upto: int | None, sources: _Sources
    ) -> dict[UUID, list[tuple[int, Any]]]:
        """Each aggregate's (position, event) up to ``upto`` (all with None), decoded,
        in log order."""
        wanted = list(dict.fromkeys(ids))
        events: dict[UUID, list[tuple[int, Any]]] = {i: [] for i in wanted}
        for notification in self.audit.locator.notifications_of(wanted):
            if upto is not None and notification.id > upto:
                continue
            sources.notifications.append(notification)
            try:
                event = self.app.mapper.to_domain_event(notification)
            except Exception as error:  # any failure to decode means the bytes were altered
                raise UnreadableEvent(notification.id, str(error)) from error
            originator = notification.originator_id
            key = originator if isinstance(originator, UUID) else UUID(str(originator))
            events[key].append((notification.id, event))
        return events

    @staticmethod
    def _one(
        kind: str, cls: type[Any], aggregate_id: UUID, events: Sequence[tuple[int, Any]]
    ) -> Any:
        """The aggregate its events make; NotFound if they make none of ``cls``."""
        aggregate: Aggregate | None = None
        for position, event in events:
            try:
                aggregate = event.mutate(aggregate)
            except Exception as error:  # an altered event may no longer apply
                raise UnreadableEvent(position, str(error)) from error
        if not isinstance(aggregate, cls):
            raise NotFound(kind, aggregate_id)
        return aggregate

    def _case_parts(
        self, hazard_id: UUID, upto: int | None, sources: _Sources
    ) -> tuple[Hazard, list[tuple[int, Any]], Inspection, Site]:
        hazard_events = self._events([hazard_id], upto, sources)[hazard_id]
        hazard: Hazard = self._one("case", Hazard, hazard_id, hazard_events)
        parts = self._events([hazard.inspection_id, hazard.site_id], upto, sources)
        inspection: Inspection = self._one(
            "inspection", Inspection, hazard.inspection_id, parts[hazard.inspection_id]
        )
        site: Site = self._one("site", Site, hazard.site_id, parts[hazard.site_id])
        return hazard, hazard_events, inspection, site

    def _notice_content(self, order_id: UUID, upto: int | None) -> tuple[Content, _Sources]:
        sources = _Sources()
        order_events = self._events([order_id], upto, sources)[order_id]
        order: RectificationOrder = self._one("order", RectificationOrder, order_id, order_events)
        hazard, _, inspection, site = self._case_parts(order.hazard_id, upto, sources)
        content = notice_content(
            order=order,
            order_events=[e for _, e in order_events],
            hazard=hazard,
            inspection=inspection,
            site=site,
            time_zone=self.app.time_zone,
        )
        return content, sources

    def _record_content(self, verification_id: UUID, upto: int | None) -> tuple[Content, _Sources]:
        sources = _Sources()
        verification_events = self._events([verification_id], upto, sources)[verification_id]
        verification: Verification = self._one(
            "verification", Verification, verification_id, verification_events
        )
        performed = verification_events[0][0]
        order: RectificationOrder | None = None
        order_events: list[tuple[int, Any]] = []
        if verification.order_id is not None:
            order_id = verification.order_id
            order_events = self._events([order_id], upto, sources)[order_id]
            # The order as the verifier found it: its completion report is what was checked.
            order = self._one(
                "order", RectificationOrder, order_id, [p for p in order_events if p[0] < performed]
            )
        hazard, hazard_events, inspection, site = self._case_parts(
            verification.hazard_id, upto, sources
        )
        content = record_content(
            verification=verification,
            order=order,
            order_events=[e for _, e in order_events],
            hazard=hazard,
            hazard_events=[e for p, e in hazard_events if p < performed],
            inspection=inspection,
            site=site,
            time_zone=self.app.time_zone,
        )
        return content, sources

    def _content(
        self, kind: DocumentKind, subject_id: UUID, upto: int | None
    ) -> tuple[Content, _Sources]:
        if kind == DocumentKind.NOTICE:
            return self._notice_content(subject_id, upto)
        return self._record_content(subject_id, upto)

    def order_id_by_number(self, number: str) -> UUID:
        """The id of the order numbered ``number`` (e.g. ``2022-0007``), found in the log."""
        topics = topics_for(("RectificationOrder.Issued",))
        for notification in self.audit.notifications(topics=topics):
            event: Any = self.app.mapper.to_domain_event(notification)
            if event.number == number:
                return UUID(str(event.originator_id))
        raise NotFound("order numbered", number)

    # -- making ---------------------------------------------------------------------------------

    def _link_at(self, position: int) -> ChainLink:
        """The chain's link at ``position``, chaining the log up to there first if the
        chain's projection has not got so far (it chains each event exactly once)."""
        links = self.audit.chain.select_links(position - 1, position, 1)
        if not links:
            self.audit.catch_up()
            links = self.audit.chain.select_links(position - 1, position, 1)
        if not links or links[0].position != position:
            raise ChainNotReady(f"the hash chain does not cover log position {position} yet")
        return links[0]

    def _make(self, kind: DocumentKind, subject_id: UUID) -> Document:
        content, sources = self._content(kind, subject_id, None)
        position = sources.position
        link = self._link_at(position)
        return Document(kind, subject_id, position, link.hash, content)

    def notice(self, order_id: UUID) -> Document:
        """整改通知书 of an order, from its events as the log holds them now."""
        return self._make(DocumentKind.NOTICE, order_id)

    def verification_record(self, verification_id: UUID) -> Document:
        """复查意见 of a verification, from its events as the log holds them now."""
        return self._make(DocumentKind.RECORD, verification_id)

    # -- checking -------------------------------------------------------------------------------

    def check(self, record: Mapping[str, Any]) -> DocumentCheck:
        """Check a document's embedded record against the log.

        1. the hash chain, recomputed from the log's start up to the document's
           position, must reach the hash printed on it (names the first altered,
           deleted or inserted event otherwise);
        2. the content rebuilt from the events up to that position must equal
           the document's, field by field;
        3. the embedded content must hash to the embedded digest;
        4. the content rebuilt from the log now shows whether later events
           changed it (an outdated printout).
        """
        kind, subject_id, position, chain_hash, content, digest = parse_record(record)
        chain = self.audit.verify_through(position, Anchor(chain_hash, position))
        digest_ok = content_digest(content) == digest
        unreadable: int | None = None
        rebuild_error: str | None = None
        differences: tuple[FieldDifference, ...] = ()
        changed: tuple[FieldDifference, ...] = ()
        later: tuple[int, ...] = ()
        try:
            at_position, _ = self._content(kind, subject_id, position)
            differences = compare(content, at_position)
            if not differences:
                now, sources = self._content(kind, subject_id, None)
                changed = compare(content, now)
                if changed:
                    later = tuple(sorted({n.id for n in sources.notifications if n.id > position}))
        except UnreadableEvent as error:
            unreadable = error.position
        except NotFound as error:
            rebuild_error = error.message
        except Exception as error:
            # Events altered behind the service's back may decode into values of
            # the wrong kind, which fail wherever they are used: the content then
            # cannot be made at all, and that is a finding, not a crash.
            rebuild_error = f"{type(error).__name__}: {error}"
        return DocumentCheck(
            kind=kind,
            subject_id=subject_id,
            position=position,
            chain_hash=chain_hash,
            chain=chain,
            digest_ok=digest_ok,
            differences=differences,
            unreadable=unreadable,
            rebuild_error=rebuild_error,
            changed_since=changed,
            later_positions=later,
        )


def compare(printed: Mapping[str, Any], log: Mapping[str, Any]) -> tuple[FieldDifference, ...]:
    """The fields (flattened, see :func:`flatten`) whose values differ."""
    a, b = flatten(printed), flatten(log)
    return tuple(
        FieldDifference(name, a.get(name), b.get(name))
        for name in sorted(set(a) | set(b))
        if a.get(name) != b.get(name)
    )


def parse_record(
    record: Mapping[str, Any],
) -> tuple[DocumentKind, UUID, int, str, Content, str]:
    """Validate an embedded record; a malformed one is refused, naming what is wrong."""

    def invalid(what: str) -> InvalidCommand:
        return InvalidCommand(
            f"the document's embedded record is not valid: {what}", rule="document_record_invalid"
        )

    if not isinstance(record, Mapping) or record.get("format") != RECORD_FORMAT:
        raise invalid(f"its format is not {RECORD_FORMAT}")
    try:
        kind = DocumentKind(str(record.get("kind")))
    except ValueError:
        raise invalid("unknown kind of document") from None
    try:
        subject_id = UUID(str(record.get("subject_id")))
    except ValueError:
        raise invalid("subject_id is not an id") from None
    position = record.get("position")
    if not isinstance(position, int) or isinstance(position, bool) or position < 1:
        raise invalid("position is not a positive integer")
    try:
        anchor = Anchor.parse(f"{record.get('chain_hash')}@{position}")
    except ValueError as error:
        raise invalid(str(error)) from None
    content = record.get("content")
    digest = record.get("digest")
    if not isinstance(content, dict) or not isinstance(digest, str):
        raise invalid("content or digest is missing")
    return kind, subject_id, position, anchor.hash, content, digest
