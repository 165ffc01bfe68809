"""A case (隐患): its state, orders, verifications and timeline, and the actions the
viewer may take on it now — issue an order, fix on the spot, verify, re-grade,
dismiss, close (signed) and reopen."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from application.actions import CASE_ACTIONS, case_actions
from domain.values import FivePointPlan, ResponsibleParty, Role, Severity, SignatureMeaning
from infrastructure.users import User
from interfaces.http.access import sees_order
from interfaces.web import deps
from interfaces.web.core import Refused, Viewer, render, require_viewer
from interfaces.web.forms import (
    FormRefused,
    Outcome,
    expected_version,
    record_command,
    text,
    with_sent,
)

router = APIRouter()

EVERYONE = (Role.INSPECTOR, Role.SUPERVISOR, Role.AUDITOR, Role.RESPONSIBLE_PARTY)
INSPECTING = (Role.INSPECTOR, Role.SUPERVISOR)


def parse_date(raw: object) -> date | None:
    """A date field (YYYY-MM-DD, as ``<input type=date>`` sends it), or None if empty."""
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FormRefused("date_invalid") from None


def required_date(raw: object) -> date:
    """A date field that must be filled in."""
    found = parse_date(raw)
    if found is None:
        raise FormRefused("date_invalid")
    return found


def visible_case(request: Request, user: User, case_id: UUID) -> dict[str, Any]:
    """The case's hazard, orders and verifications as ``user`` may see them (403 if not)."""
    app = deps.rectify(request)
    hazard = app.get_hazard(case_id)
    orders = [app.get_order(order_id) for order_id in hazard.order_ids]
    seen = [o for o in orders if sees_order(user, o)]
    if not seen and user.role == Role.RESPONSIBLE_PARTY:
        raise Refused()
    seen_ids = {o.id for o in seen}
    verifications = [
        v
        for v in (app.get_verification(v_id) for v_id in hazard.verification_ids)
        if user.role != Role.RESPONSIBLE_PARTY or v.order_id in seen_ids
    ]
    open_order = next((o for o in orders if o.id == hazard.open_order_id), None)
    return {"hazard": hazard, "orders": seen, "verifications": verifications, "open": open_order}


def _case_page(
    request: Request, viewer: Viewer, case_id: UUID, outcome: Outcome | None, status: int
) -> Response:
    app = deps.rectify(request)
    case = visible_case(request, viewer.user, case_id)
    hazard = case["hazard"]
    actions = case_actions(hazard, case["open"], viewer.user.actor(), app.clock())
    visible_ids = {hazard.id, *(o.id for o in case["orders"])}
    visible_ids |= {v.id for v in case["verifications"]}
    timeline = [
        e for e in deps.audit(request).timeline(case_id).entries if e.aggregate_id in visible_ids
    ]
    today = app.today()
    return render(
        request,
        "case.html",
        viewer,
        status,
        hazard=hazard,
        site=app.get_site(hazard.site_id),
        orders=case["orders"],
        verifications=case["verifications"],
        timeline=timeline,
        actions=with_sent(actions.ordered(CASE_ACTIONS), outcome),
        default_deadline=app.deadline_policy.default_deadline(Severity(hazard.severity), today),
        parties=[
            u for u in deps.users(request).list() if u.active and u.role == Role.RESPONSIBLE_PARTY
        ],
        close_meaning=SignatureMeaning.CLOSED_AS_RECTIFIED,
        outcome=outcome,
    )


@router.get("/ui/cases/{case_id}")
async def case(request: Request, case_id: UUID) -> Response:
    viewer = require_viewer(request, *EVERYONE)
    return await run_in_threadpool(_case_page, request, viewer, case_id, None, 200)


async def _case_command(
    request: Request,
    case_id: UUID,
    action: str,
    roles: tuple[Role, ...],
    run: Callable[[Viewer, FormData, Any], Any],
    next_url: Callable[[Any], str] | None = None,
    creates: str | None = None,
) -> Response:
    """Run one of the case's forms (see :func:`interfaces.web.forms.record_command`)."""
    return await record_command(
        request,
        case_id,
        action=action,
        roles=roles,
        run=run,
        page=_case_page,
        page_url=f"/ui/cases/{case_id}",
        next_url=next_url,
        creates=creates,
    )


