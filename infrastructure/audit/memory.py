"""The audit chain for the in-memory (popo) store: kept in memory beside it."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification, Tracking
from eventsourcing.popo import POPOTrackingRecorder

from application.audit.chain import AuditChainView, ChainLink, chain_records

_PAGE = 1000


class InMemoryAuditChain(POPOTrackingRecorder, AuditChainView):
    """The hash chain of an in-memory application's log."""

    def __init__(self, events: ApplicationRecorder) -> None:
        super().__init__()
        self._events = events
        self._links: list[ChainLink] = []
        self._positions: list[int] = []

    def chain_through(self, tracking: Tracking) -> int:
        with self._database_lock:
            tracked = self._max_tracking_ids[tracking.application_name]
            if tracked is not None and tracked >= tracking.notification_id:
                return 0
            added = self._chain(self._after(tracked), tracking.notification_id)
            self._insert_tracking(tracking)
            return added

    def catch_up(self, application_name: str, batch_size: int = 1000) -> int:
        with self._database_lock:
            tracked = self._max_tracking_ids[application_name]
            added = self._chain(self._after(tracked), None)
            if added:
                self._insert_tracking(Tracking(application_name, self._positions[-1]))
            return added

    def _after(self, tracked: int | None) -> int:
        return max(tracked or 0, self._positions[-1] if self._positions else 0)

    def _chain(self, after: int, upto: int | None) -> int:
        added = 0
        while True:
            page = self._events.select_notifications(
                start=after, limit=_PAGE, stop=upto, inclusive_of_start=False
            )
            if not page:
                return added
            links = chain_records(self.head(), page)
            self._links.extend(links)
            self._positions.extend(link.position for link in links)
            added += len(links)
            after = page[-1].id

    def head(self) -> ChainLink | None:
        return self._links[-1] if self._links else None

    def select_links(self, after: int, upto: int | None, limit: int) -> list[ChainLink]:
        with self._database_lock:
            start = bisect_right(self._positions, after)
            links = self._links[start : start + limit]
        return [link for link in links if upto is None or link.position <= upto]


class ScanningEventLocator:
    """Finds the events of given aggregates by reading the whole log (small stores only)."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self.recorder = recorder

    def notifications_of(self, originator_ids: Sequence[UUID]) -> list[Notification]:
        wanted = {str(i) for i in originator_ids}
        found: list[Notification] = []
        after = 0
        while True:
            page = self.recorder.select_notifications(
                start=after, limit=_PAGE, inclusive_of_start=False
            )
            if not page:
                return found
            found.extend(n for n in page if str(n.originator_id) in wanted)
            after = page[-1].id
