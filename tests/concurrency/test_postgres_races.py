"""Races on a real PostgreSQL: several writers at once lose nothing and share nothing.

Each thread has its own application (its own connection pool), as separate API
processes would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from uuid import UUID

import pytest

from application.app import RectifyApp
from application.errors import ConcurrencyConflict, StaleVersion
from domain.order import RectificationOrder
from domain.values import Actor, ResponsibleParty, Role
from infrastructure.clock import ManualClock
from infrastructure.composition import build_app

THREADS = 8

INSPECTOR = Actor("chenxiaofeng", "陈小峰", Role.INSPECTOR)
OWNER = Actor("taobiaoyin", "陶表印", Role.RESPONSIBLE_PARTY)
PARTY = ResponsibleParty("陶表印", "0791-8888 0001", user_id="taobiaoyin")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2022, 4, 18, 1, 0, tzinfo=UTC))


@pytest.fixture
def apps(postgres_url: str, clock: ManualClock) -> Iterator[list[RectifyApp]]:
    settings = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "2"}
    built = [build_app(postgres_url, clock=clock, settings=settings) for _ in range(THREADS)]
    yield built
    for app in built:
        app.close()


def _hazards(app: RectifyApp, count: int) -> list[UUID]:
    site = app.register_site(INSPECTOR, name="陶表印盲人按摩店", region="安义县")
    inspection = app.open_inspection(INSPECTOR, site_id=site, template_code="epidemic-2022")
    app.record_item(
        INSPECTOR,
        inspection,
        item_code="visitor-register",
        result="fail",
        note="进店顾客未登记",
        expected_version=None,
    )
    return [
        app.report_hazard(
            INSPECTOR,
            inspection,
            item_code="visitor-register",
            category="疫情防控",
            description=f"进店人员未登记 #{n}",
            severity="general",
            expected_version=None,
        )
        for n in range(count)
    ]


def _run_together(work: Callable[[int], None]) -> list[BaseException]:
    """Start every thread at the same moment; return what any of them raised unexpectedly."""
    barrier = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            work(index)
        except BaseException as error:  # collected and re-raised by the test
            failures.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return failures


def test_racing_commands_on_one_case_lose_nothing(apps: list[RectifyApp]) -> None:
    """8 writers report progress on one order: each accepted command's event is in the
    log; each refused one got a conflict; nothing was overwritten."""
    first = apps[0]
    (hazard_id,) = _hazards(first, 1)
    order_id = first.issue_order(
        INSPECTOR, hazard_id, party=PARTY, measures="设置进店登记台账", expected_version=None
    )
    accepted: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        app = apps[index]
        for attempt in range(12):
            note = f"writer {index} attempt {attempt}"
            # Half the writers name the version they read, half take the latest:
            # both paths must end in either an event or a conflict.
            expected = app.get_order(order_id).version if attempt % 2 else None
            try:
                app.report_progress(OWNER, order_id, note=note, expected_version=expected)
            except (ConcurrencyConflict, StaleVersion):
                with lock:
                    refused.append(note)
            else:
                with lock:
                    accepted.append(note)

    assert _run_together(work) == []
    events = list(first.events.get(order_id))
    recorded = [e.note for e in events if isinstance(e, RectificationOrder.ProgressReported)]
    assert sorted(recorded) == sorted(accepted)
    assert len(accepted) + len(refused) == THREADS * 12
    assert accepted, "at least one writer must have won"
    assert refused, "the writers raced, so some must have been refused"
    assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
    assert first.get_order(order_id).version == len(events)


def test_concurrently_issued_orders_never_share_a_number(apps: list[RectifyApp]) -> None:
    """8 threads issue 3 orders each for 24 hazards: 24 distinct numbers, 2022-0001..0024."""
    hazard_ids = _hazards(apps[0], THREADS * 3)
    numbers: list[str] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        app = apps[index]
        for hazard_id in hazard_ids[index * 3 : index * 3 + 3]:
            order_id = app.issue_order(
                INSPECTOR,
                hazard_id,
                party=PARTY,
                measures="设置进店登记台账",
                expected_version=None,
            )
            with lock:
                numbers.append(app.get_order(order_id).number)

    assert _run_together(work) == []
    assert sorted(numbers) == [f"2022-{n:04d}" for n in range(1, THREADS * 3 + 1)]


def test_overdue_check_from_several_processes_records_each_order_once(
    apps: list[RectifyApp], clock: ManualClock
) -> None:
    """mark_overdue run by 8 processes at once: one BecameOverdue per order and deadline."""
    first = apps[0]
    order_ids = [
        first.issue_order(
            INSPECTOR,
            hazard_id,
            party=PARTY,
            measures="设置进店登记台账",
            expected_version=None,
        )
        for hazard_id in _hazards(first, 5)
    ]
    clock.advance(days=8)  # general hazards: 7 days to put right

    assert _run_together(lambda index: apps[index].mark_overdue(order_ids)) == []
    for order_id in order_ids:
        overdue = [
            e for e in first.events.get(order_id) if isinstance(e, RectificationOrder.BecameOverdue)
        ]
        assert len(overdue) == 1
        assert first.get_order(order_id).is_overdue


def test_applications_starting_together_on_a_fresh_database_all_start(
    postgres_url: str,
) -> None:
    """Several processes (here threads, each with its own connections) building the
    application at the same moment on an empty database all succeed: the event
    store's tables are created once, not raced for."""
    started: list[RectifyApp] = []
    lock = threading.Lock()

    def start(_: int) -> None:
        app = build_app(postgres_url)
        with lock:
            started.append(app)

    try:
        assert _run_together(start) == []
        assert len(started) == THREADS
        site = started[0].register_site(INSPECTOR, name="火根神剪理发店", region="安义县")
        assert started[-1].get_site(site).name == "火根神剪理发店"
    finally:
        for app in started:
            app.close()