@router.post("/ui/cases/{case_id}/orders")
async def issue_order(request: Request, case_id: UUID) -> Response:
    app = deps.rectify(request)

    def run(viewer: Viewer, form: FormData, _: Any) -> UUID:
        plan = None
        if any(text(form, f"plan_{k}") for k in ("responsible_person", "measures", "funds")):
            plan = FivePointPlan(
                responsible_person=text(form, "plan_responsible_person"),
                measures=text(form, "plan_measures"),
                funds=text(form, "plan_funds"),
                deadline=required_date(form.get("plan_deadline")),
                contingency_plan=text(form, "plan_contingency"),
            )
        return app.issue_order(
            viewer.user.actor(),
            case_id,
            party=ResponsibleParty(
                name=text(form, "party_name"),
                contact=text(form, "party_contact"),
                user_id=text(form, "party_user_id") or None,
            ),
            measures=text(form, "measures"),
            deadline=parse_date(form.get("deadline")),
            five_point_plan=plan,
            expected_version=expected_version(form),
        )

    return await _case_command(
        request,
        case_id,
        "issue_order",
        INSPECTING,
        run,
        lambda order_id: f"/ui/orders/{order_id}",
        creates="order",
    )


@router.post("/ui/cases/{case_id}/fix-on-the-spot")
async def fix_on_the_spot(request: Request, case_id: UUID) -> Response:
    app = deps.rectify(request)
    return await _case_command(
        request,
        case_id,
        "fix_on_the_spot",
        INSPECTING,
        lambda viewer, form, taken: app.fix_on_the_spot(
            viewer.user.actor(),
            case_id,
            note=text(form, "note"),
            evidence=taken,
            expected_version=expected_version(form),
        ),
    )


@router.post("/ui/cases/{case_id}/verifications")
async def verify(request: Request, case_id: UUID) -> Response:
    app = deps.rectify(request)
    return await _case_command(
        request,
        case_id,
        "verify",
        INSPECTING,
        lambda viewer, form, taken: app.verify(
            viewer.user.actor(),
            case_id,
            passed=text(form, "passed") == "yes",
            findings=text(form, "findings"),
            evidence=taken,
            new_deadline=parse_date(form.get("new_deadline")),
            expected_version=expected_version(form),
        ),
    )


@router.post("/ui/cases/{case_id}/regrade")
async def regrade(request: Request, case_id: UUID) -> Response:
    app = deps.rectify(request)
    return await _case_command(
        request,
        case_id,
        "regrade",
        INSPECTING,
        lambda viewer, form, _: app.regrade_hazard(
            viewer.user.actor(),
            case_id,
            severity=text(form, "severity"),
            reason=text(form, "reason"),
            expected_version=expected_version(form),
        ),
    )


@router.post("/ui/cases/{case_id}/dismiss")
async def dismiss(request: Request, case_id: UUID) -> Response:
    app = deps.rectify(request)
    return await _case_command(
        request,
        case_id,
        "dismiss",
        (Role.SUPERVISOR,),
        lambda viewer, form, _: app.dismiss_hazard(
            viewer.user.actor(),
            case_id,
            reason=text(form, "reason"),
            expected_version=expected_version(form),
        ),
    )


@router.post("/ui/cases/{case_id}/close")
async def close(request: Request, case_id: UUID) -> Response:
    app = deps.rectify(request)
    return await _case_command(
        request,
        case_id,
        "close",
        (Role.SUPERVISOR,),
        lambda viewer, form, _: app.close_case(
            viewer.user.actor(),
            case_id,
            reason=text(form, "reason"),
            password=text(form, "password"),
            expected_version=expected_version(form),
        ),
    )


@router.post("/ui/cases/{case_id}/reopen")
async def reopen(request: Request, case_id: UUID) -> Response:
    app = deps.rectify(request)
    return await _case_command(
        request,
        case_id,
        "reopen",
        (Role.SUPERVISOR,),
        lambda viewer, form, _: app.reopen_case(
            viewer.user.actor(),
            case_id,
            reason=text(form, "reason"),
            expected_version=expected_version(form),
        ),
    )
