"""Documents (文书): the rectification notice and verification record as PDF, the
hazard ledger as a workbook or CSV, and the check of a document against the log.

- ``GET /orders/{id}/notice.pdf`` — 整改通知书; ``GET /verifications/{id}/record.pdf``
  — 复查意见. Same role rules as the records: a responsible party only for their
  own orders. Chinese unless ``?lang=en`` or ``Accept-Language`` prefers English.
- ``GET /cases.xlsx`` and ``GET /cases.csv`` — 隐患台账: the ``/cases`` search
  with the same filters, every matching case (no pages).
- ``POST /documents/check`` — upload a document's PDF: does it still say what
  the log held at the position printed on it?
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, File, Header, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from application.app import RectifyApp
from application.documents import ChainNotReady, Document, DocumentKind, DocumentService
from application.documents.service import parse_record
from application.projections.access import scope_for
from domain.values import Role
from infrastructure.documents import issuing_unit
from infrastructure.documents.ledger import write_csv, write_xlsx
from infrastructure.documents.pdf import read_record, render_pdf
from infrastructure.projections.host import ReadModelHost
from infrastructure.users import User
from interfaces.http.access import require_sees_order, require_sees_verification
from interfaces.http.commands import Commands
from interfaces.http.problems import ProblemError, problem_responses
from interfaces.http.routers.common import Anyone, Cmd
from interfaces.http.routers.queries import CaseSearch, CasesReady, Host, SearchOf
from interfaces.http.validation import ONLY_THE_FILE

router = APIRouter(tags=["documents"])

PDF_ERRORS = problem_responses(401, 403, 404, 422, 503)
LEDGER_ERRORS = problem_responses(400, 401, 403, 422)
CHECK_ERRORS = problem_responses(401, 403, 404, 413, 422)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

LangParam = Annotated[
    str | None,
    Query(pattern="^(zh|en)$", description="zh (default) or en; else Accept-Language decides."),
]


def documents(request: Request) -> DocumentService:
    """The document service of the app's services."""
    service: DocumentService = request.app.state.services.documents
    return service


Documents = Annotated[DocumentService, Depends(documents)]


def language(
    lang: LangParam = None,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> str:
    """``?lang=`` if given; else the first of zh and en that Accept-Language prefers; else zh."""
    if lang is not None:
        return lang
    best, best_q = "zh", 0.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in ("zh", "en") and quality > best_q:
            best, best_q = primary, quality
    return best


Language = Annotated[str, Depends(language)]


def pdf_response(document: Document, lang: str, filename: str, rectify: RectifyApp) -> Response:
    """``document`` rendered as an inline PDF, its position and chain head in the headers."""
    pdf = render_pdf(document, lang=lang, issuing_unit=issuing_unit(rectify))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "X-Log-Position": str(document.position),
            "X-Chain-Head": document.anchor,
            "Content-Language": lang,
        },
    )


def made(make: Any, subject: UUID) -> Document:
    """``make(subject)``; 503 while the hash chain has not reached the document's events."""
    try:
        document: Document = make(subject)
    except ChainNotReady as error:
        raise ProblemError(503, str(error), rule="audit_chain_behind") from None
    return document


PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "The document as an A4 PDF."}
}


@router.get(
    "/orders/{order_id}/notice.pdf",
    response_class=Response,
    responses={**PDF_RESPONSE, **PDF_ERRORS},
    tags=["orders"],
)
def order_notice(order_id: UUID, user: Anyone, cmd: Cmd, docs: Documents, lang: Language) -> Any:
    """整改通知书: the order's rectification notice as a PDF, made from its events.

    It prints the log position it was made from and the hash chain's head there
    (also in `X-Log-Position` and `X-Chain-Head`). Roles: inspector, supervisor,
    auditor; a responsible party only for an order addressed to them.
    """
    require_sees_order(user, cmd.rectify.get_order(order_id))
    document = made(docs.notice, order_id)
    return pdf_response(document, lang, f"notice-{document.content['number']}.pdf", cmd.rectify)


@router.get(
    "/verifications/{verification_id}/record.pdf",
    response_class=Response,
    responses={**PDF_RESPONSE, **PDF_ERRORS},
    tags=["verifications"],
)
def verification_record(
    verification_id: UUID, user: Anyone, cmd: Cmd, docs: Documents, lang: Language
) -> Any:
    """复查意见: the verification's record as a PDF, made from its events.

    Roles: inspector, supervisor, auditor; a responsible party only for a
    verification of an order addressed to them.
    """
    require_sees_verification(user, cmd.rectify, cmd.rectify.get_verification(verification_id))
    document = made(docs.verification_record, verification_id)
    return pdf_response(document, lang, f"verification-{verification_id}.pdf", cmd.rectify)


# -- 隐患台账 ----------------------------------------------------------------------------------


