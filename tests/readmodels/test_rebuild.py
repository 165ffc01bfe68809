"""Every read model can be dropped and rebuilt from the events and comes out
identical: after random histories, applied live in random batches, a rebuild
equals the live tables, on SQLite and on PostgreSQL."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from application.app import RectifyApp
from infrastructure.clock import ManualClock
from infrastructure.composition import build_app, read_model_store
from infrastructure.projections import maintenance
from infrastructure.projections.runner import ProjectionRunner
from infrastructure.readmodels.store import PROJECTION_NAMES, ReadModelStore
from tests.backends import create_database, drop_database, postgres_server, require_postgres
from tests.core.scenario import SWEEP_STARTS, FakePasswords, Stage, Sweep
from tests.readmodels.history import History, operations

# Each example is a fresh database; PostgreSQL's cost more.
EXAMPLES = {"sqlite": 10, "postgres": 5}


@contextmanager
def sqlite_store() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        yield f"sqlite:///{Path(directory) / 'rectify.sqlite3'}"


@contextmanager
def postgres_store() -> Iterator[str]:
    server = postgres_server()
    require_postgres(server)
    name = create_database(server)
    try:
        yield server.url(name)
    finally:
        drop_database(server, name)


BACKENDS = [
    pytest.param(sqlite_store, EXAMPLES["sqlite"], id="sqlite"),
    pytest.param(postgres_store, EXAMPLES["postgres"], id="postgres", marks=pytest.mark.postgres),
]


def live_rows(store: ReadModelStore) -> dict[str, dict[str, list[dict[str, object]]]]:
    rows = {}
    for name in PROJECTION_NAMES:
        view = store.view(name)
        rows[name] = {table.name: view.rows(table.name) for table in view.tables}
    return rows


@pytest.mark.parametrize(("backend", "examples"), BACKENDS)
def test_after_any_history_a_rebuild_equals_the_live_read_models(
    backend: Callable[[], AbstractContextManager[str]], examples: int
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(steps=operations)
    def check(steps: list[tuple[str, int]]) -> None:
        with backend() as url:
            app = build_app(url, clock=ManualClock(SWEEP_STARTS), passwords=FakePasswords())
            store = read_model_store(app)
            try:
                runners = {
                    name: ProjectionRunner(app, store.projection(name)) for name in PROJECTION_NAMES
                }

                def project(n: int) -> None:
                    # Live, as far as the log goes now, in batches of 1 to 8 events.
                    for runner in runners.values():
                        runner.batch_size = 1 + n
                        runner.catch_up()

                History(Sweep(app, app.clock), on_project=project).play(steps)
                # Part of the log may not be applied yet: a check compares at
                # the live position, and must agree there too.
                for name in PROJECTION_NAMES:
                    report = maintenance.check(app, store, name)
                    assert report.ok, report.differences[:5]
                project(7)
                before = live_rows(store)
                for name in PROJECTION_NAMES:
                    report = maintenance.check(app, store, name)
                    assert report.ok, report.differences[:5]
                    assert report.position == (app.recorder.max_notification_id() or None)
                    maintenance.rebuild(app, store, name)
                assert live_rows(store) == before
            finally:
                store.close()
                app.close()

    check()


def test_a_check_names_each_row_that_differs_and_a_rebuild_repairs_it(
    app: RectifyApp, store: ReadModelStore, sweep: Sweep
) -> None:
    case = sweep.arrange_case(Stage.ACKNOWLEDGED)
    other = sweep.arrange_case(Stage.HAZARD_REPORTED)
    for name in PROJECTION_NAMES:
        maintenance.rebuild(app, store, name)
        assert maintenance.check(app, store, name).ok
    view = store.view("cases")
    with view.write_transaction() as cursor:
        cursor.execute(
            view.dialect.q("UPDATE rm_cases SET status = 'closed' WHERE case_id = ?"),
            [str(case.hazard)],
        )
        cursor.execute(
            view.dialect.q("DELETE FROM rm_cases WHERE case_id = ?"), [str(other.hazard)]
        )
        cursor.execute(
            view.dialect.q("INSERT INTO rm_sites (site_id, name, region) VALUES (?, ?, ?)"),
            ["forged-site", "伪造", "安义县"],
        )
    report = maintenance.check(app, store, "cases")
    found = {(d.table, tuple(d.key.values())): d for d in report.differences}
    assert set(found) == {
        ("cases", (str(case.hazard),)),
        ("cases", (str(other.hazard),)),
        ("sites", ("forged-site",)),
    }
    changed = found["cases", (str(case.hazard),)]
    assert changed.columns == ["status"]
    assert (changed.live or {})["status"] == "closed"
    assert (changed.rebuilt or {})["status"] == "rectifying"
    assert found["cases", (str(other.hazard),)].live is None
    assert found["sites", ("forged-site",)].rebuilt is None

    rebuilt = maintenance.rebuild(app, store, "cases")
    assert rebuilt.events == sweep.log_position()
    assert maintenance.check(app, store, "cases").ok


def test_a_rebuild_while_a_worker_runs_leaves_nothing_applied_twice_or_lost(
    app: RectifyApp, store: ReadModelStore, sweep: Sweep
) -> None:
    """The swap waits for the worker's transaction and the worker carries on
    from the rebuilt position."""
    with ProjectionRunner(app, store.projection("site_history"), poll_interval=0.01) as runner:
        for shop_case in range(3):
            sweep.arrange_case(
                Stage.ACKNOWLEDGED,
                site=("陶表印盲人按摩店", "康顺盲人按摩店", "喻建华盲人按摩店")[shop_case],
            )
            maintenance.rebuild(app, store, "site_history")
        sweep.arrange_case(Stage.COMPLETION_REPORTED)
        runner.wait(sweep.log_position(), timeout=10)
    report = maintenance.check(app, store, "site_history")
    assert report.ok, report.differences[:5]
    assert report.position == sweep.log_position()


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param(sqlite_store, id="sqlite"),
        pytest.param(postgres_store, id="postgres", marks=pytest.mark.postgres),
    ],
)
def test_a_rebuild_of_every_projection_reads_each_page_of_the_log_once(
    backend: Callable[[], AbstractContextManager[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading and decoding the log costs about what one projection's writes
    do, so one replay feeds them all; each still equals its live tables."""
    with backend() as url:
        app = build_app(url, clock=ManualClock(SWEEP_STARTS), passwords=FakePasswords())
        store = read_model_store(app)
        try:
            sweep = Sweep(app, app.clock)
            for stage in (Stage.CLOSED, Stage.ACKNOWLEDGED, Stage.HAZARD_REPORTED):
                sweep.arrange_case(stage)
            head = sweep.log_position()
            for name in PROJECTION_NAMES:
                ProjectionRunner(app, store.projection(name)).catch_up()
            live = live_rows(store)

            pages: list[int] = []
            select = app.recorder.select_notifications

            def counted(*args: object, **kwargs: object) -> object:
                notifications = select(*args, **kwargs)  # type: ignore[arg-type]
                pages.append(len(notifications))
                return notifications

            monkeypatch.setattr(app.recorder, "select_notifications", counted)
            reports = maintenance.rebuild_many(app, store, PROJECTION_NAMES)
            monkeypatch.undo()

            assert [r.name for r in reports] == list(PROJECTION_NAMES)
            assert all(r.events == head and r.position == head for r in reports)
            assert sum(pages) == head  # each event read once, not once per projection
            assert live_rows(store) == live
        finally:
            store.close()
            app.close()
