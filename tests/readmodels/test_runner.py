"""The projection runner: every event after the recorded position, in order, once."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from application.app import RectifyApp
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
