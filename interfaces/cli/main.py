"""The ``rectify`` command-line tool."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as distribution_version

import typer

app = typer.Typer(
    name="rectify",
    help="Operate the rectification case service (隐患整改).",
    no_args_is_help=True,
)


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


if __name__ == "__main__":
    app()
