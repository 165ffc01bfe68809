"""Sites (受检场所)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic
from fastapi import APIRouter, Response

from domain.site import Site
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

# The event class is made by the @event decorator, which type checkers cannot see.
SITE_REGISTERED_TOPIC = get_topic(Site.Registered)  # type: ignore[attr-defined]


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


@router.get("", response_model=list[SiteView], responses=READ_ERRORS)
def list_sites(user: ReadingAll, cmd: Cmd) -> list[SiteView]:
    """Every registered site, in the order registered. Roles: inspector, supervisor, auditor.

    A site is recorded by one event and never changes, so the list is read
    straight from the log, one page of registrations at a time.
    """
    rectify = cmd.rectify
    sites = []
    start = 1
    while True:
        page = rectify.recorder.select_notifications(
            start=start, limit=500, topics=[SITE_REGISTERED_TOPIC]
        )
        if not page:
            break
        for notification in page:
            event: Any = rectify.mapper.to_domain_event(notification)
            site = event.mutate(None)
            sites.append(SiteView.of(site))
        start = page[-1].id + 1
    return sites


@router.get("/{site_id}", response_model=SiteView, responses=READ_ERRORS)
def get_site(site_id: UUID, response: Response, user: ReadingAll, cmd: Cmd) -> SiteView:
    """One site. Roles: inspector, supervisor, auditor."""
    site = cmd.rectify.get_site(site_id)
    set_version_headers(response, site.version)
    return SiteView.of(site)
