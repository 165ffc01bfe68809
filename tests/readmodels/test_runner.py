"""The projection runner: every event after the recorded position, in order, once."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from application.app import RectifyApp
from infrastructure.projections import maintenance
from infrastructure.projections.runner import ProjectionRunner
from infrastructure.readmodels.store import ReadModelStore
from tests.core.scenario import KANGSHUN_SHOP, Stage, Sweep
from tests.readmodels.applied_log import AppliedLog, applied_log_view


def test_a_running_projection_follows_the_log_and_waits_for_a_position(
    app: RectifyApp, store: ReadModelStore, sweep: Sweep
) -> None:
    with ProjectionRunner(app, store.projection("cases"), poll_interval=0.05) as runner:
        case = sweep.arrange_case(Stage.ORDER_ISSUED)
        position = sweep.acknowledge(case.order)
        runner.wait(position, timeout=5)
        (order,) = runner.view.rows("orders")
        assert order["status"] == "acknowledged"
        assert runner.position() == position == sweep.log_position()
        assert runner.lag() == 0


def test_a_projection_resumes_after_its_recorded_position(
    app: RectifyApp, store: ReadModelStore, sweep: Sweep
) -> None:
    sweep.arrange_case(Stage.HAZARD_REPORTED)
    first = ProjectionRunner(app, store.projection("site_history"))
    applied = first.catch_up()
    assert applied == sweep.log_position()

    before = sweep.log_position()
    sweep.site(KANGSHUN_SHOP)
    again = ProjectionRunner(app, store.projection("site_history"))
    assert again.catch_up() == sweep.log_position() - before == 1
    positions = [row["position"] for row in again.view.rows("history")]
    assert positions == sorted(set(positions))
    assert positions[-1] == sweep.log_position()


def test_a_batch_already_applied_is_refused_whole(
    app: RectifyApp, store: ReadModelStore, sweep: Sweep
) -> None:
    """The view will not record a position it has already passed: the rows of a
    batch that someone else applied first are rolled back with it."""
    sweep.site()
    projection = store.projection("cases")
    ProjectionRunner(app, projection).catch_up()
    (event,) = sweep.events_since(0)
    with pytest.raises(IntegrityError):
        projection.process_event(event, Tracking(app.name, 1))
    assert len(projection.view.rows("sites")) == 1


def test_the_runner_runs_any_projection_with_a_tracking_recorder(
    app: RectifyApp, store: ReadModelStore, sweep: Sweep
) -> None:
    view = applied_log_view(store, "runner_generic")
    sweep.arrange_case(Stage.ACKNOWLEDGED)
    runner = ProjectionRunner(app, AppliedLog(view))  # type: ignore[arg-type]
    count = runner.catch_up()
    assert count == sweep.log_position()
    assert view.applied() == list(range(1, count + 1))
    assert runner.position() == count


class _FailingRun(Exception):
    """The error a test makes the database work of one event raise."""


@pytest.mark.parametrize("projection_name", ["cases", "site_history"])
def test_a_batch_interrupted_half_way_changes_nothing_and_the_next_run_applies_each_event_once(
    app: RectifyApp,
    store: ReadModelStore,
    sweep: Sweep,
    projection_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows and position commit together: an error on the k-th statement of a
    batch (after earlier ones were sent) leaves both as they were before it, and
    the next run applies every event of that batch exactly once."""
    sweep.arrange_case(Stage.CLOSED)
    done = sweep.log_position()
    ProjectionRunner(app, store.projection(projection_name)).catch_up()
    sweep.arrange_case(Stage.ACKNOWLEDGED, site=KANGSHUN_SHOP)
    head = sweep.log_position()
    assert head - done >= 4
    view = store.view(projection_name)
    tables = [table.name for table in view.tables]
    before = {table: view.rows(table) for table in tables}

    statements = 0
    fail_at = 3
    run = type(view)._execute_run

    def fail_half_way(cursor: Any, sql: str | None, params: list[list[Any]]) -> None:
        nonlocal statements
        statements += 1
        if statements == fail_at:
            raise _FailingRun(f"statement {fail_at} of the batch")
        run(cursor, sql, params)

    monkeypatch.setattr(type(view), "_execute_run", staticmethod(fail_half_way))
    with pytest.raises(_FailingRun):
        ProjectionRunner(app, store.projection(projection_name), batch_size=100).catch_up()
    assert statements == fail_at  # the statements before it had been sent
    assert view.max_tracking_id(app.name) == done
    assert {table: view.rows(table) for table in tables} == before

    monkeypatch.undo()
    assert ProjectionRunner(app, store.projection(projection_name)).catch_up() == head - done
    assert view.max_tracking_id(app.name) == head
    if projection_name == "site_history":
        positions = [row["position"] for row in view.rows("history")]
        assert positions == sorted(set(positions))
        assert positions[-1] == head
    report = maintenance.check(app, store, projection_name)
    assert report.ok, report.differences
    assert report.position == head
