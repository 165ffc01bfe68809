"""Sites: find or register one, its page with its history, and opening an inspection there."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from application.errors import NotFound
from domain.checklists import all_templates
from domain.values import Role
from interfaces.web import deps
from interfaces.web.core import check_csrf, render, require_viewer
from interfaces.web.forms import Outcome, submit
from interfaces.web.reads import caught_up

router = APIRouter()

STAFF = (Role.INSPECTOR, Role.SUPERVISOR, Role.AUDITOR)
INSPECTING = (Role.INSPECTOR, Role.SUPERVISOR)
PAGE_SIZE = 50


def _latest_templates() -> list[Any]:
    latest: dict[str, Any] = {}
    for template in all_templates():
        latest[template.code] = template
    return list(latest.values())


def _sites_page(request: Request, viewer: Any, outcome: Outcome | None, status: int) -> Response:
    caught_up(request, ("cases",))
    query = (request.query_params.get("q") or "").strip()
    page = deps.work_lists(request).sites(name=query or None, limit=PAGE_SIZE)
    return render(
        request,
        "sites.html",
        viewer,
        status,
        sites=page.items,
        total=page.total,
        total_exact=page.total_exact,
        q=query,
        outcome=outcome,
        may_register=viewer.role in INSPECTING,
    )


@router.get("/ui/sites")
async def sites(request: Request) -> Response:
    viewer = require_viewer(request, *STAFF)
    return await run_in_threadpool(_sites_page, request, viewer, None, 200)


@router.post("/ui/sites")
async def register_site(request: Request) -> Response:
    viewer = require_viewer(request, *INSPECTING)
    form = await check_csrf(request, viewer)
    app = deps.rectify(request)
    return await submit(
        request,
        viewer,
        form,
        action="register",
        run=lambda: app.register_site(
            viewer.user.actor(),
            name=str(form.get("name") or ""),
            region=str(form.get("region") or ""),
            address=str(form.get("address") or ""),
            operator=str(form.get("operator") or ""),
            contact=str(form.get("contact") or ""),
            kind=str(form.get("kind") or ""),
        ),
        next_url=lambda site_id, _: f"/ui/sites/{site_id}",
        creates="site",
        show_again=lambda outcome, status: _sites_page(request, viewer, outcome, status),
    )


def _site_page(
    request: Request, viewer: Any, site_id: UUID, outcome: Outcome | None, status: int
) -> Response:
    caught_up(request, ("site_history", "cases"))
    app = deps.rectify(request)
    site = app.get_site(site_id)
    queries = deps.read_models(request).queries
    history = queries.site_history(site_id, newest_first=True, limit=100)
    open_inspections = queries.site_inspections(site_id, status="open")
    return render(
        request,
        "site.html",
        viewer,
        status,
        site=site,
        summary=queries.site(site_id),
        history=history.items,
        history_total=history.total,
        open_inspections=open_inspections.items,
        templates=_latest_templates(),
        team_candidates=[
            u
            for u in deps.users(request).list()
            if u.active and u.role in INSPECTING and u.user_id != viewer.user.user_id
        ],
        outcome=outcome,
        may_inspect=viewer.role in INSPECTING,
    )


@router.get("/ui/sites/{site_id}")
async def site(request: Request, site_id: UUID) -> Response:
    viewer = require_viewer(request, *STAFF)
    return await run_in_threadpool(_site_page, request, viewer, site_id, None, 200)


@router.post("/ui/sites/{site_id}/inspections")
async def open_inspection(request: Request, site_id: UUID) -> Response:
    viewer = require_viewer(request, *INSPECTING)
    form = await check_csrf(request, viewer)
    app = deps.rectify(request)
    users = deps.users(request)
    team = [viewer.user.actor()]
    for user_id in form.getlist("team"):
        member = users.get(str(user_id))
        if member is None:
            raise NotFound("user", str(user_id))
        if member.user_id != viewer.user.user_id:
            team.append(member.actor())
    return await submit(
        request,
        viewer,
        form,
        action="open_inspection",
        run=lambda: app.open_inspection(
            viewer.user.actor(),
            site_id=site_id,
            template_code=str(form.get("template_code") or ""),
            inspectors=team,
        ),
        next_url=lambda inspection_id, _: f"/ui/inspections/{inspection_id}",
        creates="inspection",
        show_again=lambda outcome, status: _site_page(request, viewer, site_id, outcome, status),
    )
