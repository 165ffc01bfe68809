"""Which commands a person may give a case or an order now.

A screen offers only the actions that would be accepted; the answer must come
from the same rules that accept or refuse the command, not from a second copy
of them. So each action is tried on a throw-away copy of the aggregate with
plausible values: if the domain refuses it for the person's role, their
relation to the order, or the record's state (``NotPermitted``,
``IllegalTransition``), it is not offered. A refusal of the values themselves
(``InvalidCommand``: an empty reason, a date too early) does not hide the
action — the person is about to type those values.

Nothing is saved: the copies and their pending events are discarded.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import IllegalTransition, InvalidCommand, NotPermitted
from domain.hazard import Hazard
from domain.inspection import Inspection
from domain.order import DeadlinePolicy, RectificationOrder
from domain.values import (
    Actor,
    Evidence,
    FivePointPlan,
    ResponsibleParty,
    Severity,
    Signature,
    SignatureMeaning,
)
from domain.verification import Verification

CASE_ACTIONS = ("issue_order", "fix_on_the_spot", "verify", "regrade", "dismiss", "close", "reopen")
"""What may be done to a case, in the order a screen lists them."""

ORDER_ACTIONS = (
    "acknowledge",
    "report_progress",
    "request_extension",
    "report_completion",
    "grant_extension",
    "deny_extension",
)
"""What may be done to an order, in the order a screen lists them."""

# Placeholder values that pass every value check, so only role and state decide.
_REASON = "-"
_EVIDENCE = Evidence(sha256="0" * 64, name="-", media_type="image/jpeg", size=1)


def _allowed(attempt: Callable[[], object]) -> bool:
    try:
        attempt()
    except (NotPermitted, IllegalTransition):
        return False
    except InvalidCommand:
        return True
    return True


def _signature(actor: Actor, meaning: str, at: datetime) -> Signature:
    return Signature(signer_id=actor.user_id, signer_name=actor.name, meaning=meaning, signed_at=at)


@dataclass(frozen=True)
class AvailableActions:
    """The actions a person may take on one record now, by name."""

    names: frozenset[str]

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def ordered(self, order: tuple[str, ...]) -> list[str]:
        return [name for name in order if name in self.names]


def case_actions(
    hazard: Hazard, open_order: RectificationOrder | None, actor: Actor, at: datetime
) -> AvailableActions:
    """What ``actor`` may do to the case now (its hazard, and its open order if any)."""

    def on_copy(action: Callable[[Hazard], object]) -> Callable[[], object]:
        return lambda: action(copy.deepcopy(hazard))

    def issue(h: Hazard) -> None:
        order = RectificationOrder.issue(
            hazard=h,
            number="0000-0000",
            party=ResponsibleParty(name=_REASON, contact=_REASON),
            measures=_REASON,
            deadline=None,
            five_point_plan=FivePointPlan(
                responsible_person=_REASON,
                measures=_REASON,
                funds=_REASON,
                deadline=at.date() + timedelta(days=1),
                contingency_plan=_REASON,
            ),
            policy=DeadlinePolicy(),
            today=at.date(),
            actor=actor,
            at=at,
        )
        h.note_order_issued(order_id=order.id, number=order.number, actor=actor, at=at)

    def verify(h: Hazard) -> None:
        order = copy.deepcopy(open_order) if open_order is not None else None
        Verification.perform(
            hazard=h, order=order, passed=True, findings=_REASON, evidence=[], actor=actor, at=at
        )

    other = Severity.MAJOR if hazard.severity == Severity.GENERAL else Severity.GENERAL
    attempts: dict[str, Callable[[], object]] = {
        "issue_order": on_copy(issue),
        "fix_on_the_spot": on_copy(
            lambda h: h.fix_on_the_spot(note=_REASON, evidence=[_EVIDENCE], actor=actor, at=at)
        ),
        "verify": on_copy(verify),
        "regrade": on_copy(lambda h: h.regrade(severity=other, reason=_REASON, actor=actor, at=at)),
        "dismiss": on_copy(lambda h: h.dismiss(reason=_REASON, actor=actor, at=at)),
        "close": on_copy(
            lambda h: h.close(
                reason=_REASON,
                signature=_signature(actor, SignatureMeaning.CLOSED_AS_RECTIFIED, at),
                actor=actor,
                at=at,
            )
        ),
        "reopen": on_copy(lambda h: h.reopen(reason=_REASON, actor=actor, at=at)),
    }
    return AvailableActions(frozenset(name for name, run in attempts.items() if _allowed(run)))


def order_actions(order: RectificationOrder, actor: Actor, at: datetime) -> AvailableActions:
    """What ``actor`` may do to the order now."""

    def on_copy(action: Callable[[RectificationOrder], object]) -> Callable[[], object]:
        return lambda: action(copy.deepcopy(order))

    later = order.deadline + timedelta(days=1)
    attempts: dict[str, Callable[[], object]] = {
        "acknowledge": on_copy(lambda o: o.acknowledge(actor=actor, at=at)),
        "report_progress": on_copy(
            lambda o: o.report_progress(note=_REASON, evidence=[], actor=actor, at=at)
        ),
        "request_extension": on_copy(
            lambda o: o.request_extension(new_deadline=later, reason=_REASON, actor=actor, at=at)
        ),
        "report_completion": on_copy(
            lambda o: o.report_completion(note=_REASON, evidence=[], actor=actor, at=at)
        ),
        "grant_extension": on_copy(
            lambda o: o.grant_extension(
                reason=_REASON,
                signature=_signature(actor, SignatureMeaning.EXTENSION_GRANTED, at),
                actor=actor,
                at=at,
            )
        ),
        "deny_extension": on_copy(lambda o: o.deny_extension(reason=_REASON, actor=actor, at=at)),
    }
    return AvailableActions(frozenset(name for name, run in attempts.items() if _allowed(run)))


INSPECTION_ACTIONS = ("record_item", "report_hazard", "complete", "cancel")
"""What may be done to an inspection, in the order a screen lists them."""


def inspection_actions(inspection: Inspection, actor: Actor, at: datetime) -> AvailableActions:
    """What ``actor`` may do to the inspection now (recording, reporting, completing)."""

    def on_copy(action: Callable[[Inspection], object]) -> Callable[[], object]:
        return lambda: action(copy.deepcopy(inspection))

    first_item = inspection.item_codes[0] if inspection.item_codes else ""

    def report(i: Inspection) -> None:
        Hazard.report(
            site_id=i.site_id,
            inspection_id=i.id,
            item_code=None,
            category=_REASON,
            description=_REASON,
            location="",
            severity=Severity.GENERAL,
            evidence=[],
            actor=actor,
            at=at,
        )
        i.link_hazard(hazard_id=i.id, item_code=None, actor=actor, at=at)

    attempts: dict[str, Callable[[], object]] = {
        "record_item": on_copy(
            lambda i: i.record_item(
                item_code=first_item, result="pass", note="", actor=actor, at=at
            )
        ),
        "report_hazard": on_copy(report),
        "complete": on_copy(lambda i: i.complete(actor=actor, at=at)),
        "cancel": on_copy(lambda i: i.cancel(reason=_REASON, actor=actor, at=at)),
    }
    return AvailableActions(frozenset(name for name, run in attempts.items() if _allowed(run)))
