"""An order (整改通知): its terms and state, and the party's and supervisors' actions —
acknowledge, report progress, ask for more time, report completion; grant (signed)
or deny an extension."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from application.actions import ORDER_ACTIONS, order_actions
from domain.values import Role, SignatureMeaning
from interfaces.http.access import sees_order
from interfaces.web import deps
from interfaces.web.core import Refused, Viewer, render, require_viewer
from interfaces.web.forms import (
    Outcome,
    expected_version,
    record_command,
    text,
    with_sent,
)
from interfaces.web.pages.cases import required_date

router = APIRouter()

EVERYONE = (Role.INSPECTOR, Role.SUPERVISOR, Role.AUDITOR, Role.RESPONSIBLE_PARTY)
PARTY_ACTORS = (Role.INSPECTOR, Role.SUPERVISOR, Role.RESPONSIBLE_PARTY)


def _order_page(
    request: Request, viewer: Viewer, order_id: UUID, outcome: Outcome | None, status: int
) -> Response:
    app = deps.rectify(request)
    order = app.get_order(order_id)
    if not sees_order(viewer.user, order):
        raise Refused()
    hazard = app.get_hazard(order.hazard_id)
    actions = order_actions(order, viewer.user.actor(), app.clock())
    timeline = [
        e
        for e in deps.audit(request).timeline(order.hazard_id).entries
        if e.aggregate_id == order.id
    ]
    return render(
        request,
        "order.html",
        viewer,
        status,
        order=order,
        hazard=hazard,
        site=app.get_site(hazard.site_id),
        actions=with_sent(actions.ordered(ORDER_ACTIONS), outcome),
        on_behalf=viewer.role != Role.RESPONSIBLE_PARTY,
        grant_meaning=SignatureMeaning.EXTENSION_GRANTED,
        timeline=timeline,
        outcome=outcome,
    )


@router.get("/ui/orders/{order_id}")
async def order(request: Request, order_id: UUID) -> Response:
    viewer = require_viewer(request, *EVERYONE)
    return await run_in_threadpool(_order_page, request, viewer, order_id, None, 200)


async def _order_command(
    request: Request,
    order_id: UUID,
    action: str,
    roles: tuple[Role, ...],
    run: Callable[[Viewer, FormData, Any], Any],
) -> Response:
    """Run one of the order's forms (see :func:`interfaces.web.forms.record_command`)."""
    return await record_command(
        request,
        order_id,
        action=action,
        roles=roles,
        run=run,
        page=_order_page,
        page_url=f"/ui/orders/{order_id}",
    )


@router.post("/ui/orders/{order_id}/acknowledge")
async def acknowledge(request: Request, order_id: UUID) -> Response:
    app = deps.rectify(request)
    return await _order_command(
        request,
        order_id,
        "acknowledge",
        PARTY_ACTORS,
        lambda viewer, form, _: app.acknowledge_order(
            viewer.user.actor(), order_id, expected_version=expected_version(form)
        ),
    )


@router.post("/ui/orders/{order_id}/progress")
async def report_progress(request: Request, order_id: UUID) -> Response:
    app = deps.rectify(request)
    return await _order_command(
        request,
        order_id,
        "report_progress",
        PARTY_ACTORS,
        lambda viewer, form, taken: app.report_progress(
            viewer.user.actor(),
            order_id,
            note=text(form, "note"),
            evidence=taken,
            expected_version=expected_version(form),
        ),
    )


@router.post("/ui/orders/{order_id}/extension")
async def request_extension(request: Request, order_id: UUID) -> Response:
    app = deps.rectify(request)
    return await _order_command(
        request,
        order_id,
        "request_extension",
        PARTY_ACTORS,
        lambda viewer, form, _: app.request_extension(
            viewer.user.actor(),
            order_id,
            new_deadline=required_date(form.get("new_deadline")),
            reason=text(form, "reason"),
            expected_version=expected_version(form),
        ),
    )


@router.post("/ui/orders/{order_id}/completion")
async def report_completion(request: Request, order_id: UUID) -> Response:
    app = deps.rectify(request)
    return await _order_command(
        request,
        order_id,
        "report_completion",
        PARTY_ACTORS,
        lambda viewer, form, taken: app.report_completion(
            viewer.user.actor(),
            order_id,
            note=text(form, "note"),
            evidence=taken,
            expected_version=expected_version(form),
        ),
    )


@router.post("/ui/orders/{order_id}/extension/grant")
async def grant_extension(request: Request, order_id: UUID) -> Response:
    app = deps.rectify(request)
    return await _order_command(
        request,
        order_id,
        "grant_extension",
        (Role.SUPERVISOR,),
        lambda viewer, form, _: app.grant_extension(
            viewer.user.actor(),
            order_id,
            reason=text(form, "reason"),
            password=text(form, "password"),
            expected_version=expected_version(form),
        ),
    )


@router.post("/ui/orders/{order_id}/extension/deny")
async def deny_extension(request: Request, order_id: UUID) -> Response:
    app = deps.rectify(request)
    return await _order_command(
        request,
        order_id,
        "deny_extension",
        (Role.SUPERVISOR,),
        lambda viewer, form, _: app.deny_extension(
            viewer.user.actor(),
            order_id,
            reason=text(form, "reason"),
            expected_version=expected_version(form),
        ),
    )
