"""Response bodies: each record as a client sees it, with its version (also its ETag)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.checklists import ChecklistTemplate
from domain.hazard import Hazard
from domain.inspection import Inspection
from domain.order import RectificationOrder
from domain.site import Site
from domain.values import FivePointPlan, ResponsibleParty
from domain.verification import Verification
from infrastructure.users import User
from interfaces.http.schemas.common import ActorView, EvidenceView

_VERSION = Field(description="The record's version; also its ETag.", examples=[3])


class ChangedRecord(BaseModel):
    """A record a command changed, at its new version."""

    kind: str = Field(examples=["case"])
    id: UUID
    version: int = Field(examples=[2])


class CommandResult(BaseModel):
    """What a command did: the record it created or changed, its new version (also the
    ``ETag``), and the log position of the command's last event (also ``X-Log-Position``),
    which read models use to show a client its own writes."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "order",
                    "id": "0d9c5f4e-2b57-4f0a-9c39-0b9a3c1f7d21",
                    "version": 1,
                    "position": 42,
                    "changed": [
                        {
                            "kind": "order",
                            "id": "0d9c5f4e-2b57-4f0a-9c39-0b9a3c1f7d21",
                            "version": 1,
                        },
                        {
                            "kind": "case",
                            "id": "7c1e0a7e-51f4-4d51-8d9c-2e9f8b7a6c10",
                            "version": 2,
                        },
                    ],
                }
            ]
        }
    )

    kind: str = Field(examples=["order"])
    id: UUID
    version: int = _VERSION
    position: int | None = Field(description="Log position of the last event recorded.")
    changed: list[ChangedRecord] = Field(
        description="Every record the command changed (e.g. the case an order was issued "
        "under), each at its new version."
    )


class Timestamps(BaseModel):
    version: int = _VERSION
    created_at: datetime
    modified_at: datetime


def _stamps(aggregate: Any) -> dict[str, Any]:
    return {
        "version": aggregate.version,
        "created_at": aggregate.created_on,
        "modified_at": aggregate.modified_on,
    }


class SiteView(Timestamps):
    """A registered site (受检场所)."""

    id: UUID
    name: str = Field(examples=["陶表印盲人按摩店"])
    region: str = Field(examples=["安义县"])
    address: str
    operator: str
    contact: str
    kind: str
    registered_by: ActorView

    @classmethod
    def of(cls, site: Site) -> SiteView:
        return cls(
            id=site.id,
            name=site.name,
            region=site.region,
            address=site.address,
            operator=site.operator,
            contact=site.contact,
            kind=site.kind,
            registered_by=ActorView.of(site.registered_by),
            **_stamps(site),
        )


class ChecklistItemView(BaseModel):
    code: str = Field(examples=["visitor-register"])
    zh: str = Field(examples=["进出人员信息登记"])
    en: str = Field(examples=["Visitor register kept"])


class ChecklistView(BaseModel):
    """A checklist template (检查表) at one version."""

    code: str = Field(examples=["epidemic-2022"])
    version: int = Field(examples=[1])
    title_zh: str
    title_en: str
    items: list[ChecklistItemView]

    @classmethod
    def of(cls, template: ChecklistTemplate) -> ChecklistView:
        return cls(
            code=template.code,
            version=template.version,
            title_zh=template.title_zh,
            title_en=template.title_en,
            items=[ChecklistItemView(code=i.code, zh=i.zh, en=i.en) for i in template.items],
        )


class ItemResultView(BaseModel):
    code: str = Field(examples=["visitor-register"])
    result: str | None = Field(description="pass, fail, na, or null if not yet recorded")
    note: str = ""
    recorded_by: str | None = None


class InspectionView(Timestamps):
    """An inspection (检查) and its items."""

    id: UUID
    site_id: UUID
    template_code: str = Field(examples=["epidemic-2022"])
    template_version: int
    status: str = Field(examples=["open"])
    inspectors: list[ActorView]
    items: list[ItemResultView]
    hazard_ids: list[UUID]
    cancel_reason: str | None

    @classmethod
    def of(cls, inspection: Inspection) -> InspectionView:
        items = []
        for code in inspection.item_codes:
            recorded = inspection.results.get(code)
            items.append(
                ItemResultView(
                    code=code,
                    result=str(recorded["result"]) if recorded else None,
                    note=recorded["note"] if recorded else "",
                    recorded_by=recorded["by"] if recorded else None,
                )
            )
        return cls(
            id=inspection.id,
            site_id=inspection.site_id,
            template_code=inspection.template_code,
            template_version=inspection.template_version,
            status=str(inspection.status),
            inspectors=[ActorView.of(a) for a in inspection.inspectors],
            items=items,
            hazard_ids=list(inspection.hazard_ids),
            cancel_reason=inspection.cancel_reason,
            **_stamps(inspection),
        )


class PartyView(BaseModel):
    name: str = Field(examples=["陶表印"])
    contact: str
    user_id: str | None = Field(examples=["taobiaoyin"])

    @classmethod
    def of(cls, party: ResponsibleParty) -> PartyView:
        return cls(name=party.name, contact=party.contact, user_id=party.user_id)


