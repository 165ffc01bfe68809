"""Where followers run: started by the API app's lifespan (never a router's),
reported by ``/health``; run as ``rectify followers run NAME…`` workers and
inspected with ``rectify followers status``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from infrastructure.composition import Services
from infrastructure.followers import FOLLOWERS
from interfaces.cli.main import app as cli
from interfaces.http import routers
from interfaces.http.app import create_app
from tests.backends import sqlite_url_for
from tests.core.scenario import Sweep

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
RECTIFY = (sys.executable, "-m", "interfaces.cli.main")


def test_no_router_has_a_lifespan_of_its_own() -> None:
    """Followers are started by the app, so a router included twice, or left
    out, never starts or loses one."""
    import importlib
    import pkgutil

    for module_info in pkgutil.iter_modules(routers.__path__):
        module = importlib.import_module(f"{routers.__name__}.{module_info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            # Without a lifespan of its own a router keeps the framework's default.
            assert type(router.lifespan_context).__name__ == "_DefaultLifespan", module_info.name


def test_the_apps_lifespan_runs_every_follower_and_health_reports_each(tmp_path: Path) -> None:
    services = Services.open(sqlite_url_for(tmp_path / "rectify.sqlite3"))
    api = create_app(services=services)
    with TestClient(api) as client:
        Sweep(services.app, services.app.clock).site()
        head = services.app.recorder.max_notification_id()
        api.state.followers.wait_for(head, ["cases", "site_history", "audit_chain"], timeout=10)
        body = client.get("/health").json()
        chained = api.state.audit.head()
    states = {f["name"]: f for f in body["followers"]}
    assert body["status"] == "ok" and body["head"] == head
    assert list(states) == list(FOLLOWERS.names)
    for name in ("cases", "site_history", "audit_chain"):
        assert (states[name]["kind"], states[name]["position"], states[name]["lag"]) == (
            "log",
            head,
            0,
        )
        assert states[name]["running"] is True and states[name]["leader"] is True
    assert states["overdue"]["kind"] == "periodic" and states["overdue"]["lag"] is None
    assert [p["name"] for p in body["projections"]] == ["cases", "site_history"]
    assert chained is not None and chained.position == head
    # The lifespan stopped them with the app, and closed what the services opened.
    assert not any(f.is_running for f in api.state.followers.followers.values())


def test_followers_status_lists_every_follower_with_its_lag(tmp_path: Path) -> None:
    url = sqlite_url_for(tmp_path / "rectify.sqlite3")
    assert runner.invoke(cli, ["demo", "--database-url", url]).exit_code == 0
    status = runner.invoke(cli, ["followers", "status", "--database-url", url])
    assert status.exit_code == 0, status.output
    rows = {line.split()[1]: line.split() for line in status.output.splitlines() if "│" in line}
    # follower, kind, position, head, lag, worker (between the table's bars)
    assert rows["audit_chain"][3:12:2] == ["log", "135", "135", "0", "n/a"]  # the demo chains
    assert rows["cases"][3:12:2] == ["log", "0", "135", "135", "n/a"]
    assert rows["overdue"][3:12:2] == ["periodic", "-", "135", "-", "n/a"]


def test_an_unknown_follower_is_refused_with_the_known_names(tmp_path: Path) -> None:
    url = sqlite_url_for(tmp_path / "rectify.sqlite3")
    result = runner.invoke(cli, ["followers", "run", "webhooks", "--database-url", url])
    assert result.exit_code == 2
    message = " ".join(result.output.replace("│", " ").split())  # unwrapped from its box
    assert "no follower named 'webhooks'; known: cases, site_history, audit_chain, overdue" in (
        message
    )


@pytest.mark.parametrize(
    ("command", "runs", "idle"),
    [
        (["followers", "run", "site_history"], "site_history", "cases"),
        (["projections", "run", "cases"], "cases", "audit_chain"),  # another name
        (["audit", "chain", "--follow"], "audit_chain", "site_history"),  # another name
    ],
)
def test_a_worker_runs_only_the_followers_it_is_named(
    tmp_path: Path, command: list[str], runs: str, idle: str
) -> None:
    url = sqlite_url_for(tmp_path / "rectify.sqlite3")
    with Services.open(url) as services:
        Sweep(services.app, services.app.clock).site()
    env = {**os.environ, "RECTIFY_PROJECTION_POLL_SECONDS": "0.01"}
    worker = subprocess.Popen(
        [*RECTIFY, *command, "--database-url", url],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        with Services.open(url) as services:
            host = services.followers(run=False)
            give_up = time.monotonic() + 60
            while host.positions([runs])[runs] != host.head():
                assert time.monotonic() < give_up, f"the worker did not bring {runs} up to date"
                time.sleep(0.05)
            assert host.positions([idle])[idle] is None
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0].decode()
    assert worker.returncode == 0, output
    assert f"following the log for {runs};" in output


@pytest.mark.postgres
def test_on_postgres_status_names_the_worker_that_leads_each_follower(postgres_url: str) -> None:
    with Services.open(postgres_url) as services:
        host = services.followers(["cases", "audit_chain"], run=True, poll_interval=0.01)
        with host:
            give_up = time.monotonic() + 30
            while not all(f.is_leader for f in host.followers.values()):
                assert time.monotonic() < give_up, "no leader"
                time.sleep(0.05)
            status = runner.invoke(cli, ["followers", "status", "--database-url", postgres_url])
    assert status.exit_code == 0, status.output
    rows = {
        line.split("│")[1].strip(): line.split("│")
        for line in status.output.splitlines()
        if "│" in line
    }
    here = f"pid {os.getpid()} on"
    assert rows["cases"][6].strip().startswith(here), status.output
    assert rows["audit_chain"][6].strip().startswith(here), status.output
    assert rows["site_history"][6].strip() == "-"
