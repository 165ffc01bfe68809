"""End to end: the real server, started as a subprocess on PostgreSQL, walked over HTTP.

The server is what an operator runs (``uvicorn --factory
interfaces.http.app:create_app_from_env``); the test creates the accounts with
the user store first, then walks the seed case with httpx and reads what the
server recorded through an application of its own on the same database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from application.app import RectifyApp
from infrastructure.composition import build_app, create_user_store
from tests.cli.live import free_port, wait_for_openapi
from tests.http.seed_walk import Cast, Login, walk_seed_scenario

REPO = Path(__file__).resolve().parents[2]

CAST = Cast(
    inspector=Login("chenxiaofeng", "chenxiaofeng-e2e"),
    supervisor=Login("zhangming", "zhangming-e2e"),
    party=Login("taobiaoyin", "taobiaoyin-e2e"),
    auditor=Login("liufang", "liufang-e2e"),
)


class ServerLog:
    """The server's event log, read by another application on its database."""

    def __init__(self, app: RectifyApp) -> None:
        self.app = app

    def position(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def events_since(self, position: int) -> list[str]:
        notifications = self.app.recorder.select_notifications(start=position + 1, limit=1000)
        return [type(self.app.mapper.to_domain_event(n)).__qualname__ for n in notifications]


@pytest.fixture
def server(postgres_url: str) -> Iterator[str]:
    """The API served by uvicorn on a fresh PostgreSQL database; yields its base URL."""
    users = create_user_store(postgres_url)
    try:
        users.add(CAST.inspector.user_id, "陈小峰", "inspector", CAST.inspector.password)
        users.add(CAST.supervisor.user_id, "张铭", "supervisor", CAST.supervisor.password)
        users.add(CAST.party.user_id, "陶表印", "responsible_party", CAST.party.password)
        users.add(CAST.auditor.user_id, "刘芳", "auditor", CAST.auditor.password)
    finally:
        users.close()
    port = free_port()
    env = {**os.environ, "RECTIFY_DATABASE_URL": postgres_url}
    env.pop("RECTIFY_TOKEN_SECRET", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "interfaces.http.app:create_app_from_env",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_openapi(base_url, process)
        yield base_url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_the_seed_case_walks_over_http_against_the_real_server(
    server: str, postgres_url: str
) -> None:
    reader = build_app(postgres_url)
    try:
        with httpx.Client(base_url=server, timeout=30) as client:
            openapi = client.get("/openapi.json").json()
            assert "/cases/{case_id}/close" in openapi["paths"]
            result = walk_seed_scenario(client, ServerLog(reader), CAST)
        types = [type(e).__qualname__ for e in reader.case_events(UUID(result.case_id))]
        assert types[0] == "Hazard.Reported"
        assert types[-1] == "Hazard.Closed"
    finally:
        reader.close()
