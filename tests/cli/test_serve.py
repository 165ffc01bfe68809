"""``rectify serve``: how it starts the server, and that the server answers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from application.demo import DEMO_USERS, find_dataset
from infrastructure.composition import build_app, create_user_store
from infrastructure.persistence import DATABASE_URL_VARIABLE
from interfaces.cli import serve as serve_module
from interfaces.cli.main import app as cli
from interfaces.cli.serve import HTTP_FACTORY, base_url
from tests.cli.live import free_port, wait_for_openapi

runner = CliRunner()


@pytest.fixture(autouse=True)
def restore_database_url_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve`` hands the URL to the server through the environment; undo that after.

    So too the password checks it shares among several workers (empty means unset).
    """
    monkeypatch.delenv(DATABASE_URL_VARIABLE, raising=False)
    monkeypatch.setenv("RECTIFY_PASSWORD_CHECKS", "")


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Capture ``uvicorn.run`` instead of serving."""
    import uvicorn

    calls: list[dict[str, Any]] = []

    def run(app: object, **kwargs: Any) -> None:
        calls.append({"app": app, **kwargs, "env": os.environ.get(DATABASE_URL_VARIABLE)})

    monkeypatch.setattr(uvicorn, "run", run)
    return calls


@pytest.fixture
def exec_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Capture ``os.execv`` (gunicorn) instead of replacing the test process."""
    calls: list[list[str]] = []

    def execv(path: str, argv: list[str]) -> None:
        calls.append([path, *argv[1:], f"env={os.environ.get(DATABASE_URL_VARIABLE)}"])

    monkeypatch.setattr(serve_module.os, "execv", execv)
    return calls


def test_serve_runs_one_uvicorn_process_with_the_factory_on_sqlite(
    sqlite_url: str, uvicorn_calls: list[dict[str, Any]]
) -> None:
    result = runner.invoke(
        cli, ["serve", "--database-url", sqlite_url, "--host", "127.0.0.1", "--port", "8123"]
    )

    assert result.exit_code == 0, result.output
    [call] = uvicorn_calls
    assert call["app"] == HTTP_FACTORY and call["factory"] is True
    assert (call["host"], call["port"]) == ("127.0.0.1", 8123)
    assert call["env"] == sqlite_url
    assert "http://127.0.0.1:8123/" in result.stdout
    assert "http://127.0.0.1:8123/docs" in result.stdout
    assert "zhangming" not in result.stdout, "no demo logins without --demo"


def test_serve_demo_loads_the_demo_and_prints_a_login_per_role(
    sqlite_url: str, uvicorn_calls: list[dict[str, Any]]
) -> None:
    result = runner.invoke(cli, ["serve", "--demo", "--database-url", sqlite_url])

    assert result.exit_code == 0, result.output
    assert len(uvicorn_calls) == 1
    app = build_app(sqlite_url)
    assert find_dataset(app) is not None
    app.close()
    users = create_user_store(sqlite_url)
    for demo_user in DEMO_USERS:
        assert users.check_password(demo_user.user_id, demo_user.password)
        line = next(line for line in result.stdout.splitlines() if demo_user.user_id in line)
        assert demo_user.role.value in line and demo_user.password in line
    users.close()
    assert "http://127.0.0.1:8000/docs" in result.stdout


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("0.0.0.0", "http://127.0.0.1:8000"),
        ("::", "http://[::1]:8000"),
        ("::1", "http://[::1]:8000"),
        ("rectify.example", "http://rectify.example:8000"),
    ],
)
def test_serve_prints_a_url_one_can_open(host: str, url: str) -> None:
    assert base_url(host, 8000) == url


@pytest.mark.parametrize("url", ["sqlite", "popo://"])
def test_serve_refuses_several_workers_without_postgres(
    url: str, sqlite_url: str, uvicorn_calls: list[dict[str, Any]]
) -> None:
    url = sqlite_url if url == "sqlite" else url

    result = runner.invoke(cli, ["serve", "--workers", "2", "--database-url", url])

    assert result.exit_code == 2
    assert "need PostgreSQL" in result.output
    assert uvicorn_calls == []


