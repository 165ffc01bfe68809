"""A server process SIGKILLed between commit and answer: the retry replays, once.

A real process, really killed: the command's events were committed, the client
never heard. A new process on the same database answers the retry with the
first outcome (``Idempotent-Replayed: true``) at once, and the log holds the
command's event once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from infrastructure.bootstrap import build_app
from infrastructure.users import create_user_store
from tests.cli.live import free_port, wait_for_openapi
from tests.core.scenario import CHEN_XIAOFENG
from tests.http.conftest import FAST_HASHER

SITE = {"name": "火根神剪理发店", "region": "安义县", "operator": "火根神剪理发店店主"}
PASSWORD = "chenxiaofeng-2022"


@contextmanager
def server(database_url: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The API in a process of its own that dies after committing a ``die-`` command."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.dying_server", str(port)],
        env={**os.environ, "RECTIFY_DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_openapi(url, process)
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def registered_sites(database_url: str) -> list[str]:
    app = build_app(database_url)
    try:
        return [
            str(n.originator_id)
            for n in app.recorder.select_notifications(start=1, limit=1000)
            if n.topic.endswith(":Site.Registered")
        ]
    finally:
        app.close()


def test_a_worker_killed_after_commit_answers_the_retry_from_the_log(lasting_url: str) -> None:
    key = "die-after-commit"
    users = create_user_store(lasting_url, hasher=FAST_HASHER)
    users.add(CHEN_XIAOFENG.user_id, CHEN_XIAOFENG.name, CHEN_XIAOFENG.role, PASSWORD)
    users.close()

    with server(lasting_url) as (process, url):
        login = httpx.post(
            f"{url}/token", data={"username": CHEN_XIAOFENG.user_id, "password": PASSWORD}
        )
        headers = {
            "Authorization": f"Bearer {login.json()['access_token']}",
            "Idempotency-Key": key,
        }
        with pytest.raises(httpx.TransportError):
            httpx.post(f"{url}/sites", json=SITE, headers=headers, timeout=30)
        assert process.wait(timeout=30) == -signal.SIGKILL
    [committed] = registered_sites(lasting_url)  # the first attempt did commit

    with server(lasting_url) as (_, url):
        retry = httpx.post(f"{url}/sites", json=SITE, headers=headers, timeout=30)
        again = httpx.post(f"{url}/sites", json=SITE, headers=headers, timeout=30)

    assert retry.status_code == 201, retry.text
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == committed
    assert retry.headers["Location"] == f"/sites/{committed}"
    assert (again.status_code, again.json()) == (201, retry.json())
    assert registered_sites(lasting_url) == [committed]
