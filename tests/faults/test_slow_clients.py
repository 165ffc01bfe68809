"""Clients that never finish a request cannot hold the server.

A real ``rectify serve`` (uvicorn, SQLite) with a 1 s request deadline and room
for six connections: a connection that sends nothing, half its headers or half
its body is closed within the deadline, while other clients are answered; past
the connection limit a request is refused with 503 at once, and served again
as soon as the stalled connections are gone.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.live import free_port, wait_for_openapi

DEADLINE_SECONDS = 1.0
MAX_CONNECTIONS = 6
# The deadline, plus the time a busy test machine takes to notice.
CLOSED_WITHIN_SECONDS = DEADLINE_SECONDS + 1.5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the module: starting one takes seconds."""
    tmp_path = tmp_path_factory.mktemp("slow-clients")
    port = free_port()
    rectify = str(Path(sys.executable).with_name("rectify"))
    process = subprocess.Popen(
        [rectify, "serve", "--port", str(port), "--database-url", f"sqlite:///{tmp_path}/r.db"],
        cwd=tmp_path,
        env={
            **os.environ,
            "RECTIFY_HTTP_REQUEST_TIMEOUT": str(DEADLINE_SECONDS),
            "RECTIFY_HTTP_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_openapi(url, process)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=30)


def stalled(url: str, sent: bytes) -> socket.socket:
    """A connection that sends ``sent`` and then nothing more."""
    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)))
    if sent:
        connection.sendall(sent)
    return connection


def closed_after(connection: socket.socket, opened: float) -> float:
    """Seconds from ``opened`` until the server closed ``connection``."""
    connection.settimeout(CLOSED_WITHIN_SECONDS + 2)
    try:
        while connection.recv(4096):
            pass  # a response to a half request would be a bug; the loop ends on close
    except ConnectionResetError:
        pass  # closed as well, only more abruptly
    finally:
        connection.close()
    return time.monotonic() - opened


def test_half_sent_requests_are_dropped_while_others_are_answered(server: str) -> None:
    opened = time.monotonic()
    silent = stalled(server, b"")
    half_headers = stalled(server, b"GET /health/live HTTP/1.1\r\nHost: rectify\r\nX-Slow")
    half_body = stalled(
        server,
        b"POST /token HTTP/1.1\r\nHost: rectify\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
        b"username=chen",
    )

    answered = [httpx.get(f"{server}/health/live", timeout=5) for _ in range(3)]
    assert [r.status_code for r in answered] == [200, 200, 200]
    assert time.monotonic() - opened < DEADLINE_SECONDS  # not made to wait for them

    for connection in (silent, half_headers, half_body):
        took = closed_after(connection, opened)
        assert DEADLINE_SECONDS * 0.8 <= took < CLOSED_WITHIN_SECONDS, took


def test_past_the_connection_limit_requests_are_refused_until_connections_free_up(
    server: str,
) -> None:
    opened = time.monotonic()
    holding = [stalled(server, b"") for _ in range(MAX_CONNECTIONS)]
    time.sleep(0.2)  # let the server accept them all

    refused = httpx.get(f"{server}/health/live", timeout=5)
    assert refused.status_code == 503

    for connection in holding:
        assert closed_after(connection, opened) < CLOSED_WITHIN_SECONDS
    served = httpx.get(f"{server}/health/live", timeout=5)
    assert (served.status_code, served.json()) == (200, {"status": "alive"})
