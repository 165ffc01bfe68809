"""Verifications (复查验收); recorded through ``POST /cases/{id}/verifications``."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from domain.values import Role
from interfaces.http.access import not_addressed_to, sees_order
from interfaces.http.concurrency import set_version_headers
from interfaces.http.routers.common import (
    READ_ERRORS,
    Anyone,
    Cmd,
)
from interfaces.http.schemas.views import VerificationView

router = APIRouter(prefix="/verifications", tags=["verifications"])


@router.get("/{verification_id}", response_model=VerificationView, responses=READ_ERRORS)
def get_verification(
    verification_id: UUID,
    response: Response,
    user: Anyone,
    cmd: Cmd,
) -> VerificationView:
    """One verification. Roles: inspector, supervisor, auditor; a responsible party
    only for a verification of an order addressed to them."""
    verification = cmd.rectify.get_verification(verification_id)
    if user.role == Role.RESPONSIBLE_PARTY and (
        verification.order_id is None
        or not sees_order(user, cmd.rectify.get_order(verification.order_id))
    ):
        raise not_addressed_to(user, f"verification {verification_id}")
    set_version_headers(response, verification.version)
    return VerificationView.of(verification)
