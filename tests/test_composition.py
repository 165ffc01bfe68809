"""The composition root: one database URL gives every service, on the backend
chosen once; what it opened, it closes."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from domain.values import Actor, Role
from infrastructure.composition import (
    MemoryBackend,
    PostgresBackend,
    Services,
    SQLiteBackend,
    backend_for,
    build_app,
)
from infrastructure.evidence import (
    DirectoryEvidenceStore,
    InMemoryEvidenceStore,
    TableEvidenceStore,
)
from infrastructure.idempotency import InMemoryIdempotencyStore, SqlIdempotencyStore
from infrastructure.persistence import environment_for
from infrastructure.users import InMemoryUserStore, SqlUserStore
from tests.core.scenario import FakePasswords

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
EXPECTED = {
    "popo": (MemoryBackend, InMemoryUserStore, InMemoryIdempotencyStore, InMemoryEvidenceStore),
    "sqlite": (SQLiteBackend, SqlUserStore, SqlIdempotencyStore, DirectoryEvidenceStore),
    "postgres": (PostgresBackend, SqlUserStore, SqlIdempotencyStore, TableEvidenceStore),
}


def kind_of(url: str) -> str:
    return url.split(":", 1)[0].replace("postgresql", "postgres")


def test_one_url_gives_every_service_on_its_backend(database_url: str) -> None:
    backend, users, idempotency, evidence = EXPECTED[kind_of(database_url)]
    with Services.open(database_url, hasher=FAST_HASHER) as services:
        assert type(services.backend) is backend
        assert isinstance(services.users, users)
        assert isinstance(services.idempotency, idempotency)
        assert isinstance(services.evidence, evidence)
        assert services.read_models.dialect == (
            "postgres" if backend is PostgresBackend else "sqlite"
        )
        assert len(services.token_secret) >= 32
        # The application checks signatures against the same users.
        assert services.app.passwords is services.users
        supervisor = Actor("zhangming", "张铭", Role.SUPERVISOR)
        site = services.app.register_site(supervisor, name="陶表印盲人按摩店", region="安义县")
        # The audit sees the same log, and its chain follows it.
        assert services.audit_chain_runner().catch_up() == 1
        assert services.audit.head() is not None and services.audit.head().position == 1
        assert services.audit.verify().ok
        assert site is not None


def test_every_process_on_a_database_shares_its_token_secret(sqlite_url: str) -> None:
    with Services.open(sqlite_url) as first, Services.open(sqlite_url) as second:
        assert first.token_secret == second.token_secret


def test_services_around_an_application_leave_it_open(sqlite_url: str) -> None:
    app = build_app(sqlite_url, passwords=FakePasswords())
    with Services.around(app) as services:
        services.read_models.view("cases")
        assert services.audit.head() is None
    assert app.recorder.max_notification_id() is None  # still usable
    app.close()


def test_the_backend_follows_the_persistence_module_and_refuses_an_unknown_one() -> None:
    assert type(backend_for(environment_for("popo://"))) is MemoryBackend
    assert type(backend_for(environment_for("sqlite:///var/x.sqlite3"))) is SQLiteBackend
    assert type(backend_for(environment_for("postgresql://u@h/db"))) is PostgresBackend
    with pytest.raises(ValueError, match=r"no backend for persistence module 'eventsourcing\.x'"):
        backend_for({"PERSISTENCE_MODULE": "eventsourcing.x"})
