"""Projection workers under stress: killed with SIGKILL and restarted, two at a
time on one PostgreSQL, tailing eight concurrent writers, across gaps in the log.

Exactly once is checked two ways: the read models end equal to a rebuild, and
an applied-log projection (one unkeyed row per event it applies) ends with
every notification id of the log once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from application.app import RectifyApp
from application.errors import ApplicationError
from domain.errors import DomainError
from infrastructure.clock import ManualClock
from infrastructure.composition import Services, build_app, build_audit, read_model_store
from infrastructure.projections import maintenance
from infrastructure.projections.locks import NoLock, PostgresAdvisoryLock, WorkerLock
from infrastructure.projections.runner import ProjectionRunner
from infrastructure.readmodels.store import PROJECTION_NAMES, ReadModelStore
from tests.backends import fresh_postgres_database, sqlite_url_for
from tests.core.scenario import (
    CHEN_XIAOFENG,
    SITES,
    SWEEP_STARTS,
    FakePasswords,
    Stage,
    Sweep,
)
from tests.readmodels.applied_log import AppliedLog, applied_log_view

ROOT = Path(__file__).resolve().parents[2]
SHOPS = tuple(SITES)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database other processes can open too (so not the in-memory store)."""
    if request.param == "sqlite":
        yield sqlite_url_for(tmp_path / "rectify.sqlite3")
    else:
        with fresh_postgres_database() as url:
            yield url


def open_app(url: str, clock: ManualClock | None = None) -> RectifyApp:
    return build_app(url, clock=clock or ManualClock(SWEEP_STARTS), passwords=FakePasswords())


def arrange_cases(sweep: Sweep, count: int) -> None:
    stages = (Stage.ACKNOWLEDGED, Stage.COMPLETION_REPORTED, Stage.VERIFIED, Stage.CLOSED)
    for i in range(count):
        sweep.arrange_case(stages[i % len(stages)], site=SHOPS[i % len(SHOPS)])


