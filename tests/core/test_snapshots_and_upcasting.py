"""What the store keeps, and what comes back out of it.

- Events written in an older form (``Inspection.ItemRecorded`` version 1, which
  recorded ``passed: bool``) still load, upcast to today's form.
- A long-lived aggregate is snapshotted, and loading it from its snapshot gives
  the same state as replaying every event.
- The stored events are JSON text an auditor can read with plain SQL: field
  names, Chinese text as it was written, dates as ISO dates.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from application.app import RectifyApp
from domain.hazard import HazardStatus
from domain.inspection import Inspection, InspectionStatus, ItemResult
from domain.order import OrderStatus
from infrastructure.clock import ManualClock
from infrastructure.composition import build_app
from tests.core.scenario import (
    CHEN_XIAOFENG,
    FAILED_ITEM,
    SWEEP_STARTS,
    TAO_BIAOYIN,
    ZHANG_MING,
    FakePasswords,
    Stage,
    Sweep,
    password_of,
    photo,
)


def state_of(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def replayed(app: RectifyApp, aggregate_id: UUID, version: int | None = None) -> Any:
    """The aggregate rebuilt from its events (up to ``version``), no snapshot used."""
    aggregate = None
    for domain_event in app.events.get(aggregate_id, lte=version):
        aggregate = domain_event.mutate(aggregate)
    assert aggregate is not None
    return aggregate


# -- upcasting ---------------------------------------------------------------------


def item_recorded_v1(
    app: RectifyApp, inspection_id: UUID, version: int, item_code: str, passed: bool, note: str
) -> StoredEvent:
    """An ``Inspection.ItemRecorded`` as version 1 of the event class stored it."""
    state = {
        "item_code": item_code,
        "passed": passed,
        "note": note,
        "actor": CHEN_XIAOFENG,
        "timestamp": SWEEP_STARTS.astimezone(UTC) + timedelta(minutes=version),
    }
    return StoredEvent(
        originator_id=inspection_id,
        originator_version=version,
        topic=get_topic(Inspection.ItemRecorded),
        state=app.mapper.transcoder.encode(state),
    )


def test_item_recorded_in_its_first_form_loads_as_pass_or_fail(sweep: Sweep) -> None:
    app = sweep.app
    inspection_id = sweep.open_inspection()
    old_events = [
        item_recorded_v1(app, inspection_id, 2, "mask", True, ""),
        item_recorded_v1(app, inspection_id, 3, FAILED_ITEM, False, "缺 4 月 14 日检测记录"),
    ]
    for stored in old_events:
        written = json.loads(stored.state)
        assert "passed" in written and "result" not in written and "class_version" not in written
    app.recorder.insert_events(old_events)

    inspection = app.get_inspection(inspection_id)
    assert inspection.version == 3
    assert inspection.results == {
        "mask": {"result": ItemResult.PASS, "note": "", "by": "chenxiaofeng"},
        FAILED_ITEM: {
            "result": ItemResult.FAIL,
            "note": "缺 4 月 14 日检测记录",
            "by": "chenxiaofeng",
        },
    }
    upcast = list(app.events.get(inspection_id, gt=1))
    assert [(e.item_code, e.result) for e in upcast] == [("mask", "pass"), (FAILED_ITEM, "fail")]
    assert all(not hasattr(e, "passed") for e in upcast)

    # The inspection carries on from the old events: a hazard from the failed item,
    # new items in today's form, completion.
    sweep.report_hazard(inspection_id)
    sweep.record_all(inspection_id, failed=())
    app.complete_inspection(
        CHEN_XIAOFENG, inspection_id, expected_version=sweep.version(inspection_id)
    )
    done = app.get_inspection(inspection_id)
    assert done.status == InspectionStatus.COMPLETED
    assert done.results["mask"]["result"] == ItemResult.PASS
    latest = list(app.recorder.select_events(inspection_id, gt=4, limit=1))
    assert json.loads(latest[0].state)["class_version"] == 2


# -- snapshots ---------------------------------------------------------------------


def test_aggregate_past_its_snapshot_interval_loads_from_snapshot_as_replayed(
    sweep: Sweep, clock: ManualClock
) -> None:
    app = sweep.app
    interval = app.snapshotting_intervals[Inspection]
    case = sweep.arrange_case(Stage.ACKNOWLEDGED)

    # The order: progress reports until its 20th event is an extension request,
    # so the snapshot holds a pending extension (a date and a time) too.
    while sweep.version(case.order) < interval - 1:
        clock.advance(hours=6)
        app.report_progress(
            TAO_BIAOYIN,
            case.order,
            note="正在组织检测",
            evidence=[photo("进度")],
            expected_version=sweep.version(case.order),
        )
    sweep.request_extension(case.order, date(2022, 5, 20))
    assert sweep.version(case.order) == interval
    app.grant_extension(
        ZHANG_MING,
        case.order,
        reason="检测点临时关闭",
        password=password_of(ZHANG_MING),
        expected_version=interval,
    )
    # The hazard: re-graded back and forth until past its interval.
    while sweep.version(case.hazard) < interval + 1:
        severity = "general" if app.get_hazard(case.hazard).severity == "major" else "major"
        app.regrade_hazard(
            ZHANG_MING,
            case.hazard,
            severity=severity,
            reason="复核",
            expected_version=sweep.version(case.hazard),
        )
    # The inspection: items corrected until past its interval.
    while sweep.version(case.inspection_id) < interval + 2:
        sweep.record(case.inspection_id, "temperature", "pass")

    for aggregate_id in (case.order, case.hazard, case.inspection_id):
        snapshots = list(app.snapshots.get(aggregate_id))  # type: ignore[union-attr]
        assert [s.originator_version for s in snapshots] == [interval]
        loaded = app.repository.get(aggregate_id)
        assert loaded.version > interval
        assert state_of(loaded) == state_of(replayed(app, aggregate_id))
        assert state_of(snapshots[0].mutate(None)) == state_of(
            replayed(app, aggregate_id, version=interval)
        )
        # Equal is not enough: a status back from JSON must be the enum again,
        # not a string that merely compares equal to it.
        for name, enum in type(loaded).enum_attributes:
            assert type(vars(loaded)[name]) is enum, name

    # What came back from the snapshot still obeys the domain: the case runs to its end.
    order = app.get_order(case.order)
    assert order.status == OrderStatus.ACKNOWLEDGED and order.deadline == date(2022, 5, 20)
    sweep.report_completion(case.order)
    sweep.verify(case.hazard)
    sweep.close(case.hazard)
    assert app.get_hazard(case.hazard).status == HazardStatus.CLOSED
    assert app.get_order(case.order).status == OrderStatus.FULFILLED


# -- the stored JSON, read with SQL ----------------------------------------------------


def run_a_case(app: RectifyApp, clock: ManualClock) -> Sweep:
    sweep = Sweep(app, clock)
    sweep.arrange_case(Stage.CLOSED)
    return sweep


def assert_readable(rows: list[tuple[str, str]], app: RectifyApp) -> None:
    """Each row is (topic, state as text): JSON with field names and Chinese as written."""
    assert rows
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for topic, text in rows:
        assert isinstance(text, str)
        assert "\\u" not in text, "non-ASCII text is escaped"
        by_topic.setdefault(topic.rpartition(":")[2], []).append(json.loads(text))

    site = by_topic["Site.Registered"][0]
    assert site["name"] == "陶表印盲人按摩店" and site["region"] == "安义县"
    hazard = by_topic["Hazard.Reported"][0]
    assert hazard["description"] == "经营人员未按要求两天一次核酸检测"
    assert hazard["actor"] == {
        "_type_": "actor",
        "_data_": {"user_id": "chenxiaofeng", "name": "陈小峰", "role": "inspector"},
    }
    assert hazard["timestamp"] == {"_type_": "datetime_iso", "_data_": "2022-04-18T01:00:00+00:00"}
    assert hazard["evidence"][0]["_data_"]["media_type"] == "image/jpeg"

    issued = by_topic["RectificationOrder.Issued"][0]
    assert issued["deadline"] == {"_type_": "date_iso", "_data_": "2022-04-25"}
    assert issued["number"] == "2022-0001"
    assert issued["party"]["_data_"]["name"] == "陶表印"
    assert issued["measures"] == "立即组织全体经营人员核酸检测，今后两天一次并登记"
    order_issued = by_topic["Hazard.OrderIssued"][0]
    assert order_issued["order_id"]["_type_"] == "uuid_hex"

    closed = by_topic["Hazard.Closed"][0]
    assert closed["reason"] == "复查合格，准予销号"
    assert closed["signature"]["_data_"]["signer_name"] == "张铭"
    assert closed["signature"]["_data_"]["meaning"] == "closed as rectified 整改完成，准予销号"

    # And the values come back exactly, of the same types.
    order_id = UUID(order_issued["order_id"]["_data_"])
    loaded = next(iter(app.events.get(order_id)))
    assert type(loaded.deadline) is date and loaded.deadline == date(2022, 4, 25)
    assert loaded.timestamp == datetime(2022, 4, 18, 1, 0, tzinfo=UTC)
    assert loaded.hazard_id == UUID(by_topic["Inspection.HazardReported"][0]["hazard_id"]["_data_"])
    assert app.get_order(order_id).party.user_id == "taobiaoyin"


def test_sqlite_stores_events_as_readable_json(sqlite_url: str, clock: ManualClock) -> None:
    app = build_app(sqlite_url, clock=clock, passwords=FakePasswords())
    try:
        run_a_case(app, clock)
        path = sqlite_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as connection:
            rows = connection.execute(
                "SELECT topic, state FROM stored_events ORDER BY rowid"
            ).fetchall()
        assert_readable([(topic, bytes(state).decode("utf-8")) for topic, state in rows], app)
    finally:
        app.close()


@pytest.mark.postgres
def test_postgres_stores_events_as_readable_json(postgres_url: str, clock: ManualClock) -> None:
    app = build_app(postgres_url, clock=clock, passwords=FakePasswords())
    try:
        run_a_case(app, clock)
        with psycopg.connect(postgres_url) as connection:
            rows = connection.execute(
                "SELECT topic, convert_from(state, 'UTF8') FROM rectify_events "
                "ORDER BY notification_id"
            ).fetchall()
        assert_readable([(topic, text) for topic, text in rows], app)
    finally:
        app.close()
