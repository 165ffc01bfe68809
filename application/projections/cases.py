"""The ``cases`` read model: what each event does to the rows behind the work
queues, the case search and the dashboards.

Tables (named without the ``rm_`` prefix the store adds):

- ``sites`` — one row per registered site;
- ``inspections``, ``inspection_inspectors``, ``inspection_items`` — each
  inspection, its team and its recorded checklist items;
- ``cases`` — one row per hazard (the case), with its current status;
- ``orders`` — one row per rectification order (整改通知), with its current
  deadline, whether it is overdue for that deadline, a pending extension request;
- ``verifications`` — one row per verification (复查), passed or failed.

Every function here is a plain function of one event and where it sits in the
log; it returns :mod:`~application.projections.changes` and touches no database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from application.projections.changes import Change, Insert, Lookup, Update, Upsert
from application.projections.formats import day, flag, local_day, ts, uid
from domain.hazard import HazardStatus
from domain.inspection import InspectionStatus
from domain.order import OrderStatus


@dataclass(frozen=True)
class EventContext:
    """What a projection function knows besides the event: where the event sits
    in the log, and the time zone whose calendar days the dashboards count in."""

    position: int
    time_zone: ZoneInfo


Handler = Callable[[Any, EventContext], list[Change]]


def _case_of_order(event: Any) -> Lookup:
    return Lookup("orders", "order_id", uid(event.originator_id), "case_id")


def _order(event: Any, **values: Any) -> list[Change]:
    """Set ``values`` on the order's row, and note the activity on its case."""
    return [
        Update("orders", {"order_id": uid(event.originator_id)}, values),
        Update(
            "cases", {"case_id": _case_of_order(event)}, {"last_activity_at": ts(event.timestamp)}
        ),
    ]


def _case(event: Any, **values: Any) -> list[Change]:
    values.setdefault("last_activity_at", ts(event.timestamp))
    return [Update("cases", {"case_id": uid(event.originator_id)}, values)]


# -- sites and inspections ------------------------------------------------------------


def site_registered(event: Any, ctx: EventContext) -> list[Change]:
    return [
        Upsert(
            "sites",
            {"site_id": uid(event.originator_id)},
            {
                "name": event.name,
                "region": event.region,
                "address": event.address,
                "operator": event.operator,
                "contact": event.contact,
                "kind": event.kind,
                "registered_at": ts(event.timestamp),
            },
        )
    ]


def inspection_opened(event: Any, ctx: EventContext) -> list[Change]:
    inspection_id = uid(event.originator_id)
    changes: list[Change] = [
        Upsert(
            "inspections",
            {"inspection_id": inspection_id},
            {
                "site_id": uid(event.site_id),
                "template_code": event.template_code,
                "template_version": event.template_version,
                "items_total": len(event.item_codes),
                "status": InspectionStatus.OPEN.value,
                "opened_at": ts(event.timestamp),
                "opened_by": event.actor.user_id,
                "opened_by_name": event.actor.name,
                "ended_at": None,
                "cancel_reason": None,
            },
        )
    ]
    changes += [
        Upsert(
            "inspection_inspectors",
            {"inspection_id": inspection_id, "user_id": member.user_id},
            {"name": member.name, "role": member.role.value},
        )
        for member in event.inspectors
    ]
    return changes


def item_recorded(event: Any, ctx: EventContext) -> list[Change]:
    return [
        Upsert(
            "inspection_items",
            {"inspection_id": uid(event.originator_id), "item_code": event.item_code},
            {
                "result": event.result,
                "note": event.note,
                "recorded_by": event.actor.user_id,
                "recorded_at": ts(event.timestamp),
            },
        )
    ]


def inspection_completed(event: Any, ctx: EventContext) -> list[Change]:
    return [
        Update(
            "inspections",
            {"inspection_id": uid(event.originator_id)},
            {"status": InspectionStatus.COMPLETED.value, "ended_at": ts(event.timestamp)},
        )
    ]


def inspection_cancelled(event: Any, ctx: EventContext) -> list[Change]:
    return [
        Update(
            "inspections",
            {"inspection_id": uid(event.originator_id)},
            {
                "status": InspectionStatus.CANCELLED.value,
                "ended_at": ts(event.timestamp),
                "cancel_reason": event.reason,
            },
        )
    ]


# -- hazards: the case -------------------------------------------------------------------


def hazard_reported(event: Any, ctx: EventContext) -> list[Change]:
    at = ts(event.timestamp)
    return [
        Upsert(
            "cases",
            {"case_id": uid(event.originator_id)},
            {
                "site_id": uid(event.site_id),
                "inspection_id": uid(event.inspection_id),
                "item_code": event.item_code,
                "category": event.category,
                "description": event.description,
                "location": event.location,
                "severity": str(event.severity),
                "status": HazardStatus.REPORTED.value,
                "fixed_on_spot": 0,
                "reported_at": at,
                "reported_on": local_day(event.timestamp, ctx.time_zone),
                "reported_by": event.actor.user_id,
                "reported_by_name": event.actor.name,
                "open_order_id": None,
                "latest_order_id": None,
                "awaiting_since": None,
                "verified_at": None,
                "verified_by": None,
                "verified_by_name": None,
                "closed_at": None,
                "closed_on": None,
                "closed_by": None,
                "closed_by_name": None,
                "dismissed_at": None,
                "last_activity_at": at,
            },
        )
    ]


