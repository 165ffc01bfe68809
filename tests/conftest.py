"""Fixtures shared by every suite: one database URL per backend.

``database_url`` runs a test once on each of the in-memory (popo), SQLite and
PostgreSQL backends; ``sqlite_url`` and ``postgres_url`` pin one backend.
Deselect the PostgreSQL runs with ``-m "not postgres"``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends import POPO_URL, fresh_postgres_database, sqlite_url_for

# The suites log in from one address (127.0.0.1, or the test client's) far
# more often than a person would: past the default limit by address they would
# test the limit instead of what they are about. Set before anything reads it,
# so servers started as subprocesses inherit it too; the tests of the limit
# itself set their own.
os.environ.setdefault("RECTIFY_LOGIN_RATE_LIMIT", "100000/minute")

BACKENDS = [
    pytest.param("popo", id="popo"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL, once per backend, each an empty store of its own.

    popo: ``popo://``; sqlite: a file in the test's ``tmp_path``; postgres: a
    new database on the test server, dropped after the test.
    """
    backend: str = request.param
    if backend == "popo":
        yield POPO_URL
    elif backend == "sqlite":
        yield sqlite_url_for(tmp_path / "rectify.sqlite3")
    else:
        with fresh_postgres_database() as url:
            yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The URL of a SQLite file in the test's ``tmp_path``, not yet created."""
    return sqlite_url_for(tmp_path / "rectify.sqlite3")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    with fresh_postgres_database() as url:
        yield url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests that use ``postgres_url`` as ``postgres``, so ``-m`` can select them."""
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
