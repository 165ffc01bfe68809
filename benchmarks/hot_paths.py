"""The hot paths against their baselines, in one run on one machine.

Measures, one after the other on PostgreSQL, and prints as a table with ratios:

1. **library** — plain eventsourcing ``Application.save`` of a new one-event
   aggregate, one connection, no HTTP (the library's own PostgreSQL recorders,
   its own database): saves/s;
2. **hello** — a FastAPI hello-world served the way the service is (gunicorn,
   the service's uvicorn worker class, ``--workers`` workers);
3. **service** — ``rectify serve --workers N --demo`` on a fresh database:
   ``POST /sites`` (one event) and ``GET /cases/{id}``, ``GET /orders/{id}``,
   ``GET /queues/orders-overdue``, ``GET /cases?site_id=…``.

Each HTTP figure is ``wrk`` at every ``--clients`` level. The ratios are the
issue's goals: commands at the highest level ÷ library saves/s (≥ 1.0, p99 ≤
50 ms), commands at 1 client p50 ≤ 3 ms, reads at the highest level ÷ hello at
the same level (≥ 0.5). Being one run, the ratios hold on a busy machine better
than the raw figures do; the load average is printed with each part. So is
``cpu ms/req``, the CPU time all the server's processes used per request
(from ``/proc``): a cost a busy machine stretches far less than latency.

    .venv/bin/python benchmarks/hot_paths.py                 # 10 s per level, 1 and 16 clients
    .venv/bin/python benchmarks/hot_paths.py --duration 5 --only service

PostgreSQL is ``postgres@127.0.0.1:5432`` unless ``--admin-url`` says otherwise;
every database it creates is dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402

from benchmarks.loadkit import (  # noqa: E402
    Result,
    cpu_seconds,
    free_port,
    fresh_database,
    gunicorn_argv,
    load_average,
    run_wrk,
    running,
)
from infrastructure.composition import backend_of_url  # noqa: E402
from infrastructure.persistence import environment_for  # noqa: E402

WORKER_CLASS = "interfaces.http.server.RectifyUvicornWorker"
HELLO_APP = "benchmarks.hello_app:app"
INSPECTOR, INSPECTOR_PASSWORD = "chenxiaofeng", "chenxiaofeng-demo"
SITE = {"name": "陶表印盲人按摩店", "region": "安义县", "operator": "陶表印", "kind": "盲人按摩"}
QUEUE = "orders-overdue"

# The goals.
COMMAND_RATIO_GOAL = 1.0
COMMAND_P99_GOAL_MS = 50.0
COMMAND_P50_ONE_CLIENT_GOAL_MS = 3.0
READ_RATIO_GOAL = 0.5


class Probe(Aggregate):
    """The smallest aggregate: created by one event, nothing else."""

    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name


class ProbeApplication(Application[Any]):
    """The library's application, with nothing of this project's in it."""


@dataclass(frozen=True)
class Row:
    """One line of the table: what was measured, at how many clients."""

    part: str
    what: str
    result: Result
    cpu_ms: float | None = None  # server CPU per request (every worker process)


def library_baseline(database_url: str, seconds: float) -> Result:
    """``Application.save`` of a new one-event aggregate in a loop, one connection."""
    project = environment_for(database_url)
    env = {key: value for key, value in project.items() if key.startswith("POSTGRES_")}
    # The library's own recorders and table settings, one connection.
    env.update(
        {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_POOL_SIZE": "1",
            "POSTGRES_MAX_OVERFLOW": "0",
            "CREATE_TABLE": "y",
        }
    )
    for key in ("POSTGRES_SCHEMA", "POSTGRES_EVENTS_TABLE_NAME"):
        env.pop(key, None)
    env.setdefault("POSTGRES_PASSWORD", "")
    app = ProbeApplication(env=env)
    try:
        warm_until = time.monotonic() + 1
        while time.monotonic() < warm_until:
            app.save(Probe(name="warm-up"))
        latencies: list[float] = []
        started = time.perf_counter()
        stop = started + seconds
        while True:
            before = time.perf_counter()
            if before >= stop:
                break
            app.save(Probe(name=str(uuid4())))
            latencies.append((time.perf_counter() - before) * 1000)
        elapsed = time.perf_counter() - started
    finally:
        app.close()
    ordered = sorted(latencies)
    return Result(
        clients=1,
        requests=len(ordered),
        failed=0,
        seconds=elapsed,
        p50_ms=statistics.median(ordered),
        p90_ms=ordered[int(len(ordered) * 0.90)],
        p99_ms=ordered[int(len(ordered) * 0.99)],
        max_ms=ordered[-1],
    )


def hello_world(workers: int, levels: list[int], seconds: float, warmup: float) -> list[Row]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = gunicorn_argv(HELLO_APP, workers=workers, port=port, worker_class=WORKER_CLASS)
    rows = []
    with running(argv, base, ready_path="/") as process:
        for clients in levels:
            if warmup:
                run_wrk(f"{base}/", clients, warmup)
            rows.append(
                measured(
                    process.pid,
                    "hello",
                    "GET / (hello-world)",
                    lambda c=clients: run_wrk(f"{base}/", c, seconds),
                )
            )
    return rows


def measured(pid: int, part: str, what: str, load: Callable[[], Result]) -> Row:
    """Run ``load``, noting the CPU time the server's processes used meanwhile."""
    before = cpu_seconds(pid)
    result = load()
    used = cpu_seconds(pid) - before
    return Row(part, what, result, 1000 * used / result.requests if result.requests else None)


