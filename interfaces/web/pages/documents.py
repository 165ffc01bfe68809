"""Printable documents from the console: an order's 整改通知书, a verification's
复查意见 and the 隐患台账 of a search — the same documents, made by the same code,
as the API's ``/orders/{id}/notice.pdf``, ``/verifications/{id}/record.pdf`` and
``/cases.xlsx``, for a person signed in to the console (who has no bearer token)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from domain.values import Role
from interfaces.http.access import sees_order, sees_verification
from interfaces.http.routers.documents import ledger_response, made, pdf_response
from interfaces.http.routers.queries import CaseSearch, case_search
from interfaces.web import deps
from interfaces.web.core import Refused, require_viewer
from interfaces.web.i18n import language_for

router = APIRouter()

EVERYONE = (Role.INSPECTOR, Role.SUPERVISOR, Role.AUDITOR, Role.RESPONSIBLE_PARTY)


def _document_language(request: Request) -> str:
    """The console's language as the documents name it: ``en``, else ``zh``."""
    return "en" if language_for(request) == "en" else "zh"


def _notice(request: Request, order_id: UUID) -> Response:
    viewer = require_viewer(request, *EVERYONE)
    app = deps.rectify(request)
    if not sees_order(viewer.user, app.get_order(order_id)):
        raise Refused()
    document = made(deps.documents(request).notice, order_id)
    filename = f"notice-{document.content['number']}.pdf"
    return pdf_response(document, _document_language(request), filename, app)


def _record(request: Request, verification_id: UUID) -> Response:
    viewer = require_viewer(request, *EVERYONE)
    app = deps.rectify(request)
    if not sees_verification(viewer.user, app, app.get_verification(verification_id)):
        raise Refused()
    document = made(deps.documents(request).verification_record, verification_id)
    filename = f"verification-{verification_id}.pdf"
    return pdf_response(document, _document_language(request), filename, app)


@router.get("/ui/orders/{order_id}/notice.pdf")
async def notice(request: Request, order_id: UUID) -> Response:
    """整改通知书 of an order, as the person's language prints it."""
    return await run_in_threadpool(_notice, request, order_id)


@router.get("/ui/verifications/{verification_id}/record.pdf")
async def record(request: Request, verification_id: UUID) -> Response:
    """复查意见 of a verification."""
    return await run_in_threadpool(_record, request, verification_id)


@router.get("/ui/ledger.{suffix}")
async def ledger(
    request: Request, suffix: str, search: Annotated[CaseSearch, Depends(case_search)]
) -> Response:
    """隐患台账 of the search's filters, as .xlsx or .csv."""
    viewer = require_viewer(request, *EVERYONE)
    if suffix not in ("xlsx", "csv"):
        raise Refused()
    return await run_in_threadpool(
        ledger_response,
        viewer.user,
        deps.read_models(request),
        search,
        _document_language(request),
        f".{suffix}",
    )
