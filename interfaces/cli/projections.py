"""``rectify projections``: run, rebuild, check and inspect the read models.

``rectify projections run`` is another name for ``rectify followers run``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from application.app import RectifyApp
from infrastructure.composition import Services
from infrastructure.projections import maintenance
from infrastructure.readmodels.store import PROJECTION_NAMES, ReadModelStore
from interfaces.cli.followers import OverdueSeconds, run_followers
from interfaces.cli.options import DatabaseUrl

app = typer.Typer(
    name="projections",
    help="Run, rebuild, check and inspect the read models (work queues, search, dashboards).",
    no_args_is_help=True,
)

console = Console(highlight=False, soft_wrap=True, markup=False)
MAX_SHOWN_DIFFERENCES = 20

Name = Annotated[
    str | None,
    typer.Argument(help=f"One projection ({', '.join(PROJECTION_NAMES)}); default: all."),
]


def _names(name: str | None) -> tuple[str, ...]:
    if name is None:
        return PROJECTION_NAMES
    if name not in PROJECTION_NAMES:
        raise typer.BadParameter(
            f"no projection named {name!r}; known: {', '.join(PROJECTION_NAMES)}",
            param_hint="NAME",
        )
    return (name,)


@contextmanager
def _opened(database_url: str | None) -> Iterator[tuple[RectifyApp, ReadModelStore]]:
    with Services.open(database_url) as services:
        yield services.app, services.read_models


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@app.command()
def rebuild(name: Name = None, database_url: DatabaseUrl = None) -> None:
    """Rebuild read models from the whole event log, then put them in service.

    The rebuild fills scratch tables while the live ones keep answering; the
    swap is one transaction. Running workers carry on from the rebuilt position.
    """
    names = _names(name)
    with _opened(database_url) as (rectify, store):
        head = rectify.recorder.max_notification_id() or 0
        started = time.perf_counter()
        # One replay of the log feeds every projection named, so one bar.
        with _progress() as progress:
            task = progress.add_task(", ".join(names), total=max(head, 1), rate="")

            def advance(count: int, position: int) -> None:
                rate = count / max(time.perf_counter() - started, 1e-9)
                progress.update(task, completed=min(position, head), rate=f"{rate:,.0f} events/s")

            reports = maintenance.rebuild_many(rectify, store, names, progress=advance)
            progress.update(task, completed=max(head, 1))
        for report in reports:
            console.print(
                f"{report.name}: {report.events:,} events in {report.seconds:.2f} s "
                f"({report.events_per_second:,.0f} events/s), at position {report.position or 0}"
            )


@app.command()
def check(name: Name = None, database_url: DatabaseUrl = None) -> None:
    """Rebuild into scratch tables and compare with the live read models.

    Prints every difference (up to 20 per projection in full) and exits with
    status 1 if there is any.
    """
    names = _names(name)
    failed = False
    with _opened(database_url) as (rectify, store):
        for projection in names:
            report = maintenance.check(rectify, store, projection)
            rows = ", ".join(f"{t} {n}" for t, n in report.rows.items())
            behind = max(0, report.head - (report.position or 0))
            note = f"; {behind} positions behind the log" if behind else ""
            if report.ok:
                console.print(
                    f"{projection}: live equals rebuild at position {report.position or 0} "
                    f"({rows}){note}"
                )
                continue
            failed = True
            console.print(
                f"{projection}: {len(report.differences)} rows differ from a rebuild "
                f"at position {report.position or 0}{note}"
            )
            for difference in report.differences[:MAX_SHOWN_DIFFERENCES]:
                key = ", ".join(f"{k}={v}" for k, v in difference.key.items())
                if difference.live is None:
                    console.print(f"  {difference.table} [{key}]: missing from the live table")
                elif difference.rebuilt is None:
                    console.print(f"  {difference.table} [{key}]: in the live table only")
                else:
                    changes = "; ".join(
                        f"{c}: live {difference.live[c]!r} ≠ rebuilt {difference.rebuilt[c]!r}"
                        for c in difference.columns
                    )
                    console.print(f"  {difference.table} [{key}]: {changes}")
            hidden = len(report.differences) - MAX_SHOWN_DIFFERENCES
            if hidden > 0:
                console.print(f"  … and {hidden} more")
    if failed:
        raise typer.Exit(1)


@app.command()
def status(database_url: DatabaseUrl = None) -> None:
    """Each projection's position, the head of the log, the lag, and (on
    PostgreSQL) which worker process holds it."""
    with _opened(database_url) as (rectify, store):
        table = Table("projection", "position", "head", "lag", "worker")
        for state in maintenance.status(rectify, store):
            worker = state.worker or "-"
            if not store.is_postgres:
                worker = "n/a"
            table.add_row(
                state.name, str(state.position or 0), str(state.head), str(state.lag), worker
            )
        console.print(table)


@app.command()
def run(
    name: Name = None,
    database_url: DatabaseUrl = None,
    overdue_seconds: OverdueSeconds = None,
) -> None:
    """Follow the log and keep the read models up to date until stopped (Ctrl-C, SIGTERM).

    Another name for `rectify followers run`: without a NAME it runs every
    follower (the read models, the audit's hash chain, the overdue check), so an
    external-followers deployment needs one kind of worker; with a NAME, that
    read model alone.
    """
    run_followers(database_url, _names(name) if name else None, overdue_seconds=overdue_seconds)
