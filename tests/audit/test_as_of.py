"""As of: any aggregate at any version or moment equals replaying its events up to
there; a case at any step of its timeline equals replaying the timeline to there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from application.app import RectifyApp
from application.audit import AuditService, NotInHistory
from application.audit.describe import aggregate_state
from application.errors import NotFound
from domain.errors import InvalidCommand
from infrastructure.clock import ManualClock
from tests.audit.conftest import History
from tests.core.scenario import SHANGHAI, Stage, Sweep


def replayed(app: RectifyApp, aggregate_id: UUID, upto: int) -> dict[str, Any]:
    """The aggregate rebuilt from its first ``upto`` events, one mutate at a time."""
    aggregate = None
    for event in list(app.events.get(aggregate_id))[:upto]:
        aggregate = event.mutate(aggregate)
    assert aggregate is not None
    return aggregate_state(aggregate)


def test_an_aggregate_as_of_every_version_equals_replaying_that_prefix(
    app: RectifyApp, audit: AuditService, history: History
) -> None:
    for aggregate_id in (history.major, history.major_order, history.spot, history.dismissed):
        latest = app.repository.get(aggregate_id).version
        for version in range(1, latest + 1):
            assert audit.aggregate_state(aggregate_id, version=version) == replayed(
                app, aggregate_id, version
            ), f"{aggregate_id} v{version}"


def test_as_of_a_version_uses_a_snapshot_and_still_equals_the_replay(
    app: RectifyApp, audit: AuditService, sweep: Sweep
) -> None:
    # Inspections are snapshotted every 20 events: re-record items past that.
    inspection = sweep.open_inspection()
    for round_ in range(4):
        for code in (
            "mask",
            "temperature",
            "health-code",
            "itinerary-code",
            "visitor-register",
            "nucleic-acid-proof",
        ):
            sweep.record(inspection, code, "pass" if round_ % 2 else "na")
    assert app.snapshots is not None
    snapshots = list(app.snapshots.get(inspection))
    assert [s.originator_version for s in snapshots] == [20]
    latest = app.repository.get(inspection).version
    for version in (1, 19, 20, 21, latest):
        assert audit.aggregate_state(inspection, version=version) == replayed(
            app, inspection, version
        )


def test_an_aggregate_as_of_a_moment_is_its_last_version_by_then(
    app: RectifyApp, audit: AuditService, sweep: Sweep, clock: ManualClock
) -> None:
    case = sweep.arrange_case(Stage.ORDER_ISSUED)
    issued_at = clock()
    clock.advance(hours=3)
    sweep.acknowledge(case.order)
    clock.advance(hours=3)
    sweep.report_completion(case.order)

    before = audit.aggregate_state(case.order, at=issued_at + timedelta(hours=1))
    assert (before["version"], before["state"]["status"]) == (1, "issued")
    between = audit.aggregate_state(case.order, at=issued_at + timedelta(hours=4))
    assert (between["version"], between["state"]["status"]) == (2, "acknowledged")
    now = audit.aggregate_state(case.order)
    assert now == replayed(app, case.order, 3)


def test_a_moment_without_a_zone_is_read_in_the_services_time_zone(
    audit: AuditService, sweep: Sweep, clock: ManualClock
) -> None:
    case = sweep.arrange_case(Stage.ORDER_ISSUED)  # 09:00 in 安义, 01:00 UTC
    clock.advance(hours=2)
    sweep.acknowledge(case.order)  # 11:00 in 安义
    ten_oclock = clock().astimezone(SHANGHAI).replace(tzinfo=None) - timedelta(hours=1)
    local = audit.aggregate_state(case.order, at=ten_oclock)
    # Read as 10:00 UTC it would be after the acknowledgement; as 10:00 in 安义, before.
    assert local["state"]["status"] == "issued"


def test_a_case_at_every_step_of_its_timeline_equals_replaying_the_timeline(
    audit: AuditService, history: History
) -> None:
    for case_id in (history.major, history.spot, history.dismissed):
        for step in audit.timeline(case_id).steps:
            if step.case_state["hazard"] is None:
                continue
            as_of = audit.case_state(case_id, position=step.entry.position)
            assert as_of.pop("position") <= step.entry.position
            assert as_of == step.case_state, f"{case_id} at {step.entry.position}"


def test_a_case_as_of_a_version_of_its_hazard_shows_its_orders_as_they_were(
    audit: AuditService, history: History
) -> None:
    # Version 2 of the major hazard is its OrderIssued: the order had just been issued.
    state = audit.case_state(history.major, version=2)
    assert state["hazard"]["version"] == 2
    assert [(o["version"], o["state"]["status"]) for o in state["orders"]] == [(1, "issued")]
    assert state["verifications"] == []


def test_a_dismissed_case_as_of_before_the_dismissal_had_an_open_order(
    audit: AuditService, history: History
) -> None:
    dismissal = next(
        e for e in audit.timeline(history.dismissed).entries if e.event_type == "Hazard.Dismissed"
    )
    before = audit.case_state(history.dismissed, at=dismissal.time - timedelta(seconds=1))
    assert before["hazard"]["state"]["status"] == "rectifying"
    assert [o["state"]["status"] for o in before["orders"]] == ["issued"]
    after = audit.case_state(history.dismissed)
    assert after["hazard"]["state"]["status"] == "dismissed"
    assert [o["state"]["status"] for o in after["orders"]] == ["cancelled"]


def test_a_version_that_does_not_exist_yet_is_not_in_the_history(
    audit: AuditService, history: History
) -> None:
    with pytest.raises(NotInHistory, match="no version 99"):
        audit.aggregate_state(history.major_order, version=99)
    with pytest.raises(NotInHistory, match="no version 99"):
        audit.case_state(history.major, version=99)


def test_a_moment_before_the_aggregate_existed_is_not_in_its_history(
    audit: AuditService, history: History
) -> None:
    first = audit.timeline(history.spot).entries[0].time
    with pytest.raises(NotInHistory, match="did not exist yet"):
        audit.aggregate_state(history.spot, at=first - timedelta(days=1))
    with pytest.raises(NotInHistory, match="did not exist yet"):
        audit.case_state(history.spot, at=first - timedelta(days=1))


def test_asking_for_a_version_and_a_moment_at_once_is_refused(
    audit: AuditService, history: History, clock: ManualClock
) -> None:
    with pytest.raises(InvalidCommand) as refused:
        audit.case_state(history.major, at=clock(), version=1)
    assert refused.value.rule == "as_of_choice"


def test_an_unknown_id_is_not_found(audit: AuditService) -> None:
    unknown = UUID("00000000-0000-4000-8000-000000000000")
    with pytest.raises(NotFound):
        audit.aggregate_state(unknown)
    with pytest.raises(NotFound):
        audit.case_state(unknown)


def test_an_order_id_is_not_a_case(audit: AuditService, history: History) -> None:
    with pytest.raises(NotFound, match="no case"):
        audit.timeline(history.major_order)
