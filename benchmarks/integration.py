"""How fast the event feed reads, and how soon a webhook arrives, at a steady load.

    .venv/bin/python benchmarks/integration.py                      # SQLite, 100,000 events
    .venv/bin/python benchmarks/integration.py --backend postgres --events 200000
    .venv/bin/python benchmarks/integration.py --rate 100 --duration 20

1. **Feed read rate.** A log of ``--events`` copies of a real closed case (see
   ``synthetic_log.py``) is read from position 0 to the end three ways in the
   same run: the raw notification log (``recorder.select_notifications``, pages
   of 1,000: what any reader pays), the feed as the application builds it
   (each event decoded, its case found, made JSON-ready), and ``GET /feed``
   through the HTTP app in-process (validated and serialised as JSON). Events/s each.
2. **Webhook latency.** A receiver on 127.0.0.1 verifies every delivery with
   ``standardwebhooks``; the outbox follower and the delivery job run as the
   service runs them, while commands are recorded at ``--rate`` events a second
   for ``--duration`` seconds. Latency is from the event's time (set when the
   command is recorded) to its arrival, p50 and p99.

PostgreSQL: a database ``rectify_integration_bench`` on 127.0.0.1:5432
(``--postgres-url``), dropped and created again.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from synthetic_log import fill, recorded_rows  # noqa: E402

from infrastructure.clock import ManualClock, SystemClock  # noqa: E402
from infrastructure.composition import Services, build_app  # noqa: E402

DEFAULT_SQLITE = ROOT / "var" / "bench-integration.sqlite3"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/rectify_integration_bench"
PAGE = 1000


def template() -> list[Any]:
    from tests.core.scenario import SWEEP_STARTS, FakePasswords, Severity, Stage, Sweep

    clock = ManualClock(SWEEP_STARTS)
    app = build_app("popo://", clock=clock, passwords=FakePasswords())
    Sweep(app, clock).arrange_case(Stage.CLOSED, severity=Severity.MAJOR)
    rows = recorded_rows(app)
    app.close()
    return rows


def timed(label: str, read: Any, events: int) -> float:
    started = time.perf_counter()
    count = read()
    seconds = time.perf_counter() - started
    assert count == events, (label, count, events)
    rate = count / seconds
    print(f"  {label:<34} {count:>9,} events in {seconds:7.2f} s = {rate:>9,.0f} events/s")
    return rate


def feed_read_rate(url: str, events: int) -> None:
    from fastapi.testclient import TestClient

    from interfaces.http.app import create_app

    print(f"Feed read rate over {events:,} events ({url.split('://')[0]})")
    services = Services.open(url)
    app, integration = services.app, services.integration

    def raw() -> int:
        count, after = 0, 0
        while page := app.recorder.select_notifications(
            start=after, limit=PAGE, inclusive_of_start=False
        ):
            count += len(page)
            after = page[-1].id
        return count

    def feed() -> int:
        count, after = 0, 0
        while (page := integration.feed.page(after=after, limit=PAGE)).events:
            count += len(page.events)
            after = page.next_after
        return count

    _, key = integration.keys.create("bench", created_by="benchmark")
    client = TestClient(create_app(services=services, token_secret="b" * 40))

    def http() -> int:
        count, after = 0, 0
        headers = {"Authorization": f"Bearer {key}"}
        while True:
            body = client.get("/feed", params={"after": after, "limit": PAGE}, headers=headers)
            page = body.json()
            if not page["events"]:
                return count
            count += len(page["events"])
            after = page["next_after"]

    raw_rate = timed("raw notification log", raw, events)
    feed_rate = timed("feed (application)", feed, events)
    http_rate = timed("GET /feed (HTTP, in-process)", http, events)
    print(f"  feed / raw: {feed_rate / raw_rate:.2f}; GET /feed / raw: {http_rate / raw_rate:.2f}")
    client.close()
    services.close()


@contextlib.contextmanager
def follower_worker(url: str) -> Iterator[None]:
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "interfaces.cli.main",
            "followers",
            "run",
            "webhook_outbox",
            "webhook_delivery",
            "--database-url",
            url,
        ],
        cwd=ROOT,
        env=dict(os.environ, RECTIFY_WEBHOOK_ALLOW="127.0.0.1"),
    )
    try:
        yield
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)


def webhook_latency(url: str, rate: float, duration: float, writers: int) -> None:
    from infrastructure.projections.runner import ProjectionRunner
    from tests.core.scenario import SITES, Sweep
    from tests.http.conftest import add_people
    from tests.integration.receiver import Receiver
    from tests.integration.workload import case_commands

    print(f"Webhook delivery latency at {rate:g} events/s for {duration:g} s")
    services = Services.open(url, settings={"WEBHOOK_ALLOW": "127.0.0.1"}, clock=SystemClock())
    app, integration = services.app, services.integration
    add_people(services.users)  # the sweep's people sign what they close
    receiver = Receiver().start()
    # The outbox follower has followed the log all along in a running service.
    ProjectionRunner(app, integration.outbox_projection()).catch_up()
    subscription = integration.webhooks.subscribe(receiver.url, ["*"], created_by="benchmark")
    receiver.secret = subscription.secret
    sites = list(SITES)
    start_position = app.recorder.max_notification_id() or 0
    commands = [0] * writers
    errors: list[BaseException] = []
    stop = threading.Event()

    def write(n: int) -> None:
        # Each writer takes its own cases through; together they are paced by
        # the log to ``rate`` events a second.
        sweep = Sweep(app, SystemClock())  # type: ignore[arg-type]
        try:
            while not stop.is_set():
                for _ in case_commands(sweep, sites[n % len(sites)]):
                    commands[n] += 1
                    recorded = (app.recorder.max_notification_id() or 0) - start_position
                    ahead = recorded / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
                    if stop.is_set():
                        return
        except BaseException as error:
            errors.append(error)

    # The outbox follower and the delivery job in a worker process of their own,
    # as a deployment runs them (RECTIFY_PROJECTIONS=external), so the load
    # generator and the receiver do not share their interpreter.
    with follower_worker(url):
        # Warm up: the worker has started, leads and delivers once the first
        # site's registration arrives; the load starts from there.
        Sweep(app, SystemClock()).site(sites[0])  # type: ignore[arg-type]
        warm_up = time.monotonic() + 120
        while not receiver.unique() and time.monotonic() < warm_up:
            time.sleep(0.05)
        start_position = app.recorder.max_notification_id() or 0
        started = time.monotonic()
        threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
        for thread in threads:
            thread.start()
        time.sleep(duration)
        stop.set()
        for thread in threads:
            thread.join()
        assert not errors, errors
        elapsed = time.monotonic() - started
        # Counted, not subtracted: positions may skip a number (a lost race's).
        recorded = len(
            app.recorder.select_notifications(
                start=start_position, limit=10**7, inclusive_of_start=False
            )
        )
        deadline = time.monotonic() + 30
        while len(receiver.unique()) <= recorded and time.monotonic() < deadline:
            time.sleep(0.05)
    receiver.stop()
    latencies = []
    for arrival in receiver.unique().values():
        if arrival.body["data"]["position"] <= start_position:
            continue  # the warm-up's
        when = datetime.fromisoformat(arrival.body["data"]["time"]).timestamp()
        latencies.append((arrival.received_at - when) * 1000)
    latencies.sort()
    print(
        f"  {recorded:,} events from {sum(commands):,} commands by {writers} writers "
        f"({recorded / elapsed:.0f} events/s); {len(latencies):,} delivered, all verified: "
        f"{all(a.verified for a in receiver.arrivals)}"
    )
    if latencies:
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"  latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms")
    services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sqlite-path", type=Path, default=DEFAULT_SQLITE)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--rate", type=float, default=100.0, help="Events per second.")
    parser.add_argument("--duration", type=float, default=20.0, help="Seconds of load.")
    parser.add_argument("--writers", type=int, default=4, help="Threads recording commands.")
    parser.add_argument("--only", choices=["feed", "latency"], help="Run one of the two.")
    args = parser.parse_args()
    if args.backend == "sqlite":
        args.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{args.sqlite_path}"
    else:
        url = args.postgres_url
    fill(url, args.events if args.only != "latency" else 1000, False, template)
    if args.only != "latency":
        feed_read_rate(url, args.events)
    if args.only != "feed":
        webhook_latency(url, args.rate, args.duration, args.writers)


if __name__ == "__main__":
    main()
