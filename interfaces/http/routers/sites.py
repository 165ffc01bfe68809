"""Sites (受检场所)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from interfaces.http.concurrency import set_version_headers
from interfaces.http.routers.common import (
    CREATE_ERRORS,
    READ_ERRORS,
    Cmd,
    Inspecting,
    ReadingAll,
)
from interfaces.http.schemas.commands import RegisterSite
from interfaces.http.schemas.views import CommandResult, SiteView

router = APIRouter(prefix="/sites", tags=["sites"])

# The list of sites is a read model: GET /sites in routers/queries.py.


@router.post("", status_code=201, response_model=CommandResult, responses=CREATE_ERRORS)
def register_site(
    body: RegisterSite,
    response: Response,
    user: Inspecting,
    cmd: Cmd,
) -> CommandResult:
    """Register a site to be inspected. Roles: inspector, supervisor."""
    return cmd.run(
        response,
        lambda: cmd.rectify.register_site(user.actor(), **body.model_dump()),
        kind="site",
        location="/sites",
    )


@router.get("/{site_id}", response_model=SiteView, responses=READ_ERRORS)
def get_site(site_id: UUID, response: Response, user: ReadingAll, cmd: Cmd) -> SiteView:
    """One site. Roles: inspector, supervisor, auditor."""
    site = cmd.rectify.get_site(site_id)
    set_version_headers(response, site.version)
    return SiteView.of(site)
