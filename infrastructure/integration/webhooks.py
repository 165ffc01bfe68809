"""Webhook subscriptions, the outbox and the delivery log, in side tables.

The outbox is written by the follower of the log (``OutboxProjection``) in the
same transaction as its position in ``rectify_follower_positions``, and only if
that position is still the one it started from: a crash before the commit loses
nothing (the events are read again), a crash after it invents nothing (the
position says they were done), and two fillers cannot both write a batch.
"""

from __future__ import annotations

import json
import secrets as random
import time
import uuid
from base64 import b64encode
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError

from application.integration.webhooks import (
    ACTIVE,
    FAILING,
    RetryPolicy,
    Subscription,
    check_event_types,
    check_secret,
)
from infrastructure.integration.schema import INTEGRATION_DDL
from infrastructure.integration.targets import AllowList
from infrastructure.side_tables import Executor, SideDatabase

OUTBOX_FOLLOWER = "webhook-outbox"
PENDING, DELIVERED = "pending", "delivered"
DELETED = "deleted"
MAX_ERROR_LENGTH = 500

_SUBSCRIPTION_COLUMNS = (
    "subscription_id, target_url, event_types, secret, status, created_by, created_at,"
    " from_position, failing_since"
)


class PositionMoved(IntegrityError):
    """Another follower recorded this batch first; read the position again (a
    runner treats it as any conflict: it re-reads its position and goes on)."""


class SubscriptionNotFound(KeyError):
    """No (undeleted) subscription with that id."""


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + b64encode(random.token_bytes(32)).decode()


@dataclass(frozen=True)
class Message:
    """One message for the outbox: an event of the log, or a reminder."""

    message_id: str
    event_type: str
    case_key: str
    position: int | None
    body: dict[str, Any]


@dataclass(frozen=True)
class Delivery:
    """One outbox row due to be sent."""

    delivery_id: int
    subscription_id: str
    message_id: str
    body: str
    attempts: int
    first_failure_at: float | None
    target_url: str
    secret: str
    case_key: str


@dataclass(frozen=True)
class Outcome:
    """One attempt at a delivery: the answer's status, or the error (None: delivered)."""

    delivery: Delivery
    at: float
    status_code: int | None
    error: str | None
    latency_ms: float


def _subscription(row: Sequence[Any]) -> Subscription:
    return Subscription(
        subscription_id=str(row[0]),
        target_url=str(row[1]),
        event_types=tuple(json.loads(row[2])),
        secret=str(row[3]),
        status=str(row[4]),
        created_by=str(row[5]),
        created_at=float(row[6]),
        from_position=int(row[7]),
        failing_since=row[8],
    )


