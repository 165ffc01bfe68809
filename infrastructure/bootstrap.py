"""The composition root: every entry point (server, CLI, tests) builds the
application here, from one database URL and optional collaborators.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from application.app import RectifyApp
from application.ports import Clock, PasswordChecker
from infrastructure.clock import SystemClock
from infrastructure.persistence import database_url_from_env, environment_for
from infrastructure.side_tables import postgres_conninfo

# Held while the event store creates its tables: PostgreSQL's CREATE TABLE IF
# NOT EXISTS is not safe when two sessions run it at the same moment (both pass
# the check, one fails on the catalog's unique index), which is what happens
# when several workers or a worker and the CLI start on a fresh database.
_SCHEMA_LOCK_KEY = int.from_bytes(
    hashlib.blake2b(b"rectify:event-store-schema", digest_size=8).digest(), "big", signed=True
)


def build_app(
    database_url: str | None = None,
    *,
    clock: Clock | None = None,
    passwords: PasswordChecker | None = None,
    settings: Mapping[str, str] | None = None,
) -> RectifyApp:
    """Build the application on the database at ``database_url``.

    Without a URL, ``RECTIFY_DATABASE_URL`` is used, and without that the
    SQLite file ``./var/rectify.sqlite3``. ``settings`` adds application
    settings (``TIME_ZONE``, ``DEADLINE_DAYS_GENERAL`` …) over the persistence
    ones.
    """
    env = environment_for(database_url or database_url_from_env())
    if settings:
        env.update(settings)
    with _schema_lock(env):
        return RectifyApp(env, clock=clock or SystemClock(), passwords=passwords)


@contextmanager
def _schema_lock(env: Mapping[str, str]) -> Iterator[None]:
    """On PostgreSQL, one process at a time constructs the event store (see above)."""
    if env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
        yield
        return
    import psycopg  # only PostgreSQL deployments need the driver loaded here

    # The lock is the session's: closing the connection releases it, also when
    # construction fails.
    with psycopg.connect(postgres_conninfo(env), autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK_KEY,))
        yield
