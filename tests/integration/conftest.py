"""Fixtures of the integration suites: the application, its users and its
integration services on SQLite and PostgreSQL (the feature is storage)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from application.app import RectifyApp
from infrastructure.clock import ManualClock
from infrastructure.composition import Services
from infrastructure.integration.services import Integration
from infrastructure.projections.runner import ProjectionRunner
from infrastructure.readmodels.store import ReadModelStore
from infrastructure.users import UserStore
from interfaces.http.app import create_app
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
def settings() -> dict[str, str]:
    """Application settings a test may change before the app is built. The
    followers are driven by the tests themselves (``external``: not run by an
    API process the test starts)."""
    return dict(
        ALLOW_LOOPBACK,
        PROJECTIONS="external",
        WEBHOOK_RETRY_SECONDS="0.05",
        WEBHOOK_RETRY_MAX_SECONDS="0.2",
    )


@pytest.fixture
def services(url: str, clock: ManualClock, settings: dict[str, str]) -> Iterator[Services]:
    """Every service on the database, as the composition root builds them."""
    opened = Services.open(url, clock=clock, settings=settings, hasher=FAST_HASHER)
    add_people(opened.users)
    yield opened
    opened.close()


@pytest.fixture
def app(services: Services) -> RectifyApp:
    return services.app


@pytest.fixture
def users(services: Services) -> UserStore:
    return services.users


@pytest.fixture
def integration(services: Services) -> Integration:
    return services.integration


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    """The HTTP API over the same services."""
    with TestClient(create_app(services=services, token_secret="s" * 40)) as test_client:
        yield test_client


def bearer(client: TestClient, user_id: str) -> dict[str, str]:
    token = client.app.state.auth.tokens.issue(user_id).access_token  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def sweep(app: RectifyApp, clock: ManualClock) -> Sweep:
    return Sweep(app, clock)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def read_models(services: Services) -> ReadModelStore:
    return services.read_models


def catch_up_outbox(integration: Integration) -> int:
    """Fill the outbox up to the head of the log, in the caller's thread."""
    return ProjectionRunner(integration.app, integration.outbox_projection()).catch_up()
