"""The hash chain is kept like a projection: by the projection runner, once per event,
its links written with their tracking position; several writers never chain twice."""

from __future__ import annotations

import threading

import pytest
from eventsourcing.persistence import Tracking

from application.app import RectifyApp
from application.audit import AuditChainProjection
from infrastructure.clock import ManualClock
from infrastructure.composition import audit_chain_for, audit_chain_runner, build_audit
from tests.audit.conftest import open_app
from tests.core.scenario import KANGSHUN_SHOP, Stage, Sweep


def test_the_runner_chains_each_event_as_it_is_recorded(app: RectifyApp, sweep: Sweep) -> None:
    with audit_chain_runner(app, poll_interval=0.01) as runner:
        sweep.arrange_case(Stage.ORDER_ISSUED)
        runner.wait(sweep.log_position(), timeout=5)
        sweep.arrange_case(Stage.VERIFIED, site=KANGSHUN_SHOP)
        runner.wait(sweep.log_position(), timeout=5)
    report = build_audit(app).verify()
    assert report.ok
    assert report.checked == sweep.log_position()
    assert report.head is not None and report.head.position == sweep.log_position()
    assert report.unchained == 0


def test_each_event_is_chained_once_however_often_its_position_comes_again(
    app: RectifyApp, sweep: Sweep
) -> None:
    sweep.arrange_case(Stage.ACKNOWLEDGED)
    view = audit_chain_for(app)
    projection = AuditChainProjection(view)
    end = sweep.log_position()
    projection.process_event(None, Tracking(app.name, 5))
    projection.process_event(None, Tracking(app.name, 5))
    projection.process_event(None, Tracking(app.name, 3))
    assert [link.position for link in view.select_links(0, None, 100)] == [1, 2, 3, 4, 5]
    projection.process_batch([(None, Tracking(app.name, 6)), (None, Tracking(app.name, end))])
    assert view.max_tracking_id(app.name) == end
    assert view.catch_up(app.name) == 0
    assert [link.position for link in view.select_links(0, None, 100)] == list(range(1, end + 1))
    assert build_audit(app).verify().ok


def test_a_restarted_runner_goes_on_from_its_tracked_position(
    app: RectifyApp, sweep: Sweep
) -> None:
    sweep.arrange_case(Stage.HAZARD_REPORTED)
    first = sweep.log_position()
    assert audit_chain_runner(app).catch_up() == first
    sweep.arrange_case(Stage.ORDER_ISSUED, site=KANGSHUN_SHOP)
    assert audit_chain_runner(app).catch_up() == sweep.log_position() - first
    assert audit_chain_runner(app).catch_up() == 0
    assert build_audit(app).verify().checked == sweep.log_position()


@pytest.mark.postgres
def test_processes_chaining_at_once_on_postgresql_chain_each_event_once(
    postgres_url: str, clock: ManualClock
) -> None:
    writer = open_app(postgres_url, clock)
    others = [open_app(postgres_url, clock) for _ in range(3)]
    try:
        sweep = Sweep(writer, clock)
        done = threading.Event()
        errors: list[BaseException] = []

        def chain_until_done(app: RectifyApp) -> None:
            try:
                audit = build_audit(app)
                while not done.is_set():
                    audit.catch_up()
                audit.catch_up()
            except BaseException as error:  # reported by the assertion below
                errors.append(error)

        threads = [threading.Thread(target=chain_until_done, args=(o,)) for o in others]
        for thread in threads:
            thread.start()
        for site in (KANGSHUN_SHOP, None):
            sweep.arrange_case(Stage.CLOSED, **({"site": site} if site else {}))
        done.set()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        report = build_audit(writer).verify()
        assert report.ok
        assert (report.checked, report.unchained) == (sweep.log_position(), 0)
    finally:
        for app in (writer, *others):
            app.close()
