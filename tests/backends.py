"""Database backends for the test suites: URLs, throwaway PostgreSQL databases.

The PostgreSQL server defaults to ``postgres@127.0.0.1:5432`` with trust
authentication; ``RECTIFY_TEST_PG_HOST``, ``RECTIFY_TEST_PG_PORT``,
``RECTIFY_TEST_PG_USER`` and ``RECTIFY_TEST_PG_PASSWORD`` point elsewhere.

An unreachable server skips the PostgreSQL tests on a workstation, and fails
them when ``CI=true`` or ``RECTIFY_REQUIRE_POSTGRES=1``: a CI run that silently
skipped the production backend would prove nothing about it.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

POPO_URL = "popo://"
TEST_DATABASE_PREFIX = "rectify_test_"
ADMIN_DATABASE = "postgres"
REACHABILITY_TIMEOUT_SECONDS = 3


@dataclass(frozen=True)
class PostgresServer:
    """Where the test PostgreSQL server is and who to log in as."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""

    @property
    def address(self) -> str:
        """``host:port``, for messages."""
        return f"{self.host}:{self.port}"

    def url(self, dbname: str) -> str:
        """Return the database URL of ``dbname`` on this server."""
        userinfo = quote(self.user, safe="")
        if self.password:
            userinfo += ":" + quote(self.password, safe="")
        return f"postgresql://{userinfo}@{self.address}/{quote(dbname, safe='')}"

    def connect(self, dbname: str = ADMIN_DATABASE) -> psycopg.Connection:
        """Open an autocommit connection; CREATE/DROP DATABASE refuse to run in a transaction."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=dbname,
            connect_timeout=REACHABILITY_TIMEOUT_SECONDS,
            autocommit=True,
        )


def postgres_server() -> PostgresServer:
    """Return the test server named by the ``RECTIFY_TEST_PG_*`` variables, or the default."""
    return PostgresServer(
        host=os.environ.get("RECTIFY_TEST_PG_HOST") or PostgresServer.host,
        port=int(os.environ.get("RECTIFY_TEST_PG_PORT") or PostgresServer.port),
        user=os.environ.get("RECTIFY_TEST_PG_USER") or PostgresServer.user,
        password=os.environ.get("RECTIFY_TEST_PG_PASSWORD") or PostgresServer.password,
    )


def postgres_requirement() -> str | None:
    """Return why PostgreSQL is mandatory for this run (e.g. ``"CI=true"``), or None."""
    if os.environ.get("CI", "").strip().lower() == "true":
        return "CI=true"
    if os.environ.get("RECTIFY_REQUIRE_POSTGRES", "").strip() == "1":
        return "RECTIFY_REQUIRE_POSTGRES=1"
    return None


@functools.cache
def unreachable_reason(server: PostgresServer) -> str | None:
    """Return why ``server`` cannot be used, or None if it accepts a connection.

    Cached, so a session probes each server once rather than waiting out the
    connect timeout for every test.
    """
    try:
        with server.connect() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return str(error).strip() or type(error).__name__
    return None


def require_postgres(server: PostgresServer) -> None:
    """Skip the calling test if ``server`` is unreachable, or fail it if PostgreSQL is required."""
    reason = unreachable_reason(server)
    if reason is None:
        return
    requirement = postgres_requirement()
    if requirement is not None:
        pytest.fail(
            f"PostgreSQL is required under {requirement} but {server.address} "
            f"is unreachable: {reason}",
            pytrace=False,
        )
    pytest.skip(
        f"PostgreSQL not reachable at {server.address} ({reason}); "
        "the PostgreSQL suites are skipped"
    )


def create_database(server: PostgresServer, prefix: str = TEST_DATABASE_PREFIX) -> str:
    """Create an empty database with a random name and return the name."""
    dbname = prefix + secrets.token_hex(8)
    with server.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return dbname


def drop_database(server: PostgresServer, dbname: str) -> None:
    """Drop ``dbname``, disconnecting whatever still holds it open (e.g. a leaked pool)."""
    with server.connect() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )


@contextmanager
def fresh_postgres_database(server: PostgresServer | None = None) -> Iterator[str]:
    """Yield the URL of a new, empty database, and drop it afterwards.

    Skips or fails the calling test (see :func:`require_postgres`) if the
    server is unreachable.
    """
    server = server or postgres_server()
    require_postgres(server)
    dbname = create_database(server)
    try:
        yield server.url(dbname)
    finally:
        drop_database(server, dbname)


def sqlite_url_for(path: Path) -> str:
    """Return the ``sqlite:///`` URL of the database file at ``path``."""
    return f"sqlite:///{path}"
