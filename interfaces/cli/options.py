"""Options shared by every ``rectify`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from infrastructure.composition import BackendKind, backend_of_url
from infrastructure.persistence import DATABASE_URL_VARIABLE, describe, environment_for


def check_database_url(value: str | None) -> str | None:
    """Refuse a database URL that the service cannot use, before anything is opened.

    Returns the URL stripped, or None for the default SQLite file.
    """
    try:
        environment_for(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    return (value or "").strip() or None


DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar=DATABASE_URL_VARIABLE,
        show_envvar=True,
        callback=check_database_url,
        metavar="URL",
        help=(
            "Where the events live: sqlite:///path (default: ./var/rectify.sqlite3), "
            "postgresql://user:password@host:port/dbname, or popo:// (in memory)."
        ),
    ),
]


def backend_of(database_url: str | None) -> BackendKind:
    """Which kind of store a (valid) database URL selects."""
    return backend_of_url(database_url).kind


def shown(database_url: str | None) -> str:
    """The URL fit for a terminal: the password masked, the default spelled out."""
    return describe(database_url)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` to stderr and return the exit to raise."""
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)
