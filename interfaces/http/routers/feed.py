"""The event feed (``GET /feed``): the log in commit order from a position.

For auditors, supervisors and integration accounts (a service account's
long-lived key, made by ``rectify integration add``, sent as a bearer token).
A page answers ``next_after``, the position to ask from next; ``wait`` makes a
reader at the head of the log wait (long-poll) up to that many seconds for the
next event instead of asking again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from application.integration.feed import MAX_FEED_PAGE, MAX_FEED_WAIT_SECONDS
from application.ports import MAX_POSITION
from domain.values import Role
from infrastructure.integration.keys import looks_like_key
from infrastructure.integration.services import Integration
from infrastructure.users import User
from interfaces.http.problems import problem_responses
from interfaces.http.security import current_user, oauth2_scheme, role_refused, unauthenticated

FEED_ROLES = (Role.AUDITOR, Role.SUPERVISOR, Role.INTEGRATION)


def integration(request: Request) -> Integration:
    """The app's integration services."""
    return request.app.state.integration


def feed_reader(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> User:
    """An integration key's account, or a logged-in auditor or supervisor."""
    if looks_like_key(token):
        assert token is not None
        account = integration(request).keys.user_for_key(token)
        if account is None:
            raise unauthenticated("the integration key is not known or has been revoked")
        return account
    user = current_user(request, token)
    if user.role not in FEED_ROLES:
        raise role_refused(user, FEED_ROLES)
    return user


class FeedActor(BaseModel):
    id: str = Field(examples=["chenxiaofeng"])
    name: str = Field(examples=["陈小峰"])
    role: str = Field(examples=["inspector"])


class FeedAggregate(BaseModel):
    id: UUID
    type: str = Field(examples=["hazard"])


class FeedEvent(BaseModel):
    """One event of the log (the same record a webhook delivery carries in ``data``)."""

    position: int = Field(description="Its position in the log: commit order.")
    id: UUID = Field(description="The event's id, the same for every reader and retry.")
    type: str = Field(examples=["Hazard.Reported"])
    case_id: UUID | None = Field(
        description="The case (hazard id) it belongs to; for a site or inspection, its own id."
    )
    aggregate: FeedAggregate
    version: int = Field(description="The aggregate's version after this event.")
    time: datetime
    actor: FeedActor | None = Field(description="Who did it (none for the system's own events).")
    data: dict[str, Any] = Field(description="The event's own fields.")


class FeedPageOut(BaseModel):
    events: list[FeedEvent]
    after: int = Field(description="The position this page was asked from.")
    next_after: int = Field(description="Ask from here for the next page.")
    head: int = Field(description="The log's newest position when the page was read.")


router = APIRouter(tags=["integration"])


@router.get(
    "/feed",
    response_model=FeedPageOut,
    responses=problem_responses(401, 403, 422),
    summary="The event log in commit order, from a position (long-poll with wait)",
)
def read_feed(
    user: Annotated[User, Depends(feed_reader)],
    request: Request,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="Events after this position.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_FEED_PAGE)] = 100,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_FEED_WAIT_SECONDS,
            description="Seconds to wait for a new event when there is none after `after`.",
        ),
    ] = 0.0,
) -> JSONResponse:
    page = integration(request).feed.page(after=after, limit=limit, wait=wait)
    # The records are JSON-ready already; answering them as they are spares a
    # validation of every event (the document still shows FeedPageOut).
    return JSONResponse(
        {
            "events": page.events,
            "after": page.after,
            "next_after": page.next_after,
            "head": page.head,
        }
    )
