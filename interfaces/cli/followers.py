"""``rectify followers``: run and inspect everything that follows the event log.

``rectify projections run`` and ``rectify audit chain --follow`` are other names
for ``rectify followers run`` (of the read models, and of the audit chain).
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from infrastructure.composition import Services
from infrastructure.followers import FOLLOWERS, LOG
from interfaces.cli.options import DatabaseUrl, fail

app = typer.Typer(
    name="followers",
    help="Run and inspect what follows the event log: read models, the audit chain, "
    "the overdue check.",
    no_args_is_help=True,
)

console = Console(highlight=False, soft_wrap=True, markup=False)

Names = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="NAME...",
        help=f"Followers to run ({', '.join(FOLLOWERS.names)}); default: all.",
        show_default=False,
    ),
]
OverdueSeconds = Annotated[
    float | None,
    typer.Option(
        min=0,
        help="Seconds between overdue checks (default: RECTIFY_OVERDUE_CHECK_SECONDS or 60; "
        "0: none).",
    ),
]


def checked(names: list[str] | None) -> tuple[str, ...] | None:
    """``names`` if every one is registered; a usage error naming the known ones if not."""
    if not names:
        return None
    try:
        return FOLLOWERS.select(names)
    except KeyError as error:
        raise typer.BadParameter(str(error.args[0]), param_hint="NAME") from None


def run_followers(
    database_url: str | None,
    names: tuple[str, ...] | None,
    *,
    overdue_seconds: float | None = None,
) -> None:
    """Run followers ``names`` (all for None) in this process until SIGINT or SIGTERM,
    or until one fails (exit status 1).

    On PostgreSQL any number of workers may run the same followers: an advisory
    lock per follower lets one advance it while the others stand by.
    """
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    intervals = {} if overdue_seconds is None else {"overdue": overdue_seconds}
    with Services.open(database_url) as services:
        host = services.followers(names, run=True, intervals=intervals)
        try:
            host.start()
            console.print(f"following the log for {', '.join(host.names)}; Ctrl-C to stop")
            host.run_until(stop)
        finally:
            host.stop()
    for name, error in host.failed.items():
        raise fail(f"follower {name} stopped: {type(error).__name__}: {error}")


@app.command()
def run(
    names: Names = None,
    database_url: DatabaseUrl = None,
    overdue_seconds: OverdueSeconds = None,
) -> None:
    """Follow the log with the named followers (all without a NAME) until stopped.

    For PostgreSQL deployments with several API processes (set
    RECTIFY_PROJECTIONS=external for them): any number of workers may run; one
    advances each follower, the others take over if it stops.
    """
    run_followers(database_url, checked(names), overdue_seconds=overdue_seconds)


@app.command("list")
def list_followers() -> None:
    """The registered followers, by name and kind."""
    for name in FOLLOWERS.names:
        console.print(f"{name:<16} {FOLLOWERS[name].kind}")


@app.command()
def status(database_url: DatabaseUrl = None) -> None:
    """Each follower's position, the head of the log, the lag, and (on PostgreSQL)
    which worker process holds it."""
    with Services.open(database_url) as services:
        host = services.followers(run=False)
        states = host.health()
        holders = services.follower_workers(host.names)
    table = Table("follower", "kind", "position", "head", "lag", "worker")
    for state in states:
        worker = "n/a" if holders is None else holders.get(state.name, "-")
        log_follower = state.kind == LOG
        table.add_row(
            state.name,
            state.kind,
            str(state.position or 0) if log_follower else "-",
            str(state.head),
            str(state.lag) if log_follower else "-",
            worker,
        )
    console.print(table)
