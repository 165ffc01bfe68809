"""Verification (复查验收): an inspector or supervisor re-inspects a completion report."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from domain.base import INSPECTING_ROLES, CaseAggregate, require_role
from domain.errors import IllegalTransition, NotPermitted
from domain.hazard import Hazard, HazardStatus
from domain.order import OrderStatus, RectificationOrder
from domain.values import Actor, Evidence, require_text


class Verification(CaseAggregate):
    """One verification of one completion report (or of an on-the-spot fix): passed
    or failed, with findings and evidence. It never changes once recorded.
    """

    @classmethod
    def perform(
        cls,
        *,
        hazard: Hazard,
        order: RectificationOrder | None,
        passed: bool,
        findings: str,
        evidence: list[Evidence],
        actor: Actor,
        at: datetime,
    ) -> Verification:
        """Verify the hazard's open order's completion report, or its on-the-spot fix."""
        require_role(actor, INSPECTING_ROLES, "verify a rectification", "verify_role")
        if order is None:
            if not (hazard.fixed_on_spot and hazard.status == HazardStatus.AWAITING_VERIFICATION):
                raise IllegalTransition(
                    "no verification before a completion report: the hazard has no "
                    "completion report or on-the-spot fix awaiting verification",
                    rule="no_verification_before_completion_report",
                )
            attempt = 1
        else:
            if order.status != OrderStatus.COMPLETION_REPORTED:
                raise IllegalTransition(
                    f"no verification before a completion report: order {order.number} "
                    f"is {order.status}",
                    rule="no_verification_before_completion_report",
                )
            if order.party.is_account(actor.user_id):
                raise NotPermitted(
                    "the responsible party may not verify their own rectification",
                    rule="verifier_is_not_responsible_party",
                )
            attempt = order.attempt
        return cls(
            hazard_id=hazard.id,
            order_id=order.id if order else None,
            attempt=attempt,
            passed=bool(passed),
            findings=require_text(findings, "findings"),
            evidence=list(evidence),
            actor=actor,
            timestamp=at,
        )

    @event("Performed")
    def __init__(
        self,
        hazard_id: UUID,
        order_id: UUID | None,
        attempt: int,
        passed: bool,
        findings: str,
        evidence: list[Evidence],
        actor: Actor,
        timestamp: datetime,
    ) -> None:
        self.hazard_id = hazard_id
        self.order_id = order_id
        self.attempt = attempt
        self.passed = passed
        self.findings = findings
        self.evidence = list(evidence)
        self.verifier = actor
        self.performed_at = timestamp
