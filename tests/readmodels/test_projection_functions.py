"""The projection functions, one event at a time: what each event does to the rows.

The events are real ones, recorded by the application (in memory) while the
seed story's sweep is played; each test picks the event it is about and
checks the changes its function returns. No database is involved.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.domain import Aggregate

from application.app import RectifyApp
from application.projections import cases, site_history
from application.projections.cases import EventContext, case_changes
from application.projections.changes import Insert, Lookup, Update, Upsert
from application.projections.site_history import history_changes
from domain.hazard import Hazard
from domain.inspection import Inspection
from domain.numbering import OrderNumberSequence
from domain.order import RectificationOrder
from domain.site import Site
from domain.values import Severity
from domain.verification import Verification
from infrastructure.clock import ManualClock
from infrastructure.composition import build_app
from tests.core.scenario import (
    CHEN_XIAOFENG,
    SWEEP_STARTS,
    TAO_BIAOYIN,
    ZHANG_MING,
    FakePasswords,
    Stage,
    Sweep,
    password_of,
    photo,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(SWEEP_STARTS)


@pytest.fixture
def app(clock: ManualClock) -> Iterator[RectifyApp]:
    application = build_app("popo://", clock=clock, passwords=FakePasswords())
    yield application
    application.close()


@pytest.fixture
def sweep(app: RectifyApp, clock: ManualClock) -> Sweep:
    return Sweep(app, clock)


def recorded(sweep: Sweep, since: int = 0) -> list[tuple[int, Any]]:
    """(position, event) of everything recorded after ``since``."""
    notifications = sweep.app.recorder.select_notifications(start=since + 1, limit=10_000)
    return [(n.id, sweep.app.mapper.to_domain_event(n)) for n in notifications]


def the(events: list[tuple[int, Any]], qualname: str) -> tuple[EventContext, Any]:
    """The context and event of the only event named ``qualname``."""
    matching = [(p, e) for p, e in events if type(e).__qualname__ == qualname]
    assert len(matching) == 1, f"{len(matching)} events {qualname}"
    position, event = matching[0]
    return EventContext(position, SHANGHAI), event


def domain_event_names() -> set[str]:
    names = set()
    for aggregate in (
        Site,
        Inspection,
        Hazard,
        RectificationOrder,
        Verification,
        OrderNumberSequence,
    ):
        for attribute in vars(aggregate).values():
            if (
                isinstance(attribute, type)
                and issubclass(attribute, Aggregate.Event)
                and attribute.__qualname__.startswith(aggregate.__name__ + ".")
                and attribute.__name__ not in ("Event", "Created")
            ):
                names.add(attribute.__qualname__)
    return names


@pytest.mark.parametrize("module", [cases, site_history], ids=["cases", "site_history"])
def test_every_domain_event_is_either_projected_or_ignored_with_a_reason(module: Any) -> None:
    names = domain_event_names()
    assert set(module.HANDLERS) | set(module.IGNORED) == names
    assert not set(module.HANDLERS) & set(module.IGNORED)


def test_an_event_no_rule_knows_changes_nothing() -> None:
    ctx = EventContext(1, SHANGHAI)
    assert case_changes(object(), ctx) == []
    assert history_changes(object(), ctx) == []


def test_a_reported_hazard_opens_a_case_on_the_local_day(sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.HAZARD_REPORTED, severity=Severity.MAJOR)
    ctx, event = the(recorded(sweep), "Hazard.Reported")
    (upsert,) = case_changes(event, ctx)
    assert isinstance(upsert, Upsert)
    assert upsert.table == "cases"
    assert upsert.key == {"case_id": str(case.hazard)}
    assert upsert.values["status"] == "reported"
    assert upsert.values["severity"] == "major"
    assert upsert.values["site_id"] == str(case.site_id)
    # 09:00 in 安义 is 01:00 UTC: the day counted is the local one.
    assert upsert.values["reported_at"] == "2022-04-18T01:00:00.000000Z"
    assert upsert.values["reported_on"] == "2022-04-18"


def test_an_order_event_finds_its_case_through_the_order_row(sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.ORDER_ISSUED)
    before = sweep.log_position()
    sweep.acknowledge(case.order)
    ctx, event = the(recorded(sweep, before), "RectificationOrder.Acknowledged")
    order_update, case_update = case_changes(event, ctx)
    assert order_update == Update(
        "orders",
        {"order_id": str(case.order)},
        {"status": "acknowledged", "acknowledged_at": "2022-04-18T01:00:00.000000Z"},
    )
    assert case_update == Update(
        "cases",
        {"case_id": Lookup("orders", "order_id", str(case.order), "case_id")},
        {"last_activity_at": "2022-04-18T01:00:00.000000Z"},
    )


def test_overdue_is_recorded_per_deadline(sweep: Sweep, clock: ManualClock) -> None:
    """An order's overdue flag is the BecameOverdue event for its current deadline:
    a granted extension gives it a new deadline that is not overdue."""
    case = sweep.arrange_case(Stage.ACKNOWLEDGED, severity=Severity.MAJOR)
    deadline = sweep.app.get_order(case.order).deadline
    clock.set(SWEEP_STARTS + timedelta(days=31))
    before = sweep.log_position()
    sweep.app.mark_overdue()
    events = recorded(sweep, before)
    ctx, overdue = the(events, "RectificationOrder.BecameOverdue")
    flagged = case_changes(overdue, ctx)[0]
    assert flagged.values == {
        "overdue": 1,
        "overdue_ever": 1,
        "overdue_since": "2022-05-19T01:00:00.000000Z",
    }
    ctx, escalated = the(events, "RectificationOrder.EscalatedToSupervisors")
    assert case_changes(escalated, ctx)[0].values == {"escalated": 1}

    sweep.request_extension(case.order, deadline + timedelta(days=40))
    before = sweep.log_position()
    sweep.app.grant_extension(
        ZHANG_MING,
        case.order,
        reason="检测点排队",
        password=password_of(ZHANG_MING),
        expected_version=sweep.version(case.order),
    )
    ctx, granted = the(recorded(sweep, before), "RectificationOrder.ExtensionGranted")
    values = case_changes(granted, ctx)[0].values
    assert values["deadline"] == (deadline + timedelta(days=40)).isoformat()
    assert values["overdue"] == 0
    assert values["extension_deadline"] is None


def test_a_failed_verification_sends_the_case_back(sweep: Sweep) -> None:
    """With an order: back to rectifying. Of an on-the-spot fix: back to
    reported, no longer fixed on the spot (it now needs an order)."""
    with_order = sweep.arrange_case(Stage.COMPLETION_REPORTED)
    before = sweep.log_position()
    sweep.verify(with_order.hazard, passed=False)
    ctx, performed = the(recorded(sweep, before), "Verification.Performed")
    insert, back = case_changes(performed, ctx)
    assert isinstance(insert, Insert)
    assert insert.row["passed"] == 0
    assert insert.row["attempt"] == 1
    assert back == Update("cases", {"case_id": str(with_order.hazard)}, {"status": "rectifying"})

    spot = sweep.arrange_case(Stage.HAZARD_REPORTED)
    sweep.app.fix_on_the_spot(
        CHEN_XIAOFENG,
        spot.hazard,
        note="当场补做登记",
        evidence=[photo("登记表")],
        expected_version=sweep.version(spot.hazard),
    )
    before = sweep.log_position()
    sweep.verify(spot.hazard, passed=False)
    ctx, performed = the(recorded(sweep, before), "Verification.Performed")
    _, back = case_changes(performed, ctx)
    assert back == Update(
        "cases", {"case_id": str(spot.hazard)}, {"status": "reported", "fixed_on_spot": 0}
    )


def test_closing_a_case_records_who_and_the_local_day(sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.CLOSED)
    ctx, closed = the(recorded(sweep), "Hazard.Closed")
    (update,) = case_changes(closed, ctx)
    assert update.key == {"case_id": str(case.hazard)}
    assert update.values["status"] == "closed"
    assert update.values["closed_on"] == "2022-04-18"
    assert update.values["closed_by"] == "zhangming"


def test_history_rows_are_keyed_by_log_position(sweep: Sweep) -> None:
    """So applying an event twice would be refused as a duplicate key."""
    site_id = sweep.site()
    ctx, registered = the(recorded(sweep), "Site.Registered")
    (row,) = history_changes(registered, ctx)
    assert isinstance(row, Insert)
    assert row.row["position"] == ctx.position == 1
    assert row.row["site_id"] == str(site_id)
    assert row.row["kind"] == "site.registered"


def test_an_orders_history_finds_its_site_through_the_subjects(sweep: Sweep) -> None:
    case = sweep.arrange_case(Stage.ORDER_ISSUED)
    events = recorded(sweep)
    ctx, issued = the(events, "RectificationOrder.Issued")
    subject, entry = history_changes(issued, ctx)
    assert subject == Upsert(
        "history_subjects",
        {"subject_id": str(case.order)},
        {
            "site_id": Lookup("history_subjects", "subject_id", str(case.hazard), "site_id"),
            "case_id": str(case.hazard),
        },
    )
    assert entry.row["site_id"] == Lookup(
        "history_subjects", "subject_id", str(case.order), "site_id"
    )
    assert entry.row["summary"].startswith("order 2022-0001 issued to 陶表印")

    before = sweep.log_position()
    sweep.acknowledge(case.order, by=TAO_BIAOYIN)
    ctx, acknowledged = the(recorded(sweep, before), "RectificationOrder.Acknowledged")
    (entry,) = history_changes(acknowledged, ctx)
    assert entry.row["actor_id"] == TAO_BIAOYIN.user_id
    assert entry.row["case_id"] == Lookup(
        "history_subjects", "subject_id", str(case.order), "case_id"
    )
