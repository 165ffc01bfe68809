"""A user's notifications (提醒): reminders of deadlines due soon or passed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from infrastructure.integration.notifications import MAX_NOTIFICATIONS_PAGE, Notification
from interfaces.http.problems import ProblemError, problem_responses
from interfaces.http.routers.common import Anyone
from interfaces.http.routers.feed import integration

router = APIRouter(prefix="/notifications", tags=["integration"])


class NotificationOut(BaseModel):
    notification_id: int
    kind: str = Field(examples=["due_soon"], description="`due_soon` or `overdue`.")
    order_id: str
    case_id: str
    number: str = Field(examples=["2022-0007"])
    deadline: str = Field(examples=["2022-04-25"])
    text_zh: str
    text_en: str
    created_at: float
    read_at: float | None

    @classmethod
    def of(cls, n: Notification) -> NotificationOut:
        return cls(
            notification_id=n.notification_id,
            kind=n.kind,
            order_id=n.order_id,
            case_id=n.case_id,
            number=n.number,
            deadline=n.deadline,
            text_zh=n.text_zh,
            text_en=n.text_en,
            created_at=n.created_at,
            read_at=n.read_at,
        )


class NotificationsOut(BaseModel):
    items: list[NotificationOut]
    unread: int = Field(description="How many of the caller's notifications are unread.")


@router.get("", response_model=NotificationsOut, responses=problem_responses(401, 403, 422))
def my_notifications(
    user: Anyone,
    request: Request,
    unread: bool = False,
    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_NOTIFICATIONS_PAGE)] = 50,
) -> Any:
    book = integration(request).notifications
    items = book.for_user(user.user_id, unread_only=unread, after=after, limit=limit)
    return NotificationsOut(
        items=[NotificationOut.of(n) for n in items], unread=book.unread_count(user.user_id)
    )


@router.post(
    "/{notification_id}/read",
    response_model=NotificationOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="Mark one of my notifications read",
)
def mark_read(
    user: Anyone,
    notification_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    request: Request,
) -> Any:
    try:
        return NotificationOut.of(
            integration(request).notifications.mark_read(user.user_id, notification_id)
        )
    except KeyError:
        raise ProblemError(
            404, f"you have no notification {notification_id}", rule="notification_not_found"
        ) from None
