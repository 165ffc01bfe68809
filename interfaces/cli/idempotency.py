"""``rectify idempotency``: housekeeping of the stored answers to retried requests."""

from __future__ import annotations

from typing import Annotated

import typer

from infrastructure.composition import create_idempotency_store
from infrastructure.idempotency import SECONDS_PER_DAY
from interfaces.cli.options import DatabaseUrl

app = typer.Typer(
    name="idempotency",
    help="Housekeeping of Idempotency-Key records.",
    no_args_is_help=True,
)


@app.command("purge")
def purge(
    database_url: DatabaseUrl = None,
    older_than_days: Annotated[
        float,
        typer.Option(
            "--older-than-days",
            min=0,
            help="Forget answered keys at least this old; a retry after that is applied anew.",
        ),
    ] = 7.0,
) -> None:
    """Forget the answers kept for Idempotency-Keys older than a number of days.

    Keys are kept so that a client's retry is not applied twice; past the window
    in which clients retry they only take space. The API purges keys older than
    7 days once a day by itself; this is for another window or a one-off.
    """
    store = create_idempotency_store(database_url)
    try:
        purged = store.purge(older_than_days * SECONDS_PER_DAY)
    finally:
        store.close()
    typer.echo(f"purged {purged} idempotency record(s) older than {older_than_days:g} day(s)")
