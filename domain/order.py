"""Rectification order (整改通知): what must be done, by whom, by when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import INSPECTING_ROLES, CaseAggregate, require_role
from domain.errors import IllegalTransition, InvalidCommand, NotPermitted
from domain.hazard import Hazard, check_signature
from domain.values import (
    Actor,
    Evidence,
    FivePointPlan,
    ResponsibleParty,
    Role,
    Severity,
    Signature,
    SignatureMeaning,
    require_text,
)


class OrderStatus(StrEnum):
    ISSUED = "issued"  # 已下达
    ACKNOWLEDGED = "acknowledged"  # 已签收
    COMPLETION_REPORTED = "completion_reported"  # 已报整改完成
    FULFILLED = "fulfilled"  # 已复查合格
    CANCELLED = "cancelled"  # 已撤销


ACTIVE_STATUSES = (OrderStatus.ISSUED, OrderStatus.ACKNOWLEDGED)


@dataclass(frozen=True)
class DeadlinePolicy:
    """Default days to put a hazard right, by severity (configurable)."""

    general_days: int = 7
    major_days: int = 30

    def __post_init__(self) -> None:
        if self.general_days < 1 or self.major_days < 1:
            raise InvalidCommand("deadline defaults must be at least one day")

    def default_deadline(self, severity: Severity, issued_on: date) -> date:
        days = self.major_days if severity == Severity.MAJOR else self.general_days
        return issued_on + timedelta(days=days)


class RectificationOrder(CaseAggregate):
    """issued → acknowledged → completion_reported → fulfilled; a failed verification
    sends it back to acknowledged with a new deadline. Cancelled when its hazard is
    dismissed. The deadline is locked once issued: only a granted extension moves it.
    """

    enum_attributes = (("status", OrderStatus), ("severity", Severity))

    @classmethod
    def issue(
        cls,
        *,
        hazard: Hazard,
        number: str,
        party: ResponsibleParty,
        measures: str,
        deadline: date | None,
        five_point_plan: FivePointPlan | None,
        policy: DeadlinePolicy,
        today: date,
        actor: Actor,
        at: datetime,
    ) -> RectificationOrder:
        """Issue an order for ``hazard``; the deadline defaults from its severity."""
        require_role(actor, INSPECTING_ROLES, "issue a rectification order", "issue_order_role")
        if deadline is None:
            deadline = policy.default_deadline(hazard.severity, today)
        elif deadline <= today:
            raise InvalidCommand(
                f"the deadline {deadline} must be after today ({today})", rule="deadline_in_past"
            )
        if hazard.severity == Severity.MAJOR and five_point_plan is None:
            raise InvalidCommand(
                "a major hazard's order must carry the five-point plan (五落实)",
                rule="major_order_needs_five_point_plan",
            )
        return cls(
            hazard_id=hazard.id,
            number=require_text(number, "order number", max_length=20),
            party=party,
            measures=require_text(measures, "required measures"),
            deadline=deadline,
            severity=str(hazard.severity),
            five_point_plan=five_point_plan,
            actor=actor,
            timestamp=at,
        )

    @event("Issued")
    def __init__(
        self,
        hazard_id: UUID,
        number: str,
        party: ResponsibleParty,
        measures: str,
        deadline: date,
        severity: str,
        five_point_plan: FivePointPlan | None,
        actor: Actor,
        timestamp: datetime,
    ) -> None:
        self.hazard_id = hazard_id
        self.number = number
        self.party = party
        self.measures = measures
        self.deadline = deadline
        self.severity = Severity(severity)
        self.five_point_plan = five_point_plan
        self.issued_by = actor
        self.issued_at = timestamp
        self.status = OrderStatus.ISSUED
        self.attempt = 1
        self.overdue_deadline: date | None = None
        self.escalated = False
        self.pending_extension: dict[str, Any] | None = None
        self.last_completion: dict[str, Any] | None = None
        self.cancel_reason: str | None = None

    @property
    def is_overdue(self) -> bool:
        """Overdue recorded for the current deadline (an event, not a computed flag)."""
        return self.overdue_deadline is not None and self.overdue_deadline == self.deadline

    @property
    def is_open(self) -> bool:
        return self.status not in (OrderStatus.FULFILLED, OrderStatus.CANCELLED)

    # -- the responsible party's commands ------------------------------------

    def acknowledge(self, *, actor: Actor, at: datetime) -> None:
        """签收: the party acknowledges the order (or an inspector records it for them)."""
        on_behalf = self._party_or_on_behalf(actor, "acknowledge the order")
        self._require_status([OrderStatus.ISSUED], "acknowledge", "acknowledge_only_issued")
        self._acknowledged(on_behalf=on_behalf, actor=actor, timestamp=at)

    def report_progress(
        self, *, note: str, evidence: list[Evidence], actor: Actor, at: datetime
    ) -> None:
        """Report progress without changing the order's state."""
        on_behalf = self._party_or_on_behalf(actor, "report progress")
        self._require_status(ACTIVE_STATUSES, "report progress", "progress_only_active_order")
        self._progress_reported(
            note=require_text(note, "note"),
            evidence=list(evidence),
            on_behalf=on_behalf,
            actor=actor,
            timestamp=at,
        )

    def request_extension(
        self, *, new_deadline: date, reason: str, actor: Actor, at: datetime
    ) -> None:
        """Ask for a later deadline, with a reason; a supervisor grants or denies it."""
        on_behalf = self._party_or_on_behalf(actor, "request an extension")
        self._require_status(ACTIVE_STATUSES, "request an extension", "extension_only_active_order")
        if self.pending_extension is not None:
            raise IllegalTransition(
                "an extension request is already pending", rule="one_pending_extension"
            )
        if new_deadline <= self.deadline:
            raise InvalidCommand(
                f"the new deadline {new_deadline} must be after the current one {self.deadline}",
                rule="extension_must_move_deadline_later",
            )
        self._extension_requested(
            new_deadline=new_deadline,
            reason=require_text(reason, "reason"),
            on_behalf=on_behalf,
            actor=actor,
            timestamp=at,
        )

    def report_completion(
        self, *, note: str, evidence: list[Evidence], actor: Actor, at: datetime
    ) -> None:
        """Report the hazard put right, with evidence; it then awaits verification."""
        on_behalf = self._party_or_on_behalf(actor, "report completion")
        if self.status in (OrderStatus.FULFILLED, OrderStatus.CANCELLED):
            raise IllegalTransition(
                f"no completion report on an order that is {self.status}",
                rule="no_completion_report_on_closed_order",
            )
        self._require_status(
            ACTIVE_STATUSES, "report completion", "completion_report_already_awaiting_verification"
        )
        self._completion_reported(
            note=require_text(note, "note"),
            evidence=list(evidence),
            on_behalf=on_behalf,
            actor=actor,
            timestamp=at,
        )

    # -- supervisors' commands -----------------------------------------------

    def grant_extension(
        self, *, reason: str, signature: Signature, actor: Actor, at: datetime
    ) -> None:
        """Grant the pending extension (supervisor, signed): the only way the deadline moves."""
        require_role(actor, [Role.SUPERVISOR], "grant an extension", "extension_by_supervisor")
        pending = self._require_pending_extension()
        check_signature(signature, actor, SignatureMeaning.EXTENSION_GRANTED)
        self._extension_granted(
            old_deadline=self.deadline,
            new_deadline=pending["new_deadline"],
            reason=require_text(reason, "reason"),
            signature=signature,
            actor=actor,
            timestamp=at,
        )

    def deny_extension(self, *, reason: str, actor: Actor, at: datetime) -> None:
        """Deny the pending extension (supervisor, reason); the deadline stays."""
        require_role(actor, [Role.SUPERVISOR], "deny an extension", "extension_by_supervisor")
        pending = self._require_pending_extension()
        self._extension_denied(
            requested_deadline=pending["new_deadline"],
            reason=require_text(reason, "reason"),
            actor=actor,
            timestamp=at,
        )

    # -- what verification, dismissal and the clock do ------------------------

    def fulfil(self, *, verification_id: UUID, actor: Actor, at: datetime) -> None:
        self._require_completion_reported()
        self._fulfilled(verification_id=verification_id, actor=actor, timestamp=at)

    def reopen_after_failed_verification(
        self, *, verification_id: UUID, new_deadline: date, today: date, actor: Actor, at: datetime
    ) -> None:
        """A failed verification sends the order back with a new deadline (attempt + 1)."""
        self._require_completion_reported()
        if new_deadline <= today:
            raise InvalidCommand(
                f"the new deadline {new_deadline} must be after today ({today})",
                rule="deadline_in_past",
            )
        self._reopened(
            verification_id=verification_id,
            old_deadline=self.deadline,
            new_deadline=new_deadline,
            attempt=self.attempt + 1,
            actor=actor,
            timestamp=at,
        )

    def cancel(self, *, reason: str, actor: Actor, at: datetime) -> None:
        if not self.is_open:
            raise IllegalTransition(
                f"the order is already {self.status}", rule="cancel_only_open_order"
            )
        self._cancelled(reason=require_text(reason, "reason"), actor=actor, timestamp=at)

    def mark_overdue(
        self, *, today: date, hazard_severity: Severity, actor: Actor, at: datetime
    ) -> bool:
        """Record that the deadline passed with no completion report, once per deadline.

        An overdue order of a hazard that is major now (it may have been re-graded
        since the order was issued) is escalated to supervisors in the same step.
        Returns whether anything was recorded.
        """
        if self.status not in ACTIVE_STATUSES or today <= self.deadline or self.is_overdue:
            return False
        self._became_overdue(deadline=self.deadline, actor=actor, timestamp=at)
        if hazard_severity == Severity.MAJOR:
            self._escalated(
                deadline=self.deadline, to_role=Role.SUPERVISOR.value, actor=actor, timestamp=at
            )
        return True

    # -- guards ---------------------------------------------------------------

    def _party_or_on_behalf(self, actor: Actor, action: str) -> bool:
        """True when an inspector or supervisor records this on the party's behalf."""
        if actor.role == Role.RESPONSIBLE_PARTY:
            if not self.party.is_account(actor.user_id):
                raise NotPermitted(
                    f"{actor.name} is not the responsible party of order {self.number}",
                    rule="party_acts_only_on_own_orders",
                )
            return False
        if actor.may_inspect():
            return True
        raise NotPermitted(f"a {actor.role.value} may not {action}", rule="party_action_role")

    def _require_pending_extension(self) -> dict[str, Any]:
        if self.pending_extension is None:
            raise IllegalTransition(
                "there is no pending extension request", rule="no_pending_extension"
            )
        return self.pending_extension

    def _require_completion_reported(self) -> None:
        self._require_status(
            [OrderStatus.COMPLETION_REPORTED],
            "verify",
            "no_verification_before_completion_report",
        )

    # -- events ---------------------------------------------------------------

    @event("Acknowledged")
    def _acknowledged(self, on_behalf: bool, actor: Actor, timestamp: datetime) -> None:
        self.status = OrderStatus.ACKNOWLEDGED

    @event("ProgressReported")
    def _progress_reported(
        self,
        note: str,
        evidence: list[Evidence],
        on_behalf: bool,
        actor: Actor,
        timestamp: datetime,
    ) -> None:
        pass  # the record is the event itself; the order's state does not change

    @event("ExtensionRequested")
    def _extension_requested(
        self, new_deadline: date, reason: str, on_behalf: bool, actor: Actor, timestamp: datetime
    ) -> None:
        self.pending_extension = {
            "new_deadline": new_deadline,
            "reason": reason,
            "requested_by": actor.user_id,
            "requested_at": timestamp,
        }

    @event("ExtensionGranted")
    def _extension_granted(
        self,
        old_deadline: date,
        new_deadline: date,
        reason: str,
        signature: Signature,
        actor: Actor,
        timestamp: datetime,
    ) -> None:
        self.deadline = new_deadline
        self.pending_extension = None

    @event("ExtensionDenied")
    def _extension_denied(
        self, requested_deadline: date, reason: str, actor: Actor, timestamp: datetime
    ) -> None:
        self.pending_extension = None

    @event("CompletionReported")
    def _completion_reported(
        self,
        note: str,
        evidence: list[Evidence],
        on_behalf: bool,
        actor: Actor,
        timestamp: datetime,
    ) -> None:
        self.status = OrderStatus.COMPLETION_REPORTED
        self.pending_extension = None
        self.last_completion = {
            "note": note,
            "evidence": list(evidence),
            "by": actor.user_id,
            "at": timestamp,
        }

    @event("Fulfilled")
    def _fulfilled(self, verification_id: UUID, actor: Actor, timestamp: datetime) -> None:
        self.status = OrderStatus.FULFILLED

    @event("ReopenedAfterFailedVerification")
    def _reopened(
        self,
        verification_id: UUID,
        old_deadline: date,
        new_deadline: date,
        attempt: int,
        actor: Actor,
        timestamp: datetime,
    ) -> None:
        self.status = OrderStatus.ACKNOWLEDGED
        self.deadline = new_deadline
        self.attempt = attempt

    @event("Cancelled")
    def _cancelled(self, reason: str, actor: Actor, timestamp: datetime) -> None:
        self.status = OrderStatus.CANCELLED
        self.cancel_reason = reason

    @event("BecameOverdue")
    def _became_overdue(self, deadline: date, actor: Actor, timestamp: datetime) -> None:
        self.overdue_deadline = deadline

    @event("EscalatedToSupervisors")
    def _escalated(self, deadline: date, to_role: str, actor: Actor, timestamp: datetime) -> None:
        self.escalated = True
