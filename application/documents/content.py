"""What a printed document says (文书内容), built from the events of its records.

A document's content is plain JSON-able data (text, numbers, booleans, lists,
mappings), the same whatever the language it is printed in: the templates put
labels around it. The same data is embedded in the PDF, hashed into its
digest, and rebuilt from the log when the document is checked, so whatever
the content holds is what a check compares.

- :func:`notice_content` — 整改通知书, the rectification notice of one order;
- :func:`record_content` — 复查意见, the record of one verification.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from application.audit.describe import event_type_of
from domain.checklists import get_template
from domain.errors import InvalidCommand
from domain.hazard import Hazard
from domain.inspection import Inspection
from domain.order import RectificationOrder
from domain.site import Site
from domain.values import Actor, Evidence, FivePointPlan
from domain.verification import Verification

Content = dict[str, Any]


def content_digest(content: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the content's canonical JSON: keys sorted, no spacing, UTF-8."""
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def flatten(content: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"party": {"name": …}}`` → ``{"party.name": …}``; list items as ``field[0]``.

    A difference between two documents is then named by the field a reader
    sees on the page (``deadline``, ``party.name``, ``deadline_changes[0].reason``).
    """
    flat: dict[str, Any] = {}
    for key, value in content.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + ".") if value else {name: {}})
        elif isinstance(value, list):
            if not value:
                flat[name] = []
            for index, item in enumerate(value):
                item_name = f"{name}[{index}]"
                if isinstance(item, Mapping):
                    flat.update(flatten(item, item_name + "."))
                else:
                    flat[item_name] = item
        else:
            flat[name] = value
    return flat


# -- the parts every document shares -----------------------------------------------------------


def _local_day(moment: datetime, time_zone: ZoneInfo) -> str:
    return moment.astimezone(time_zone).date().isoformat()


def _local_time(moment: datetime, time_zone: ZoneInfo) -> str:
    return moment.astimezone(time_zone).replace(microsecond=0).isoformat()


def _person(actor: Actor) -> Content:
    return {"user_id": actor.user_id, "name": actor.name, "role": actor.role.value}


def _evidence(items: Sequence[Evidence]) -> list[Content]:
    return [{"name": e.name, "sha256": e.sha256} for e in items]


def _site(site: Site) -> Content:
    return {
        "name": site.name,
        "region": site.region,
        "address": site.address,
        "operator": site.operator,
        "contact": site.contact,
    }


def _hazard(hazard: Hazard, inspection: Inspection, time_zone: ZoneInfo) -> Content:
    item: Content | None = None
    if hazard.item_code is not None:
        try:
            template = get_template(inspection.template_code, inspection.template_version)
        except InvalidCommand:
            # A template no longer shipped: the code alone still names the item.
            template = None
        wording = {i.code: i for i in template.items} if template is not None else {}
        known = wording.get(hazard.item_code)
        item = {
            "code": hazard.item_code,
            "zh": known.zh if known else hazard.item_code,
            "en": known.en if known else hazard.item_code,
        }
    return {
        "case_id": str(hazard.id),
        "category": hazard.category,
        "severity": hazard.severity.value,
        "description": hazard.description,
        "location": hazard.location,
        "checklist_item": item,
        "reported_on": _local_day(hazard.reported_at, time_zone),
        "reported_by": _person(hazard.reported_by),
    }


def _five_point_plan(plan: FivePointPlan | None) -> Content | None:
    if plan is None:
        return None
    return {
        "responsible_person": plan.responsible_person,
        "measures": plan.measures,
        "funds": plan.funds,
        "deadline": plan.deadline.isoformat(),
        "contingency_plan": plan.contingency_plan,
    }


def _day(value: date) -> str:
    return value.isoformat()


# -- 整改通知书 ----------------------------------------------------------------------------------


def notice_content(
    *,
    order: RectificationOrder,
    order_events: Sequence[Any],
    hazard: Hazard,
    inspection: Inspection,
    site: Site,
    time_zone: ZoneInfo,
) -> Content:
    """The rectification notice (整改通知书) of ``order`` as its events left it.

    ``order_events`` are the order's events up to the document's position, in
    order: the notice shows the deadline first set and every later change to
    it (a granted extension, a new deadline after a failed verification). What
    the party did since (acknowledged, reported) is not part of the notice, so
    it does not make a printed notice outdated.
    """
    changes: list[Content] = []
    for event in order_events:
        name = event_type_of(type(event))
        if name == "RectificationOrder.ExtensionGranted":
            changes.append(
                {
                    "kind": "extension_granted",
                    "old_deadline": _day(event.old_deadline),
                    "new_deadline": _day(event.new_deadline),
                    "on": _local_day(event.timestamp, time_zone),
                    "reason": event.reason,
                    "signed_by": event.signature.signer_name,
                }
            )
        elif name == "RectificationOrder.ReopenedAfterFailedVerification":
            changes.append(
                {
                    "kind": "verification_failed",
                    "old_deadline": _day(event.old_deadline),
                    "new_deadline": _day(event.new_deadline),
                    "on": _local_day(event.timestamp, time_zone),
                    "attempt": int(event.attempt),
                }
            )
    first_deadline = order_events[0].deadline if order_events else order.deadline
    return {
        "kind": "rectification_notice",
        "order_id": str(order.id),
        "number": order.number,
        "severity": order.severity.value,
        "issued_on": _local_day(order.issued_at, time_zone),
        "issued_by": _person(order.issued_by),
        "party": {"name": order.party.name, "contact": order.party.contact},
        "site": _site(site),
        "hazard": _hazard(hazard, inspection, time_zone),
        "measures": order.measures,
        "first_deadline": _day(first_deadline),
        "deadline": _day(order.deadline),
        "deadline_changes": changes,
        "attempt": int(order.attempt),
        "five_point_plan": _five_point_plan(order.five_point_plan),
    }


# -- 复查意见 ------------------------------------------------------------------------------------


def record_content(
    *,
    verification: Verification,
    order: RectificationOrder | None,
    order_events: Sequence[Any],
    hazard: Hazard,
    hazard_events: Sequence[Any],
    inspection: Inspection,
    site: Site,
    time_zone: ZoneInfo,
) -> Content:
    """The verification record (复查意见) of ``verification``.

    ``order`` is the order as it stood when the verification was performed (its
    completion report is what was checked); ``order_events`` and
    ``hazard_events`` run up to the document's position, so the deadline a
    failed verification set next is shown too. A verification of an
    on-the-spot fix (即查即改) has no order: the fix is what was checked.
    """
    checked: Content
    next_deadline: str | None = None
    if order is not None:
        completion = order.last_completion or {}
        checked = {
            "what": "completion_report",
            "order_number": order.number,
            "party": {"name": order.party.name, "contact": order.party.contact},
            "measures": order.measures,
            "deadline": _day(order.deadline),
            "note": completion.get("note", ""),
            "reported_on": (
                _local_day(completion["at"], time_zone) if completion.get("at") else None
            ),
            "evidence": _evidence(completion.get("evidence", [])),
        }
        for event in order_events:
            if (
                event_type_of(type(event)) == "RectificationOrder.ReopenedAfterFailedVerification"
                and event.verification_id == verification.id
            ):
                next_deadline = _day(event.new_deadline)
    else:
        fixes = [e for e in hazard_events if event_type_of(type(e)) == "Hazard.FixedOnTheSpot"]
        fix = fixes[-1] if fixes else None
        checked = {
            "what": "fixed_on_the_spot",
            "note": fix.note if fix is not None else "",
            "reported_on": _local_day(fix.timestamp, time_zone) if fix is not None else None,
            "evidence": _evidence(fix.evidence) if fix is not None else [],
        }
    return {
        "kind": "verification_record",
        "verification_id": str(verification.id),
        "attempt": int(verification.attempt),
        "passed": bool(verification.passed),
        "findings": verification.findings,
        "performed_at": _local_time(verification.performed_at, time_zone),
        "verifier": _person(verification.verifier),
        "evidence": _evidence(verification.evidence),
        "checked": checked,
        "next_deadline": next_deadline,
        "site": _site(site),
        "hazard": _hazard(hazard, inspection, time_zone),
    }
