"""Logins against the real server: the rate one process sustains, and what a burst
of logins does to everybody else.

Starts ``rectify serve`` (one uvicorn process; SQLite by default, or PostgreSQL
with ``--backend postgres``) with the deployed password settings — the real
Argon2 parameters, a check slot per CPU, a one-second wait for one — and the
limit by address switched off, since every client here is 127.0.0.1. Then:

1. **sustained login rate**: ``--clients`` clients log in with the right password
   in a loop for ``--duration`` seconds; logins/s answered 200, and how many
   were turned away with 503;
2. **/health during a burst**: one client asks ``GET /health`` in turn, first
   on an idle server, then while ``--burst`` logins with unknown user ids arrive
   at once; p50/p99 of both, and how the burst was answered.

    .venv/bin/python benchmarks/login_burst.py                       # SQLite, 10 s
    .venv/bin/python benchmarks/login_burst.py --backend postgres --duration 20

PostgreSQL is ``postgres@127.0.0.1:5432`` (``RECTIFY_TEST_PG_*`` point
elsewhere); its benchmark database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from infrastructure.login_limits import LoginLimitSettings  # noqa: E402
from infrastructure.users import create_user_store  # noqa: E402
from tests.backends import fresh_postgres_database  # noqa: E402
from tests.cli.live import free_port, wait_for_openapi  # noqa: E402

USER, PASSWORD = "bench-inspector", "bench-inspector-password"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


@contextmanager
def database(backend: str, directory: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'bench.sqlite3'}"
    else:
        with fresh_postgres_database() as url:
            yield url


@contextmanager
def server(url: str, directory: Path) -> Iterator[str]:
    users = create_user_store(url)
    users.add(USER, "陈小峰", "inspector", PASSWORD)
    users.close()
    port = free_port()
    env = {**os.environ, "RECTIFY_DATABASE_URL": url, "RECTIFY_LOGIN_RATE_LIMIT": "off"}
    for variable in ("RECTIFY_PASSWORD_CHECKS", "RECTIFY_PASSWORD_CHECK_WAIT_SECONDS"):
        env.pop(variable, None)
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("rectify")), "serve", "--port", str(port)],
        cwd=directory,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_openapi(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


async def sustained_logins(base: str, clients: int, duration: float) -> tuple[int, int, float]:
    """Right-password logins in a loop from ``clients`` clients: (ok, busy, seconds)."""
    counts = {"ok": 0, "busy": 0}
    deadline = time.perf_counter() + duration

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            while time.perf_counter() < deadline:
                answer = await client.post("/token", data={"username": USER, "password": PASSWORD})
                if answer.status_code == 200:
                    counts["ok"] += 1
                elif answer.status_code == 503:
                    counts["busy"] += 1
                    await asyncio.sleep(float(answer.headers.get("Retry-After", "1")) / 10)
                else:
                    raise SystemExit(f"unexpected answer {answer.status_code}: {answer.text}")

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return counts["ok"], counts["busy"], time.perf_counter() - started


async def health_latencies(base: str, seconds: float) -> list[float]:
    """``GET /health`` in turn for ``seconds``, from a client of its own."""
    latencies = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            (await client.get("/health")).raise_for_status()
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)
    return latencies


async def burst_with_health(base: str, burst: int) -> tuple[list[float], dict[int, int], float]:
    """``burst`` logins with unknown ids at once while another client asks /health."""
    done = asyncio.Event()
    latencies: list[float] = []

    async def watch() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            while not done.is_set():
                started = time.perf_counter()
                (await client.get("/health")).raise_for_status()
                latencies.append(time.perf_counter() - started)
                await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    limits = httpx.Limits(max_connections=burst, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(
                client.post(
                    "/token",
                    data={"username": f"guess-{secrets.token_hex(6)}", "password": "a guess"},
                )
                for _ in range(burst)
            )
        )
        elapsed = time.perf_counter() - started
    await asyncio.sleep(0.2)
    done.set()
    await watcher
    codes = [answer.status_code for answer in answers]
    return latencies, {code: codes.count(code) for code in sorted(set(codes))}, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--clients", type=int, default=4, help="clients logging in in a loop")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sustained logins")
    parser.add_argument("--burst", type=int, default=100, help="logins sent at once")
    args = parser.parse_args()

    settings = LoginLimitSettings.from_environ({})
    load = os.getloadavg()
    print(
        f"rectify login benchmark: {args.backend}, one uvicorn process, "
        f"{settings.password_checks} password check(s) at once, "
        f"{settings.check_wait_seconds:g} s wait for one; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {load[0]:.1f} at start"
    )
    with (
        tempfile.TemporaryDirectory() as directory,
        database(args.backend, Path(directory)) as url,
        server(url, Path(directory)) as base,
    ):
        ok, busy, seconds = asyncio.run(sustained_logins(base, args.clients, args.duration))
        print(
            f"sustained logins ({args.clients} clients, {seconds:.1f} s): "
            f"{ok / seconds:.1f} logins/s answered 200, {busy} turned away with 503"
        )
        idle = asyncio.run(health_latencies(base, 3.0))
        print(
            f"GET /health, idle:             p50 {ms(statistics.median(idle))}, "
            f"p99 {ms(percentile(idle, 0.99))} ({len(idle)} requests)"
        )
        during, answers, elapsed = asyncio.run(burst_with_health(base, args.burst))
        print(
            f"GET /health, during a burst of {args.burst} logins with unknown ids: "
            f"p50 {ms(statistics.median(during))}, p99 {ms(percentile(during, 0.99))} "
            f"({len(during)} requests); the burst answered in {elapsed:.1f} s: {answers}"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