def ledger_response(
    user: User, host: ReadModelHost, search: CaseSearch, lang: str, suffix: str
) -> FileResponse:
    """The ledger of the cases ``search`` finds, as ``suffix`` (.xlsx or .csv), streamed."""
    rows = host.queries.iter_ledger(
        scope_for(user.user_id, user.role, mine=search.mine),
        search.filters,
        sort=search.sort,
        descending=search.descending,
    )
    # Written to a temporary file first (constant memory), then streamed from it
    # and removed: a workbook is a zip, complete only when it is closed.
    handle, path = tempfile.mkstemp(prefix="rectify-ledger-", suffix=suffix)
    try:
        if suffix == ".xlsx":
            os.close(handle)
            write_xlsx(rows, path, lang=lang, time_zone=host.app.time_zone)
            media_type = XLSX_TYPE
        else:
            # With a byte-order mark, Excel opens the Chinese text as UTF-8.
            with open(handle, "w", encoding="utf-8-sig", newline="") as stream:
                write_csv(rows, stream, lang=lang, time_zone=host.app.time_zone)
            media_type = "text/csv; charset=utf-8"
    except BaseException:
        os.unlink(path)
        raise
    today = datetime.now(host.app.time_zone).date().isoformat()
    return FileResponse(
        path,
        media_type=media_type,
        filename=f"hazard-ledger-{today}{suffix}",
        headers={"Content-Language": lang},
        background=BackgroundTask(os.unlink, path),
    )


LEDGER_DOC = """

The `/cases` search with the same filters, sort and role rules, every matching
case (no pages): one row per case with its latest order and latest verification;
header in Chinese unless `?lang=en` or `Accept-Language` prefers English."""


@router.get(
    "/cases.xlsx",
    response_class=FileResponse,
    responses={200: {"content": {XLSX_TYPE: {}}}, **LEDGER_ERRORS},
    tags=["read models"],
)
def ledger_xlsx(
    user: Anyone,
    host: Host,
    search: SearchOf,
    lang: Language,
    _after: int | None = CasesReady,
) -> Any:
    return ledger_response(user, host, search, lang, ".xlsx")


ledger_xlsx.__doc__ = (
    "隐患台账 as an Excel workbook (dates as dates, frozen header, autofilter)." + LEDGER_DOC
)


@router.get(
    "/cases.csv",
    response_class=FileResponse,
    responses={200: {"content": {"text/csv": {}}}, **LEDGER_ERRORS},
    tags=["read models"],
)
def ledger_csv(
    user: Anyone,
    host: Host,
    search: SearchOf,
    lang: Language,
    _after: int | None = CasesReady,
) -> Any:
    return ledger_response(user, host, search, lang, ".csv")


ledger_csv.__doc__ = "隐患台账 as CSV (UTF-8 with a byte-order mark)." + LEDGER_DOC


# -- checking a document ----------------------------------------------------------------------


class DifferenceOut(BaseModel):
    field: str = Field(examples=["deadline"])
    document: Any = Field(examples=["2022-05-02"])
    log: Any = Field(examples=["2022-05-20"])


class ChainProblemOut(BaseModel):
    kind: str = Field(examples=["altered"])
    position: int
    message: str


class DocumentCheckOut(BaseModel):
    """Whether a document says what the log held at the position printed on it."""

    status: str = Field(
        examples=["current"],
        description="`current`: it matches and nothing changed since; `outdated`: it "
        "matched the log at its position, later events changed it; `altered`: the "
        "document or the log was changed (see findings).",
    )
    ok: bool
    kind: str = Field(examples=["rectification_notice"])
    subject_id: UUID
    position: int
    chain_hash: str
    chain_ok: bool
    chain_problem: ChainProblemOut | None
    digest_ok: bool
    unreadable_position: int | None
    rebuild_error: str | None
    differences: list[DifferenceOut]
    changed_since: list[DifferenceOut]
    later_positions: list[int]
    findings: list[str]


@router.post(
    "/documents/check",
    response_model=DocumentCheckOut,
    responses=CHECK_ERRORS,
    openapi_extra=ONLY_THE_FILE,
)
def check_document(
    user: Anyone,
    cmd: Cmd,
    docs: Documents,
    file: Annotated[UploadFile, File(description="The document's PDF.")],
) -> Any:
    """Check a notice's or record's PDF against the log: the hash chain up to its
    position must reach the printed head, and its content must equal what the
    events up to that position make. Records nothing.

    Roles: everyone; a responsible party only for their own orders' documents.
    """
    record = read_record(file.file.read())
    kind, subject_id, *_ = parse_record(record)
    _require_sees_subject(user, cmd, kind, subject_id)
    report = docs.check(record)
    return DocumentCheckOut.model_validate(report.as_dict())


def _require_sees_subject(user: User, cmd: Commands, kind: DocumentKind, subject_id: UUID) -> None:
    # Only a party's check loads the record: the check of a log altered behind the
    # service's back must still answer, and loading the altered record may fail.
    if user.role != Role.RESPONSIBLE_PARTY:
        return
    if kind == DocumentKind.NOTICE:
        require_sees_order(user, cmd.rectify.get_order(subject_id))
    else:
        require_sees_verification(user, cmd.rectify, cmd.rectify.get_verification(subject_id))