def first(items: list[dict[str, Any]], what: str) -> dict[str, Any]:
    if not items:
        raise SystemExit(f"the demo data has no {what} to read")
    return items[0]


def service(
    database_url: str, workers: int, levels: list[int], seconds: float, warmup: float
) -> list[Row]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rectify = str(Path(sys.executable).parent / "rectify")
    argv = [
        rectify,
        "serve",
        "--database-url",
        database_url,
        "--workers",
        str(workers),
        "--port",
        str(port),
        "--demo",
    ]
    rows = []
    with running(argv, base, timeout=180) as process:
        token = httpx.post(
            f"{base}/token", data={"username": INSPECTOR, "password": INSPECTOR_PASSWORD}
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=auth, timeout=10) as http:
            queue = http.get(f"/queues/{QUEUE}").raise_for_status().json()
            order = first(queue["items"], f"row in /queues/{QUEUE}")
            order_id = order.get("order_id") or order["id"]
            case = http.get(f"/orders/{order_id}").raise_for_status().json()
            case_id = case["hazard_id"]
            site_id = http.get(f"/cases/{case_id}").raise_for_status().json()["site_id"]
            probe = http.post("/sites", json=SITE)
            assert probe.status_code == 201, probe.text
            found = http.get("/cases", params={"site_id": site_id}).raise_for_status().json()
            first(found["items"], f"case at site {site_id}")

        def post_sites(clients: int, duration: float) -> Result:
            return run_wrk(
                f"{base}/sites", clients, duration, method="POST", body=SITE, token=token
            )

        def get(path: str) -> Callable[[int, float], Result]:
            return lambda clients, duration: run_wrk(
                f"{base}{path}", clients, duration, token=token
            )

        endpoints: list[tuple[str, Callable[[int, float], Result]]] = [
            ("POST /sites", post_sites),
            ("GET /cases/{id}", get(f"/cases/{case_id}")),
            ("GET /orders/{id}", get(f"/orders/{order_id}")),
            (f"GET /queues/{QUEUE}", get(f"/queues/{QUEUE}")),
            ("GET /cases?site_id=…", get(f"/cases?site_id={site_id}")),
        ]
        for what, load in endpoints:
            for clients in levels:
                if warmup:
                    load(clients, warmup)
                rows.append(
                    measured(process.pid, "service", what, lambda c=clients, f=load: f(c, seconds))
                )
    return rows


def server_configuration(database_url: str, workers: int) -> list[str]:
    env = environment_for(database_url)
    threads = os.environ.get("RECTIFY_HTTP_THREADS") or backend_of_url(database_url).http_threads()
    conninfo = (
        f"host={env['POSTGRES_HOST']} port={env['POSTGRES_PORT']} "
        f"dbname={env['POSTGRES_DBNAME']} user={env['POSTGRES_USER'] or 'postgres'}"
    )
    with psycopg.connect(conninfo) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        sync = conn.execute("SHOW synchronous_commit").fetchone()
    return [
        f"server: gunicorn, {workers} workers x {WORKER_CLASS} (hello-world and service alike)",
        f"  service per worker: event-store pool {env['POSTGRES_POOL_SIZE']}"
        f"+{env['POSTGRES_MAX_OVERFLOW']} connections, {threads} AnyIO threads, "
        f"projections {os.environ.get('RECTIFY_PROJECTIONS') or 'inline'}",
        "  library baseline: eventsourcing.postgres, pool 1+0, one thread, no HTTP",
        f"database: PostgreSQL {version[0] if version else '?'} on 127.0.0.1, "
        f"synchronous_commit={sync[0] if sync else '?'}",
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; wrk on the same machine",
    ]