def test_serve_runs_gunicorn_with_uvicorn_workers_on_postgres(
    postgres_url: str, exec_calls: list[list[str]], uvicorn_calls: list[dict[str, Any]]
) -> None:
    result = runner.invoke(
        cli,
        ["serve", "--workers", "3", "--demo", "--port", "8124"],
        env={DATABASE_URL_VARIABLE: postgres_url},
    )

    assert result.exit_code == 0, result.output
    assert uvicorn_calls == []
    [argv] = exec_calls
    assert argv[0] == sys.executable
    assert argv[1:-1] == [
        "-m",
        "gunicorn",
        "--worker-class",
        "interfaces.http.server.RectifyUvicornWorker",
        "--workers",
        "3",
        "--bind",
        "127.0.0.1:8124",
        f"{HTTP_FACTORY}()",
    ]
    assert argv[-1] == f"env={postgres_url}"
    assert "(3 workers)" in result.stdout
    app = build_app(postgres_url)
    assert find_dataset(app) is not None
    app.close()


def test_serve_refuses_a_port_out_of_range(uvicorn_calls: list[dict[str, Any]]) -> None:
    result = runner.invoke(cli, ["serve", "--port", "70000", "--database-url", "popo://"])

    assert result.exit_code == 2
    assert uvicorn_calls == []


# -- a real server ---------------------------------------------------------------------


@pytest.fixture
def server_on_sqlite(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    url = f"sqlite:///{tmp_path / 'served.sqlite3'}"
    env = {**os.environ, DATABASE_URL_VARIABLE: url}
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("rectify")), "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_rectify_serve_answers_openapi_json(
    server_on_sqlite: tuple[subprocess.Popen[str], str],
) -> None:
    process, url = server_on_sqlite

    document = wait_for_openapi(url, process)

    assert document["openapi"].startswith("3.")
    assert any(path.startswith("/token") for path in document["paths"])


def test_serve_on_the_in_memory_store_serves_the_app_it_loaded_the_demo_into(
    uvicorn_calls: list[dict[str, Any]],
) -> None:
    result = runner.invoke(cli, ["serve", "--demo", "--database-url", "popo://"])

    assert result.exit_code == 0, result.output
    [call] = uvicorn_calls
    api = call["app"]
    # A second process could not see an in-memory store: the app is handed over built.
    assert not isinstance(api, str)
    assert find_dataset(api.state.rectify) is not None
    assert api.state.users.check_password("zhangming", "zhangming-demo")
    assert "http://127.0.0.1:8000/docs" in result.stdout


def test_rectify_serve_starts_several_workers_on_a_fresh_postgres_database(
    postgres_url: str, tmp_path: Path
) -> None:
    port = free_port()
    rectify = str(Path(sys.executable).with_name("rectify"))
    process = subprocess.Popen(
        [rectify, "serve", "--workers", "2", "--port", str(port), "--database-url", postgres_url],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_openapi(url, process)
        # Each worker serves its share; none died racing the others to create tables.
        health = [httpx.get(f"{url}/health", timeout=10) for _ in range(6)]
        assert process.poll() is None
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert all(r.status_code == 200 for r in health), [r.text for r in health]
    assert output.count("Booting worker") == 2, output
    assert "interfaces.http.server.RectifyUvicornWorker" in output
    assert "Traceback" not in output, output


def test_serve_refuses_a_malformed_login_limit_before_starting(
    sqlite_url: str, uvicorn_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECTIFY_LOGIN_RATE_LIMIT", "as many as you like")

    result = runner.invoke(cli, ["serve", "--database-url", sqlite_url])

    assert result.exit_code != 0
    assert "RECTIFY_LOGIN_RATE_LIMIT" in result.output
    assert uvicorn_calls == []


@pytest.mark.parametrize(("cpus", "workers", "checks"), [(2, 3, "1"), (8, 4, "2"), (4, 1, "4")])
def test_several_workers_share_the_cpus_password_checks(
    cpus: int, workers: int, checks: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECTIFY_PASSWORD_CHECKS", raising=False)
    monkeypatch.setattr(serve_module, "available_cpus", lambda: cpus)

    serve_module.share_password_checks(workers)

    assert os.environ["RECTIFY_PASSWORD_CHECKS"] == checks


def test_password_checks_set_by_the_operator_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECTIFY_PASSWORD_CHECKS", "6")

    serve_module.share_password_checks(4)

    assert os.environ["RECTIFY_PASSWORD_CHECKS"] == "6"
