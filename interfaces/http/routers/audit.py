"""Audit (审计): case timelines, state as of the past, the global log and its export,
and the hash chain's head and verification. Every endpoint only reads.

The hash chain is kept up to date by its follower (``audit_chain``, see
:mod:`infrastructure.followers`), run by the app's lifespan or by workers.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from application.audit import Anchor, AuditEntry, AuditService, LogFilter, VerifyReport
from application.audit.describe import event_classes, event_type_of
from application.ports import MAX_POSITION
from domain.values import Role
from infrastructure.users import User
from interfaces.http.problems import ProblemError, problem_responses
from interfaces.http.routers.common import READ_ERRORS, ReadingAll
from interfaces.http.security import require_roles
from interfaces.http.validation import NO_NUL

log = logging.getLogger("rectify.audit")

AUDIT_ERRORS = problem_responses(401, 403, 404, 422)

Auditing = Annotated[User, Depends(require_roles(Role.AUDITOR, Role.SUPERVISOR))]
"""Auditors and supervisors: the global log, its export and the chain."""


router = APIRouter(prefix="/audit", tags=["audit"])


def audit_service(request: Request) -> AuditService:
    """The audit service the composition root built for the app."""
    return request.app.state.audit


Audit = Annotated[AuditService, Depends(audit_service)]


# -- schemas -------------------------------------------------------------------------------


class ActorOut(BaseModel):
    id: str | None = Field(examples=["chenxiaofeng"])
    name: str | None = Field(examples=["陈小峰"])
    role: str | None = Field(examples=["inspector"])


class Sentence(BaseModel):
    zh: str = Field(examples=["检查员陈小峰下达整改通知 2022-0001……"])
    en: str = Field(examples=["陈小峰 (inspector) issued rectification order 2022-0001 …"])


class ChangeOut(BaseModel):
    field: str = Field(examples=["status"])
    old: Any = Field(examples=["issued"])
    new: Any = Field(examples=["acknowledged"])


class EntryOut(BaseModel):
    """One event as an auditor reads it."""

    position: int = Field(description="Its position in the log (the notification id).")
    aggregate_id: UUID
    aggregate_type: str = Field(examples=["rectification_order"])
    version: int
    event_type: str = Field(examples=["RectificationOrder.Acknowledged"])
    topic: str
    time: datetime
    actor: ActorOut
    sentence: Sentence
    reason: str | None = Field(description="Why, where the action asks for a reason.")
    changes: list[ChangeOut] = Field(description="What the event changed: old → new.")

    @classmethod
    def of(cls, entry: AuditEntry) -> EntryOut:
        return cls.model_validate(entry.as_dict())


class AggregateStateOut(BaseModel):
    id: UUID
    type: str = Field(examples=["hazard"])
    version: int
    created_on: datetime
    modified_on: datetime
    state: dict[str, Any]


class CaseStateOut(BaseModel):
    """A case as of some moment: its hazard, orders and verifications."""

    case_id: UUID
    position: int | None = Field(
        default=None, description="The last log position the state includes."
    )
    hazard: AggregateStateOut | None
    orders: list[AggregateStateOut]
    verifications: list[AggregateStateOut]


class TimelineStep(EntryOut):
    case_state: CaseStateOut | None = Field(
        default=None, description="The case just after this event (with include_state=true)."
    )


class TimelineOut(BaseModel):
    case_id: UUID
    entries: list[TimelineStep]


class LogPageOut(BaseModel):
    entries: list[EntryOut]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null at the end of the log."
    )
    scanned_through: int


class ChainHead(BaseModel):
    position: int
    hash: str
    anchor: str = Field(description="`HASH@POSITION`: keep it elsewhere, check with `anchor=`.")


class ChainProblemOut(BaseModel):
    kind: str = Field(examples=["altered"])
    position: int
    message: str


class VerifyOut(BaseModel):
    ok: bool
    checked: int = Field(description="Chained events recomputed and matched.")
    head: ChainHead | None
    unchained: int = Field(description="Events after the head not chained yet (not an error).")
    anchor: str | None
    problem: ChainProblemOut | None


def _head(link: Any) -> ChainHead | None:
    if link is None:
        return None
    return ChainHead(position=link.position, hash=link.hash, anchor=link.anchor)


def _verify_out(report: VerifyReport) -> VerifyOut:
    problem = report.problem
    return VerifyOut(
        ok=report.ok,
        checked=report.checked,
        head=_head(report.head),
        unchained=report.unchained,
        anchor=str(report.anchor) if report.anchor else None,
        problem=(
            ChainProblemOut(
                kind=problem.kind.value, position=problem.position, message=problem.message
            )
            if problem
            else None
        ),
    )


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


# -- cases and aggregates ------------------------------------------------------------------


@router.get("/cases/{case_id}/timeline", response_model=TimelineOut, responses=READ_ERRORS)
def case_timeline(
    case_id: UUID,
    user: ReadingAll,
    audit: Audit,
    include_state: Annotated[
        bool, Query(description="Add the case's state after each event (a replay).")
    ] = False,
) -> TimelineOut:
    """Every event of a case in log order — the hazard, its orders, its verifications and
    the inspection's events that concern it — with who (id, name, role), when, a
    sentence in Chinese and English, why, and what changed.

    Roles: auditor, supervisor, inspector.
    """
    timeline = audit.timeline(case_id)
    steps = []
    for step in timeline.steps:
        data: dict[str, Any] = step.entry.as_dict()
        if include_state:
            data["case_state"] = step.case_state
        steps.append(TimelineStep.model_validate(data))
    return TimelineOut(case_id=case_id, entries=steps)


@router.get("/cases/{case_id}/state", response_model=CaseStateOut, responses=AUDIT_ERRORS)
def case_state(
    case_id: UUID,
    user: ReadingAll,
    audit: Audit,
    as_of: Annotated[
        datetime | None,
        Query(description="ISO 8601 time; without a zone it is read as Asia/Shanghai."),
    ] = None,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_POSITION, description="A version of the hazard.")
    ] = None,
    position: Annotated[
        int | None, Query(ge=1, le=MAX_POSITION, description="A log position.")
    ] = None,
) -> CaseStateOut:
    """The case (hazard, orders, verifications) as of a time, a version of its hazard or a
    log position — at most one of them; the current state with none.

    Roles: auditor, supervisor, inspector.
    """
    return CaseStateOut.model_validate(
        audit.case_state(case_id, at=as_of, version=version, position=position)
    )


@router.get("/aggregates/{aggregate_id}", response_model=AggregateStateOut, responses=AUDIT_ERRORS)
def aggregate_state(
    aggregate_id: UUID,
    user: ReadingAll,
    audit: Audit,
    as_of: Annotated[
        datetime | None,
        Query(description="ISO 8601 time; without a zone it is read as Asia/Shanghai."),
    ] = None,
    version: Annotated[int | None, Query(ge=1, le=MAX_POSITION)] = None,
) -> AggregateStateOut:
    """Any aggregate (site, inspection, hazard, order, verification) as of a time or a
    version (from the nearest snapshot where there is one); the current state with neither.

    Roles: auditor, supervisor, inspector.
    """
    return AggregateStateOut.model_validate(
        audit.aggregate_state(aggregate_id, at=as_of, version=version)
    )


# -- the global log ------------------------------------------------------------------------

_EVENT_TYPES = sorted(event_type_of(cls) for cls in event_classes())


def log_filter(
    actor: Annotated[
        str | None, Query(pattern=NO_NUL, description="Only this user id's events.")
    ] = None,
    # The known names are an enum in the document; the application still
    # refuses any other (rule unknown_event_type), and also takes stored topics.
    event_type: Annotated[
        list[Annotated[str, Field(json_schema_extra={"enum": _EVENT_TYPES})]] | None,
        Query(alias="type", description="Only these event types, e.g. `Hazard.Closed`."),
    ] = None,
    aggregate: Annotated[UUID | None, Query(description="Only this aggregate's events.")] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[datetime | None, Query(description="Up to this time (inclusive).")] = None,
) -> LogFilter:
    return LogFilter(
        actor=actor,
        event_types=tuple(event_type or ()),
        aggregate_id=aggregate,
        since=since,
        until=until,
    )


Filter = Annotated[LogFilter, Depends(log_filter)]


@router.get("/log", response_model=LogPageOut, responses=AUDIT_ERRORS)
def global_log(
    user: Auditing,
    audit: Audit,
    filters: Filter,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="Start after this log position.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> LogPageOut:
    """The global log in commit order, a page at a time, filtered by actor, event type,
    aggregate and time range.

    Roles: auditor, supervisor.
    """
    page = audit.log_page(filters, after=after, limit=limit)
    return LogPageOut(
        entries=[EntryOut.of(entry) for entry in page.entries],
        next_after=page.next_after,
        scanned_through=page.scanned_through,
    )


@router.get(
    "/log/export",
    responses={
        **AUDIT_ERRORS,
        200: {
            "description": "The log, streamed.",
            "content": {"application/x-ndjson": {}, "text/csv": {}},
        },
    },
)
def export_log(
    user: Auditing,
    audit: Audit,
    filters: Filter,
    export_format: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.JSONL,
) -> StreamingResponse:
    """The log (or the filtered part of it) as JSON Lines or CSV, streamed as it is read:
    each event's position, aggregate, version, type, time, actor, reason, sentences,
    stored state and chain hash.

    Roles: auditor, supervisor.
    """
    if export_format == ExportFormat.CSV:
        return StreamingResponse(
            audit.export_csv(filters),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="rectify-log.csv"'},
        )
    return StreamingResponse(
        audit.export_jsonl(filters),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="rectify-log.jsonl"'},
    )


# -- the hash chain ------------------------------------------------------------------------


@router.get("/chain/head", response_model=ChainHead, responses=AUDIT_ERRORS)
def chain_head(user: Auditing, audit: Audit) -> ChainHead:
    """The chain's last link, `HASH@POSITION`: an anchor to keep outside the service.

    Roles: auditor, supervisor.
    """
    head = _head(audit.head())
    if head is None:
        raise ProblemError(404, "the hash chain is empty: nothing chained yet", rule="chain_empty")
    return head


@router.get("/chain/verify", response_model=VerifyOut, responses=AUDIT_ERRORS)
def chain_verify(
    user: Auditing,
    audit: Audit,
    anchor: Annotated[
        str | None,
        Query(pattern=NO_NUL, description="`HASH@POSITION` printed earlier; must still match."),
    ] = None,
) -> VerifyOut:
    """Recompute the hash chain from the stored events: `ok`, or the first position that
    was altered, deleted or inserted out of band. Reads the whole log.

    Roles: auditor, supervisor.
    """
    parsed = None
    if anchor is not None:
        try:
            parsed = Anchor.parse(anchor)
        except ValueError as error:
            raise ProblemError(422, str(error), rule="anchor_invalid") from None
    return _verify_out(audit.verify(parsed))
