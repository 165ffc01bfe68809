"""Cases: a hazard (隐患) with its orders and verifications; the case id is the hazard id."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from domain.values import FivePointPlan, ResponsibleParty, Role
from interfaces.http.access import not_addressed_to, sees_order
from interfaces.http.concurrency import set_version_headers
from interfaces.http.routers.common import (
    CHANGE_ERRORS,
    READ_ERRORS,
    SIGNED_ERRORS,
    Anyone,
    Cmd,
    IfMatch,
    Inspecting,
    Supervising,
)
from interfaces.http.schemas.commands import (
    FixOnTheSpot,
    IssueOrder,
    Reason,
    Regrade,
    Signed,
    Verify,
)
from interfaces.http.schemas.views import CaseView, CommandResult

router = APIRouter(prefix="/cases", tags=["cases"])


@router.get("/{case_id}", response_model=CaseView, responses=READ_ERRORS)
def get_case(case_id: UUID, response: Response, user: Anyone, cmd: Cmd) -> CaseView:
    """One case: the hazard with its orders. The ETag is the hazard's version.

    Roles: inspector, supervisor, auditor; a responsible party only for a case
    with an order addressed to them, and sees only those orders.
    """
    hazard = cmd.rectify.get_hazard(case_id)
    orders = [cmd.rectify.get_order(order_id) for order_id in hazard.order_ids]
    if user.role == Role.RESPONSIBLE_PARTY:
        orders = [o for o in orders if sees_order(user, o)]
        if not orders:
            raise not_addressed_to(user, f"case {case_id} (no order of it)")
    set_version_headers(response, hazard.version)
    return CaseView.of(hazard, orders)


@router.post("/{case_id}/regrade", response_model=CommandResult, responses=CHANGE_ERRORS)
def regrade(
    case_id: UUID,
    body: Regrade,
    response: Response,
    user: Inspecting,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """Re-grade the hazard's severity (一般/重大), with a reason.

    Roles: inspector, supervisor. `If-Match`: the case's ETag.
    """
    return cmd.run(
        response,
        lambda: cmd.rectify.regrade_hazard(
            user.actor(),
            case_id,
            severity=body.severity,
            reason=body.reason,
            expected_version=version,
        ),
        kind="case",
        aggregate_id=case_id,
    )


@router.post("/{case_id}/fix-on-the-spot", response_model=CommandResult, responses=CHANGE_ERRORS)
def fix_on_the_spot(
    case_id: UUID,
    body: FixOnTheSpot,
    response: Response,
    user: Inspecting,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """即查即改: a general hazard fixed during the inspection goes straight to verification.

    Roles: inspector, supervisor. `If-Match`: the case's ETag.
    """
    evidence = cmd.evidence(body.evidence)
    return cmd.run(
        response,
        lambda: cmd.rectify.fix_on_the_spot(
            user.actor(), case_id, note=body.note, evidence=evidence, expected_version=version
        ),
        kind="case",
        aggregate_id=case_id,
    )


@router.post("/{case_id}/dismiss", response_model=CommandResult, responses=CHANGE_ERRORS)
def dismiss(
    case_id: UUID,
    body: Reason,
    response: Response,
    user: Supervising,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """Dismiss a hazard reported in error; its open order is cancelled with it.

    Roles: supervisor. `If-Match`: the case's ETag.
    """
    return cmd.run(
        response,
        lambda: cmd.rectify.dismiss_hazard(
            user.actor(), case_id, reason=body.reason, expected_version=version
        ),
        kind="case",
        aggregate_id=case_id,
    )


@router.post(
    "/{case_id}/orders", status_code=201, response_model=CommandResult, responses=CHANGE_ERRORS
)
def issue_order(
    case_id: UUID,
    body: IssueOrder,
    response: Response,
    user: Inspecting,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """Issue a rectification order (整改通知) with the year's next number.

    The deadline defaults from the severity and is then locked; a major
    hazard's order needs the five-point plan (五落实). `party.user_id` links the
    responsible party's account, which then sees and acts on the order.
    Roles: inspector, supervisor. `If-Match`: the case's ETag. Answers 201 with
    `Location: /orders/<id>`.
    """
    cmd.check_party_account(body.party.user_id)
    party = ResponsibleParty(
        name=body.party.name, contact=body.party.contact, user_id=body.party.user_id
    )
    plan = FivePointPlan(**body.five_point_plan.model_dump()) if body.five_point_plan else None
    return cmd.run(
        response,
        lambda: cmd.rectify.issue_order(
            user.actor(),
            case_id,
            party=party,
            measures=body.measures,
            deadline=body.deadline,
            five_point_plan=plan,
            expected_version=version,
        ),
        kind="order",
        location="/orders",
    )


@router.post(
    "/{case_id}/verifications",
    status_code=201,
    response_model=CommandResult,
    responses=CHANGE_ERRORS,
)
def verify(
    case_id: UUID,
    body: Verify,
    response: Response,
    user: Inspecting,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """Verify (复查验收) the case's completion report or on-the-spot fix.

    Passed: the order is fulfilled and the case verified. Failed: the order
    goes back with a new deadline. Roles: inspector, supervisor, not the
    responsible party. `If-Match`: the case's ETag. Answers 201 with
    `Location: /verifications/<id>`.
    """
    evidence = cmd.evidence(body.evidence)
    return cmd.run(
        response,
        lambda: cmd.rectify.verify(
            user.actor(),
            case_id,
            passed=body.passed,
            findings=body.findings,
            evidence=evidence,
            new_deadline=body.new_deadline,
            expected_version=version,
        ),
        kind="verification",
        location="/verifications",
    )


@router.post("/{case_id}/close", response_model=CommandResult, responses=SIGNED_ERRORS)
def close(
    case_id: UUID,
    body: Signed,
    response: Response,
    user: Supervising,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """销号: close a verified case, signed with the supervisor's password.

    The event records the signer, the time and the meaning ("closed as
    rectified"). A wrong password is 403 (rule `signature_rejected`) and
    records nothing. For a major hazard the closer must not be its verifier.
    Roles: supervisor. `If-Match`: the case's ETag.
    """
    return cmd.run(
        response,
        lambda: cmd.rectify.close_case(
            user.actor(),
            case_id,
            reason=body.reason,
            password=body.password.get_secret_value(),
            expected_version=version,
        ),
        kind="case",
        aggregate_id=case_id,
    )


@router.post("/{case_id}/reopen", response_model=CommandResult, responses=CHANGE_ERRORS)
def reopen(
    case_id: UUID,
    body: Reason,
    response: Response,
    user: Supervising,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """Reopen a closed case, with a reason; a new order must follow.

    Roles: supervisor. `If-Match`: the case's ETag.
    """
    return cmd.run(
        response,
        lambda: cmd.rectify.reopen_case(
            user.actor(), case_id, reason=body.reason, expected_version=version
        ),
        kind="case",
        aggregate_id=case_id,
    )
