"""The follower host: everything that follows the log is registered by name and
run by one host, inline in the API process or as ``rectify followers run``
workers; on PostgreSQL one process leads each follower."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.persistence import Tracking
from eventsourcing.popo import POPOTrackingRecorder
from eventsourcing.projection import Projection

from application.app import RectifyApp
from infrastructure.clock import ManualClock
from infrastructure.composition import Services, build_app
from infrastructure.followers import FOLLOWERS, LOG, PERIODIC, FollowerHost, FollowerRegistry
from tests.core.scenario import SWEEP_STARTS, FakePasswords, Stage, Sweep


class CountingProjection(Projection[POPOTrackingRecorder]):
    """Remembers the positions it was given, in the order given."""

    name = "counting"

    def __init__(self, view: POPOTrackingRecorder) -> None:
        super().__init__(view)
        self.seen: list[int] = []

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.seen.append(tracking.notification_id)
        self.view.insert_tracking(tracking)


def wait_until(condition: Any, timeout: float, what: str) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < give_up, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def app(database_url: str) -> Iterator[RectifyApp]:
    application = build_app(
        database_url, clock=ManualClock(SWEEP_STARTS), passwords=FakePasswords()
    )
    yield application
    application.close()


def test_the_service_registers_its_followers_by_name() -> None:
    built_in = ("cases", "site_history", "audit_chain", "overdue")
    assert FOLLOWERS.names[:4] == built_in
    assert [FOLLOWERS[n].kind for n in built_in] == [LOG, LOG, LOG, PERIODIC]


def test_adding_a_follower_is_one_registration(app: RectifyApp) -> None:
    """A follower registered once is built, run and reported by the host: every
    event once, in log order, its position and lag in the health report."""
    registry = FollowerRegistry()
    projections: list[CountingProjection] = []

    def counting(services: Services) -> CountingProjection:
        projections.append(CountingProjection(POPOTrackingRecorder()))
        return projections[-1]

    registry.log("counting", counting)
    sweep = Sweep(app, app.clock)
    sweep.arrange_case(Stage.ACKNOWLEDGED)
    with Services.around(app) as services:
        host = FollowerHost(services, registry=registry, poll_interval=0.01)
        with host:
            host.runners["counting"].wait(sweep.log_position(), timeout=10)
            (state,) = host.health()
        positions = [n.id for n in app.recorder.select_notifications(start=1, limit=1000)]
    assert projections[0].seen == positions
    assert (state.name, state.kind, state.position, state.lag) == (
        "counting",
        LOG,
        sweep.log_position(),
        0,
    )
    assert state.running is True and state.leader is True and state.error is None


def test_a_name_is_registered_once_and_an_unknown_name_is_refused() -> None:
    registry = FollowerRegistry()
    registry.log("counting", lambda services: CountingProjection(POPOTrackingRecorder()))
    with pytest.raises(ValueError, match="'counting' is registered already"):
        registry.periodic("counting", lambda services: lambda: None, every="X", default_seconds=1)
    with pytest.raises(KeyError, match="no follower named 'webhooks'; known: counting"):
        registry.select(["webhooks"])


def test_a_host_that_does_not_run_still_reports_every_followers_lag(app: RectifyApp) -> None:
    """An API process with RECTIFY_PROJECTIONS=external runs nothing and reports."""
    sweep = Sweep(app, app.clock)
    sweep.site()
    with Services.around(app) as services:
        host = services.followers(run=False).start()
        states = {s.name: s for s in host.health()}
        host.stop()
    assert set(states) == set(FOLLOWERS.names)
    assert not any(f.is_running for f in host.followers.values())
    assert states["audit_chain"].position is None
    assert states["audit_chain"].lag == sweep.log_position()
    assert states["overdue"].lag is None and states["overdue"].running is None


def test_a_periodic_job_runs_on_its_schedule_and_survives_a_failing_run(app: RectifyApp) -> None:
    runs: list[int] = []

    def job() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("the first run fails")

    registry = FollowerRegistry()
    registry.periodic("tick", lambda services: job, every="TICK_SECONDS", default_seconds=0.02)
    with Services.around(app) as services, FollowerHost(services, registry=registry) as host:
        wait_until(lambda: len(runs) >= 3, 10, "three runs")
        (state,) = host.health()
    assert state.kind == PERIODIC and state.last_run is not None
    assert host.failed == {}  # a failing run is retried, never stops the job


@pytest.mark.postgres
def test_on_postgres_one_host_leads_each_follower(postgres_url: str) -> None:
    """Two processes' hosts on one database: one runs the job, the other stands
    by; when the leader stops, the other takes over."""
    apps = [build_app(postgres_url, passwords=FakePasswords()) for _ in range(2)]
    ran_in: list[int] = []
    lock = threading.Lock()

    def job_of(index: int) -> Any:
        def job() -> None:
            with lock:
                ran_in.append(index)

        return job

    registries = []
    for index in range(2):
        registry = FollowerRegistry()
        registry.periodic(
            "tick", lambda services, i=index: job_of(i), every="TICK", default_seconds=0.05
        )
        registries.append(registry)
    services = [Services.around(app) for app in apps]
    hosts = [FollowerHost(s, registry=r) for s, r in zip(services, registries, strict=True)]
    try:
        for host in hosts:
            host.start()
        wait_until(lambda: len(ran_in) >= 10, 10, "ten runs")
        leaders = [h for h in hosts if h.followers["tick"].is_leader]
        assert len(leaders) == 1
        assert set(ran_in) == {hosts.index(leaders[0])}
        leaders[0].stop()
        other = 1 - hosts.index(leaders[0])
        wait_until(lambda: ran_in[-1] == other, 10, "the other host to take over")
    finally:
        for host in hosts:
            host.stop()
        for s in services:
            s.close()
        for app in apps:
            app.close()