class FivePointPlanView(BaseModel):
    responsible_person: str
    measures: str
    funds: str
    deadline: date
    contingency_plan: str

    @classmethod
    def of(cls, plan: FivePointPlan) -> FivePointPlanView:
        return cls(
            responsible_person=plan.responsible_person,
            measures=plan.measures,
            funds=plan.funds,
            deadline=plan.deadline,
            contingency_plan=plan.contingency_plan,
        )


class PendingExtensionView(BaseModel):
    new_deadline: date
    reason: str
    requested_by: str
    requested_at: datetime


class CompletionView(BaseModel):
    note: str
    evidence: list[EvidenceView]
    by: str
    at: datetime


class OrderView(Timestamps):
    """A rectification order (整改通知)."""

    id: UUID
    hazard_id: UUID
    number: str = Field(examples=["2022-0007"])
    party: PartyView
    measures: str
    deadline: date
    severity: str = Field(examples=["general"])
    five_point_plan: FivePointPlanView | None
    status: str = Field(examples=["acknowledged"])
    attempt: int = Field(description="1, plus one per failed verification.")
    overdue: bool = Field(description="An overdue event was recorded for the current deadline.")
    escalated: bool
    pending_extension: PendingExtensionView | None
    last_completion: CompletionView | None
    cancel_reason: str | None
    issued_by: ActorView

    @classmethod
    def of(cls, order: RectificationOrder) -> OrderView:
        pending = order.pending_extension
        completion = order.last_completion
        return cls(
            id=order.id,
            hazard_id=order.hazard_id,
            number=order.number,
            party=PartyView.of(order.party),
            measures=order.measures,
            deadline=order.deadline,
            severity=str(order.severity),
            five_point_plan=FivePointPlanView.of(order.five_point_plan)
            if order.five_point_plan
            else None,
            status=str(order.status),
            attempt=order.attempt,
            overdue=order.is_overdue,
            escalated=order.escalated,
            pending_extension=PendingExtensionView(**pending) if pending else None,
            last_completion=CompletionView(
                note=completion["note"],
                evidence=[EvidenceView.of(e) for e in completion["evidence"]],
                by=completion["by"],
                at=completion["at"],
            )
            if completion
            else None,
            cancel_reason=order.cancel_reason,
            issued_by=ActorView.of(order.issued_by),
            **_stamps(order),
        )


class CaseView(Timestamps):
    """A case: the hazard (隐患), with the orders that follow it.

    A responsible party sees only the orders addressed to them.
    """

    id: UUID
    site_id: UUID
    inspection_id: UUID
    item_code: str | None
    category: str
    description: str
    location: str
    severity: str = Field(examples=["general"])
    status: str = Field(examples=["rectifying"])
    evidence: list[EvidenceView]
    reported_by: ActorView
    open_order_id: UUID | None
    fixed_on_the_spot: bool
    verified_by: str | None
    closed_at: datetime | None
    orders: list[OrderView]
    verification_ids: list[UUID]

    @classmethod
    def of(cls, hazard: Hazard, orders: list[RectificationOrder]) -> CaseView:
        return cls(
            id=hazard.id,
            site_id=hazard.site_id,
            inspection_id=hazard.inspection_id,
            item_code=hazard.item_code,
            category=hazard.category,
            description=hazard.description,
            location=hazard.location,
            severity=str(hazard.severity),
            status=str(hazard.status),
            evidence=[EvidenceView.of(e) for e in hazard.evidence],
            reported_by=ActorView.of(hazard.reported_by),
            open_order_id=hazard.open_order_id,
            fixed_on_the_spot=hazard.fixed_on_spot,
            verified_by=hazard.verified_by,
            closed_at=hazard.closed_at,
            orders=[OrderView.of(o) for o in orders],
            verification_ids=list(hazard.verification_ids),
            **_stamps(hazard),
        )


class VerificationView(Timestamps):
    """A verification (复查验收) of a completion report or on-the-spot fix."""

    id: UUID
    hazard_id: UUID
    order_id: UUID | None
    attempt: int
    passed: bool
    findings: str
    evidence: list[EvidenceView]
    verifier: ActorView

    @classmethod
    def of(cls, verification: Verification) -> VerificationView:
        return cls(
            id=verification.id,
            hazard_id=verification.hazard_id,
            order_id=verification.order_id,
            attempt=verification.attempt,
            passed=verification.passed,
            findings=verification.findings,
            evidence=[EvidenceView.of(e) for e in verification.evidence],
            verifier=ActorView.of(verification.verifier),
            **_stamps(verification),
        )


class UserView(BaseModel):
    """A user account (never its password)."""

    user_id: str = Field(examples=["chenxiaofeng"])
    name: str = Field(examples=["陈小峰"])
    role: str = Field(examples=["inspector"])
    party_name: str | None = Field(
        default=None, description="For a responsible party: the name used on orders."
    )

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(
            user_id=user.user_id,
            name=user.name,
            role=user.role.value,
            party_name=user.party_name,
        )


class TokenView(BaseModel):
    """An OAuth2 access token."""

    access_token: str
    token_type: str = Field(examples=["bearer"])
    expires_in: int = Field(description="Seconds until the token expires.", examples=[3600])
