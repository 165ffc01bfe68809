"""The ``rectify`` command-line tool.

Every command takes ``--database-url`` (or ``RECTIFY_DATABASE_URL``); without
either it works on the SQLite file ``./var/rectify.sqlite3``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as distribution_version
from typing import Annotated

import typer

from interfaces.cli import documents, idempotency, users
from interfaces.cli.audit import app as audit_app
from interfaces.cli.followers import app as followers_app
from interfaces.cli.integration import keys_app as integration_app
from interfaces.cli.integration import webhooks_app
from interfaces.cli.options import DatabaseUrl
from interfaces.cli.projections import app as projections_app

app = typer.Typer(
    name="rectify",
    help="Operate the rectification case service (隐患整改).",
    no_args_is_help=True,
)

# Command groups, one module each under interfaces/cli/.
app.add_typer(users.app)
app.add_typer(audit_app, name="audit")
app.add_typer(projections_app, name="projections")
app.add_typer(followers_app, name="followers")
app.add_typer(idempotency.app)
app.add_typer(integration_app, name="integration")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(documents.app, name="documents")
# Checking a printed document is an audit task: `rectify audit check-document FILE.pdf`.
audit_app.command("check-document")(documents.check_document)


def installed_version() -> str:
    """Return the version of the installed ``rectify`` distribution."""
    try:
        return distribution_version("rectify")
    except PackageNotFoundError:
        # Running from a source tree that was never installed.
        return "0+unknown"


@app.callback()
def main() -> None:
    """Operate the rectification case service (隐患整改)."""
    # An explicit callback keeps typer from collapsing a single command into the
    # top-level one, so ``rectify version`` stays a subcommand as more are added.


@app.command()
def version() -> None:
    """Print the version of rectify."""
    typer.echo(installed_version())


@app.command()
def serve(
    database_url: DatabaseUrl = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(min=1, help="Worker processes (more than 1 needs PostgreSQL; gunicorn)."),
    ] = 1,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo data and demo users first.")
    ] = False,
) -> None:
    """Serve the HTTP API; print its URL, its docs URL and, with --demo, a login per role."""
    from interfaces.cli.serve import serve as run_server

    run_server(database_url, host, port, workers, demo)


@app.command()
def demo(database_url: DatabaseUrl = None) -> None:
    """Load the demo data (安义县残联, April 2022) and demo users; safe to run twice."""
    from interfaces.cli.demo import echo_logins, load_demo_data
    from interfaces.cli.options import backend_of

    if backend_of(database_url) == "popo":
        typer.echo("Note: popo:// keeps nothing; the demo data ends with this command.", err=True)
    summary, logins = load_demo_data(database_url)
    for line in summary.lines():
        typer.echo(line)
    echo_logins(logins)


if __name__ == "__main__":
    app()
