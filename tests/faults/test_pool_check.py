"""The pools' connection check asks the server only about a connection that may
be dead: one the server has ended turns readable, and is then checked and swept."""

from __future__ import annotations

import time

import psycopg
from psycopg_pool import ConnectionPool

from infrastructure.persistence import environment_for
from infrastructure.side_tables import may_be_dead, sweeping_check


def _conninfo(url: str) -> str:
    env = environment_for(url)
    return (
        f"host={env['POSTGRES_HOST']} port={env['POSTGRES_PORT']} "
        f"dbname={env['POSTGRES_DBNAME']} user={env['POSTGRES_USER'] or 'postgres'}"
    )


def _wait_until(condition: object, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_an_idle_connection_the_server_ended_is_checked_and_swept(postgres_url: str) -> None:
    conninfo = _conninfo(postgres_url)
    with psycopg.connect(conninfo, autocommit=True) as admin:
        pool: ConnectionPool = ConnectionPool(
            conninfo, min_size=2, max_size=2, kwargs={"autocommit": True}, open=True
        )
        try:
            pool.wait()
            check = sweeping_check(pool)
            with pool.connection() as connection:
                # Alive and idle: nothing to read, so no round trip is needed.
                assert not may_be_dead(connection)
                check(connection)  # passes quietly
                pid = connection.info.backend_pid
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                # The server's goodbye makes the socket readable.
                assert _wait_until(lambda: may_be_dead(connection))
                try:
                    check(connection)
                except psycopg.OperationalError:
                    pass
                else:
                    raise AssertionError("a connection the server ended passed the check")
            # The pool replaced it: the next connection works.
            with pool.connection() as connection:
                assert connection.execute("SELECT 1").fetchone() == (1,)
        finally:
            pool.close()


def test_a_closed_connection_may_be_dead(postgres_url: str) -> None:
    connection = psycopg.connect(_conninfo(postgres_url), autocommit=True)
    assert not may_be_dead(connection)
    connection.close()
    assert may_be_dead(connection)
