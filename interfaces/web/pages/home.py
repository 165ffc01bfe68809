"""Home: the signed-in person's work list — the work queues of their role."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from application.projections.access import scope_for
from domain.values import Role
from interfaces.web import deps
from interfaces.web.core import Refused, check_csrf, current_viewer, render, require_viewer
from interfaces.web.messages import N_
from interfaces.web.reads import caught_up

router = APIRouter()

QUEUE_TITLES = {
    "open-inspections": N_("My open inspections"),
    "orders-due-soon": N_("Orders due within 3 days"),
    "orders-overdue": N_("Overdue orders"),
    "awaiting-verification": N_("Completion reports awaiting verification"),
    "awaiting-closure": N_("Verified cases awaiting closure"),
    "pending-extensions": N_("Pending extension requests"),
}

# What waits for each role, most pressing first (PRODUCT.md, "The console").
WORK_LISTS: dict[Role, tuple[str, ...]] = {
    Role.INSPECTOR: (
        "open-inspections",
        "orders-overdue",
        "orders-due-soon",
        "awaiting-verification",
    ),
    Role.SUPERVISOR: (
        "awaiting-closure",
        "pending-extensions",
        "orders-overdue",
        "awaiting-verification",
        "open-inspections",
    ),
    Role.RESPONSIBLE_PARTY: ("orders-overdue", "orders-due-soon", "pending-extensions"),
    Role.AUDITOR: (),
}
ROWS_SHOWN = 20


def _dates(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        for key in ("deadline", "extension_deadline"):
            if isinstance(row.get(key), str):
                row[key] = date.fromisoformat(row[key][:10])
    return rows


def work_list(request: Request, user_id: str, role: Role) -> dict[str, Any]:
    """The queues of ``role`` as ``user_id`` may see them, newest first, with counts."""
    lists = deps.work_lists(request)
    today = deps.rectify(request).today()
    queues = []
    for name in WORK_LISTS[role]:
        scope = scope_for(user_id, role, mine=name == "open-inspections")
        page = lists.queue(name, scope, today=today, limit=ROWS_SHOWN)
        queues.append(
            {
                "name": name,
                "title": QUEUE_TITLES[name],
                "total": page.total,
                "total_exact": page.total_exact,
                "rows": _dates(page.items),
            }
        )
    cases = None
    if role in (Role.RESPONSIBLE_PARTY, Role.AUDITOR):
        page = lists.cases(scope_for(user_id, role), limit=ROWS_SHOWN)
        cases = {"total": page.total, "total_exact": page.total_exact, "rows": _dates(page.items)}
    book = deps.notifications(request)
    reminders = book.for_user(user_id, unread_only=True, limit=ROWS_SHOWN)
    return {
        "queues": queues,
        "cases": cases,
        "reminders": reminders,
        "unread": book.unread_count(user_id),
    }


@router.get("/")
async def home(request: Request) -> Response:
    viewer = current_viewer(request)
    if viewer is None:
        return RedirectResponse("/ui/signin", status_code=303)
    await run_in_threadpool(caught_up, request)
    data = await run_in_threadpool(work_list, request, viewer.user.user_id, viewer.role)
    return render(request, "home.html", viewer, **data)


@router.post("/ui/notifications/{notification_id}/read")
async def mark_read(request: Request, notification_id: int) -> Response:
    """Mark one of the person's reminders read; it leaves their work list."""
    viewer = require_viewer(request)
    await check_csrf(request, viewer)
    try:
        await run_in_threadpool(
            deps.notifications(request).mark_read, viewer.user.user_id, notification_id
        )
    except KeyError:
        # Not theirs, or no such reminder: nothing changes and nothing is said about it.
        raise Refused() from None
    return RedirectResponse("/", status_code=303)
