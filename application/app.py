"""The rectification-case application: one eventsourcing ``Application`` for every
aggregate, so one notification log gives one global order for the audit trail.

Every use case loads, checks the version its caller based the command on, asks
the domain, and saves every aggregate it touched in one ``save()`` — one
transaction, so a command that changes several aggregates lands whole or not at
all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording

from application.errors import (
    ConcurrencyConflict,
    NotFound,
    SignatureRejected,
    StaleVersion,
)
from application.ports import Clock, PasswordChecker
from application.transcodings import register_value_objects
from domain.checklists import get_template
from domain.hazard import Hazard
from domain.inspection import Inspection, ItemResult
from domain.numbering import OrderNumberSequence
from domain.order import DeadlinePolicy, RectificationOrder
from domain.site import Site
from domain.values import (
    SYSTEM_ACTOR,
    Actor,
    Evidence,
    FivePointPlan,
    ResponsibleParty,
    Severity,
    Signature,
    SignatureMeaning,
)
from domain.verification import Verification

A = TypeVar("A", bound=Aggregate)

# A command retried after losing a race on the order-number sequence only; the
# retry takes the next free number. Bounded, so a pathological storm still ends.
_MAX_NUMBER_RETRIES = 20


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OverdueReport:
    """What one overdue check recorded."""

    marked: list[UUID]
    escalated: list[UUID]


class RectifyApp(Application[UUID]):
    """Use cases of rectification cases (隐患整改), from inspection to 销号.

    Settings (environment, or ``env=``): the eventsourcing persistence settings;
    ``TIME_ZONE`` (default ``Asia/Shanghai``) for what "today" is when deadlines
    are set and checked; ``DEADLINE_DAYS_GENERAL`` (7) and ``DEADLINE_DAYS_MAJOR``
    (30) for default deadlines.
    """

    name = "Rectify"
    # Long-lived aggregates are snapshotted so loading them stays cheap.
    snapshotting_intervals = {  # noqa: RUF012 - the library's own class attribute
        Inspection: 20,
        Hazard: 20,
        RectificationOrder: 20,
        OrderNumberSequence: 100,
    }

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        clock: Clock | None = None,
        passwords: PasswordChecker | None = None,
    ) -> None:
        super().__init__(env)
        self._saves = threading.local()
        self.clock: Clock = clock or _utc_now
        self.passwords = passwords
        self.time_zone = ZoneInfo(self.env.get("TIME_ZONE", "Asia/Shanghai"))
        self.deadline_policy = DeadlinePolicy(
            general_days=int(self.env.get("DEADLINE_DAYS_GENERAL", "7")),
            major_days=int(self.env.get("DEADLINE_DAYS_MAJOR", "30")),
        )

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save, also telling :meth:`collecting_saves` what it recorded."""
        recordings = super().save(*objs, **kwargs)
        collected = getattr(self._saves, "recordings", None)
        if collected is not None:
            collected.extend(recordings)
        return recordings

    @contextmanager
    def collecting_saves(self) -> Iterator[list[Recording[UUID]]]:
        """Within the block, what this thread's commands save is appended to the list.

        A caller answering a command (e.g. with each changed record's new version)
        reads the versions from the command's own events, not from a reload that
        could pick up someone else's later change.
        """
        outer = getattr(self._saves, "recordings", None)
        collected: list[Recording[UUID]] = []
        self._saves.recordings = collected
        try:
            yield collected
        finally:
            self._saves.recordings = outer

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_value_objects(transcoder)

    # -- helpers ------------------------------------------------------------------

    def _now(self) -> tuple[datetime, date]:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return an aware datetime")
        return now, now.astimezone(self.time_zone).date()

    def today(self) -> date:
        """The local calendar date by which deadlines are judged."""
        return self._now()[1]

    def _load(
        self,
        cls: type[A],
        aggregate_id: UUID,
        expected_version: int | None = None,
        *,
        at_version: int | None = None,
    ) -> A:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id, version=at_version)
        except AggregateNotFoundError:
            raise NotFound(_kind(cls), aggregate_id) from None
        if not isinstance(aggregate, cls):
            raise NotFound(_kind(cls), aggregate_id)
        if expected_version is not None and aggregate.version != expected_version:
            raise StaleVersion(_kind(cls), aggregate_id, expected_version, aggregate.version)
        return aggregate

    def _save(self, *aggregates: Aggregate | None) -> int | None:
        """Save in one transaction; return the notification id of the last event."""
        try:
            recordings = self.save(*aggregates)
        except IntegrityError as error:
            raise ConcurrencyConflict(
                "another change to the same record was saved first; reload and try again"
            ) from error
        return recordings[-1].notification.id if recordings else None

    def _sign(self, actor: Actor, password: str, meaning: str, at: datetime) -> Signature:
        if self.passwords is None or not self.passwords.check_password(actor.user_id, password):
            raise SignatureRejected(f"the password does not match {actor.name}'s; nothing signed")
        return Signature(
            signer_id=actor.user_id, signer_name=actor.name, meaning=meaning, signed_at=at
        )

    # -- reads ----------------------------------------------------------------------

    def get_site(self, site_id: UUID) -> Site:
        return self._load(Site, site_id)

    def get_inspection(self, inspection_id: UUID) -> Inspection:
        return self._load(Inspection, inspection_id)

    def get_hazard(self, hazard_id: UUID, version: int | None = None) -> Hazard:
        """The case's hazard, now or as it was at ``version``."""
        return self._load(Hazard, hazard_id, at_version=version)

    def get_order(self, order_id: UUID) -> RectificationOrder:
        return self._load(RectificationOrder, order_id)

    def get_verification(self, verification_id: UUID) -> Verification:
        return self._load(Verification, verification_id)

    def case_events(self, hazard_id: UUID) -> list[Any]:
        """Every event of a case — the hazard, its orders, its verifications — in time
        order (the audit timeline gives the exact log order)."""
        hazard = self.get_hazard(hazard_id)
        ids = [hazard.id, *hazard.order_ids, *hazard.verification_ids]
        events: list[Any] = [e for agg_id in ids for e in self.events.get(agg_id)]
        # A stable sort: events saved together share a timestamp and keep the
        # hazard's first.
        return sorted(events, key=lambda e: e.timestamp)

    # -- sites and inspections (检查) ------------------------------------------------

    def register_site(
        self,
        actor: Actor,
        *,
        name: str,
        region: str,
        address: str = "",
        operator: str = "",
        contact: str = "",
        kind: str = "",
    ) -> UUID:
        """Register a site to be inspected."""
        now, _ = self._now()
        site = Site.register(
            name=name,
            region=region,
            address=address,
            operator=operator,
            contact=contact,
            kind=kind,
            actor=actor,
            at=now,
        )
        self._save(site)
        return site.id

    def open_inspection(
        self,
        actor: Actor,
        *,
        site_id: UUID,
        template_code: str,
        template_version: int | None = None,
        inspectors: Iterable[Actor] = (),
    ) -> UUID:
        """Open an inspection of a site against a checklist template (开展检查)."""
        self._load(Site, site_id)
        now, _ = self._now()
        inspection = Inspection.open(
            site_id=site_id,
            template=get_template(template_code, template_version),
            inspectors=list(inspectors),
            actor=actor,
            at=now,
        )
        self._save(inspection)
        return inspection.id

    def record_item(
        self,
        actor: Actor,
        inspection_id: UUID,
        *,
        item_code: str,
        result: ItemResult | str,
        note: str = "",
        expected_version: int | None,
    ) -> int | None:
        """Record one checklist item as pass, fail or n.a."""
        inspection = self._load(Inspection, inspection_id, expected_version)
        now, _ = self._now()
        inspection.record_item(item_code=item_code, result=result, note=note, actor=actor, at=now)
        return self._save(inspection)

    def complete_inspection(
        self, actor: Actor, inspection_id: UUID, *, expected_version: int | None
    ) -> int | None:
        """Complete an inspection whose every item is recorded."""
        inspection = self._load(Inspection, inspection_id, expected_version)
        now, _ = self._now()
        inspection.complete(actor=actor, at=now)
        return self._save(inspection)

    def cancel_inspection(
        self, actor: Actor, inspection_id: UUID, *, reason: str, expected_version: int | None
    ) -> int | None:
        """Cancel an open inspection, with a reason."""
        inspection = self._load(Inspection, inspection_id, expected_version)
        now, _ = self._now()
        inspection.cancel(reason=reason, actor=actor, at=now)
        return self._save(inspection)

    # -- hazards: the case (隐患) ----------------------------------------------------

    def report_hazard(
        self,
        actor: Actor,
        inspection_id: UUID,
        *,
        category: str,
        description: str,
        severity: Severity | str,
        item_code: str | None = None,
        location: str = "",
        evidence: Iterable[Evidence] = (),
        expected_version: int | None,
    ) -> UUID:
        """Report a hazard found by an open inspection; the case id is the hazard id."""
        inspection = self._load(Inspection, inspection_id, expected_version)
        now, _ = self._now()
        hazard = Hazard.report(
            site_id=inspection.site_id,
            inspection_id=inspection.id,
            item_code=item_code,
            category=category,
            description=description,
            location=location,
            severity=severity,
            evidence=list(evidence),
            actor=actor,
            at=now,
        )
        inspection.link_hazard(hazard_id=hazard.id, item_code=item_code, actor=actor, at=now)
        self._save(hazard, inspection)
        return hazard.id

    def regrade_hazard(
        self,
        actor: Actor,
        hazard_id: UUID,
        *,
        severity: Severity | str,
        reason: str,
        expected_version: int | None,
    ) -> int | None:
        """Re-grade a hazard's severity, with a reason."""
        hazard = self._load(Hazard, hazard_id, expected_version)
        now, _ = self._now()
        hazard.regrade(severity=severity, reason=reason, actor=actor, at=now)
        return self._save(hazard)

    def fix_on_the_spot(
        self,
        actor: Actor,
        hazard_id: UUID,
        *,
        note: str,
        evidence: Iterable[Evidence],
        expected_version: int | None,
    ) -> int | None:
        """即查即改: a general hazard fixed during the inspection goes to verification."""
        hazard = self._load(Hazard, hazard_id, expected_version)
        now, _ = self._now()
        hazard.fix_on_the_spot(note=note, evidence=list(evidence), actor=actor, at=now)
        return self._save(hazard)

    def dismiss_hazard(
        self, actor: Actor, hazard_id: UUID, *, reason: str, expected_version: int | None
    ) -> int | None:
        """Dismiss a hazard reported in error; its open order is cancelled in the same save."""
        hazard = self._load(Hazard, hazard_id, expected_version)
        now, _ = self._now()
        order_id = hazard.dismiss(reason=reason, actor=actor, at=now)
        order = None
        if order_id is not None:
            order = self._load(RectificationOrder, order_id)
            order.cancel(reason=f"hazard dismissed: {reason}", actor=actor, at=now)
        return self._save(hazard, order)

    def close_case(
        self,
        actor: Actor,
        hazard_id: UUID,
        *,
        reason: str,
        password: str,
        expected_version: int | None,
    ) -> int | None:
        """销号: a supervisor closes a verified case, signing with their password."""
        hazard = self._load(Hazard, hazard_id, expected_version)
        now, _ = self._now()
        signature = self._sign(actor, password, SignatureMeaning.CLOSED_AS_RECTIFIED, now)
        hazard.close(reason=reason, signature=signature, actor=actor, at=now)
        return self._save(hazard)

    def reopen_case(
        self, actor: Actor, hazard_id: UUID, *, reason: str, expected_version: int | None
    ) -> int | None:
        """Reopen a closed case, with a reason; a new order must follow."""
        hazard = self._load(Hazard, hazard_id, expected_version)
        now, _ = self._now()
        hazard.reopen(reason=reason, actor=actor, at=now)
        return self._save(hazard)

    # -- rectification orders (整改通知) ---------------------------------------------

    def issue_order(
        self,
        actor: Actor,
        hazard_id: UUID,
        *,
        party: ResponsibleParty,
        measures: str,
        deadline: date | None = None,
        five_point_plan: FivePointPlan | None = None,
        expected_version: int | None,
    ) -> UUID:
        """Issue a rectification order with the year's next number (e.g. ``2022-0007``)."""
        for _ in range(_MAX_NUMBER_RETRIES):
            hazard = self._load(Hazard, hazard_id, expected_version)
            based_on = hazard.version
            now, today = self._now()
            sequence = self._number_sequence(today.year, actor, now)
            number = sequence.allocate(actor=actor, at=now)
            order = RectificationOrder.issue(
                hazard=hazard,
                number=number,
                party=party,
                measures=measures,
                deadline=deadline,
                five_point_plan=five_point_plan,
                policy=self.deadline_policy,
                today=today,
                actor=actor,
                at=now,
            )
            hazard.note_order_issued(order_id=order.id, number=number, actor=actor, at=now)
            try:
                self.save(order, hazard, sequence)
            except IntegrityError as error:
                if self._load(Hazard, hazard_id).version != based_on:
                    raise ConcurrencyConflict(
                        "another change to this hazard was saved first; reload and try again"
                    ) from error
                continue  # only the number was taken by a concurrent order: take the next
            return order.id
        raise ConcurrencyConflict("could not allocate an order number; try again")

    def _number_sequence(self, year: int, actor: Actor, now: datetime) -> OrderNumberSequence:
        try:
            return self._load(OrderNumberSequence, OrderNumberSequence.id_for_year(year))
        except NotFound:
            return OrderNumberSequence(year, actor=actor, timestamp=now)

    def _order_command(
        self,
        order_id: UUID,
        expected_version: int | None,
        command: Callable[[RectificationOrder, datetime, date], Iterable[Aggregate] | None],
    ) -> int | None:
        """Load an order at the expected version, apply ``command`` (which may
        return other aggregates it changed), save them all together."""
        order = self._load(RectificationOrder, order_id, expected_version)
        now, today = self._now()
        others = command(order, now, today) or ()
        return self._save(order, *others)

    def acknowledge_order(
        self, actor: Actor, order_id: UUID, *, expected_version: int | None
    ) -> int | None:
        """签收: the responsible party (or an inspector for them) acknowledges the order."""
        return self._order_command(
            order_id, expected_version, lambda o, now, _: o.acknowledge(actor=actor, at=now)
        )

    def report_progress(
        self,
        actor: Actor,
        order_id: UUID,
        *,
        note: str,
        evidence: Iterable[Evidence] = (),
        expected_version: int | None,
    ) -> int | None:
        """Report progress on an order."""
        return self._order_command(
            order_id,
            expected_version,
            lambda o, now, _: o.report_progress(
                note=note, evidence=list(evidence), actor=actor, at=now
            ),
        )

    def request_extension(
        self,
        actor: Actor,
        order_id: UUID,
        *,
        new_deadline: date,
        reason: str,
        expected_version: int | None,
    ) -> int | None:
        """Ask a supervisor for a later deadline (申请延期)."""
        return self._order_command(
            order_id,
            expected_version,
            lambda o, now, _: o.request_extension(
                new_deadline=new_deadline, reason=reason, actor=actor, at=now
            ),
        )

    def grant_extension(
        self,
        actor: Actor,
        order_id: UUID,
        *,
        reason: str,
        password: str,
        expected_version: int | None,
    ) -> int | None:
        """A supervisor grants the pending extension, signing with their password."""

        def grant(order: RectificationOrder, now: datetime, _: date) -> None:
            signature = self._sign(actor, password, SignatureMeaning.EXTENSION_GRANTED, now)
            order.grant_extension(reason=reason, signature=signature, actor=actor, at=now)

        return self._order_command(order_id, expected_version, grant)

    def deny_extension(
        self, actor: Actor, order_id: UUID, *, reason: str, expected_version: int | None
    ) -> int | None:
        """A supervisor denies the pending extension, with a reason."""
        return self._order_command(
            order_id,
            expected_version,
            lambda o, now, _: o.deny_extension(reason=reason, actor=actor, at=now),
        )

    def report_completion(
        self,
        actor: Actor,
        order_id: UUID,
        *,
        note: str,
        evidence: Iterable[Evidence] = (),
        expected_version: int | None,
    ) -> int | None:
        """Report the hazard put right; the case then awaits verification (复查)."""

        def complete(order: RectificationOrder, now: datetime, _: date) -> list[Aggregate]:
            hazard = self._load(Hazard, order.hazard_id)
            order.report_completion(note=note, evidence=list(evidence), actor=actor, at=now)
            hazard.note_completion_reported(order_id=order.id, actor=actor, at=now)
            return [hazard]

        return self._order_command(order_id, expected_version, complete)

    # -- verification (复查验收) ------------------------------------------------------

    def verify(
        self,
        actor: Actor,
        hazard_id: UUID,
        *,
        passed: bool,
        findings: str,
        evidence: Iterable[Evidence] = (),
        new_deadline: date | None = None,
        expected_version: int | None,
    ) -> UUID:
        """Verify the case's completion report (or on-the-spot fix): passed or failed.

        Passed: the order is fulfilled and the hazard verified. Failed: the order
        goes back with a new deadline (by default as long again as the severity
        gives) and its attempt count rises.
        """
        hazard = self._load(Hazard, hazard_id, expected_version)
        now, today = self._now()
        order = (
            self._load(RectificationOrder, hazard.open_order_id)
            if hazard.open_order_id is not None
            else None
        )
        verification = Verification.perform(
            hazard=hazard,
            order=order,
            passed=passed,
            findings=findings,
            evidence=list(evidence),
            actor=actor,
            at=now,
        )
        if order is not None:
            if passed:
                order.fulfil(verification_id=verification.id, actor=actor, at=now)
            else:
                order.reopen_after_failed_verification(
                    verification_id=verification.id,
                    new_deadline=new_deadline
                    or self.deadline_policy.default_deadline(Severity(hazard.severity), today),
                    today=today,
                    actor=actor,
                    at=now,
                )
        hazard.note_verification(
            verification_id=verification.id, passed=passed, actor=actor, at=now
        )
        self._save(verification, order, hazard)
        return verification.id

    # -- the clock's work --------------------------------------------------------------

    def mark_overdue(self, order_ids: Iterable[UUID] | None = None) -> OverdueReport:
        """Record every order past its deadline with no completion report as overdue.

        Exactly once per deadline: an order already marked for its deadline is
        skipped, and when several processes run this at once the loser of each
        race finds the order already marked. Major hazards' orders are escalated.
        """
        now, today = self._now()
        candidates = self.open_order_ids() if order_ids is None else list(order_ids)
        marked: list[UUID] = []
        escalated: list[UUID] = []
        for order_id in candidates:
            order = self._load(RectificationOrder, order_id)
            hazard = self._load(Hazard, order.hazard_id)
            if not order.mark_overdue(
                today=today,
                hazard_severity=Severity(hazard.severity),
                actor=SYSTEM_ACTOR,
                at=now,
            ):
                continue
            try:
                self.save(order)
            except IntegrityError:
                # Another process changed the order first: it marked it, or the
                # party reported completion; either way this run has nothing to add.
                continue
            marked.append(order.id)
            if order.escalated:
                escalated.append(order.id)
        return OverdueReport(marked=marked, escalated=escalated)

    def open_order_ids(self) -> list[UUID]:
        """Orders not yet fulfilled or cancelled, found by reading the log.

        The read models keep this as a table; this scan is the fallback that
        needs nothing but the events.
        """
        open_ids: dict[UUID, None] = {}
        for notification in self._all_notifications():
            topic = notification.topic
            if topic.endswith("RectificationOrder.Issued"):
                open_ids[notification.originator_id] = None
            elif topic.endswith(("RectificationOrder.Fulfilled", "RectificationOrder.Cancelled")):
                open_ids.pop(notification.originator_id, None)
        return list(open_ids)

    def _all_notifications(self, batch: int = 1000) -> Iterator[Any]:
        start = 1
        while True:
            page = self.recorder.select_notifications(start=start, limit=batch)
            if not page:
                return
            yield from page
            start = page[-1].id + 1


def _kind(cls: type) -> str:
    names: dict[type, str] = {
        Site: "site",
        Inspection: "inspection",
        Hazard: "hazard",
        RectificationOrder: "rectification order",
        Verification: "verification",
        OrderNumberSequence: "order number sequence",
    }
    return names.get(cls, cls.__name__)
