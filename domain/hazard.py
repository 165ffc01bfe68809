"""Hazard (隐患): the case. Its id is the case id."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from domain.base import INSPECTING_ROLES, CaseAggregate, require_role
from domain.errors import IllegalTransition, InvalidCommand, NotPermitted
from domain.values import (
    Actor,
    Evidence,
    Role,
    Severity,
    Signature,
    SignatureMeaning,
    require_text,
)


class HazardStatus(StrEnum):
    REPORTED = "reported"  # 已上报
    RECTIFYING = "rectifying"  # 整改中
    AWAITING_VERIFICATION = "awaiting_verification"  # 待复查
    VERIFIED = "verified"  # 已复查合格
    CLOSED = "closed"  # 已销号
    DISMISSED = "dismissed"  # 误报撤销


OPEN_STATUSES = (
    HazardStatus.REPORTED,
    HazardStatus.RECTIFYING,
    HazardStatus.AWAITING_VERIFICATION,
)


def parse_severity(value: Severity | str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        raise InvalidCommand(
            f"severity must be general or major, not {value!r}", rule="severity_invalid"
        ) from None


class Hazard(CaseAggregate):
    """reported → rectifying → awaiting_verification → verified → closed;
    reported → dismissed; closed → rectifying on reopen.

    A general hazard may be fixed on the spot (即查即改) and go straight to
    verification without an order.
    """

    enum_attributes = (("status", HazardStatus), ("severity", Severity))

    @classmethod
    def report(
        cls,
        *,
        site_id: UUID,
        inspection_id: UUID,
        item_code: str | None,
        category: str,
        description: str,
        location: str,
        severity: Severity | str,
        evidence: list[Evidence],
        actor: Actor,
        at: datetime,
    ) -> Hazard:
        """Report a hazard found during an inspection."""
        require_role(actor, INSPECTING_ROLES, "report a hazard", "report_hazard_role")
        return cls(
            site_id=site_id,
            inspection_id=inspection_id,
            item_code=item_code,
            category=require_text(category, "category", max_length=200),
            description=require_text(description, "description"),
            location=(location or "").strip(),
            severity=parse_severity(severity).value,
            evidence=list(evidence),
            actor=actor,
            timestamp=at,
        )

    @event("Reported")
    def __init__(
        self,
        site_id: UUID,
        inspection_id: UUID,
        item_code: str | None,
        category: str,
        description: str,
        location: str,
        severity: str,
        evidence: list[Evidence],
        actor: Actor,
        timestamp: datetime,
    ) -> None:
        self.site_id = site_id
        self.inspection_id = inspection_id
        self.item_code = item_code
        self.category = category
        self.description = description
        self.location = location
        self.severity = Severity(severity)
        self.evidence = list(evidence)
        self.reported_by = actor
        self.reported_at = timestamp
        self.status = HazardStatus.REPORTED
        self.open_order_id: UUID | None = None
        self.order_ids: list[UUID] = []
        self.fixed_on_spot = False
        self.verified_by: str | None = None
        self.verification_ids: list[UUID] = []
        self.closed_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    # -- commands -------------------------------------------------------------

    def regrade(self, *, severity: Severity | str, reason: str, actor: Actor, at: datetime) -> None:
        """Change the severity (一般/重大), with a reason."""
        require_role(actor, INSPECTING_ROLES, "re-grade a hazard", "regrade_role")
        self._require_status(OPEN_STATUSES, "re-grade the hazard", "regrade_only_open_hazard")
        new = parse_severity(severity)
        if new == self.severity:
            raise InvalidCommand(f"the hazard is already {new.value}", rule="regrade_same_severity")
        if (
            new == Severity.MAJOR
            and self.fixed_on_spot
            and self.open_order_id is None
            and self.status == HazardStatus.AWAITING_VERIFICATION
        ):
            # Else a major hazard would be verified and closed without the order
            # (and five-point plan) it needs; a failed check of the fix frees it.
            raise IllegalTransition(
                "a hazard fixed on the spot awaits verification as general; only a general "
                "hazard may be fixed on the spot",
                rule="spot_fix_only_general",
            )
        self._regraded(
            old_severity=str(self.severity),
            severity=new.value,
            reason=require_text(reason, "reason"),
            actor=actor,
            timestamp=at,
        )

    def fix_on_the_spot(
        self, *, note: str, evidence: list[Evidence], actor: Actor, at: datetime
    ) -> None:
        """即查即改: record a general hazard fixed during the inspection; it awaits verification."""
        require_role(actor, INSPECTING_ROLES, "record an on-the-spot fix", "spot_fix_role")
        if self.severity != Severity.GENERAL:
            raise IllegalTransition(
                "only a general hazard may be fixed on the spot; a major one needs an order",
                rule="spot_fix_only_general",
            )
        self._require_status(
            [HazardStatus.REPORTED], "record an on-the-spot fix", "spot_fix_only_when_reported"
        )
        if not evidence:
            raise InvalidCommand(
                "an on-the-spot fix needs evidence", rule="spot_fix_needs_evidence"
            )
        self._fixed_on_spot(
            note=require_text(note, "note"), evidence=list(evidence), actor=actor, timestamp=at
        )

    def note_order_issued(self, *, order_id: UUID, number: str, actor: Actor, at: datetime) -> None:
        """Link a newly issued rectification order; only one may be open at a time."""
        if self.open_order_id is not None:
            raise IllegalTransition(
                f"the hazard already has an open order ({self.open_order_id}); "
                "one open order per hazard at a time",
                rule="one_open_order_per_hazard",
            )
        self._require_status(
            [HazardStatus.REPORTED, HazardStatus.RECTIFYING],
            "issue an order",
            "order_only_for_open_hazard",
        )
        self._order_issued(order_id=order_id, number=number, actor=actor, timestamp=at)

    def note_completion_reported(self, *, order_id: UUID, actor: Actor, at: datetime) -> None:
        self._require_open_order(order_id)
        self._require_status(
            [HazardStatus.RECTIFYING], "report completion", "completion_only_while_rectifying"
        )
        self._completion_reported(order_id=order_id, actor=actor, timestamp=at)

    def note_verification(
        self, *, verification_id: UUID, passed: bool, actor: Actor, at: datetime
    ) -> None:
        self._require_status(
            [HazardStatus.AWAITING_VERIFICATION],
            "verify",
            "no_verification_before_completion_report",
        )
        if passed:
            self._verification_passed(verification_id=verification_id, actor=actor, timestamp=at)
        else:
            self._verification_failed(verification_id=verification_id, actor=actor, timestamp=at)

    def dismiss(self, *, reason: str, actor: Actor, at: datetime) -> UUID | None:
        """Dismiss a hazard reported in error (supervisor). Returns the order to cancel."""
        require_role(actor, [Role.SUPERVISOR], "dismiss a hazard", "dismiss_only_by_supervisor")
        self._require_status(OPEN_STATUSES, "dismiss the hazard", "dismiss_only_open_hazard")
        order_id = self.open_order_id
        self._dismissed(
            reason=require_text(reason, "reason"),
            cancelled_order_id=order_id,
            actor=actor,
            timestamp=at,
        )
        return order_id

    def close(self, *, reason: str, signature: Signature, actor: Actor, at: datetime) -> None:
        """销号: close a verified case (supervisor, signed; for a major hazard not the verifier)."""
        require_role(actor, [Role.SUPERVISOR], "close a case", "case_closes_only_by_supervisor")
        self._require_status(
            [HazardStatus.VERIFIED], "close the case", "case_closes_only_from_verified"
        )
        if self.severity == Severity.MAJOR and actor.user_id == self.verified_by:
            raise NotPermitted(
                "a major hazard's case must be closed by a supervisor other than its verifier",
                rule="major_case_closer_is_not_verifier",
            )
        check_signature(signature, actor, SignatureMeaning.CLOSED_AS_RECTIFIED)
        self._closed(
            reason=require_text(reason, "reason"), signature=signature, actor=actor, timestamp=at
        )

    def reopen(self, *, reason: str, actor: Actor, at: datetime) -> None:
        """Reopen a closed case (supervisor, reason); a new order must then be issued."""
        require_role(actor, [Role.SUPERVISOR], "reopen a case", "reopen_only_by_supervisor")
        self._require_status([HazardStatus.CLOSED], "reopen the case", "reopen_only_closed_case")
        self._reopened(reason=require_text(reason, "reason"), actor=actor, timestamp=at)

    def _require_open_order(self, order_id: UUID) -> None:
        if self.open_order_id != order_id:
            raise IllegalTransition(
                f"order {order_id} is not this hazard's open order", rule="order_not_open"
            )

    # -- events ---------------------------------------------------------------

    @event("Regraded")
    def _regraded(
        self, old_severity: str, severity: str, reason: str, actor: Actor, timestamp: datetime
    ) -> None:
        self.severity = Severity(severity)

    @event("FixedOnTheSpot")
    def _fixed_on_spot(
        self, note: str, evidence: list[Evidence], actor: Actor, timestamp: datetime
    ) -> None:
        self.fixed_on_spot = True
        self.evidence.extend(evidence)
        self.status = HazardStatus.AWAITING_VERIFICATION

    @event("OrderIssued")
    def _order_issued(self, order_id: UUID, number: str, actor: Actor, timestamp: datetime) -> None:
        self.open_order_id = order_id
        self.order_ids.append(order_id)
        self.status = HazardStatus.RECTIFYING

    @event("CompletionReported")
    def _completion_reported(self, order_id: UUID, actor: Actor, timestamp: datetime) -> None:
        self.status = HazardStatus.AWAITING_VERIFICATION

    @event("VerificationPassed")
    def _verification_passed(
        self, verification_id: UUID, actor: Actor, timestamp: datetime
    ) -> None:
        self.verification_ids.append(verification_id)
        self.verified_by = actor.user_id
        self.open_order_id = None
        self.status = HazardStatus.VERIFIED

    @event("VerificationFailed")
    def _verification_failed(
        self, verification_id: UUID, actor: Actor, timestamp: datetime
    ) -> None:
        self.verification_ids.append(verification_id)
        if self.open_order_id is None:
            # A failed on-the-spot fix: the hazard now needs an order.
            self.fixed_on_spot = False
            self.status = HazardStatus.REPORTED
        else:
            self.status = HazardStatus.RECTIFYING

    @event("Dismissed")
    def _dismissed(
        self, reason: str, cancelled_order_id: UUID | None, actor: Actor, timestamp: datetime
    ) -> None:
        self.open_order_id = None
        self.status = HazardStatus.DISMISSED

    @event("Closed")
    def _closed(self, reason: str, signature: Signature, actor: Actor, timestamp: datetime) -> None:
        self.status = HazardStatus.CLOSED
        self.closed_at = timestamp

    @event("Reopened")
    def _reopened(self, reason: str, actor: Actor, timestamp: datetime) -> None:
        self.status = HazardStatus.RECTIFYING
        self.verified_by = None
        self.closed_at = None


def check_signature(signature: Signature, actor: Actor, meaning: str) -> None:
    """A signature counts only when the actor signed it, for this meaning."""
    if signature.signer_id != actor.user_id:
        raise NotPermitted("the signature is not the acting supervisor's", rule="signature_signer")
    if signature.meaning != meaning:
        raise InvalidCommand(
            f"the signature means {signature.meaning!r}, expected {meaning!r}",
            rule="signature_meaning",
        )
