"""The case timeline: every event of the case and the inspection events that concern
it, in log order, each with who, when, a sentence in Chinese and English, why and
what changed."""

from __future__ import annotations

from typing import Any

from eventsourcing.utils import get_topic

from application.app import RectifyApp
from application.audit import AuditService
from application.audit.describe import (
    described_event_types,
    event_classes,
    event_type_of,
    sentence_for,
)
from infrastructure.clock import ManualClock
from tests.audit.conftest import History
from tests.core.scenario import CHEN_XIAOFENG, FAILED_ITEM, Severity, Stage, Sweep


def changes_of(entry: Any) -> dict[str, tuple[Any, Any]]:
    return {c.field: (c.old, c.new) for c in entry.changes}


def test_every_event_type_of_the_domain_reads_as_a_sentence() -> None:
    recorded = {event_type_of(cls) for cls in event_classes()}
    assert len(recorded) >= 30
    assert recorded <= described_event_types(), recorded - described_event_types()


def test_every_event_of_the_log_reads_in_chinese_and_english(
    app: RectifyApp, history: History
) -> None:
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        event = app.mapper.to_domain_event(notification)
        zh, en = sentence_for(event, app.repository.get(event.originator_id))
        assert zh and en and zh != en
        assert event.actor.name in zh
        assert notification.topic == get_topic(type(event))


def test_the_timeline_holds_the_case_and_its_inspections_related_events_in_log_order(
    app: RectifyApp, audit: AuditService, history: History
) -> None:
    hazard = app.get_hazard(history.major)
    timeline = audit.timeline(history.major)
    entries = timeline.entries
    positions = [e.position for e in entries]
    assert positions == sorted(positions)

    parts = {hazard.id, *hazard.order_ids, *hazard.verification_ids}
    expected_parts = [
        n.id
        for n in app.recorder.select_notifications(start=1, limit=10_000)
        if n.originator_id in parts
    ]
    assert [e.position for e in entries if e.aggregate_id in parts] == expected_parts

    inspection = [e for e in entries if e.aggregate_id == hazard.inspection_id]
    assert [e.event_type for e in inspection] == [
        "Inspection.Opened",
        "Inspection.ItemRecorded",
        "Inspection.HazardReported",
    ]
    assert "经营人员两天一次核酸检测" in inspection[1].sentence_zh  # the hazard's item only
    assert [e.event_type for e in entries if e.aggregate_type == "verification"] == [
        "Verification.Performed",
        "Verification.Performed",
    ]


def test_each_entry_says_who_when_what_and_why(audit: AuditService, history: History) -> None:
    entries = {e.event_type: e for e in audit.timeline(history.major).entries}
    granted = entries["RectificationOrder.ExtensionGranted"]
    assert (granted.actor_id, granted.actor_name, granted.actor_role) == (
        "zhangming",
        "张铭",
        "supervisor",
    )
    assert granted.reason == "检测点排队属实"
    assert "签字同意延期" in granted.sentence_zh and "granted the extension" in granted.sentence_en
    old, new = changes_of(granted)["deadline"]
    assert old < new

    closed = entries["Hazard.Closed"]
    assert closed.time > granted.time
    assert closed.reason == "复查合格，准予销号"
    assert changes_of(closed)["status"] == ("verified", "closed")


def test_what_changed_is_old_to_new_as_the_aggregate_kept_it(
    audit: AuditService, history: History
) -> None:
    entries = audit.timeline(history.major).entries
    reopened = next(
        e for e in entries if e.event_type == "RectificationOrder.ReopenedAfterFailedVerification"
    )
    changed = changes_of(reopened)
    assert changed["status"] == ("completion_reported", "acknowledged")
    assert changed["attempt"] == (1, 2)
    reported = next(e for e in entries if e.event_type == "Hazard.Reported")
    assert changes_of(reported)["severity"] == (None, "major")
    assert changes_of(reported)["status"] == (None, "reported")
    linked = next(e for e in entries if e.event_type == "Inspection.HazardReported")
    assert changes_of(linked)["hazard_ids"] == ([], [str(history.major)])


def test_an_on_the_spot_fix_and_a_dismissal_read_as_what_they_were(
    audit: AuditService, history: History
) -> None:
    spot = [e.event_type for e in audit.timeline(history.spot).entries]
    assert spot[-3:] == [
        "Hazard.FixedOnTheSpot",
        "Verification.Performed",
        "Hazard.VerificationPassed",
    ]
    dismissed = audit.timeline(history.dismissed).entries
    last_two = dismissed[-2:]
    assert [e.event_type for e in last_two] == ["Hazard.Dismissed", "RectificationOrder.Cancelled"]
    assert last_two[0].position < last_two[1].position
    assert "撤销误报隐患" in last_two[0].sentence_zh
    assert last_two[0].reason == "体温计在柜台下，误报"


def test_other_items_and_other_hazards_of_the_same_inspection_stay_out(
    app: RectifyApp, audit: AuditService, sweep: Sweep
) -> None:
    inspection = sweep.open_inspection()
    sweep.record_all(inspection, failed=(FAILED_ITEM, "mask"))
    first = sweep.report_hazard(inspection)
    second = app.report_hazard(
        CHEN_XIAOFENG,
        inspection,
        category="疫情防控",
        description="口罩佩戴不规范",
        severity=Severity.GENERAL,
        item_code="mask",
        expected_version=sweep.version(inspection),
    )
    kinds = [(e.event_type, e.sentence_en) for e in audit.timeline(first).entries]
    assert [k for k, _ in kinds].count("Inspection.ItemRecorded") == 1
    assert [k for k, _ in kinds].count("Inspection.HazardReported") == 1
    assert all(str(second) not in sentence for _, sentence in kinds)


def test_the_timeline_grows_with_the_case(
    audit: AuditService, sweep: Sweep, clock: ManualClock
) -> None:
    case = sweep.arrange_case(Stage.HAZARD_REPORTED)
    before = len(audit.timeline(case.hazard).steps)
    clock.advance(hours=1)
    sweep.issue_order(case.hazard)
    after = audit.timeline(case.hazard).entries
    assert len(after) == before + 2
    assert [e.event_type for e in after[-2:]] == ["RectificationOrder.Issued", "Hazard.OrderIssued"]


def test_what_the_system_records_reads_as_the_systems(
    audit: AuditService, sweep: Sweep, clock: ManualClock
) -> None:
    case = sweep.arrange_case(Stage.ACKNOWLEDGED, severity=Severity.MAJOR)
    clock.advance(days=31)
    report = sweep.app.mark_overdue()
    assert report.escalated == [case.order]
    overdue, escalated = audit.timeline(case.hazard).entries[-2:]
    assert (overdue.event_type, escalated.event_type) == (
        "RectificationOrder.BecameOverdue",
        "RectificationOrder.EscalatedToSupervisors",
    )
    assert overdue.actor_role == "system"
    assert "逾期" in overdue.sentence_zh and "overdue" in overdue.sentence_en
    assert "2022-0001" in overdue.sentence_en
    assert "escalated to the supervisors" in escalated.sentence_en