def hazard_regraded(event: Any, ctx: EventContext) -> list[Change]:
    return _case(event, severity=event.severity)


def fixed_on_the_spot(event: Any, ctx: EventContext) -> list[Change]:
    return _case(
        event,
        fixed_on_spot=1,
        status=HazardStatus.AWAITING_VERIFICATION.value,
        awaiting_since=ts(event.timestamp),
    )


def order_linked(event: Any, ctx: EventContext) -> list[Change]:
    return _case(
        event,
        status=HazardStatus.RECTIFYING.value,
        open_order_id=uid(event.order_id),
        latest_order_id=uid(event.order_id),
    )


def case_completion_reported(event: Any, ctx: EventContext) -> list[Change]:
    return _case(
        event, status=HazardStatus.AWAITING_VERIFICATION.value, awaiting_since=ts(event.timestamp)
    )


def case_verified(event: Any, ctx: EventContext) -> list[Change]:
    return _case(
        event,
        status=HazardStatus.VERIFIED.value,
        open_order_id=None,
        awaiting_since=None,
        verified_at=ts(event.timestamp),
        verified_by=event.actor.user_id,
        verified_by_name=event.actor.name,
    )


def case_verification_failed(event: Any, ctx: EventContext) -> list[Change]:
    # Where the case goes depends on whether an order is open, which the
    # verification's own event says (see verification_performed).
    return _case(event, awaiting_since=None)


def hazard_dismissed(event: Any, ctx: EventContext) -> list[Change]:
    return _case(
        event,
        status=HazardStatus.DISMISSED.value,
        open_order_id=None,
        awaiting_since=None,
        dismissed_at=ts(event.timestamp),
    )


def case_closed(event: Any, ctx: EventContext) -> list[Change]:
    return _case(
        event,
        status=HazardStatus.CLOSED.value,
        closed_at=ts(event.timestamp),
        closed_on=local_day(event.timestamp, ctx.time_zone),
        closed_by=event.actor.user_id,
        closed_by_name=event.actor.name,
    )


def case_reopened(event: Any, ctx: EventContext) -> list[Change]:
    return _case(
        event,
        status=HazardStatus.RECTIFYING.value,
        verified_at=None,
        verified_by=None,
        verified_by_name=None,
        closed_at=None,
        closed_on=None,
        closed_by=None,
        closed_by_name=None,
    )


# -- rectification orders ------------------------------------------------------------------


def order_issued(event: Any, ctx: EventContext) -> list[Change]:
    return [
        Upsert(
            "orders",
            {"order_id": uid(event.originator_id)},
            {
                "case_id": uid(event.hazard_id),
                "number": event.number,
                "party_name": event.party.name,
                "party_contact": event.party.contact,
                "party_user_id": event.party.user_id,
                "measures": event.measures,
                "deadline": day(event.deadline),
                "severity_at_issue": event.severity,
                "has_five_point_plan": flag(event.five_point_plan is not None),
                "status": OrderStatus.ISSUED.value,
                "attempt": 1,
                "issued_at": ts(event.timestamp),
                "issued_by": event.actor.user_id,
                "issued_by_name": event.actor.name,
                "acknowledged_at": None,
                "last_progress_at": None,
                "overdue": 0,
                "overdue_ever": 0,
                "overdue_since": None,
                "escalated": 0,
                "extension_deadline": None,
                "extension_reason": None,
                "extension_requested_at": None,
                "extension_requested_by": None,
                "completion_reported_at": None,
                "fulfilled_at": None,
                "cancelled_at": None,
            },
        )
    ]


def order_acknowledged(event: Any, ctx: EventContext) -> list[Change]:
    return _order(event, status=OrderStatus.ACKNOWLEDGED.value, acknowledged_at=ts(event.timestamp))


def progress_reported(event: Any, ctx: EventContext) -> list[Change]:
    return _order(event, last_progress_at=ts(event.timestamp))


def extension_requested(event: Any, ctx: EventContext) -> list[Change]:
    return _order(
        event,
        extension_deadline=day(event.new_deadline),
        extension_reason=event.reason,
        extension_requested_at=ts(event.timestamp),
        extension_requested_by=event.actor.user_id,
    )


_NO_EXTENSION = {
    "extension_deadline": None,
    "extension_reason": None,
    "extension_requested_at": None,
    "extension_requested_by": None,
}


