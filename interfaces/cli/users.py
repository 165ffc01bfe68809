"""``rectify users``: the accounts people log in with."""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated

import typer

from infrastructure.composition import create_user_store
from infrastructure.users import LOGIN_ROLES, UserStore
from interfaces.cli.options import DatabaseUrl, fail

app = typer.Typer(
    name="users",
    help="Add, list, change the role or password of, disable and unlock the people who log in.",
    no_args_is_help=True,
)

# The roles a person can log in as, as a choice on the command line.
LoginRole = StrEnum("LoginRole", {role.name: role.value for role in LOGIN_ROLES})  # type: ignore[misc]

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of standard input instead of prompting.",
    ),
]


@contextmanager
def open_users(database_url: str | None) -> Iterator[UserStore]:
    """The user store of ``database_url``, closed afterwards."""
    try:
        users = create_user_store(database_url)
    except ValueError as error:  # a malformed lockout setting
        raise fail(str(error)) from None
    try:
        yield users
    finally:
        users.close()


def read_password(from_stdin: bool, prompt: str = "Password") -> str:
    """The new password: the first line of stdin, or typed twice at a hidden prompt."""
    if from_stdin:
        line = sys.stdin.readline()
        # Only the line break is the terminal's; spaces belong to the password.
        return line.removesuffix("\n").removesuffix("\r")
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=True)


@app.command("add")
def add(
    user_id: Annotated[str, typer.Argument(help="The login, e.g. zhangming.")],
    name: Annotated[str, typer.Option("--name", help="The person's name, e.g. 张铭.")],
    role: Annotated[LoginRole, typer.Option("--role", help="What the person may do.")],
    party_name: Annotated[
        str | None,
        typer.Option(
            "--party-name",
            help="For a responsible party: the name used on their orders (default: --name).",
        ),
    ] = None,
    password_stdin: PasswordStdin = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a user; the password is asked for twice (or read with --password-stdin)."""
    password = read_password(password_stdin)
    with open_users(database_url) as users:
        try:
            user = users.add(user_id, name, role.value, password, party_name=party_name)
        except ValueError as error:
            raise fail(str(error)) from None
    party = f", party {user.party_name}" if user.party_name else ""
    typer.echo(f"Added {user.user_id} ({user.name}, {user.role.value}{party}).")


@app.command("list")
def list_users(database_url: DatabaseUrl = None) -> None:
    """List the users: id, name, role and, for responsible parties, their party name."""
    with open_users(database_url) as users:
        rows = [
            (u.user_id, u.name, u.role.value, u.party_name or "", "" if u.active else "disabled")
            for u in users.list()
        ]
    if not rows:
        typer.echo("No users. Add one with: rectify users add USER_ID --name NAME --role ROLE")
        return
    for line in table([("USER ID", "NAME", "ROLE", "PARTY", "STATUS"), *rows]):
        typer.echo(line)


@app.command("passwd")
def passwd(
    user_id: Annotated[str, typer.Argument(help="Whose password to change.")],
    password_stdin: PasswordStdin = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Set a user's password (asked for twice, or read with --password-stdin)."""
    with open_users(database_url) as users:
        if users.get(user_id) is None:
            raise fail(f"no user {user_id!r}")
        password = read_password(password_stdin, "New password")
        try:
            users.set_password(user_id, password)
        except KeyError:
            raise fail(f"no user {user_id!r}") from None
        except ValueError as error:
            raise fail(str(error)) from None
    typer.echo(f"Changed the password of {user_id}.")


@app.command("role")
def role(
    user_id: Annotated[str, typer.Argument(help="Whose role to change.")],
    new_role: Annotated[LoginRole, typer.Argument(metavar="ROLE", help="The new role.")],
    party_name: Annotated[
        str | None,
        typer.Option(
            "--party-name",
            help="For a responsible party: the name used on their orders (default: their name).",
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change what a user may do, e.g. promote an inspector to supervisor.

    Events already recorded keep the role they were recorded in.
    """
    with open_users(database_url) as users:
        try:
            user = users.set_role(user_id, new_role.value, party_name=party_name)
        except KeyError:
            raise fail(f"no user {user_id!r}") from None
        except ValueError as error:
            raise fail(str(error)) from None
    party = f", party {user.party_name}" if user.party_name else ""
    typer.echo(f"{user.user_id} ({user.name}) is now a {user.role.value}{party}.")


@app.command("disable")
def disable(
    user_id: Annotated[str, typer.Argument(help="Whose account to disable.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Disable an account: no more logins or signatures, and its tokens stop working.

    The account is kept, since the log names it; ``enable`` restores it.
    """
    with open_users(database_url) as users:
        try:
            users.set_active(user_id, False)
        except KeyError:
            raise fail(f"no user {user_id!r}") from None
    typer.echo(f"Disabled {user_id}.")


@app.command("enable")
def enable(
    user_id: Annotated[str, typer.Argument(help="Whose account to enable again.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Enable a disabled account again (and lift any lock on it)."""
    with open_users(database_url) as users:
        try:
            users.set_active(user_id, True)
        except KeyError:
            raise fail(f"no user {user_id!r}") from None
    typer.echo(f"Enabled {user_id}.")


@app.command("unlock")
def unlock(
    user_id: Annotated[str, typer.Argument(help="Whose account to unlock.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Lift the lock that too many wrong passwords put on an account, and forget them."""
    with open_users(database_url) as users:
        try:
            users.unlock(user_id)
        except KeyError:
            raise fail(f"no user {user_id!r}") from None
    typer.echo(f"Unlocked {user_id}.")


def table(rows: list[tuple[str, ...]]) -> list[str]:
    """Columns padded to a common width, counting a CJK character as two columns."""
    widths = [max(display_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell + " " * (width - display_width(cell))
            for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in rows
    ]


def display_width(text: str) -> int:
    """How many terminal columns ``text`` takes."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
