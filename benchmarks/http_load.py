"""Load on one command endpoint of the real server, on PostgreSQL.

Starts the API as an operator would on PostgreSQL — gunicorn with uvicorn
workers, the factory ``interfaces.http.app:create_app_from_env()`` — on a fresh
database, creates an inspector, logs in, and drives ``POST /sites`` (register a
site: a command that needs no ``If-Match``, one event per request) at 1 and at
16 concurrent clients. Prints requests/s and latency percentiles per level, and
the server configuration it measured.

The load tool is ``wrk`` (Debian: ``apt-get install -y wrk``) with a Lua script
for the POST; without it, ``--tool python`` uses a thread-per-client httpx
loop (slower to generate load, so its figures are a lower bound).

    .venv/bin/python benchmarks/http_load.py                  # 2 workers, 20 s per level
    .venv/bin/python benchmarks/http_load.py --workers 4 --duration 30 --clients 1,4,16,64

PostgreSQL is ``postgres@127.0.0.1:5432`` unless ``--admin-url`` says otherwise;
the benchmark database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from fastapi.testclient import TestClient
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from infrastructure.composition import backend_of_url, create_user_store  # noqa: E402
from infrastructure.persistence import environment_for  # noqa: E402
from interfaces.http.app import create_app_from_env  # noqa: E402

FACTORY = "interfaces.http.app:create_app_from_env()"
WORKER_CLASS = "uvicorn_worker.UvicornWorker"
USER, PASSWORD = "bench-inspector", "bench-inspector-password"
SITE = {"name": "陶表印盲人按摩店", "region": "安义县", "operator": "陶表印", "kind": "盲人按摩"}

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
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
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new PostgreSQL database for the run, dropped afterwards; yields its URL."""
    name = "rectify_bench_" + secrets.token_hex(6)
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


def prepare_schema(database_url: str) -> None:
    """Create every table once, as an operator's first start would, before the workers.

    The workers' startup creates what is missing; racing each other on an empty
    database, the read models' table creation was seen to fail a worker's boot.
    """
    previous = os.environ.get("RECTIFY_DATABASE_URL")
    os.environ["RECTIFY_DATABASE_URL"] = database_url
    try:
        with TestClient(create_app_from_env()):
            pass
    finally:
        if previous is None:
            os.environ.pop("RECTIFY_DATABASE_URL")
        else:
            os.environ["RECTIFY_DATABASE_URL"] = previous


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(database_url: str, workers: int, projections: str) -> Iterator[str]:
    """gunicorn with uvicorn workers on ``database_url``; yields the base URL."""
    port = free_port()
    env = {
        **os.environ,
        "RECTIFY_DATABASE_URL": database_url,
        "RECTIFY_PROJECTIONS": projections,
    }
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - outlives this block, closed below
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--worker-class",
            WORKER_CLASS,
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            FACTORY,
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise SystemExit(f"the server exited:\n{log.read()}")
            try:
                if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start in 60 s")
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def run_wrk(base: str, token: str, clients: int, seconds: int) -> Result:
    body = json.dumps(SITE, ensure_ascii=False)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.format(body=body, token=token))
    try:
        threads = max(1, min(clients, os.cpu_count() or 1))
        output = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(clients),
                "-d",
                f"{seconds}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                f"{base}/sites",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    line = next(line for line in output.splitlines() if line.startswith("JSON "))
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


def run_python(base: str, token: str, clients: int, seconds: int) -> Result:
    """A closed loop per client thread, each on its own keep-alive connection."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    def client() -> None:
        mine: list[float] = []
        bad = 0
        with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
            while time.monotonic() < stop:
                started = time.perf_counter()
                response = http.post("/sites", json=SITE)
                mine.append((time.perf_counter() - started) * 1000)
                bad += response.status_code != 201
        with lock:
            latencies.extend(mine)
            failures[0] += bad

    started = time.monotonic()
    pool = [threading.Thread(target=client) for _ in range(clients)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.monotonic() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

    return Result(
        clients=clients,
        requests=len(ordered),
        failed=failures[0],
        seconds=elapsed,
        p50_ms=statistics.median(ordered),
        p90_ms=pct(0.90),
        p99_ms=pct(0.99),
        max_ms=ordered[-1],
    )


def count_sites(database_url: str) -> int:
    with psycopg.connect(_conninfo(database_url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM rectify_events WHERE topic = 'domain.site:Site.Registered'"
        ).fetchone()
    return int(row[0]) if row else 0


def _conninfo(database_url: str) -> str:
    env = environment_for(database_url)
    return (
        f"host={env['POSTGRES_HOST']} port={env['POSTGRES_PORT']} "
        f"dbname={env['POSTGRES_DBNAME']} user={env['POSTGRES_USER'] or 'postgres'}"
    )


def server_configuration(database_url: str, workers: int, projections: str, tool: str) -> list[str]:
    env = environment_for(database_url)
    threads = backend_of_url(database_url).http_threads()
    with psycopg.connect(_conninfo(database_url)) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        sync = conn.execute("SHOW synchronous_commit").fetchone()[0]
    return [
        f"server: gunicorn {workers} workers x {WORKER_CLASS}, factory {FACTORY}",
        f"  per worker: event-store pool {env['POSTGRES_POOL_SIZE']}"
        f"+{env['POSTGRES_MAX_OVERFLOW']} connections, {threads} AnyIO threads "
        "(RECTIFY_HTTP_THREADS default), side-table pool 4",
        f"  read-model projections: {projections} (RECTIFY_PROJECTIONS)",
        f"database: PostgreSQL {version} on 127.0.0.1, synchronous_commit={sync}",
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; load tool {tool} on the same machine; load average "
        f"before the run {_load_before:.2f}",
        "endpoint: POST /sites (register a site; one event, one transaction per request)",
    ]


_load_before = os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=20, help="seconds per level")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each level")
    parser.add_argument("--clients", default="1,16", help="comma-separated concurrency levels")
    parser.add_argument("--projections", choices=["inline", "external"], default="inline")
    parser.add_argument(
        "--tool", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python"
    )
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    levels = [int(n) for n in args.clients.split(",")]
    load = run_wrk if args.tool == "wrk" else run_python

    with fresh_database(args.admin_url) as database_url:
        users = create_user_store(database_url)
        users.add(USER, "压测检查员", "inspector", PASSWORD)
        users.close()
        prepare_schema(database_url)
        with server(database_url, args.workers, args.projections) as base:
            token = httpx.post(
                f"{base}/token", data={"username": USER, "password": PASSWORD}
            ).json()["access_token"]
            probe = httpx.post(
                f"{base}/sites", json=SITE, headers={"Authorization": f"Bearer {token}"}
            )
            assert probe.status_code == 201, probe.text
            results = []
            for clients in levels:
                if args.warmup:
                    load(base, token, clients, args.warmup)
                results.append(load(base, token, clients, args.duration))
            recorded = count_sites(database_url)
        for line in server_configuration(database_url, args.workers, args.projections, args.tool):
            print(line)
    print()
    print(
        f"{'clients':>7} {'requests':>9} {'failed':>6} {'req/s':>8} "
        f"{'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7}"
    )
    for r in results:
        print(
            f"{r.clients:>7} {r.requests:>9} {r.failed:>6} {r.rate:>8.1f} "
            f"{r.p50_ms:>7.2f} {r.p90_ms:>7.2f} {r.p99_ms:>7.2f} {r.max_ms:>7.1f}"
        )
    print(
        f"\nsites registered in the log: {recorded} "
        "(every successful request of the warm-ups and runs, plus one probe)"
    )


if __name__ == "__main__":
    main()
