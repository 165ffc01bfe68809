"""An inspection: its checklist (one row per item: pass / fail / n.a., note, photos),
the hazards it found, reporting a failed item as a hazard, completing it."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from application.actions import inspection_actions
from domain.checklists import get_template
from domain.values import Evidence, Role
from interfaces.web import deps
from interfaces.web.core import check_csrf, render, require_viewer
from interfaces.web.forms import Outcome, expected_version, photos, submit

router = APIRouter()

STAFF = (Role.INSPECTOR, Role.SUPERVISOR, Role.AUDITOR)
INSPECTING = (Role.INSPECTOR, Role.SUPERVISOR)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def cited_photos(request: Request, shas: list[str]) -> list[Evidence]:
    """Photos stored earlier (by an item's form) that a later form cites by hash."""
    store = deps.evidence(request)
    found = []
    for sha in dict.fromkeys(shas):
        if _SHA256.match(sha):
            stored = store.get(sha)
            if stored is not None:
                found.append(stored.evidence)
    return found


def _inspection_page(
    request: Request, viewer: Any, inspection_id: UUID, outcome: Outcome | None, status: int
) -> Response:
    app = deps.rectify(request)
    inspection = app.get_inspection(inspection_id)
    site = app.get_site(inspection.site_id)
    template = get_template(inspection.template_code, inspection.template_version)
    actions = inspection_actions(inspection, viewer.user.actor(), app.clock())
    report_item = request.query_params.get("report") or (
        outcome.value("item_code") if outcome and outcome.action == "report_hazard" else ""
    )
    hazards = [app.get_hazard(hazard_id) for hazard_id in inspection.hazard_ids]
    return render(
        request,
        "inspection.html",
        viewer,
        status,
        inspection=inspection,
        site=site,
        template=template,
        results=inspection.results,
        actions=actions,
        hazards=hazards,
        report_item=report_item if report_item in inspection.item_codes else "",
        report_photos=cited_photos(request, request.query_params.getlist("photo")),
        outcome=outcome,
    )


@router.get("/ui/inspections/{inspection_id}")
async def inspection(request: Request, inspection_id: UUID) -> Response:
    viewer = require_viewer(request, *STAFF)
    return await run_in_threadpool(_inspection_page, request, viewer, inspection_id, None, 200)


@router.post("/ui/inspections/{inspection_id}/items/{item_code}")
async def record_item(request: Request, inspection_id: UUID, item_code: str) -> Response:
    viewer = require_viewer(request, *INSPECTING)
    form = await check_csrf(request, viewer)
    app = deps.rectify(request)
    result = str(form.get("result") or "")
    taken = await photos(request, form)

    def next_url(_: Any, __: int | None) -> str:
        url = f"/ui/inspections/{inspection_id}"
        if result == "fail":
            # A failed item goes on to its hazard report, with the photos just taken.
            url += f"?report={item_code}" + "".join(f"&photo={p.sha256}" for p in taken)
            url += "#report-hazard"
        return url

    return await submit(
        request,
        viewer,
        form,
        action=f"item-{item_code}",
        run=lambda: app.record_item(
            viewer.user.actor(),
            inspection_id,
            item_code=item_code,
            result=result,
            note=str(form.get("note") or ""),
            expected_version=expected_version(form),
        ),
        next_url=next_url,
        show_again=lambda outcome, status: _inspection_page(
            request, viewer, inspection_id, outcome, status
        ),
        versioned=inspection_id,
    )


@router.post("/ui/inspections/{inspection_id}/hazards")
async def report_hazard(request: Request, inspection_id: UUID) -> Response:
    viewer = require_viewer(request, *INSPECTING)
    form = await check_csrf(request, viewer)
    app = deps.rectify(request)
    evidence = cited_photos(request, [str(s) for s in form.getlist("photo")])
    evidence += await photos(request, form)
    item_code = str(form.get("item_code") or "") or None
    return await submit(
        request,
        viewer,
        form,
        action="report_hazard",
        run=lambda: app.report_hazard(
            viewer.user.actor(),
            inspection_id,
            item_code=item_code,
            category=str(form.get("category") or ""),
            description=str(form.get("description") or ""),
            location=str(form.get("location") or ""),
            severity=str(form.get("severity") or "general"),
            evidence=evidence,
            expected_version=expected_version(form),
        ),
        next_url=lambda hazard_id, _: f"/ui/cases/{hazard_id}",
        creates="case",
        show_again=lambda outcome, status: _inspection_page(
            request, viewer, inspection_id, outcome, status
        ),
        versioned=inspection_id,
    )


@router.post("/ui/inspections/{inspection_id}/complete")
async def complete(request: Request, inspection_id: UUID) -> Response:
    viewer = require_viewer(request, *INSPECTING)
    form = await check_csrf(request, viewer)
    app = deps.rectify(request)
    return await submit(
        request,
        viewer,
        form,
        action="complete",
        run=lambda: app.complete_inspection(
            viewer.user.actor(), inspection_id, expected_version=expected_version(form)
        ),
        next_url=lambda _, __: f"/ui/inspections/{inspection_id}",
        show_again=lambda outcome, status: _inspection_page(
            request, viewer, inspection_id, outcome, status
        ),
        versioned=inspection_id,
    )