def extension_granted(event: Any, ctx: EventContext) -> list[Change]:
    # Overdue is recorded per deadline: a new deadline is not yet overdue.
    return _order(event, deadline=day(event.new_deadline), overdue=0, **_NO_EXTENSION)


def extension_denied(event: Any, ctx: EventContext) -> list[Change]:
    return _order(event, **_NO_EXTENSION)


def order_completion_reported(event: Any, ctx: EventContext) -> list[Change]:
    return _order(
        event,
        status=OrderStatus.COMPLETION_REPORTED.value,
        completion_reported_at=ts(event.timestamp),
        **_NO_EXTENSION,
    )


def order_fulfilled(event: Any, ctx: EventContext) -> list[Change]:
    return _order(event, status=OrderStatus.FULFILLED.value, fulfilled_at=ts(event.timestamp))


def order_reopened(event: Any, ctx: EventContext) -> list[Change]:
    return _order(
        event,
        status=OrderStatus.ACKNOWLEDGED.value,
        deadline=day(event.new_deadline),
        attempt=event.attempt,
        overdue=0,
        completion_reported_at=None,
    )


def order_cancelled(event: Any, ctx: EventContext) -> list[Change]:
    return _order(
        event, status=OrderStatus.CANCELLED.value, cancelled_at=ts(event.timestamp), **_NO_EXTENSION
    )


def order_overdue(event: Any, ctx: EventContext) -> list[Change]:
    return _order(event, overdue=1, overdue_ever=1, overdue_since=ts(event.timestamp))


def order_escalated(event: Any, ctx: EventContext) -> list[Change]:
    return _order(event, escalated=1)


# -- verifications ----------------------------------------------------------------------------


def verification_performed(event: Any, ctx: EventContext) -> list[Change]:
    changes: list[Change] = [
        Insert(
            "verifications",
            {
                "verification_id": uid(event.originator_id),
                "case_id": uid(event.hazard_id),
                "order_id": uid(event.order_id),
                "attempt": event.attempt,
                "passed": flag(event.passed),
                "findings": event.findings,
                "performed_at": ts(event.timestamp),
                "verifier_id": event.actor.user_id,
                "verifier_name": event.actor.name,
            },
        )
    ]
    if not event.passed:
        # A failed re-inspection of an order sends the case back to rectifying;
        # of an on-the-spot fix, back to reported (it now needs an order).
        if event.order_id is None:
            values: dict[str, Any] = {"status": HazardStatus.REPORTED.value, "fixed_on_spot": 0}
        else:
            values = {"status": HazardStatus.RECTIFYING.value}
        changes.append(Update("cases", {"case_id": uid(event.hazard_id)}, values))
    return changes


HANDLERS: dict[str, Handler] = {
    "Site.Registered": site_registered,
    "Inspection.Opened": inspection_opened,
    "Inspection.ItemRecorded": item_recorded,
    "Inspection.Completed": inspection_completed,
    "Inspection.Cancelled": inspection_cancelled,
    "Hazard.Reported": hazard_reported,
    "Hazard.Regraded": hazard_regraded,
    "Hazard.FixedOnTheSpot": fixed_on_the_spot,
    "Hazard.OrderIssued": order_linked,
    "Hazard.CompletionReported": case_completion_reported,
    "Hazard.VerificationPassed": case_verified,
    "Hazard.VerificationFailed": case_verification_failed,
    "Hazard.Dismissed": hazard_dismissed,
    "Hazard.Closed": case_closed,
    "Hazard.Reopened": case_reopened,
    "RectificationOrder.Issued": order_issued,
    "RectificationOrder.Acknowledged": order_acknowledged,
    "RectificationOrder.ProgressReported": progress_reported,
    "RectificationOrder.ExtensionRequested": extension_requested,
    "RectificationOrder.ExtensionGranted": extension_granted,
    "RectificationOrder.ExtensionDenied": extension_denied,
    "RectificationOrder.CompletionReported": order_completion_reported,
    "RectificationOrder.Fulfilled": order_fulfilled,
    "RectificationOrder.ReopenedAfterFailedVerification": order_reopened,
    "RectificationOrder.Cancelled": order_cancelled,
    "RectificationOrder.BecameOverdue": order_overdue,
    "RectificationOrder.EscalatedToSupervisors": order_escalated,
    "Verification.Performed": verification_performed,
}


IGNORED = {
    "Inspection.HazardReported": "the hazard's own Reported event opens the case",
    "OrderNumberSequence.Started": "numbers are on the orders themselves",
    "OrderNumberSequence.Allocated": "numbers are on the orders themselves",
}
"""Events this read model has no use for, and why."""


def case_changes(event: Any, ctx: EventContext) -> list[Change]:
    """What ``event`` does to the ``cases`` read model (nothing, for events it ignores)."""
    handler = HANDLERS.get(type(event).__qualname__)
    return handler(event, ctx) if handler is not None else []
