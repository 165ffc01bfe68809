"""Fixtures of the fault suite: databases that outlive a process, and a private
PostgreSQL cluster a test may stop."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.clock import ManualClock
from tests.backends import fresh_postgres_database, sqlite_url_for
from tests.core.scenario import SWEEP_STARTS
from tests.faults.cluster import PrivateCluster, private_cluster, unavailable_reason


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def lasting_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that outlives the process: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        yield sqlite_url_for(tmp_path / "rectify.sqlite3")
    else:
        with fresh_postgres_database() as url:
            yield url


@pytest.fixture(scope="session")
def cluster() -> Iterator[PrivateCluster]:
    """A private PostgreSQL cluster, for tests that stop and start the database."""
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"a private PostgreSQL cluster is needed under CI: {reason}")
        pytest.skip(reason)
    with private_cluster() as made:
        yield made


@pytest.fixture
def cluster_url(cluster: PrivateCluster, request: pytest.FixtureRequest) -> str:
    """A new database on the private cluster (started, should a test have left it stopped)."""
    cluster.start()
    return cluster.create_database(f"faults_{abs(hash(request.node.nodeid)) % 10**9}")


@pytest.fixture
def clock() -> ManualClock:
    """09:00 in 安义 on 2022-04-18, the morning of the sweep."""
    return ManualClock(SWEEP_STARTS)
