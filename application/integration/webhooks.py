"""Webhook subscriptions: which events go where, in what message, retried how.

A subscription names a target URL, the event types it wants and a secret that
signs each delivery (Standard Webhooks: ``webhook-id``, ``webhook-timestamp``,
``webhook-signature``). Deliveries are at least once, in log order per case; a
failed one is retried with exponential back-off, and a subscription whose
deliveries have failed for a day is marked failing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from application.audit.describe import event_classes, event_type_of
from domain.errors import InvalidCommand

REMINDER_DUE_SOON = "Reminder.DueSoon"
REMINDER_OVERDUE = "Reminder.Overdue"
REMINDER_EVENT_TYPES = (REMINDER_DUE_SOON, REMINDER_OVERDUE)
EVERY_EVENT = "*"
MAX_URL_LENGTH = 2000
MAX_EVENT_TYPES = 100

ACTIVE, FAILING = "active", "failing"
_SECRET = re.compile(r"^whsec_[A-Za-z0-9+/]{32,}={0,2}$")


def known_event_types() -> tuple[str, ...]:
    """Every event type a subscription may name (the log's and the reminders')."""
    return tuple(sorted({event_type_of(c) for c in event_classes()})) + REMINDER_EVENT_TYPES


def check_event_types(event_types: Iterable[str]) -> tuple[str, ...]:
    """The event types of a subscription, checked: ``*`` or known names, at least one."""
    chosen = tuple(dict.fromkeys(t.strip() for t in event_types if t.strip()))
    if not chosen:
        raise InvalidCommand(
            "name at least one event type (or * for every event)",
            rule="webhook_event_types_required",
        )
    if len(chosen) > MAX_EVENT_TYPES:
        raise InvalidCommand(
            f"at most {MAX_EVENT_TYPES} event types", rule="webhook_event_types_too_many"
        )
    known = set(known_event_types())
    unknown = [t for t in chosen if t != EVERY_EVENT and t not in known]
    if unknown:
        raise InvalidCommand(
            f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            rule="unknown_event_type",
        )
    return (EVERY_EVENT,) if EVERY_EVENT in chosen else chosen


def check_secret(secret: str) -> str:
    """A Standard Webhooks secret: ``whsec_`` and at least 24 bytes in base64."""
    if not _SECRET.match(secret):
        raise InvalidCommand(
            "a webhook secret is whsec_ followed by at least 24 bytes in base64",
            rule="webhook_secret_invalid",
        )
    return secret


@dataclass(frozen=True)
class Subscription:
    """Where events of some types are delivered, and how they are signed."""

    subscription_id: str
    target_url: str
    event_types: tuple[str, ...]
    secret: str
    status: str
    created_by: str
    created_at: float
    from_position: int
    """Events after this position (the log's head when it was created) are delivered."""
    failing_since: float | None = None

    def wants(self, event_type: str) -> bool:
        return EVERY_EVENT in self.event_types or event_type in self.event_types


def message(record: dict[str, Any]) -> dict[str, Any]:
    """The body of a delivery, as Standard Webhooks suggests: type, timestamp, data."""
    return {"type": record["type"], "timestamp": record["time"], "data": record}


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off: ``first`` seconds, doubling up to ``longest``; after
    ``give_up_after`` seconds of failures the subscription is marked failing."""

    first: float = 10.0
    longest: float = 3600.0
    give_up_after: float = 86400.0

    def delay(self, attempts: int) -> float:
        """How long to wait after the ``attempts``-th failed attempt."""
        return min(self.longest, self.first * 2 ** max(0, attempts - 1))

    def gives_up(self, first_failure_at: float, now: float) -> bool:
        return now - first_failure_at >= self.give_up_after
