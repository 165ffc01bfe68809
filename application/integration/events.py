"""One event of the log as other systems read it (the feed, webhook deliveries).

The shape is the same in both places, so a system that catches up from the feed
and then follows webhooks sees one record type::

    {"position": 42, "id": "…", "type": "Hazard.Reported", "case_id": "…",
     "aggregate": {"id": "…", "type": "hazard"}, "version": 1,
     "time": "2026-12-01T06:00:00+00:00",
     "actor": {"id": "chenxiaofeng", "name": "陈小峰", "role": "inspector"},
     "data": {…the event's own fields…}}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid5

from application.audit.describe import aggregate_type_of, event_type_of, to_jsonable
from domain.values import Actor

# A fixed namespace, so an event's id is the same for every reader and every
# retry: it is derived from the aggregate and version, which never change.
EVENT_ID_NAMESPACE = UUID("6b0f6c1e-4a53-5e7c-9d0a-726563746966")

# The library's bookkeeping on every event, shown apart (or not at all) in a record.
_ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "actor"})
_HIDDEN = frozenset({"originator_topic"})

_PARTS_OF_A_CASE = frozenset({"rectification_order", "verification"})

HazardOf = Callable[[UUID], UUID | None]
"""Finds the case (hazard id) of an order or verification that did not say it."""


def event_id(aggregate_id: UUID, version: int) -> UUID:
    """A stable id for the event of ``aggregate_id`` at ``version``."""
    return uuid5(EVENT_ID_NAMESPACE, f"{aggregate_id}/{version}")


def case_of(event: Any, hazard_of: HazardOf) -> UUID:
    """The case an event belongs to: the hazard's id for the hazard, its orders
    and its verifications; the aggregate's own id for a site or an inspection."""
    hazard_id = getattr(event, "hazard_id", None)
    kind = aggregate_type_of(type(event))
    if isinstance(hazard_id, UUID):
        remember = getattr(hazard_of, "remember", None)
        if remember is not None and kind in _PARTS_OF_A_CASE:
            # An order or verification names its hazard when created; remembered,
            # its later events need no lookup while the log is read in order.
            remember(event.originator_id, hazard_id)
        return hazard_id
    if kind in _PARTS_OF_A_CASE:
        found = hazard_of(event.originator_id)
        if found is not None:
            return found
    return event.originator_id


def event_record(position: int, event: Any, case_id: UUID | None = None) -> dict[str, Any]:
    """The event at ``position`` as the feed and webhooks send it (JSON-ready)."""
    actor = getattr(event, "actor", None)
    data = {
        name: to_jsonable(value)
        for name, value in vars(event).items()
        if name not in _ENVELOPE and name not in _HIDDEN
    }
    return {
        "position": position,
        "id": str(event_id(event.originator_id, event.originator_version)),
        "type": event_type_of(type(event)),
        "case_id": str(case_id) if case_id is not None else None,
        "aggregate": {"id": str(event.originator_id), "type": aggregate_type_of(type(event))},
        "version": event.originator_version,
        "time": event.timestamp.isoformat(),
        "actor": (
            {"id": actor.user_id, "name": actor.name, "role": actor.role.value}
            if isinstance(actor, Actor)
            else None
        ),
        "data": data,
    }
