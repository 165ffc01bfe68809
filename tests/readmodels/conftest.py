"""Fixtures of the read-model suites: the application and its read-model store
on each backend, with the seed story's sweep to arrange cases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from application.app import RectifyApp
from infrastructure.clock import ManualClock
from infrastructure.composition import build_app, read_model_store
from infrastructure.readmodels.store import ReadModelStore
from tests.core.scenario import SWEEP_STARTS, FakePasswords, Sweep


@pytest.fixture
def clock() -> ManualClock:
    """09:00 in 安义 on 2022-04-18; tests move it forward."""
    return ManualClock(SWEEP_STARTS)


@pytest.fixture
def app(database_url: str, clock: ManualClock) -> Iterator[RectifyApp]:
    """The application on a fresh store, once per backend (popo, SQLite, PostgreSQL)."""
    application = build_app(database_url, clock=clock, passwords=FakePasswords())
    yield application
    application.close()


@pytest.fixture
def store(app: RectifyApp) -> Iterator[ReadModelStore]:
    read_models = read_model_store(app)
    yield read_models
    read_models.close()


@pytest.fixture
def sweep(app: RectifyApp, clock: ManualClock) -> Sweep:
    return Sweep(app, clock)
