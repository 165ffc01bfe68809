"""The composition root: every entry point (server, CLI, tests) builds the
application here, from one database URL and optional collaborators.
"""

from __future__ import annotations

from collections.abc import Mapping

from application.app import RectifyApp
from application.ports import Clock, PasswordChecker
from infrastructure.clock import SystemClock
from infrastructure.persistence import database_url_from_env, environment_for


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
    return RectifyApp(env, clock=clock or SystemClock(), passwords=passwords)
