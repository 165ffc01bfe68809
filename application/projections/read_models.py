"""The read-model projections, as ``eventsourcing.projection.Projection`` subclasses.

Each turns events into changes with its plain functions and hands them to its
view (the :class:`ReadModelWriter` port), which applies them and records the
position of the last event in one transaction. A runner may hand over several
events at once (:meth:`ReadModelProjection.process_batch`): one transaction
per batch makes catching up on a long log fast, and is still all-or-nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from application.projections.cases import EventContext, case_changes
from application.projections.changes import Change
from application.projections.site_history import history_changes

DEFAULT_TIME_ZONE = ZoneInfo("Asia/Shanghai")


class ReadModelWriter(Protocol):
    """What a read-model projection needs of its view (a ``TrackingRecorder``)."""

    def apply(self, batch: Sequence[tuple[Sequence[Change], Tracking]]) -> None:
        """Apply every change and record the batch's last tracking, in one transaction.

        Raises ``eventsourcing.persistence.IntegrityError`` (and changes
        nothing) when the view's recorded position is already at or past the
        batch's first event: someone else applied it.
        """
        ...

    def max_tracking_id(self, application_name: str) -> int | None: ...


class ReadModelProjection(Projection[Any]):
    """A projection whose event → rows logic is a plain function of the event."""

    def __init__(self, view: Any, *, time_zone: ZoneInfo = DEFAULT_TIME_ZONE) -> None:
        super().__init__(view)
        self.time_zone = time_zone

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Apply one event and track it."""
        self.process_batch([(domain_event, tracking)])

    def process_batch(self, items: Sequence[tuple[Any, Tracking]]) -> None:
        """Apply several events, in log order, and track the last, in one transaction."""
        if not items:
            return
        batch = [
            (
                self.changes_for(event, EventContext(tracking.notification_id, self.time_zone)),
                tracking,
            )
            for event, tracking in items
        ]
        self.view.apply(batch)

    def changes_for(self, event: Any, ctx: EventContext) -> list[Change]:
        """What ``event`` does to this projection's rows."""
        raise NotImplementedError


class CasesProjection(ReadModelProjection):
    """Sites, inspections, cases, orders and verifications: the work queues,
    the case search and the dashboards read these rows."""

    name = "cases"

    def changes_for(self, event: Any, ctx: EventContext) -> list[Change]:
        return case_changes(event, ctx)


class SiteHistoryProjection(ReadModelProjection):
    """Everything that happened at each site, in log order."""

    name = "site_history"

    def changes_for(self, event: Any, ctx: EventContext) -> list[Change]:
        return history_changes(event, ctx)


READ_MODEL_PROJECTIONS: tuple[type[ReadModelProjection], ...] = (
    CasesProjection,
    SiteHistoryProjection,
)
