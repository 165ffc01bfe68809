"""Helpers for tests that start a real ``rectify serve`` process."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

import httpx

STARTUP_SECONDS = 60


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_openapi(
    base_url: str, process: subprocess.Popen[str], timeout: float = STARTUP_SECONDS
) -> dict[str, Any]:
    """Poll ``/openapi.json`` until it answers; fail with the server's output if it dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"rectify serve exited with {process.returncode}:\n{output}")
        try:
            response = httpx.get(f"{base_url}/openapi.json", timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        response.raise_for_status()
        return response.json()
    raise AssertionError(f"rectify serve did not answer {base_url}/openapi.json in {timeout} s")
