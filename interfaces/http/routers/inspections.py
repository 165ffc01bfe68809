"""Inspections (检查) and the hazards they find."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from interfaces.http.concurrency import set_version_headers
from interfaces.http.routers.common import (
    CHANGE_ERRORS,
    CREATE_ERRORS,
    READ_ERRORS,
    Cmd,
    IfMatch,
    Inspecting,
    ReadingAll,
)
from interfaces.http.schemas.commands import OpenInspection, Reason, RecordItem, ReportHazard
from interfaces.http.schemas.common import Code
from interfaces.http.schemas.views import CommandResult, InspectionView

router = APIRouter(prefix="/inspections", tags=["inspections"])


@router.post("", status_code=201, response_model=CommandResult, responses=CREATE_ERRORS)
def open_inspection(
    body: OpenInspection,
    response: Response,
    user: Inspecting,
    cmd: Cmd,
) -> CommandResult:
    """Open an inspection of a site against a checklist template (开展检查).

    Roles: inspector, supervisor. The caller is always on the team.
    """
    team = cmd.team(body.inspector_ids)
    return cmd.run(
        response,
        lambda: cmd.rectify.open_inspection(
            user.actor(),
            site_id=body.site_id,
            template_code=body.template_code,
            template_version=body.template_version,
            inspectors=team,
        ),
        kind="inspection",
        location="/inspections",
    )


@router.get("/{inspection_id}", response_model=InspectionView, responses=READ_ERRORS)
def get_inspection(
    inspection_id: UUID,
    response: Response,
    user: ReadingAll,
    cmd: Cmd,
) -> InspectionView:
    """One inspection with its items. Roles: inspector, supervisor, auditor."""
    inspection = cmd.rectify.get_inspection(inspection_id)
    set_version_headers(response, inspection.version)
    return InspectionView.of(inspection)


@router.post(
    "/{inspection_id}/items/{item_code}", response_model=CommandResult, responses=CHANGE_ERRORS
)
def record_item(
    inspection_id: UUID,
    item_code: Code,
    body: RecordItem,
    response: Response,
    user: Inspecting,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """Record one checklist item as pass, fail or na; a failure needs a note.

    Roles: inspector, supervisor. `If-Match`: the inspection's ETag.
    """
    return cmd.run(
        response,
        lambda: cmd.rectify.record_item(
            user.actor(),
            inspection_id,
            item_code=item_code,
            result=body.result,
            note=body.note,
            expected_version=version,
        ),
        kind="inspection",
        aggregate_id=inspection_id,
    )


@router.post("/{inspection_id}/complete", response_model=CommandResult, responses=CHANGE_ERRORS)
def complete_inspection(
    inspection_id: UUID,
    response: Response,
    user: Inspecting,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """Complete an inspection whose every item is recorded; nothing changes after.

    Roles: inspector, supervisor. `If-Match`: the inspection's ETag.
    """
    return cmd.run(
        response,
        lambda: cmd.rectify.complete_inspection(
            user.actor(), inspection_id, expected_version=version
        ),
        kind="inspection",
        aggregate_id=inspection_id,
    )


@router.post("/{inspection_id}/cancel", response_model=CommandResult, responses=CHANGE_ERRORS)
def cancel_inspection(
    inspection_id: UUID,
    body: Reason,
    response: Response,
    user: Inspecting,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """Cancel an open inspection, with a reason.

    Roles: inspector, supervisor. `If-Match`: the inspection's ETag.
    """
    return cmd.run(
        response,
        lambda: cmd.rectify.cancel_inspection(
            user.actor(), inspection_id, reason=body.reason, expected_version=version
        ),
        kind="inspection",
        aggregate_id=inspection_id,
    )


@router.post(
    "/{inspection_id}/hazards",
    status_code=201,
    response_model=CommandResult,
    responses=CHANGE_ERRORS,
)
def report_hazard(
    inspection_id: UUID,
    body: ReportHazard,
    response: Response,
    user: Inspecting,
    version: IfMatch,
    cmd: Cmd,
) -> CommandResult:
    """Report a hazard found by this open inspection; this opens a case (隐患).

    A hazard tied to a checklist item needs that item recorded as failed.
    Roles: inspector, supervisor. `If-Match`: the inspection's ETag. Answers
    201 with `Location: /cases/<id>`; the case id is the hazard id.
    """
    evidence = cmd.evidence(body.evidence)
    return cmd.run(
        response,
        lambda: cmd.rectify.report_hazard(
            user.actor(),
            inspection_id,
            category=body.category,
            description=body.description,
            severity=body.severity,
            item_code=body.item_code,
            location=body.location,
            evidence=evidence,
            expected_version=version,
        ),
        kind="case",
        location="/cases",
    )
