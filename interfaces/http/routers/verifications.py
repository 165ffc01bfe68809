"""Verifications (复查验收); recorded through ``POST /cases/{id}/verifications``."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from interfaces.http.access import require_sees_verification
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
    require_sees_verification(user, cmd.rectify, verification)
    set_version_headers(response, verification.version)
    return VerificationView.of(verification)
