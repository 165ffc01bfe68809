"""Reminders and the notifications they leave per user (``GET /notifications``).

:class:`NotificationBook` records a reminder once per key (order, deadline,
kind): the key's row, the recipients' notifications and the reminder's webhook
messages are written in one transaction, and a second host recording the same
key finds it there and records nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid5

from application.integration.events import EVENT_ID_NAMESPACE
from application.integration.reminders import OpenOrder, Reminder
from domain.values import Role
from infrastructure.integration.schema import INTEGRATION_DDL
from infrastructure.integration.webhooks import Message, WebhookStore
from infrastructure.readmodels.queries import ReadModelQueries
from infrastructure.side_tables import SideDatabase
from infrastructure.users import UserStore

MAX_NOTIFICATIONS_PAGE = 200


@dataclass(frozen=True)
class Notification:
    """A reminder as one user reads it."""

    notification_id: int
    user_id: str
    kind: str
    order_id: str
    case_id: str
    number: str
    deadline: str
    text_zh: str
    text_en: str
    created_at: float
    read_at: float | None


_COLUMNS = (
    "notification_id, user_id, kind, order_id, case_id, number, deadline, text_zh, text_en,"
    " created_at, read_at"
)


class NotificationBook:
    """Keeps reminders once each, and each user's notifications."""

    def __init__(self, database: SideDatabase, webhooks: WebhookStore | None = None) -> None:
        self.database = database
        self.webhooks = webhooks
        database.ensure_tables(INTEGRATION_DDL)

    def record(self, reminder: Reminder, today: date) -> bool:
        """Record ``reminder`` unless its key is recorded already (see the module)."""
        now = time.time()
        zh, en = reminder.text(today)
        order = reminder.order
        with self.database.transaction() as tx:
            tx.execute(
                "INSERT INTO rectify_reminders (reminder_key, kind, order_id, deadline, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (reminder_key) DO NOTHING",
                (reminder.key, reminder.kind, str(order.order_id), order.deadline.isoformat(), now),
            )
            if tx.rowcount() != 1:
                return False  # another check (or host) recorded it first
            for user_id in reminder.recipients:
                tx.execute(
                    "INSERT INTO rectify_notifications (user_id, reminder_key, kind, order_id,"
                    " case_id, number, deadline, text_zh, text_en, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        user_id,
                        reminder.key,
                        reminder.kind,
                        str(order.order_id),
                        str(order.case_id),
                        order.number,
                        order.deadline.isoformat(),
                        zh,
                        en,
                        now,
                    ),
                )
            if self.webhooks is not None:
                message_id = f"msg_{_uuid5(reminder.key)}"
                record = {
                    "position": None,
                    "id": message_id.removeprefix("msg_"),
                    "type": reminder.event_type,
                    "case_id": str(order.case_id),
                    "time": _iso(now),
                    "data": reminder.data(today),
                }
                body = {"type": reminder.event_type, "timestamp": _iso(now), "data": record}
                self.webhooks.enqueue(
                    tx,
                    reminder.event_type,
                    Message(message_id, reminder.event_type, str(order.case_id), None, body),
                    now,
                )
        return True

    def for_user(
        self, user_id: str, *, unread_only: bool = False, after: int = 0, limit: int = 50
    ) -> list[Notification]:
        """``user_id``'s notifications, oldest first, after id ``after``."""
        where = "user_id = ? AND notification_id > ?"
        if unread_only:
            where += " AND read_at IS NULL"
        rows = self.database.execute(
            f"SELECT {_COLUMNS} FROM rectify_notifications WHERE {where}"
            " ORDER BY notification_id LIMIT ?",
            (user_id, after, max(1, min(limit, MAX_NOTIFICATIONS_PAGE))),
            write=False,
        )
        return [Notification(*row) for row in rows]

    def unread_count(self, user_id: str) -> int:
        rows = self.database.execute(
            "SELECT COUNT(*) FROM rectify_notifications WHERE user_id = ? AND read_at IS NULL",
            (user_id,),
            write=False,
        )
        return int(rows[0][0])

    def mark_read(self, user_id: str, notification_id: int) -> Notification:
        """Mark one of ``user_id``'s notifications read (again: no change); KeyError
        if they have none with that id."""
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE rectify_notifications SET read_at = ?"
                " WHERE notification_id = ? AND user_id = ? AND read_at IS NULL",
                (time.time(), notification_id, user_id),
            )
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM rectify_notifications"
                " WHERE notification_id = ? AND user_id = ?",
                (notification_id, user_id),
            )
        if not rows:
            raise KeyError(notification_id)
        return Notification(*rows[0])


def _uuid5(key: str) -> UUID:
    return uuid5(EVENT_ID_NAMESPACE, f"reminder/{key}")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


class ReadModelReminderSource:
    """Open orders from the ``cases`` read model; supervisors from the user store."""

    def __init__(self, queries: ReadModelQueries, users: UserStore) -> None:
        self.queries = queries
        self.users = users

    def open_orders_due(self, today: date, within_days: int) -> list[OpenOrder]:
        return [_open_order(row) for row in self.queries.orders_to_remind(today, within_days)]

    def supervisors(self) -> list[str]:
        return sorted(
            u.user_id for u in self.users.list() if u.role == Role.SUPERVISOR and u.active
        )


def _open_order(row: dict[str, Any]) -> OpenOrder:
    return OpenOrder(
        order_id=UUID(str(row["order_id"])),
        case_id=UUID(str(row["case_id"])),
        number=str(row["number"]),
        deadline=date.fromisoformat(str(row["deadline"])[:10]),
        severity=str(row["severity"]),
        overdue=bool(row["overdue"]),
        issued_by=row["issued_by"],
        party_user_id=row["party_user_id"],
        party_name=row["party_name"],
        site_name=row["site_name"],
    )
