"""The ``site_history`` read model: everything that happened at a site, in log order.

Tables (without the ``rm_`` prefix):

- ``history`` — one row per event that tells a site's story, keyed by its
  position in the log: what kind of thing happened, to which inspection, case
  or order, a one-line summary, who did it and why;
- ``history_subjects`` — which site and case each inspection, hazard and order
  belongs to, since later events of an order name neither.

Events that only echo another in the same transaction (the inspection noting a
hazard it reported, the hazard noting its order) add no row of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from application.projections.cases import EventContext
from application.projections.changes import Change, Insert, Lookup, Upsert
from application.projections.formats import day, ts, uid


def _entry(
    event: Any,
    ctx: EventContext,
    *,
    kind: str,
    subject_kind: str,
    site_id: Any,
    case_id: Any,
    summary: str,
    reason: str | None = None,
) -> Insert:
    return Insert(
        "history",
        {
            "position": ctx.position,
            "site_id": site_id,
            "case_id": case_id,
            "subject_kind": subject_kind,
            "subject_id": uid(event.originator_id),
            "subject_version": event.originator_version,
            "kind": kind,
            "occurred_at": ts(event.timestamp),
            "summary": summary,
            "reason": reason,
            "actor_id": event.actor.user_id,
            "actor_name": event.actor.name,
            "actor_role": event.actor.role.value,
        },
    )


def _subject(subject_id: Any, column: str) -> Lookup:
    return Lookup("history_subjects", "subject_id", uid(subject_id), column)


def _about_inspection(event: Any, ctx: EventContext, kind: str, summary: str, **kw: Any) -> Insert:
    return _entry(
        event,
        ctx,
        kind=kind,
        subject_kind="inspection",
        site_id=_subject(event.originator_id, "site_id"),
        case_id=None,
        summary=summary,
        **kw,
    )


def _about_case(event: Any, ctx: EventContext, kind: str, summary: str, **kw: Any) -> Insert:
    return _entry(
        event,
        ctx,
        kind=kind,
        subject_kind="case",
        site_id=_subject(event.originator_id, "site_id"),
        case_id=uid(event.originator_id),
        summary=summary,
        **kw,
    )


def _about_order(event: Any, ctx: EventContext, kind: str, summary: str, **kw: Any) -> Insert:
    return _entry(
        event,
        ctx,
        kind=kind,
        subject_kind="order",
        site_id=_subject(event.originator_id, "site_id"),
        case_id=_subject(event.originator_id, "case_id"),
        summary=summary,
        **kw,
    )


def _on_behalf(event: Any) -> str:
    return " (recorded on the party's behalf)" if getattr(event, "on_behalf", False) else ""


# -- handlers -----------------------------------------------------------------------


def site_registered(event: Any, ctx: EventContext) -> list[Change]:
    site_id = uid(event.originator_id)
    return [
        _entry(
            event,
            ctx,
            kind="site.registered",
            subject_kind="site",
            site_id=site_id,
            case_id=None,
            summary=f"site {event.name} registered in {event.region}",
        )
    ]


def inspection_opened(event: Any, ctx: EventContext) -> list[Change]:
    team = ", ".join(member.name for member in event.inspectors)
    return [
        Upsert(
            "history_subjects",
            {"subject_id": uid(event.originator_id)},
            {"site_id": uid(event.site_id), "case_id": None},
        ),
        _about_inspection(
            event,
            ctx,
            "inspection.opened",
            f"inspection opened against {event.template_code} v{event.template_version} by {team}",
        ),
    ]


def item_recorded(event: Any, ctx: EventContext) -> list[Change]:
    note = f": {event.note}" if event.note else ""
    return [
        _about_inspection(
            event, ctx, "inspection.item_recorded", f"item {event.item_code} {event.result}{note}"
        )
    ]


def inspection_completed(event: Any, ctx: EventContext) -> list[Change]:
    return [_about_inspection(event, ctx, "inspection.completed", "inspection completed")]


def inspection_cancelled(event: Any, ctx: EventContext) -> list[Change]:
    return [
        _about_inspection(
            event, ctx, "inspection.cancelled", "inspection cancelled", reason=event.reason
        )
    ]


def hazard_reported(event: Any, ctx: EventContext) -> list[Change]:
    return [
        Upsert(
            "history_subjects",
            {"subject_id": uid(event.originator_id)},
            {"site_id": uid(event.site_id), "case_id": uid(event.originator_id)},
        ),
        _about_case(
            event,
            ctx,
            "hazard.reported",
            f"{event.severity} hazard reported ({event.category}): {event.description}",
        ),
    ]


def hazard_regraded(event: Any, ctx: EventContext) -> list[Change]:
    return [
        _about_case(
            event,
            ctx,
            "hazard.regraded",
            f"hazard re-graded from {event.old_severity} to {event.severity}",
            reason=event.reason,
        )
    ]


def fixed_on_the_spot(event: Any, ctx: EventContext) -> list[Change]:
    return [_about_case(event, ctx, "hazard.fixed_on_the_spot", f"fixed on the spot: {event.note}")]


def hazard_dismissed(event: Any, ctx: EventContext) -> list[Change]:
    return [_about_case(event, ctx, "hazard.dismissed", "hazard dismissed", reason=event.reason)]


def case_closed(event: Any, ctx: EventContext) -> list[Change]:
    return [
        _about_case(
            event,
            ctx,
            "case.closed",
            f"case closed, signed by {event.signature.signer_name}",
            reason=event.reason,
        )
    ]


def case_reopened(event: Any, ctx: EventContext) -> list[Change]:
    return [_about_case(event, ctx, "case.reopened", "case reopened", reason=event.reason)]


def order_issued(event: Any, ctx: EventContext) -> list[Change]:
    return [
        Upsert(
            "history_subjects",
            {"subject_id": uid(event.originator_id)},
            {"site_id": _subject(event.hazard_id, "site_id"), "case_id": uid(event.hazard_id)},
        ),
        _about_order(
            event,
            ctx,
            "order.issued",
            f"order {event.number} issued to {event.party.name}, deadline {day(event.deadline)}",
        ),
    ]


def order_acknowledged(event: Any, ctx: EventContext) -> list[Change]:
    return [
        _about_order(event, ctx, "order.acknowledged", "order acknowledged" + _on_behalf(event))
    ]


def progress_reported(event: Any, ctx: EventContext) -> list[Change]:
    return [
        _about_order(
            event, ctx, "order.progress_reported", f"progress: {event.note}{_on_behalf(event)}"
        )
    ]


def extension_requested(event: Any, ctx: EventContext) -> list[Change]:
    return [
        _about_order(
            event,
            ctx,
            "order.extension_requested",
            f"extension to {day(event.new_deadline)} requested{_on_behalf(event)}",
            reason=event.reason,
        )
    ]


def extension_granted(event: Any, ctx: EventContext) -> list[Change]:
    return [
        _about_order(
            event,
            ctx,
            "order.extension_granted",
            f"deadline extended from {day(event.old_deadline)} to {day(event.new_deadline)}",
            reason=event.reason,
        )
    ]


def extension_denied(event: Any, ctx: EventContext) -> list[Change]:
    return [
        _about_order(
            event,
            ctx,
            "order.extension_denied",
            f"extension to {day(event.requested_deadline)} denied",
            reason=event.reason,
        )
    ]


def order_completion_reported(event: Any, ctx: EventContext) -> list[Change]:
    return [
        _about_order(
            event,
            ctx,
            "order.completion_reported",
            f"completion reported: {event.note}{_on_behalf(event)}",
        )
    ]


def order_fulfilled(event: Any, ctx: EventContext) -> list[Change]:
    return [_about_order(event, ctx, "order.fulfilled", "order fulfilled")]


def order_reopened(event: Any, ctx: EventContext) -> list[Change]:
    return [
        _about_order(
            event,
            ctx,
            "order.reopened",
            f"order reopened after a failed verification, attempt {event.attempt}, "
            f"new deadline {day(event.new_deadline)}",
        )
    ]


def order_cancelled(event: Any, ctx: EventContext) -> list[Change]:
    return [_about_order(event, ctx, "order.cancelled", "order cancelled", reason=event.reason)]


def order_overdue(event: Any, ctx: EventContext) -> list[Change]:
    return [
        _about_order(event, ctx, "order.overdue", f"order overdue (deadline {day(event.deadline)})")
    ]


def order_escalated(event: Any, ctx: EventContext) -> list[Change]:
    return [_about_order(event, ctx, "order.escalated", f"escalated to {event.to_role}s")]


def verification_performed(event: Any, ctx: EventContext) -> list[Change]:
    outcome = "passed" if event.passed else "failed"
    return [
        _entry(
            event,
            ctx,
            kind=f"verification.{outcome}",
            subject_kind="verification",
            site_id=_subject(event.hazard_id, "site_id"),
            case_id=uid(event.hazard_id),
            summary=f"verification {outcome} (attempt {event.attempt}): {event.findings}",
        )
    ]


HANDLERS: dict[str, Callable[[Any, EventContext], list[Change]]] = {
    "Site.Registered": site_registered,
    "Inspection.Opened": inspection_opened,
    "Inspection.ItemRecorded": item_recorded,
    "Inspection.Completed": inspection_completed,
    "Inspection.Cancelled": inspection_cancelled,
    "Hazard.Reported": hazard_reported,
    "Hazard.Regraded": hazard_regraded,
    "Hazard.FixedOnTheSpot": fixed_on_the_spot,
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
    "Inspection.HazardReported": "echoes the hazard's Reported event",
    "Hazard.OrderIssued": "echoes the order's Issued event",
    "Hazard.CompletionReported": "echoes the order's CompletionReported event",
    "Hazard.VerificationPassed": "echoes the verification's Performed event",
    "Hazard.VerificationFailed": "echoes the verification's Performed event",
    "OrderNumberSequence.Started": "not about a site",
    "OrderNumberSequence.Allocated": "not about a site",
}
"""Events that add no row to a site's history, and why."""


def history_changes(event: Any, ctx: EventContext) -> list[Change]:
    """What ``event`` adds to the ``site_history`` read model."""
    handler = HANDLERS.get(type(event).__qualname__)
    return handler(event, ctx) if handler is not None else []
