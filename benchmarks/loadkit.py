"""What the HTTP load benchmarks share: a throw-away PostgreSQL database, a
server started as an operator would start it, and ``wrk`` driving one request.

``wrk`` (Debian: ``apt-get install -y wrk``) reports through a Lua ``done``
hook, so every level yields requests, errors and latency percentiles in one
machine-readable line. Used by ``http_load.py`` and ``hot_paths.py``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]

# One Lua script for every request: method, body and headers are filled in.
WRK_SCRIPT = """
wrk.method = "{method}"
{body}
{headers}
done = function(summary, latency, requests)
  io.write(string.format("JSON %d %d %d %d %f %f %f %f %f\\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


@dataclass(frozen=True)
class Result:
    """One load level: how many requests, how many failed, and their latency."""

    clients: int
    requests: int
    failed: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@contextmanager
def fresh_database(admin_url: str, prefix: str = "rectify_bench_") -> Iterator[str]:
    """A new PostgreSQL database for the run, dropped afterwards; yields its URL."""
    name = prefix + secrets.token_hex(6)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(admin_url)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def free_port() -> int:
    """A TCP port nobody listens on at the moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def gunicorn_argv(app: str, *, workers: int, port: int, worker_class: str) -> list[str]:
    """The command that serves ``app`` (a gunicorn app spec) as the benchmarks do:
    ``workers`` workers of ``worker_class`` on 127.0.0.1:``port``, warnings only."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--worker-class",
        worker_class,
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        app,
    ]


@contextmanager
def running(
    argv: Sequence[str],
    base: str,
    *,
    env: dict[str, str] | None = None,
    ready_path: str = "/openapi.json",
    timeout: float = 60,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run the server ``argv`` until ``base + ready_path`` answers 200; yield its process.

    The process is sent SIGTERM afterwards (gunicorn's graceful stop), killed if
    it lingers. Its output goes to a temporary file, shown if it exits early.
    """
    log = tempfile.TemporaryFile()  # noqa: SIM115 - outlives this block, closed below
    process = subprocess.Popen(list(argv), cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise SystemExit(f"the server exited:\n{log.read().decode(errors='replace')}")
            try:
                if httpx.get(f"{base}{ready_path}", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the server did not start in {timeout:g} s")
            time.sleep(0.2)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _lua_string(text: str) -> str:
    # A Lua long string cannot hold its own closing bracket; no body here does.
    assert "]]" not in text
    return f"[[{text}]]"


def run_wrk(
    url: str,
    clients: int,
    seconds: float,
    *,
    method: str = "GET",
    body: object | None = None,
    token: str | None = None,
) -> Result:
    """``wrk`` at ``clients`` connections on one URL for ``seconds``; its figures.

    Any answer outside 2xx/3xx counts as failed (wrk's ``errors.status``).
    """
    headers = {}
    body_line = ""
    if body is not None:
        body_line = f"wrk.body = {_lua_string(json.dumps(body, ensure_ascii=False))}"
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    header_lines = "\n".join(
        f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.format(method=method, body=body_line, headers=header_lines))
    try:
        # wrk's own threads: as many as cores, no more than connections.
        threads = max(1, min(clients, os.cpu_count() or 1))
        done = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(clients),
                "-d",
                f"{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(script.name)
    line = next((line for line in done.stdout.splitlines() if line.startswith("JSON ")), None)
    if done.returncode or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    requests, status_errors, socket_errors, micros, p50, p90, p99, top, _ = line.split()[1:]
    return Result(
        clients=clients,
        requests=int(requests),
        failed=int(status_errors) + int(socket_errors),
        seconds=int(micros) / 1e6,
        p50_ms=float(p50) / 1000,
        p90_ms=float(p90) / 1000,
        p99_ms=float(p99) / 1000,
        max_ms=float(top) / 1000,
    )


def postgres_settings(admin_url: str) -> tuple[str, str]:
    """The server's version and its ``synchronous_commit``."""
    with psycopg.connect(admin_url) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        sync = conn.execute("SHOW synchronous_commit").fetchone()
    return (str(version[0]) if version else "?", str(sync[0]) if sync else "?")


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as ``uptime`` shows them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by process ``pid`` and its live
    descendants, from ``/proc`` (Linux; 0.0 elsewhere).

    Per request, this is a cost that a busy machine stretches far less than it
    stretches latency: the figure to compare when the load average is high.
    """
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
            with open(f"/proc/{current}/task/{current}/children") as children:
                pending.extend(int(child) for child in children.read().split())
        except OSError:
            continue  # gone, or not Linux
        # utime and stime are the 14th and 15th fields; 12th and 13th after the name.
        total += int(fields[11]) + int(fields[12])
    return total / tick
