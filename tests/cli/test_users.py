"""``rectify users add | list | passwd``: accounts managed from the command line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from domain.values import Role
from infrastructure.composition import create_user_store
from interfaces.cli.main import app as cli
from interfaces.cli.users import display_width

runner = CliRunner()


def stored(url: str, user_id: str):
    users = create_user_store(url)
    try:
        return users.get(user_id)
    finally:
        users.close()


def password_is(url: str, user_id: str, password: str) -> bool:
    users = create_user_store(url)
    try:
        return users.check_password(user_id, password)
    finally:
        users.close()


def add(url: str, *args: str, password: str = "seven-and-one") -> object:
    return runner.invoke(
        cli,
        ["users", "add", *args, "--password-stdin", "--database-url", url],
        input=password + "\n",
    )


def test_users_add_prompts_for_the_password_twice(sqlite_url: str) -> None:
    result = runner.invoke(
        cli,
        ["users", "add", "zhangming", "--name", "张铭", "--role", "supervisor"],
        input="first secret\nfirst secret\n",
        env={"RECTIFY_DATABASE_URL": sqlite_url},
    )

    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    user = stored(sqlite_url, "zhangming")
    assert (user.name, user.role, user.party_name) == ("张铭", Role.SUPERVISOR, None)
    assert password_is(sqlite_url, "zhangming", "first secret")


def test_users_add_with_mismatched_confirmation_asks_again(sqlite_url: str) -> None:
    result = runner.invoke(
        cli,
        ["users", "add", "chenxiaofeng", "--name", "陈小峰", "--role", "inspector"],
        input="first secret\nanother one\nfirst secret\nfirst secret\n",
        env={"RECTIFY_DATABASE_URL": sqlite_url},
    )

    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert password_is(sqlite_url, "chenxiaofeng", "first secret")


def test_users_add_reads_the_password_from_stdin_spaces_and_all(sqlite_url: str) -> None:
    result = add(
        sqlite_url,
        "taobiaoyin",
        "--name",
        "陶表印",
        "--role",
        "responsible_party",
        "--party-name",
        "陶表印盲人按摩店",
        password=" spaced secret ",
    )

    assert result.exit_code == 0, result.output
    user = stored(sqlite_url, "taobiaoyin")
    assert (user.role, user.party_name) == (Role.RESPONSIBLE_PARTY, "陶表印盲人按摩店")
    assert password_is(sqlite_url, "taobiaoyin", " spaced secret ")


def test_users_add_refuses_a_duplicate_and_keeps_the_first(sqlite_url: str) -> None:
    assert add(sqlite_url, "zhangming", "--name", "张铭", "--role", "supervisor").exit_code == 0

    result = add(
        sqlite_url, "zhangming", "--name", "冒名", "--role", "auditor", password="other secret"
    )

    assert result.exit_code == 1
    assert "already exists" in result.stderr
    assert stored(sqlite_url, "zhangming").name == "张铭"
    assert password_is(sqlite_url, "zhangming", "seven-and-one")


def test_users_add_refuses_a_short_password(sqlite_url: str) -> None:
    result = add(sqlite_url, "auditor", "--name", "刘芳", "--role", "auditor", password="short")

    assert result.exit_code == 1
    assert "at least 8 characters" in result.stderr
    assert stored(sqlite_url, "auditor") is None


@pytest.mark.parametrize("role", ["system", "admin"])
def test_users_add_refuses_a_role_nobody_logs_in_as(sqlite_url: str, role: str) -> None:
    result = add(sqlite_url, "someone", "--name", "某人", "--role", role)

    assert result.exit_code == 2
    assert "--role" in result.output
    assert stored(sqlite_url, "someone") is None


def test_users_list_shows_everyone_with_role_and_party(sqlite_url: str) -> None:
    add(sqlite_url, "zhangming", "--name", "张铭", "--role", "supervisor")
    add(sqlite_url, "taobiaoyin", "--name", "陶表印", "--role", "responsible_party")

    result = runner.invoke(cli, ["users", "list", "--database-url", sqlite_url])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["USER", "ID", "NAME", "ROLE", "PARTY", "STATUS"]
    assert lines[1].split() == ["taobiaoyin", "陶表印", "responsible_party", "陶表印"]
    assert lines[2].split() == ["zhangming", "张铭", "supervisor"]
    # Columns line up on a terminal, where a CJK character takes two columns.
    role_column = [
        display_width(line[: line.index(role)])
        for line, role in ((lines[1], "responsible_party"), (lines[2], "supervisor"))
    ]
    assert role_column[0] == role_column[1]


def test_users_list_on_an_empty_store_says_how_to_add_one(sqlite_url: str) -> None:
    result = runner.invoke(cli, ["users", "list", "--database-url", sqlite_url])

    assert result.exit_code == 0
    assert "rectify users add" in result.stdout


def test_users_passwd_changes_the_password(sqlite_url: str) -> None:
    add(sqlite_url, "chenxiaofeng", "--name", "陈小峰", "--role", "inspector")

    result = runner.invoke(
        cli,
        ["users", "passwd", "chenxiaofeng", "--database-url", sqlite_url],
        input="brand new secret\nbrand new secret\n",
    )

    assert result.exit_code == 0, result.output
    assert password_is(sqlite_url, "chenxiaofeng", "brand new secret")
    assert not password_is(sqlite_url, "chenxiaofeng", "seven-and-one")


def test_users_passwd_of_an_unknown_user_fails_without_asking(sqlite_url: str) -> None:
    result = runner.invoke(cli, ["users", "passwd", "nobody", "--database-url", sqlite_url])

    assert result.exit_code == 1
    assert "no user 'nobody'" in result.stderr
    assert "password" not in result.stdout.lower()


def test_users_passwd_refuses_a_short_password_and_keeps_the_old(sqlite_url: str) -> None:
    add(sqlite_url, "chenxiaofeng", "--name", "陈小峰", "--role", "inspector")

    result = runner.invoke(
        cli,
        ["users", "passwd", "chenxiaofeng", "--password-stdin", "--database-url", sqlite_url],
        input="short\n",
    )

    assert result.exit_code == 1
    assert "at least 8 characters" in result.stderr
    assert password_is(sqlite_url, "chenxiaofeng", "seven-and-one")


def test_users_live_in_the_postgres_database_of_the_url(postgres_url: str) -> None:
    assert add(postgres_url, "zhangming", "--name", "张铭", "--role", "supervisor").exit_code == 0

    result = runner.invoke(cli, ["users", "list"], env={"RECTIFY_DATABASE_URL": postgres_url})

    assert result.exit_code == 0, result.output
    assert "zhangming" in result.stdout
    assert password_is(postgres_url, "zhangming", "seven-and-one")


@pytest.mark.parametrize(
    "command",
    [
        ["users", "list"],
        ["users", "add", "x", "--name", "x", "--role", "auditor"],
        ["users", "passwd", "x"],
        ["demo"],
        ["serve"],
    ],
)
@pytest.mark.parametrize(
    "url", ["mysql://db/rectify", "sqlite://host/x.db", "postgresql://host/a/b", "no-scheme"]
)
def test_every_command_refuses_a_bad_database_url_as_a_usage_error(
    command: list[str], url: str
) -> None:
    by_option = runner.invoke(cli, [*command, "--database-url", url], input="whatever1\n" * 2)
    by_env = runner.invoke(cli, command, env={"RECTIFY_DATABASE_URL": url}, input="x\n")

    for result in (by_option, by_env):
        assert result.exit_code == 2, result.output
        assert "Unsupported database URL" in result.output
        assert "Accepted forms" in result.output


def test_users_disable_and_enable_an_account(sqlite_url: str) -> None:
    add(sqlite_url, "zhangming", "--name", "张铭", "--role", "supervisor")

    disabled = runner.invoke(cli, ["users", "disable", "zhangming", "--database-url", sqlite_url])
    assert disabled.exit_code == 0, disabled.output
    assert "Disabled zhangming." in disabled.stdout
    listed = runner.invoke(cli, ["users", "list", "--database-url", sqlite_url]).stdout
    assert listed.splitlines()[1].split() == ["zhangming", "张铭", "supervisor", "disabled"]

    enabled = runner.invoke(cli, ["users", "enable", "zhangming", "--database-url", sqlite_url])
    assert enabled.exit_code == 0, enabled.output
    listed = runner.invoke(cli, ["users", "list", "--database-url", sqlite_url]).stdout
    assert listed.splitlines()[1].split() == ["zhangming", "张铭", "supervisor"]

    unknown = runner.invoke(cli, ["users", "disable", "nobody", "--database-url", sqlite_url])
    assert unknown.exit_code == 1
    assert "no user 'nobody'" in unknown.output


def test_users_role_promotes_an_inspector(sqlite_url: str) -> None:
    add(sqlite_url, "chenxiaofeng", "--name", "陈小峰", "--role", "inspector")

    result = runner.invoke(
        cli, ["users", "role", "chenxiaofeng", "supervisor", "--database-url", sqlite_url]
    )

    assert result.exit_code == 0, result.output
    assert "chenxiaofeng (陈小峰) is now a supervisor." in result.stdout
    users = create_user_store(sqlite_url)
    assert users.get("chenxiaofeng").role == Role.SUPERVISOR
    users.close()
    refused = runner.invoke(
        cli, ["users", "role", "chenxiaofeng", "system", "--database-url", sqlite_url]
    )
    assert refused.exit_code == 2
    unknown = runner.invoke(
        cli, ["users", "role", "nobody", "auditor", "--database-url", sqlite_url]
    )
    assert unknown.exit_code == 1
    assert "no user 'nobody'" in unknown.output
