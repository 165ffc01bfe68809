"""A long event log for the benchmarks, made of copies of real cases.

A benchmark records a template (a few cases, through the application on the
in-memory store) and :func:`fill` repeats it until the log holds ``count``
events, each copy with fresh aggregate ids — replaced in the stored JSON too,
where ids are written as hex — so every event decodes, projects and reads like
a real one. The rows are bulk-inserted (sqlite3 executemany, PostgreSQL COPY):
the application would take far longer to record a million events.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from infrastructure.composition import backend_of_url, build_app
from infrastructure.persistence import environment_for

Row = tuple[uuid.UUID, int, str, bytes]
INSERT_BATCH = 10_000


def recorded_rows(app: Any) -> list[Row]:
    """Every stored event of ``app``'s log, as rows to copy."""
    return [
        (n.originator_id, n.originator_version, n.topic, n.state)
        for n in app.recorder.select_notifications(start=1, limit=1_000_000)
    ]


def copies(template: list[Row], count: int) -> Iterator[Row]:
    """``count`` events: the template again and again, each copy with fresh ids."""
    ids = sorted({row[0] for row in template}, key=str)
    made = 0
    copy = 0
    while True:
        fresh = {old: uuid.uuid5(old, str(copy)) for old in ids}
        for originator_id, version, topic, state in template:
            for old, new in fresh.items():
                state = state.replace(old.hex.encode(), new.hex.encode())
            yield fresh[originator_id], version, topic, state
            made += 1
            if made == count:
                return
        copy += 1


def event_count(url: str) -> int:
    app = build_app(url)
    try:
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


def fill(url: str, count: int, reuse: bool, template: Callable[[], list[Row]]) -> None:
    """Make the log at ``url`` hold ``count`` copied events (kept if ``reuse`` and
    it already has as many); the database is made anew otherwise."""
    if backend_of_url(url).kind == "postgres":
        _fill_postgres(url, count, reuse, template)
    else:
        _fill_sqlite(url, count, reuse, template)


def _fill_sqlite(url: str, count: int, reuse: bool, template: Callable[[], list[Row]]) -> None:
    path = Path(environment_for(url)["SQLITE_DBNAME"])
    if reuse and path.exists() and event_count(url) >= count:
        return
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    build_app(url).close()  # creates the events table as the application does
    rows = copies(template(), count)
    with closing(sqlite3.connect(path)) as connection:
        while batch := [(i.hex, v, t, s) for i, v, t, s in _take(rows, INSERT_BATCH)]:
            with connection:
                connection.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)", batch)


def _fill_postgres(url: str, count: int, reuse: bool, template: Callable[[], list[Row]]) -> None:
    env = environment_for(url)
    dbname = env["POSTGRES_DBNAME"]
    admin: dict[str, Any] = {
        "host": env["POSTGRES_HOST"],
        "port": env["POSTGRES_PORT"],
        "user": env["POSTGRES_USER"] or None,
        "password": env["POSTGRES_PASSWORD"] or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**admin) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)
        ).fetchone()
    if reuse and exists and event_count(url) >= count:
        return
    with psycopg.connect(**admin) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    build_app(url).close()
    rows = template()
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        with cursor.copy(
            "COPY rectify_events (originator_id, originator_version, topic, state) FROM STDIN"
        ) as copy:
            for row in copies(rows, count):
                copy.write_row(row)
        cursor.execute("ANALYZE rectify_events")


def _take(rows: Iterator[Row], size: int) -> list[Row]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            break
    return batch
