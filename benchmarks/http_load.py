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
import os
import platform
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.loadkit import (  # noqa: E402
    Result,
    free_port,
    fresh_database,
    gunicorn_argv,
    running,
)
from benchmarks.loadkit import run_wrk as wrk  # noqa: E402
from infrastructure.composition import backend_of_url, create_user_store  # noqa: E402
from infrastructure.persistence import environment_for  # noqa: E402
from interfaces.http.app import create_app_from_env  # noqa: E402

FACTORY = "interfaces.http.app:create_app_from_env()"
WORKER_CLASS = "uvicorn_worker.UvicornWorker"
USER, PASSWORD = "bench-inspector", "bench-inspector-password"
SITE = {"name": "陶表印盲人按摩店", "region": "安义县", "operator": "陶表印", "kind": "盲人按摩"}


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


@contextmanager
def server(database_url: str, workers: int, projections: str) -> Iterator[str]:
    """gunicorn with uvicorn workers on ``database_url``; yields the base URL."""
    port = free_port()
    env = {
        **os.environ,
        "RECTIFY_DATABASE_URL": database_url,
        "RECTIFY_PROJECTIONS": projections,
    }
    argv = gunicorn_argv(FACTORY, workers=workers, port=port, worker_class=WORKER_CLASS)
    base = f"http://127.0.0.1:{port}"
    with running(argv, base, env=env):
        yield base


def run_wrk(base: str, token: str, clients: int, seconds: int) -> Result:
    return wrk(f"{base}/sites", clients, seconds, method="POST", body=SITE, token=token)


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
