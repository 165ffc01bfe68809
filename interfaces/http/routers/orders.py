"""Rectification orders (整改通知): what the responsible party does, and extensions."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from domain.values import Role
from infrastructure.users import User
from interfaces.http.access import require_sees_order
from interfaces.http.commands import Commands
from interfaces.http.concurrency import set_version_headers
from interfaces.http.routers.common import (
    CHANGE_ERRORS,
    READ_ERRORS,
    SIGNED_ERRORS,
    ActingOnOrders,
    Anyone,
    Cmd,
    IfMatch,
    Supervising,
)
from interfaces.http.schemas.commands import ExtensionRequest, Note, Reason, Signed
from interfaces.http.schemas.views import CommandResult, OrderView

router = APIRouter(prefix="/orders", tags=["orders"])


def _party_guard(cmd: Commands, user: User, order_id: UUID) -> None:
    # A party is refused another party's order before its version or state is
    # looked at, so a refusal tells them nothing about it.
    if user.role == Role.RESPONSIBLE_PARTY:
        require_sees_order(user, cmd.rectify.get_order(order_id))


@router.get("/{order_id}", response_model=OrderView, responses=READ_ERRORS)
def get_order(order_id: UUID, response: Response, user: Anyone, cmd: Cmd) -> OrderView:
    """One order. Roles: inspector, supervisor, auditor; a responsible party only
    if the order is addressed to them (else 403, rule `party_sees_only_own_orders`)."""
    order = cmd.rectify.get_order(order_id)
    require_sees_order(user, order)
    set_version_headers(response, order.version)
    return OrderView.of(order)


@router.post("/{order_id}/acknowledge", response_model=CommandResult, responses=CHANGE_ERRORS)
def acknowledge(
    order_id: UUID,
    response: Response,
    user: ActingOnOrders,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """签收: acknowledge the order.

    Roles: the responsible party it names; an inspector or supervisor on their
    behalf (the event says so). `If-Match`: the order's ETag.
    """
    _party_guard(cmd, user, order_id)
    return cmd.run(
        response,
        lambda: cmd.rectify.acknowledge_order(user.actor(), order_id, expected_version=version),
        kind="order",
        aggregate_id=order_id,
    )


@router.post("/{order_id}/progress", response_model=CommandResult, responses=CHANGE_ERRORS)
def report_progress(
    order_id: UUID,
    body: Note,
    response: Response,
    user: ActingOnOrders,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """Report progress, with evidence; the order's state does not change.

    Roles: the responsible party it names; an inspector or supervisor on their
    behalf. `If-Match`: the order's ETag.
    """
    _party_guard(cmd, user, order_id)
    evidence = cmd.evidence(body.evidence)
    return cmd.run(
        response,
        lambda: cmd.rectify.report_progress(
            user.actor(), order_id, note=body.note, evidence=evidence, expected_version=version
        ),
        kind="order",
        aggregate_id=order_id,
    )


@router.post(
    "/{order_id}/extension-requests", response_model=CommandResult, responses=CHANGE_ERRORS
)
def request_extension(
    order_id: UUID,
    body: ExtensionRequest,
    response: Response,
    user: ActingOnOrders,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """申请延期: ask a supervisor for a later deadline, with a reason.

    Roles: the responsible party it names; an inspector or supervisor on their
    behalf. `If-Match`: the order's ETag.
    """
    _party_guard(cmd, user, order_id)
    return cmd.run(
        response,
        lambda: cmd.rectify.request_extension(
            user.actor(),
            order_id,
            new_deadline=body.new_deadline,
            reason=body.reason,
            expected_version=version,
        ),
        kind="order",
        aggregate_id=order_id,
    )


@router.post(
    "/{order_id}/extension-requests/grant", response_model=CommandResult, responses=SIGNED_ERRORS
)
def grant_extension(
    order_id: UUID,
    body: Signed,
    response: Response,
    user: Supervising,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """Grant the pending extension, signed with the supervisor's password.

    The only way a deadline moves. The event records the signer, the time and
    the meaning ("extension granted"); a wrong password is 403 (rule
    `signature_rejected`) and records nothing. Roles: supervisor.
    `If-Match`: the order's ETag.
    """
    return cmd.run(
        response,
        lambda: cmd.rectify.grant_extension(
            user.actor(),
            order_id,
            reason=body.reason,
            password=body.password.get_secret_value(),
            expected_version=version,
        ),
        kind="order",
        aggregate_id=order_id,
    )


@router.post(
    "/{order_id}/extension-requests/deny", response_model=CommandResult, responses=CHANGE_ERRORS
)
def deny_extension(
    order_id: UUID,
    body: Reason,
    response: Response,
    user: Supervising,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """Deny the pending extension, with a reason; the deadline stays.

    Roles: supervisor. `If-Match`: the order's ETag.
    """
    return cmd.run(
        response,
        lambda: cmd.rectify.deny_extension(
            user.actor(), order_id, reason=body.reason, expected_version=version
        ),
        kind="order",
        aggregate_id=order_id,
    )


@router.post("/{order_id}/completion-report", response_model=CommandResult, responses=CHANGE_ERRORS)
def report_completion(
    order_id: UUID,
    body: Note,
    response: Response,
    user: ActingOnOrders,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """Report the hazard put right, with evidence; the case then awaits verification.

    Roles: the responsible party it names; an inspector or supervisor on their
    behalf. `If-Match`: the order's ETag.
    """
    _party_guard(cmd, user, order_id)
    evidence = cmd.evidence(body.evidence)
    return cmd.run(
        response,
        lambda: cmd.rectify.report_completion(
            user.actor(), order_id, note=body.note, evidence=evidence, expected_version=version
        ),
        kind="order",
        aggregate_id=order_id,
    )
