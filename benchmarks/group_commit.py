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
shared transaction, and each row's ratio to the baseline. PostgreSQL: a
database ``rectify_group_commit_bench`` on 127.0.0.1:5432 (``--postgres-url``),
created for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import os
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
    if isinstance(recorder, KeyedPostgresApplicationRecorder) and recorder.gathers_commits:
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


def _admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.removeprefix("/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres-url", default=DEFAULT_URL)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=16)
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


if __name__ == "__main__":
    main()
