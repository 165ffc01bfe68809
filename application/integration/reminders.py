"""Reminders (到期提醒): an order due within 3 days, and an overdue order, notify
its responsible party and its issuer; an overdue order of a major hazard (重大隐患)
notifies the supervisors as well.

Each reminder is sent once per order per deadline and kind: its key is
``order/deadline/kind``, and the book that keeps reminders records a key only
once, however many hosts run the check. A granted extension moves the deadline,
so the order is reminded again, once, for the new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol
from uuid import UUID

from application.integration.webhooks import REMINDER_DUE_SOON, REMINDER_OVERDUE

DUE_SOON_DAYS = 3
DUE_SOON, OVERDUE = "due_soon", "overdue"
EVENT_TYPE_OF_KIND = {DUE_SOON: REMINDER_DUE_SOON, OVERDUE: REMINDER_OVERDUE}


@dataclass(frozen=True)
class OpenOrder:
    """An open order as the reminder check sees it (from the read model)."""

    order_id: UUID
    case_id: UUID
    number: str
    deadline: date
    severity: str
    overdue: bool
    issued_by: str | None
    party_user_id: str | None
    party_name: str | None = None
    site_name: str | None = None


@dataclass(frozen=True)
class Reminder:
    """One reminder of one order's deadline, and who is told."""

    kind: str
    order: OpenOrder
    recipients: tuple[str, ...]

    @property
    def key(self) -> str:
        """Once per order per deadline per kind."""
        return f"{self.order.order_id}/{self.order.deadline.isoformat()}/{self.kind}"

    @property
    def event_type(self) -> str:
        return EVENT_TYPE_OF_KIND[self.kind]

    def text(self, today: date) -> tuple[str, str]:
        """What the notification says, in Chinese and English."""
        o = self.order
        where = f"（{o.site_name}）" if o.site_name else ""
        if self.kind == DUE_SOON:
            days = (o.deadline - today).days
            return (
                f"整改通知 {o.number}{where}将于 {o.deadline.isoformat()} 到期（还剩 {days} 天）",
                f"Order {o.number} is due on {o.deadline.isoformat()} ({days} days left)",
            )
        late = max(0, (today - o.deadline).days)
        major = "重大隐患" if o.severity == "major" else ""
        deadline = o.deadline.isoformat()
        return (
            f"{major}整改通知 {o.number}{where}已逾期（期限 {deadline}，逾期 {late} 天）",
            f"Order {o.number}{' (major hazard)' if major else ''} is overdue "
            f"(deadline {o.deadline.isoformat()}, {late} days late)",
        )

    def data(self, today: date) -> dict[str, Any]:
        """The reminder as a webhook event's data (JSON-ready)."""
        zh, en = self.text(today)
        o = self.order
        return {
            "kind": self.kind,
            "order_id": str(o.order_id),
            "case_id": str(o.case_id),
            "number": o.number,
            "deadline": o.deadline.isoformat(),
            "severity": o.severity,
            "recipients": list(self.recipients),
            "message": {"zh": zh, "en": en},
        }


def reminders_for(
    orders: Iterable[OpenOrder], *, today: date, supervisors: Sequence[str]
) -> list[Reminder]:
    """The reminders that ``orders`` call for on ``today`` (sent or not yet)."""
    reminders = []
    for order in orders:
        people = [order.party_user_id, order.issued_by]
        if order.overdue:
            kind = OVERDUE
            if order.severity == "major":
                people.extend(supervisors)
        elif today <= order.deadline <= today + timedelta(days=DUE_SOON_DAYS):
            kind = DUE_SOON
        else:
            continue
        recipients = tuple(dict.fromkeys(p for p in people if p))
        reminders.append(Reminder(kind, order, recipients))
    return reminders


class ReminderSource(Protocol):
    """Where the check finds open orders and the supervisors to tell."""

    def open_orders_due(self, today: date, within_days: int) -> list[OpenOrder]:
        """Open orders overdue, or due on or before ``today + within_days``."""
        ...

    def supervisors(self) -> list[str]:
        """The user ids of the active supervisors."""
        ...


class ReminderBook(Protocol):
    """Keeps reminders: each key once, with its notifications and webhook events."""

    def record(self, reminder: Reminder, today: date) -> bool:
        """Record ``reminder`` unless its key is already recorded; True if recorded now."""
        ...


class ReminderCheck:
    """Finds the orders to remind about and records each reminder once (a periodic job)."""

    def __init__(self, source: ReminderSource, book: ReminderBook) -> None:
        self.source = source
        self.book = book

    def run(self, today: date) -> list[Reminder]:
        """Record today's reminders not recorded before; return those recorded now."""
        due = reminders_for(
            self.source.open_orders_due(today, DUE_SOON_DAYS),
            today=today,
            supervisors=self.source.supervisors(),
        )
        return [reminder for reminder in due if self.book.record(reminder, today)]