def print_table(rows: list[Row]) -> None:
    print(
        f"{'part':<8} {'what':<28} {'clients':>7} {'requests':>9} {'failed':>6} "
        f"{'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'cpu ms/req':>10}"
    )
    for row in rows:
        r = row.result
        print(
            f"{row.part:<8} {row.what:<28} {r.clients:>7} {r.requests:>9} {r.failed:>6} "
            f"{r.rate:>8.1f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} "
            + (f"{row.cpu_ms:>10.2f}" if row.cpu_ms is not None else f"{'':>10}")
        )


def print_ratios(rows: list[Row], levels: list[int]) -> None:
    def at(part: str, what: str, clients: int) -> Result | None:
        return next(
            (
                r.result
                for r in rows
                if r.part == part and r.what == what and r.result.clients == clients
            ),
            None,
        )

    def mark(ok: bool) -> str:
        return "met" if ok else "MISSED"

    top, one = max(levels), min(levels)
    library = at("library", "Application.save", 1)
    hello = at("hello", "GET / (hello-world)", top)
    command = at("service", "POST /sites", top)
    command_one = at("service", "POST /sites", 1)
    print("\nratios and goals")
    if library and command:
        ratio = command.rate / library.rate
        print(
            f"  POST /sites at {top} ÷ library saves/s: {ratio:.2f}x "
            f"(goal ≥ {COMMAND_RATIO_GOAL:.1f}x: {mark(ratio >= COMMAND_RATIO_GOAL)}); "
            f"p99 {command.p99_ms:.1f} ms (goal ≤ {COMMAND_P99_GOAL_MS:.0f}: "
            f"{mark(command.p99_ms <= COMMAND_P99_GOAL_MS)})"
        )
    if command_one and one == 1:
        print(
            f"  POST /sites at 1 client p50 {command_one.p50_ms:.2f} ms "
            f"(goal ≤ {COMMAND_P50_ONE_CLIENT_GOAL_MS:.0f}: "
            f"{mark(command_one.p50_ms <= COMMAND_P50_ONE_CLIENT_GOAL_MS)})"
        )
    if hello:
        for what in dict.fromkeys(r.what for r in rows if r.part == "service"):
            read = at("service", what, top)
            if not what.startswith("GET") or read is None:
                continue
            ratio = read.rate / hello.rate
            print(
                f"  {what} at {top} ÷ hello-world at {top}: {ratio:.2f}x "
                f"(goal ≥ {READ_RATIO_GOAL:.1f}x: {mark(ratio >= READ_RATIO_GOAL)})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per level")
    parser.add_argument("--warmup", type=float, default=2, help="seconds before each level")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", default="1,16", help="comma-separated concurrency levels")
    parser.add_argument(
        "--only",
        choices=["library", "hello", "service"],
        action="append",
        help="measure only these parts (repeatable); ratios need their parts",
    )
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    levels = [int(n) for n in args.clients.split(",")]
    parts = args.only or ["library", "hello", "service"]

    rows: list[Row] = []
    loads: list[str] = [f"before: {load_average()}"]
    configuration: list[str] = []
    if "library" in parts:
        with fresh_database(args.admin_url, "rectify_hot_lib_") as url:
            rows.append(Row("library", "Application.save", library_baseline(url, args.duration)))
        loads.append(f"after library: {load_average()}")
    if "hello" in parts:
        rows += hello_world(args.workers, levels, args.duration, args.warmup)
        loads.append(f"after hello-world: {load_average()}")
    if "service" in parts:
        with fresh_database(args.admin_url, "rectify_hot_svc_") as url:
            rows += service(url, args.workers, levels, args.duration, args.warmup)
            configuration = server_configuration(url, args.workers)
        loads.append(f"after service: {load_average()}")

    for line in configuration:
        print(line)
    print("load average " + "; ".join(loads))
    print()
    print_table(rows)
    print_ratios(rows, levels)


if __name__ == "__main__":
    main()
