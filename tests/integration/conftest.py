"""Fixtures of the integration suites: the application, its users and its
integration services on SQLite and PostgreSQL (the feature is storage)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from application.app import RectifyApp
from infrastructure.bootstrap import build_app
from infrastructure.clock import ManualClock
from infrastructure.integration.services import Integration
from infrastructure.persistence import environment_for
from infrastructure.projections.runner import ProjectionRunner
from infrastructure.readmodels.store import ReadModelStore
from infrastructure.side_tables import SideDatabase, side_database_for
from infrastructure.users import UserStore, create_user_store
from tests.backends import fresh_postgres_database, sqlite_url_for
from tests.core.scenario import SWEEP_STARTS, Sweep
from tests.http.conftest import FAST_HASHER, add_people
from tests.integration.receiver import Receiver

STORAGE = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]

ALLOW_LOOPBACK = {"WEBHOOK_ALLOW": "127.0.0.1"}


@pytest.fixture(params=STORAGE)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite file or PostgreSQL database."""
    if request.param == "sqlite":
        yield sqlite_url_for(tmp_path / "rectify.sqlite3")
    else:
        with fresh_postgres_database() as database_url:
            yield database_url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(SWEEP_STARTS)


@pytest.fixture
def side(url: str) -> Iterator[SideDatabase]:
    database = side_database_for(environment_for(url))
    assert database is not None
    yield database
    database.close()


@pytest.fixture
def users(url: str, side: SideDatabase) -> UserStore:
    store = create_user_store(url, hasher=FAST_HASHER, database=side)
    add_people(store)
    return store


@pytest.fixture
def settings() -> dict[str, str]:
    """Application settings a test may change before the app is built."""
    return dict(ALLOW_LOOPBACK, WEBHOOK_RETRY_SECONDS="0.05", WEBHOOK_RETRY_MAX_SECONDS="0.2")


@pytest.fixture
def app(
    url: str, clock: ManualClock, users: UserStore, settings: dict[str, str]
) -> Iterator[RectifyApp]:
    application = build_app(url, clock=clock, passwords=users, settings=settings)
    yield application
    application.close()


@pytest.fixture
def integration(app: RectifyApp, users: UserStore, side: SideDatabase) -> Iterator[Integration]:
    services = Integration(app, users, side)
    yield services
    services.close()


@pytest.fixture
def sweep(app: RectifyApp, clock: ManualClock) -> Sweep:
    return Sweep(app, clock)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def read_models(app: RectifyApp) -> Iterator[ReadModelStore]:
    store = ReadModelStore(app)
    yield store
    store.close()


def catch_up_outbox(integration: Integration) -> int:
    """Fill the outbox up to the head of the log, in the caller's thread."""
    return ProjectionRunner(integration.app, integration.outbox_projection()).catch_up()
