"""How many one-event saves per second the event store takes, with and without group commit.

    .venv/bin/python benchmarks/group_commit.py                  # 4 s per row
    .venv/bin/python benchmarks/group_commit.py --seconds 10

No HTTP: an eventsourcing application saves a new one-event aggregate in a
loop, from 1 and from 16 threads, on PostgreSQL. One run measures, side by side:

- the bare library (its own ``PostgresApplicationRecorder``) on one connection,
  the baseline every other row is divided by;
- the service's recorder with each save in a transaction of its own;
- the service's recorder with concurrent saves committed together.

It prints saves/s, p50/p99 latency of one save, the mean number of saves per
transaction, and each row's ratio to the baseline. Then (``--requests``, 0 to
skip) it sends that many ``POST /sites`` one after another to the API served
in-process (FastAPI's TestClient, so without the HTTP server's own cost) and
tells what share of a request's time is the save, and within it the recorder. PostgreSQL: a
database ``rectify_group_commit_bench`` on 127.0.0.1:5432 (``--postgres-url``),
created for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from domain.values import Role  # noqa: E402
from infrastructure.composition import build_app, create_user_store  # noqa: E402
from infrastructure.persistence import environment_for  # noqa: E402
from infrastructure.recorders import KeyedPostgresApplicationRecorder  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/rectify_group_commit_bench"


class Dot(Aggregate):
    """The smallest aggregate: created with one event, never changed."""

    def __init__(self, n: int) -> None:
        self.n = n


class EachAloneRecorder(KeyedPostgresApplicationRecorder):
    """The service's recorder with every save in a transaction of its own."""

    gathers_commits = False


class Bench(Application[Any]):
    """The application the saves go through."""

    name = "Bench"


@dataclass
class Row:
    label: str
    threads: int
    saves: int
    seconds: float
    latencies: list[float]
    batches: list[int] | None

    @property
    def rate(self) -> float:
        return self.saves / self.seconds

    @property
    def saves_per_transaction(self) -> float:
        """Shared transactions are listed; every other save had one of its own."""
        shared = self.batches or []
        transactions = self.saves - sum(shared) + len(shared)
        return self.saves / transactions

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def measure(url: str, label: str, topic: str, threads: int, seconds: float) -> Row:
    env = environment_for(url)
    env["APPLICATION_RECORDER_TOPIC"] = topic
    env["POSTGRES_POOL_SIZE"] = str(threads)
    env["POSTGRES_MAX_OVERFLOW"] = "0"
    env["CREATE_TABLE"] = "y"
    app = Bench(env=env)
    recorder = app.recorder
    batches: list[int] | None = None
    # Only the service's PostgreSQL recorder gathers commits; the library's has no
    # such attribute, so asking it keeps the choice of backend out of the benchmark.
    if getattr(recorder, "gathers_commits", False):
        batches = []
        recorder.batch_sizes = batches
    for n in range(20):  # warm the pool and the statements
        app.save(Dot(n))
    if batches is not None:
        batches.clear()
    latencies: list[list[float]] = [[] for _ in range(threads)]
    start = threading.Barrier(threads + 1)
    stop_at = 0.0

    def run(index: int) -> None:
        mine = latencies[index]
        start.wait()
        n = 0
        while True:
            began = time.perf_counter()
            if began >= stop_at:
                return
            app.save(Dot(n))
            mine.append(time.perf_counter() - began)
            n += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    stop_at = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    app.close()
    every = [latency for mine in latencies for latency in mine]
    return Row(label, threads, len(every), elapsed, every, batches)


def _timed(owner: Any, name: str, spent: list[float]) -> None:
    """Wrap ``owner.name`` so each call's duration is appended to ``spent``."""
    method = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - began)

    setattr(owner, name, timed)


def request_share(url: str, requests: int) -> str:
    """Where one ``POST /sites`` spends its time: the save, the recorder, the rest."""
    from argon2 import PasswordHasher

    from interfaces.http.app import create_app

    users = create_user_store(url, hasher=PasswordHasher(time_cost=1, memory_cost=64))
    users.add("bench", "检查员", Role.INSPECTOR, "bench-password-1")
    rectify = build_app(url, passwords=users)
    api = create_app(rectify, users)
    saves: list[float] = []
    inserts: list[float] = []
    whole: list[float] = []
    _timed(rectify, "save", saves)
    _timed(rectify.recorder, "insert_events", inserts)
    site = {"name": "陶表印盲人按摩店", "region": "安义县"}
    with TestClient(api) as client:
        token = api.state.auth.tokens.issue("bench").access_token
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(20):
            client.post("/sites", json=site, headers=headers).raise_for_status()
        saves.clear()
        inserts.clear()
        for _ in range(requests):
            began = time.perf_counter()
            client.post("/sites", json=site, headers=headers).raise_for_status()
            whole.append(time.perf_counter() - began)
    rectify.close()
    users.close()

    def ms(spent: list[float]) -> float:
        return statistics.median(spent) * 1000

    return (
        f"POST /sites in-process, {requests} one after another (medians):"
        f" request {ms(whole):.2f} ms, RectifyApp.save {ms(saves):.2f} ms"
        f" ({ms(saves) / ms(whole):.0%}), recorder.insert_events {ms(inserts):.2f} ms"
        f" ({ms(inserts) / ms(whole):.0%})"
    )


def _admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.removeprefix("/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres-url", default=DEFAULT_URL)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    admin, dbname = _admin_url(args.postgres_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    library = "eventsourcing.postgres:PostgresApplicationRecorder"
    alone = "__main__:EachAloneRecorder"
    gathered = "infrastructure.recorders:KeyedPostgresApplicationRecorder"
    plan = [
        ("library, 1 connection", library, 1),
        ("service, each save alone", alone, 1),
        ("service, group commit", gathered, 1),
        ("library", library, args.threads),
        ("service, each save alone", alone, args.threads),
        ("service, group commit", gathered, args.threads),
    ]
    try:
        rows = [
            measure(args.postgres_url, label, topic, threads, args.seconds)
            for label, topic, threads in plan
        ]
        share = request_share(args.postgres_url, args.requests) if args.requests else ""
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')

    baseline = rows[0].rate
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{'what':<28}{'threads':>8}{'saves/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'saves/tx':>10}{'ratio':>8}"
    )
    for row in rows:
        per_tx = f"{row.saves_per_transaction:.1f}"
        print(
            f"{row.label:<28}{row.threads:>8}{row.rate:>10.0f}{row.percentile(0.5):>9.2f}"
            f"{row.percentile(0.99):>9.2f}{per_tx:>10}{row.rate / baseline:>7.2f}x"
        )
    if share:
        print(share)


if __name__ == "__main__":
    main()
