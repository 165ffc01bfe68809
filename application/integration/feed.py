"""The event feed (事件订阅): the log in commit order from a position, for systems
that catch up and then follow.

A page names the position to ask from next; asking again from there never
skips or repeats an event, because the log's positions are its commit order.
A reader at the head may wait (long-poll) for the next event instead of asking
again and again.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from application.app import RectifyApp
from application.integration.events import case_of, event_record
from application.ports import MAX_POSITION
from domain.errors import InvalidCommand

MAX_FEED_PAGE = 1000
MAX_FEED_WAIT_SECONDS = 30.0
# How often a waiting reader looks at the head of the log; NOTIFY would be
# quicker on PostgreSQL, but a quarter of a tenth of a second is within what a
# follower of a feed expects, on every backend alike.
WAIT_POLL_SECONDS = 0.025
CASE_CACHE_SIZE = 10_000


class CaseFinder:
    """The case (hazard id) of an order or verification, remembered once looked up."""

    def __init__(self, app: RectifyApp, size: int = CASE_CACHE_SIZE) -> None:
        self.app = app
        self.size = size
        self._known: OrderedDict[UUID, UUID | None] = OrderedDict()

    def __call__(self, aggregate_id: UUID) -> UUID | None:
        if aggregate_id in self._known:
            self._known.move_to_end(aggregate_id)
            return self._known[aggregate_id]
        try:
            # Version 1 is enough: the hazard an order or verification is for
            # is set when it is created and never changes.
            aggregate: Any = self.app.repository.get(aggregate_id, version=1)
        except AggregateNotFoundError:
            found = None
        else:
            found = getattr(aggregate, "hazard_id", None)
        self.remember(aggregate_id, found)
        return found

    def remember(self, aggregate_id: UUID, hazard_id: UUID | None) -> None:
        """Note the case of an order or verification (seen in its created event)."""
        self._known[aggregate_id] = hazard_id
        self._known.move_to_end(aggregate_id)
        if len(self._known) > self.size:
            self._known.popitem(last=False)


@dataclass(frozen=True)
class FeedPage:
    """Events after ``after`` in commit order; ask from ``next_after`` for more."""

    events: list[dict[str, Any]]
    after: int
    next_after: int
    head: int


class EventFeed:
    """Reads the log for other systems (auditors, supervisors, integration keys)."""

    def __init__(self, app: RectifyApp) -> None:
        self.app = app
        self.cases = CaseFinder(app)

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def page(self, *, after: int = 0, limit: int = 100, wait: float = 0.0) -> FeedPage:
        """Up to ``limit`` events after position ``after``; with ``wait`` > 0 and
        nothing new, wait up to that many seconds for the next commit."""
        check_page(after, limit, wait)
        head = self.head()
        if after > head:
            # Nobody was given this position: waiting for it would only hide the mistake.
            raise InvalidCommand(
                f"position {after} is beyond the log's newest event ({head})",
                rule="log_position_ahead",
            )
        notifications = self._select(after, limit)
        if not notifications and wait > 0:
            deadline = time.monotonic() + wait
            while not notifications and time.monotonic() < deadline:
                time.sleep(WAIT_POLL_SECONDS)
                if self.head() > after:
                    notifications = self._select(after, limit)
        events = [
            event_record(n.id, event, case_of(event, self.cases))
            for n in notifications
            for event in (self.app.mapper.to_domain_event(n),)
        ]
        next_after = notifications[-1].id if notifications else after
        return FeedPage(events, after, next_after, max(self.head(), next_after))

    def _select(self, after: int, limit: int) -> list[Any]:
        return list(
            self.app.recorder.select_notifications(
                start=after, limit=limit, inclusive_of_start=False
            )
        )


def check_page(after: int, limit: int, wait: float) -> None:
    """Refuse a page nobody could mean, before anything is read."""
    if not 0 <= after <= MAX_POSITION:
        raise InvalidCommand(
            f"after must be between 0 and {MAX_POSITION}", rule="feed_after_invalid"
        )
    if not 1 <= limit <= MAX_FEED_PAGE:
        raise InvalidCommand(
            f"limit must be between 1 and {MAX_FEED_PAGE}", rule="feed_limit_invalid"
        )
    if not 0 <= wait <= MAX_FEED_WAIT_SECONDS:
        raise InvalidCommand(
            f"wait must be between 0 and {MAX_FEED_WAIT_SECONDS:g} seconds",
            rule="feed_wait_invalid",
        )
