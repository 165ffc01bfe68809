"""Loading the demo data and its logins, for ``rectify demo`` and ``rectify serve --demo``."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from application.demo import (
    DEMO_USERS,
    STORY_START,
    DemoSummary,
    DemoUser,
    demo_evidence_files,
    load_demo,
)
from infrastructure.clock import ManualClock
from infrastructure.composition import Services
from infrastructure.evidence import EvidenceStore
from infrastructure.users import UserStore


@dataclass(frozen=True)
class DemoLogin:
    """A demo user as found in the store after :func:`ensure_demo_users`."""

    user: DemoUser
    created: bool
    password_works: bool


def ensure_demo_users(users: UserStore) -> list[DemoLogin]:
    """Create the demo users that do not exist yet; leave existing accounts alone.

    An operator may have changed a demo user's password since; that account is
    kept as it is, and reported so the printed password is not a lie.
    """
    logins = []
    for demo_user in DEMO_USERS:
        created = False
        if users.get(demo_user.user_id) is None:
            try:
                users.add(
                    demo_user.user_id,
                    demo_user.name,
                    demo_user.role,
                    demo_user.password,
                    party_name=demo_user.party_name,
                )
                created = True
            except ValueError:
                # Another process created it between our look and our insert.
                if users.get(demo_user.user_id) is None:
                    raise
        works = created or users.check_password(demo_user.user_id, demo_user.password)
        logins.append(DemoLogin(demo_user, created, works))
    return logins


def load_demo_data(database_url: str | None) -> tuple[DemoSummary, list[DemoLogin]]:
    """Create the demo users and load the demo cases into ``database_url``, each at most once."""
    with Services.open(database_url) as services:
        logins = ensure_demo_users(services.users)
        summary = load_demo(services.app, ManualClock(STORY_START))
        # Chain the demo's events at once, so `rectify audit verify` vouches for them.
        services.audit_chain_runner().catch_up()
        store_demo_evidence(services.evidence)
    return summary, logins


def store_demo_evidence(store: EvidenceStore) -> None:
    """Put the demo's evidence files in ``store``, so what its events cite can be
    fetched; content-addressed, so loading twice stores each once."""
    for content, name, media_type in demo_evidence_files():
        store.put(content, name=name, media_type=media_type)


def login_lines(logins: list[DemoLogin]) -> list[str]:
    """One line per demo login: role, user id, password, name."""
    lines = []
    for login in logins:
        user = login.user
        password = user.password if login.password_works else "(changed since; not shown)"
        lines.append(
            f"    {user.role.value:<18} {user.user_id:<13} {password:<18} {user.name} {user.title}"
        )
    return lines


def echo_logins(logins: list[DemoLogin]) -> None:
    """Print the demo logins under a heading."""
    typer.echo("  Demo logins (role, user id, password):")
    for line in login_lines(logins):
        typer.echo(line)