class WebhookStore:
    """Subscriptions, outbox and delivery log (``rectify_webhook_*``)."""

    def __init__(self, database: SideDatabase, *, allow: AllowList | None = None) -> None:
        self.database = database
        self.allow = allow or AllowList()
        database.ensure_tables(INTEGRATION_DDL)
        database.execute(
            "INSERT INTO rectify_follower_positions (name, position) VALUES (?, 0)"
            " ON CONFLICT (name) DO NOTHING",
            (OUTBOX_FOLLOWER,),
        )

    # -- subscriptions ------------------------------------------------------------------

    def subscribe(
        self,
        target_url: str,
        event_types: Sequence[str],
        *,
        created_by: str,
        secret: str | None = None,
    ) -> Subscription:
        """A new subscription; its target is checked against the allow-list (and DNS)."""
        types = check_event_types(event_types)
        secret = check_secret(secret) if secret else new_secret()
        target_url = target_url.strip()
        self.allow.check(target_url)
        subscription_id = str(uuid.uuid4())
        now = time.time()
        with self.database.transaction() as tx:
            # The outbox's position, read under the row's lock: events the outbox
            # has not reached yet go to this subscription, and none before.
            position = self._position(tx, lock=True)
            tx.execute(
                f"INSERT INTO rectify_webhook_subscriptions ({_SUBSCRIPTION_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    subscription_id,
                    target_url,
                    json.dumps(list(types)),
                    secret,
                    ACTIVE,
                    created_by,
                    now,
                    position,
                ),
            )
        return Subscription(
            subscription_id, target_url, types, secret, ACTIVE, created_by, now, position
        )

    def subscriptions(self) -> list[Subscription]:
        rows = self.database.execute(
            f"SELECT {_SUBSCRIPTION_COLUMNS} FROM rectify_webhook_subscriptions"
            " WHERE status <> ? ORDER BY created_at, subscription_id",
            (DELETED,),
            write=False,
        )
        return [_subscription(row) for row in rows]

    def subscription(self, subscription_id: str) -> Subscription:
        rows = self.database.execute(
            f"SELECT {_SUBSCRIPTION_COLUMNS} FROM rectify_webhook_subscriptions"
            " WHERE subscription_id = ? AND status <> ?",
            (subscription_id, DELETED),
            write=False,
        )
        if not rows:
            raise SubscriptionNotFound(subscription_id)
        return _subscription(rows[0])

    def unsubscribe(self, subscription_id: str) -> None:
        """Stop delivering to a subscription (kept, with its delivery log)."""
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE rectify_webhook_subscriptions SET status = ?, deleted_at = ?"
                " WHERE subscription_id = ? AND status <> ?",
                (DELETED, time.time(), subscription_id, DELETED),
            )
            if tx.rowcount() == 0:
                raise SubscriptionNotFound(subscription_id)

    def reactivate(self, subscription_id: str, *, now: float | None = None) -> int:
        """Mark a failing subscription active again and retry its pending deliveries
        now; returns how many are pending."""
        now = time.time() if now is None else now
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE rectify_webhook_subscriptions SET status = ?, failing_since = NULL"
                " WHERE subscription_id = ? AND status <> ?",
                (ACTIVE, subscription_id, DELETED),
            )
            if tx.rowcount() == 0:
                raise SubscriptionNotFound(subscription_id)
            tx.execute(
                "UPDATE rectify_webhook_outbox SET next_attempt_at = ?, first_failure_at = NULL"
                " WHERE subscription_id = ? AND status = ?",
                (now, subscription_id, PENDING),
            )
            return tx.rowcount()

    # -- the outbox ---------------------------------------------------------------------

    @staticmethod
    def _position(tx: Executor, *, lock: bool = False, name: str = OUTBOX_FOLLOWER) -> int:
        if lock:
            # Taking the row's write lock orders this transaction with the
            # filler's (SQLite's BEGIN IMMEDIATE already serialises them).
            tx.execute(
                "UPDATE rectify_follower_positions SET position = position WHERE name = ?",
                (name,),
            )
        rows = tx.execute("SELECT position FROM rectify_follower_positions WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else 0

    def position(self) -> int:
        """How far along the log the outbox has been filled."""
        with self.database.transaction(write=False) as tx:
            return self._position(tx)

    def fill(self, first: int, upto: int, messages: Sequence[Message], *, now: float) -> int:
        """Put ``messages`` (the events from position ``first`` to ``upto``, all that
        follow the outbox's position) in the outbox of every subscription that wants
        them and move the position to ``upto``, in one transaction;
        :class:`PositionMoved` if the position has reached ``first`` meanwhile."""
        rows = 0
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE rectify_follower_positions SET position = ?"
                " WHERE name = ? AND position < ?",
                (upto, OUTBOX_FOLLOWER, first),
            )
            if tx.rowcount() != 1:
                raise PositionMoved(f"the webhook outbox has already reached position {first}")
            subscriptions = [
                _subscription(row)
                for row in tx.execute(
                    f"SELECT {_SUBSCRIPTION_COLUMNS} FROM rectify_webhook_subscriptions"
                    " WHERE status <> ?",
                    (DELETED,),
                )
            ]
            for message in messages:
                for subscription in subscriptions:
                    if not subscription.wants(message.event_type):
                        continue
                    if message.position is not None and message.position <= (
                        subscription.from_position
                    ):
                        continue
                    rows += self._enqueue(tx, subscription, message, now)
        return rows

    def enqueue(self, tx: Executor, event_type: str, message: Message, now: float) -> int:
        """Queue a message that is not an event of the log (a reminder) for every
        subscription that wants it, inside the caller's transaction."""
        count = 0
        for row in tx.execute(
            f"SELECT {_SUBSCRIPTION_COLUMNS} FROM rectify_webhook_subscriptions WHERE status <> ?",
            (DELETED,),
        ):
            subscription = _subscription(row)
            if subscription.wants(event_type):
                count += self._enqueue(tx, subscription, message, now)
        return count

    @staticmethod
    def _enqueue(tx: Executor, subscription: Subscription, message: Message, now: float) -> int:
        tx.execute(
            "INSERT INTO rectify_webhook_outbox (subscription_id, message_id, event_type,"
            " case_key, position, body, status, attempts, created_at, next_attempt_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)"
            " ON CONFLICT (subscription_id, message_id) DO NOTHING",
            (
                subscription.subscription_id,
                message.message_id,
                message.event_type,
                message.case_key,
                message.position,
                json.dumps(message.body, ensure_ascii=False, separators=(",", ":")),
                PENDING,
                now,
                now,
            ),
        )
        return tx.rowcount()

    # -- delivering ---------------------------------------------------------------------

    def due(self, now: float, limit: int = 100) -> list[Delivery]:
        """Pending deliveries whose time has come, in outbox order, leaving out any
        whose case has an earlier pending message that is not due (one waiting
        out its back-off): a case's messages are sent in order, the earliest first."""
        rows = self.database.execute(
            "SELECT o.delivery_id, o.subscription_id, o.message_id, o.body, o.attempts,"
            "       o.first_failure_at, s.target_url, s.secret, o.case_key"
            "  FROM rectify_webhook_outbox o"
            "  JOIN rectify_webhook_subscriptions s ON s.subscription_id = o.subscription_id"
            " WHERE o.status = ? AND o.next_attempt_at <= ? AND s.status = ?"
            "   AND NOT EXISTS (SELECT 1 FROM rectify_webhook_outbox p"
            "                    WHERE p.subscription_id = o.subscription_id"
            "                      AND p.case_key = o.case_key AND p.status = ?"
            "                      AND p.delivery_id < o.delivery_id"
            "                      AND p.next_attempt_at > ?)"
            " ORDER BY o.delivery_id LIMIT ?",
            (PENDING, now, ACTIVE, PENDING, now, limit),
            write=False,
        )
        return [
            Delivery(
                int(r[0]),
                str(r[1]),
                str(r[2]),
                str(r[3]),
                int(r[4]),
                r[5],
                str(r[6]),
                str(r[7]),
                str(r[8]),
            )
            for r in rows
        ]

    def record(self, outcomes: Sequence[Outcome], *, now: float, policy: RetryPolicy) -> list[str]:
        """Record the attempts of one round in one transaction: a delivered message
        is done, a failed one waits ``policy.delay`` before its next attempt.
        Returns the subscriptions now marked failing (failures for ``give_up_after``)."""
        failing: list[str] = []
        with self.database.transaction() as tx:
            for outcome in outcomes:
                delivery = outcome.delivery
                if outcome.error is None:
                    tx.execute(
                        "UPDATE rectify_webhook_outbox SET status = ?, attempts = attempts + 1,"
                        " delivered_at = ?, last_status = ?, last_error = NULL"
                        " WHERE delivery_id = ?",
                        (DELIVERED, outcome.at, outcome.status_code, delivery.delivery_id),
                    )
                    self._attempt(tx, outcome, None)
                    continue
                attempts = delivery.attempts + 1
                first_failure = delivery.first_failure_at or outcome.at
                error = outcome.error[:MAX_ERROR_LENGTH]
                tx.execute(
                    "UPDATE rectify_webhook_outbox SET attempts = ?, next_attempt_at = ?,"
                    " first_failure_at = ?, last_status = ?, last_error = ?"
                    " WHERE delivery_id = ? AND status = ?",
                    (
                        attempts,
                        now + policy.delay(attempts),
                        first_failure,
                        outcome.status_code,
                        error,
                        delivery.delivery_id,
                        PENDING,
                    ),
                )
                self._attempt(tx, outcome, error)
                if policy.gives_up(first_failure, now):
                    tx.execute(
                        "UPDATE rectify_webhook_subscriptions SET status = ?, failing_since = ?"
                        " WHERE subscription_id = ? AND status = ?",
                        (FAILING, now, delivery.subscription_id, ACTIVE),
                    )
                    if tx.rowcount() == 1:
                        failing.append(delivery.subscription_id)
        return failing

    @staticmethod
    def _attempt(tx: Executor, outcome: Outcome, error: str | None) -> None:
        tx.execute(
            "INSERT INTO rectify_webhook_attempts"
            " (delivery_id, attempted_at, status_code, error, latency_ms) VALUES (?, ?, ?, ?, ?)",
            (
                outcome.delivery.delivery_id,
                outcome.at,
                outcome.status_code,
                error,
                outcome.latency_ms,
            ),
        )

    def redeliver(self, delivery_id: int, *, now: float | None = None) -> None:
        """Send a delivery again, with the same ``webhook-id`` (delivered or not)."""
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE rectify_webhook_outbox SET status = ?, next_attempt_at = ?,"
                " first_failure_at = NULL WHERE delivery_id = ?",
                (PENDING, time.time() if now is None else now, delivery_id),
            )
            if tx.rowcount() == 0:
                raise KeyError(delivery_id)

    # -- the delivery log ---------------------------------------------------------------

    def deliveries(
        self,
        subscription_id: str | None = None,
        *,
        status: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """The outbox as a delivery log: each message's status, attempts, last answer,
        and the latency of its last attempt."""
        where = ["o.delivery_id > ?"]
        params: list[Any] = [after]
        if subscription_id is not None:
            where.append("o.subscription_id = ?")
            params.append(subscription_id)
        if status is not None:
            where.append("o.status = ?")
            params.append(status)
        rows = self.database.execute(
            "SELECT o.delivery_id, o.subscription_id, o.message_id, o.event_type, o.case_key,"
            "       o.position, o.status, o.attempts, o.created_at, o.next_attempt_at,"
            "       o.delivered_at, o.last_status, o.last_error,"
            "       (SELECT a.latency_ms FROM rectify_webhook_attempts a"
            "         WHERE a.delivery_id = o.delivery_id"
            "         ORDER BY a.attempt_id DESC LIMIT 1)"
            "  FROM rectify_webhook_outbox o"
            f" WHERE {' AND '.join(where)} ORDER BY o.delivery_id LIMIT ?",
            [*params, limit],
            write=False,
        )
        keys = (
            "delivery_id",
            "subscription_id",
            "message_id",
            "event_type",
            "case_key",
            "position",
            "status",
            "attempts",
            "created_at",
            "next_attempt_at",
            "delivered_at",
            "last_status",
            "last_error",
            "latency_ms",
        )
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def attempts(self, delivery_id: int) -> list[dict[str, Any]]:
        rows = self.database.execute(
            "SELECT attempted_at, status_code, error, latency_ms FROM rectify_webhook_attempts"
            " WHERE delivery_id = ? ORDER BY attempt_id",
            (delivery_id,),
            write=False,
        )
        keys = ("attempted_at", "status_code", "error", "latency_ms")
        return [dict(zip(keys, row, strict=True)) for row in rows]