def start_worker(url: str, log: Path, **settings: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RECTIFY_DATABASE_URL": url,
        "RECTIFY_PROJECTION_POLL_SECONDS": "0.01",
        "RECTIFY_OVERDUE_CHECK_SECONDS": "0",
        **{f"RECTIFY_{k.upper()}": v for k, v in settings.items()},
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "interfaces.cli.main", "projections", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def positions(store: ReadModelStore, app: RectifyApp) -> dict[str, int]:
    return {name: store.view(name).max_tracking_id(app.name) or 0 for name in PROJECTION_NAMES}


def wait_until(condition: Any, timeout: float, what: str) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def assert_equal_to_a_rebuild(app: RectifyApp, store: ReadModelStore) -> None:
    head = app.recorder.max_notification_id()
    for name in PROJECTION_NAMES:
        report = maintenance.check(app, store, name)
        assert report.position == head
        assert report.ok, report.differences[:5]


def test_a_worker_killed_mid_run_and_restarted_ends_equal_to_a_rebuild(
    shared_url: str, tmp_path: Path
) -> None:
    app = open_app(shared_url)
    store = read_model_store(app)
    sweep = Sweep(app, app.clock)
    log = tmp_path / "worker.log"
    try:
        arrange_cases(sweep, 16)
        killed_at: list[dict[str, int]] = []
        for _ in range(3):
            before = positions(store, app)
            # One event per transaction, so the kill lands in the middle of a catch-up.
            worker = start_worker(shared_url, log, projection_batch_size="1")
            wait_until(
                lambda before=before: positions(store, app)["cases"] > before["cases"],
                30,
                "the worker to apply something",
            )
            sweep.arrange_case(Stage.ACKNOWLEDGED)  # written while the worker runs
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            killed_at.append(positions(store, app))
        head = sweep.log_position()
        assert 0 < killed_at[0]["cases"] < head, (killed_at, head)

        worker = start_worker(shared_url, log)
        wait_until(
            lambda: set(positions(store, app).values()) == {head}, 60, "the restarted worker"
        )
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0, log.read_text()
        assert_equal_to_a_rebuild(app, store)
    finally:
        store.close()
        app.close()


def _runner(app: RectifyApp, store: ReadModelStore, worker: str, lock: WorkerLock) -> Any:
    view = applied_log_view(store, "applied_by_two")
    return ProjectionRunner(
        app,
        AppliedLog(view, worker=worker, name="applied_by_two"),  # type: ignore[arg-type]
        lock=lock,
        poll_interval=0.01,
        retry_interval=0.05,
        batch_size=5,
    )


def _keep_writing(url: str, stop: threading.Event, errors: list[BaseException]) -> None:
    app = open_app(url)
    sweep = Sweep(app, app.clock)
    try:
        i = 0
        while not stop.is_set():
            sweep.arrange_case(Stage.ORDER_ISSUED, site=SHOPS[i % len(SHOPS)])
            i += 1
    except BaseException as error:
        errors.append(error)
    finally:
        app.close()


@pytest.mark.parametrize("locked", [True, False], ids=["advisory_lock", "tracking_only"])
def test_two_workers_on_one_postgres_never_double_apply(postgres_url: str, locked: bool) -> None:
    """With the advisory lock one worker advances and the other takes over when
    it stops; without it, the tracking record alone refuses the loser's batch."""
    apps = [open_app(postgres_url) for _ in range(2)]
    stores = [read_model_store(app) for app in apps]
    locks: list[WorkerLock] = (
        [PostgresAdvisoryLock(s.postgres_connect_kwargs(), "applied_by_two") for s in stores]
        if locked
        else [NoLock(), NoLock()]
    )
    runners = [_runner(apps[i], stores[i], f"worker-{i}", locks[i]) for i in range(2)]
    stop, errors = threading.Event(), []
    writer = threading.Thread(target=_keep_writing, args=(postgres_url, stop, errors))
    try:
        writer.start()
        for runner in runners:
            runner.start()
        wait_until(lambda: (apps[0].recorder.max_notification_id() or 0) > 200, 60, "writes")
        if locked:
            assert sum(r.is_leader for r in runners) == 1
            leader = next(r for r in runners if r.is_leader)
            leader.stop()
            leader.join()
            other = next(r for r in runners if r is not leader)
            wait_until(lambda: other.is_leader, 10, "the other worker to take over")
            before = apps[0].recorder.max_notification_id() or 0
            wait_until(
                lambda: (apps[0].recorder.max_notification_id() or 0) > before + 100,
                60,
                "more writes",
            )
        stop.set()
        writer.join()
        assert not errors, errors
        head = apps[0].recorder.max_notification_id()
        live = [r for r in runners if r.is_running]
        live[0].wait(head, timeout=30)
        applied = live[0].view.applied()
        log_ids = [n.id for n in apps[0].recorder.select_notifications(start=1, limit=100_000)]
        assert applied == log_ids
        assert len(set(applied)) == len(applied)
        if locked:
            assert live[0].view.workers() == {"worker-0", "worker-1"}
    finally:
        stop.set()
        writer.join()
        for runner in runners:
            runner.stop()
            runner.join()
        for store in stores:
            store.close()
        for app in apps:
            app.close()
    for runner in runners:
        assert runner.error is None


def test_two_worker_processes_share_the_read_models_and_one_takes_over(
    postgres_url: str, tmp_path: Path
) -> None:
    app = open_app(postgres_url)
    store = read_model_store(app)
    sweep = Sweep(app, app.clock)
    log = tmp_path / "workers.log"
    workers = [start_worker(postgres_url, log) for _ in range(2)]
    try:
        arrange_cases(sweep, 4)
        holders: dict[str, int | None] = {}

        def one_holds_each() -> bool:
            holders.update({s.name: s.worker_pid for s in maintenance.status(app, store)})
            return all(pid in {w.pid for w in workers} for pid in holders.values())

        wait_until(one_holds_each, 30, "a worker to lock each projection")
        leader = next(w for w in workers if w.pid == holders["cases"])
        leader.send_signal(signal.SIGKILL)
        leader.wait(10)
        arrange_cases(sweep, 4)
        head = sweep.log_position()
        wait_until(lambda: set(positions(store, app).values()) == {head}, 60, "the other worker")
        assert_equal_to_a_rebuild(app, store)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(20)
        store.close()
        app.close()


def test_a_worker_for_every_projection_keeps_the_audit_chain_too(
    shared_url: str, tmp_path: Path
) -> None:
    """With projections in workers (RECTIFY_PROJECTIONS=external), `rectify projections
    run` chains the log as well, so no second kind of worker is needed."""
    app = open_app(shared_url)
    audit = build_audit(app)
    sweep = Sweep(app, app.clock)
    worker = start_worker(shared_url, tmp_path / "worker.log")
    try:
        arrange_cases(sweep, 4)
        head = sweep.log_position()

        def chained() -> bool:
            link = audit.head()
            return link is not None and link.position == head

        wait_until(chained, 60, "the worker to chain the log")
        report = audit.verify()
        assert report.ok, report
        assert report.unchained == 0
        assert report.checked == len(app.recorder.select_notifications(start=1, limit=10**6))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
        app.close()
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()


def test_eight_concurrent_writers_with_a_tailing_projection_miss_no_event(
    shared_url: str,
) -> None:
    """Pairs of writers race on the same inspections, so some of their saves
    fail — on PostgreSQL that leaves gaps in the notification ids."""
    app = open_app(shared_url)
    store = read_model_store(app)
    view = applied_log_view(store, "tailing")
    tail = ProjectionRunner(
        app,
        AppliedLog(view, name="tailing"),  # type: ignore[arg-type]
        poll_interval=0.005,
        batch_size=7,
    )
    sweep = Sweep(app, app.clock)
    inspections = [sweep.open_inspection(site) for site in SHOPS[:4]]
    errors: list[BaseException] = []

    # Opened one after the other: applications built at the same moment on
    # PostgreSQL race to create the event store's tables and functions.
    writer_apps = [open_app(shared_url) for _ in range(8)]

    def write(i: int) -> None:
        writer = writer_apps[i]
        try:
            inspection = inspections[i % 4]
            for n in range(12):
                writer.register_site(CHEN_XIAOFENG, name=f"第{i}-{n}号店", region="安义县")
                # Lost a race with its pair: nothing recorded.
                with contextlib.suppress(DomainError, ApplicationError):
                    writer.record_item(
                        CHEN_XIAOFENG,
                        inspection,
                        item_code="mask",
                        result="pass",
                        note=f"writer {i} round {n}",
                        expected_version=None,
                    )
        except BaseException as error:
            errors.append(error)
        finally:
            writer.close()

    with tail:
        writers = [threading.Thread(target=write, args=(i,)) for i in range(8)]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        assert not errors, errors
        head = app.recorder.max_notification_id()
        tail.wait(head, timeout=30)
    log_ids = [n.id for n in app.recorder.select_notifications(start=1, limit=100_000)]
    assert view.applied() == log_ids
    assert len(log_ids) >= 8 * 12  # every site registration at least
    store.close()
    app.close()


def test_a_gap_in_the_log_is_not_a_reason_to_stop(postgres_url: str) -> None:
    """Ids taken by a transaction that rolled back are never filled: the
    projection goes on with the events after the gap."""
    app = open_app(postgres_url)
    store = read_model_store(app)
    sweep = Sweep(app, app.clock)
    with ProjectionRunner(app, store.projection("site_history"), poll_interval=0.01) as runner:
        sweep.site(SHOPS[0])
        with store.datastore.transaction(commit=True) as cursor:
            for _ in range(5):
                cursor.execute("SELECT nextval('rectify_events_notification_id_seq')")
        after_gap = sweep.site(SHOPS[1])
        runner.wait(sweep.log_position(), timeout=10)
    ids = [n.id for n in app.recorder.select_notifications(start=1, limit=100)]
    assert ids == [1, 7]
    rows = runner.view.rows("history")
    assert [r["position"] for r in rows] == [1, 7]
    assert rows[-1]["site_id"] == str(after_gap)
    store.close()
    app.close()


def test_on_postgres_a_runner_is_woken_by_the_commit_not_by_its_timer(postgres_url: str) -> None:
    """The runners poll every 30 s here; the events' NOTIFY brings them at once."""
    app = open_app(postgres_url)
    writer = open_app(postgres_url)
    try:
        host = Services.around(app).followers(PROJECTION_NAMES, run=True, poll_interval=30)
        with host:
            wait_until(lambda: all(r.is_leader for r in host.runners.values()), 10, "leaders")
            time.sleep(0.5)  # each runner is now waiting out its 30 s poll
            Sweep(writer, writer.clock).site(SHOPS[0])
            head = writer.recorder.max_notification_id()
            wait_until(
                lambda: set(host.positions().values()) == {head}, 5, "the runners to be woken"
            )
    finally:
        writer.close()
        app.close()
