"""Fixtures of the core suites: an application on each backend, a clock that
stands at the morning of the 2022-04-18 sweep, and the sweep's builders."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from application.app import RectifyApp
from infrastructure.clock import ManualClock
from infrastructure.composition import build_app
from tests.backends import POPO_URL
from tests.core.scenario import SWEEP_STARTS, FakePasswords, Sweep


@pytest.fixture
def clock() -> ManualClock:
    """09:00 in 安义 on 2022-04-18; tests move it forward."""
    return ManualClock(SWEEP_STARTS)


@pytest.fixture
def passwords() -> FakePasswords:
    return FakePasswords()


@pytest.fixture
def app(database_url: str, clock: ManualClock, passwords: FakePasswords) -> Iterator[RectifyApp]:
    """The application on a fresh store, once per backend (popo, SQLite, PostgreSQL)."""
    application = build_app(database_url, clock=clock, passwords=passwords)
    yield application
    application.close()


@pytest.fixture
def rival(
    app: RectifyApp, database_url: str, clock: ManualClock, passwords: FakePasswords
) -> Iterator[RectifyApp]:
    """Another application on the same database, as another process would have.

    The in-memory store lives inside one application, so there the rival is
    the application itself.
    """
    if database_url == POPO_URL:
        yield app
        return
    other = build_app(database_url, clock=clock, passwords=passwords)
    yield other
    other.close()


@pytest.fixture
def sweep(app: RectifyApp, clock: ManualClock) -> Sweep:
    """The sweep's builders on ``app``."""
    return Sweep(app, clock)
