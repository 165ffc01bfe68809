"""The follower that fills the webhook outbox from the log, exactly once.

:class:`OutboxProjection` is an ``eventsourcing`` projection, so the follower
host runs it like the read models: it reads pages of events after the outbox's
position and hands them to :meth:`WebhookStore.fill`, which writes the outbox
rows and the new position in one transaction (see :mod:`.webhooks`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.projection import Projection

from application.integration.events import HazardOf, case_of, event_record
from application.integration.webhooks import message
from infrastructure.integration.webhooks import Message, WebhookStore


class OutboxView(TrackingRecorder):
    """The outbox's position, as the tracking recorder a runner resumes from."""

    def __init__(self, store: WebhookStore) -> None:
        self.store = store

    def insert_tracking(self, tracking: Tracking) -> None:
        raise NotImplementedError("the outbox records its position with its rows (fill)")

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.store.position() or None


class OutboxProjection(Projection[OutboxView]):
    """Puts every event of the log in the outbox of the subscriptions that want it."""

    name = "webhook_outbox"

    def __init__(self, view: OutboxView, hazard_of: HazardOf) -> None:
        super().__init__(view)
        self.hazard_of = hazard_of

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.process_batch([(domain_event, tracking)])

    def process_batch(self, items: Sequence[tuple[Any, Tracking]]) -> None:
        if not items:
            return
        messages = []
        for event, tracking in items:
            record = event_record(tracking.notification_id, event, case_of(event, self.hazard_of))
            messages.append(
                Message(
                    message_id=f"msg_{record['id']}",
                    event_type=record["type"],
                    case_key=record["case_id"],
                    position=tracking.notification_id,
                    body=message(record),
                )
            )
        self.view.store.fill(
            items[0][1].notification_id, items[-1][1].notification_id, messages, now=time.time()
        )


def outbox_projection(app: Application[Any], store: WebhookStore) -> OutboxProjection:
    """The outbox follower of ``app``'s log."""
    from application.integration.feed import CaseFinder

    return OutboxProjection(OutboxView(store), CaseFinder(app))  # type: ignore[arg-type]
