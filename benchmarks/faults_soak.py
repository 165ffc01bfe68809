"""An operator's worst day, bounded: retrying writers while a worker is SIGKILLed
and the database is stopped for ten seconds.

Starts ``rectify serve --workers 2`` (gunicorn, uvicorn workers) on a private
PostgreSQL cluster of its own (``initdb``/``pg_ctl`` from
``/usr/lib/postgresql/15/bin``, in a temporary directory, on a free port — never
the shared server). Eight writers register sites, each request with its own
``Idempotency-Key`` and a body naming it uniquely, and retry the same request
(same key, same body) on any failure until it is acknowledged (2xx). During the
run one worker is SIGKILLed, then the database is stopped for ten seconds and
started again.

At the end it reads the event log and prints:

- acknowledged — requests answered 2xx;
- present — acknowledged requests whose site is in the log;
- applied twice — requests whose site the log holds more than once (must be 0);
- seconds to recover — from the database's start (and from the kill) until
  every writer had a request acknowledged again.

    .venv/bin/python benchmarks/faults_soak.py               # about a minute
    .venv/bin/python benchmarks/faults_soak.py --duration 60 --writers 8
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from infrastructure.bootstrap import build_app  # noqa: E402
from infrastructure.users import create_user_store  # noqa: E402
from tests.cli.live import free_port, wait_for_openapi  # noqa: E402
from tests.faults.cluster import private_cluster  # noqa: E402

USER, PASSWORD = "soak-inspector", "soak-inspector-password"
RETRY_PAUSE_SECONDS = 0.2


@dataclass
class Writer:
    """One client: its acknowledged requests and when it was last acknowledged."""

    number: int
    acknowledged: dict[str, str] = field(default_factory=dict)  # site name -> id
    replayed: int = 0
    retries: int = 0
    failures: collections.Counter[str] = field(default_factory=collections.Counter)
    acknowledged_at: list[float] = field(default_factory=list)


def write_until(base: str, token: str, writer: Writer, stop_at: float, give_up_at: float) -> None:
    """Register sites until ``stop_at``; retry each until acknowledged (or ``give_up_at``)."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=10) as client:
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            name = f"soak-{writer.number}-{n}"
            body = {"name": name, "region": "安义县"}
            key = {"Idempotency-Key": str(uuid.uuid4())}
            while True:
                try:
                    answer = client.post("/sites", json=body, headers={**headers, **key})
                    outcome = str(answer.status_code)
                except httpx.TransportError as error:
                    answer, outcome = None, type(error).__name__
                if answer is not None and answer.is_success:
                    writer.acknowledged[name] = answer.json()["id"]
                    writer.acknowledged_at.append(time.monotonic())
                    if answer.headers.get("Idempotent-Replayed") == "true":
                        writer.replayed += 1
                    break
                writer.failures[outcome] += 1
                writer.retries += 1
                if time.monotonic() > give_up_at:
                    return
                time.sleep(RETRY_PAUSE_SECONDS)


def worker_pids(master: int) -> list[int]:
    """The gunicorn master's child processes (its workers)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            children.append(int(stat.parent.name))
    return sorted(children)


def recovered_after(writers: list[Writer], moment: float) -> float | None:
    """Seconds after ``moment`` until every writer had a request acknowledged."""
    firsts = []
    for writer in writers:
        later = [t for t in writer.acknowledged_at if t >= moment]
        if not later:
            return None
        firsts.append(min(later))
    return max(firsts) - moment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--duration", type=float, default=45.0, help="seconds of writing")
    parser.add_argument("--kill-at", type=float, default=8.0, help="seconds in: SIGKILL a worker")
    parser.add_argument("--stop-at", type=float, default=18.0, help="seconds in: stop the database")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds the database is down")
    args = parser.parse_args()

    with private_cluster() as cluster:
        database_url = cluster.create_database("soak")
        users = create_user_store(database_url)
        users.add(USER, "压测检查员", "inspector", PASSWORD)
        users.close()
        port = free_port()
        rectify = str(Path(sys.executable).with_name("rectify"))
        server = subprocess.Popen(
            [rectify, "serve", "--workers", "2", "--port", str(port)],
            env={**os.environ, "RECTIFY_DATABASE_URL": database_url},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output: list[str] = []
        threading.Thread(target=lambda: output.extend(server.stdout or []), daemon=True).start()
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_openapi(base, server)
            token = httpx.post(
                f"{base}/token", data={"username": USER, "password": PASSWORD}
            ).json()["access_token"]
            started = time.monotonic()
            writers = [Writer(n) for n in range(args.writers)]
            threads = [
                threading.Thread(
                    target=write_until,
                    args=(base, token, w, started + args.duration, started + args.duration + 60),
                )
                for w in writers
            ]
            for thread in threads:
                thread.start()

            time.sleep(max(0.0, started + args.kill_at - time.monotonic()))
            victims = worker_pids(server.pid)
            os.kill(victims[0], signal.SIGKILL)
            killed_at = time.monotonic()
            print(f"{killed_at - started:5.1f} s  SIGKILL worker {victims[0]} of {victims}")

            time.sleep(max(0.0, started + args.stop_at - time.monotonic()))
            cluster.stop()
            stopped_at = time.monotonic()
            print(f"{stopped_at - started:5.1f} s  database stopped")
            time.sleep(args.outage)
            cluster.start()
            up_at = time.monotonic()
            print(f"{up_at - started:5.1f} s  database started")

            for thread in threads:
                thread.join()
            finished = time.monotonic()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)

        app = build_app(database_url)
        try:
            names = collections.Counter(
                app.mapper.to_domain_event(n).name
                for n in app.recorder.select_notifications(start=1, limit=10**7)
                if n.topic.endswith(":Site.Registered")
            )
        finally:
            app.close()

    acknowledged = {name: i for w in writers for name, i in w.acknowledged.items()}
    present = sum(1 for name in acknowledged if names[name] >= 1)
    twice = sum(1 for count in names.values() if count > 1)
    failures: collections.Counter[str] = collections.Counter()
    for w in writers:
        failures.update(w.failures)
    after_kill = recovered_after(writers, killed_at)
    after_start = recovered_after(writers, up_at)
    print()
    print(
        f"writers {args.writers}, {finished - started:.0f} s; a worker SIGKILLed at "
        f"{killed_at - started:.0f} s, the database down {up_at - stopped_at:.1f} s from "
        f"{stopped_at - started:.0f} s; load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(f"acknowledged:        {len(acknowledged)}")
    print(f"present:             {present}")
    print(f"applied twice:       {twice}")
    print(f"replayed answers:    {sum(w.replayed for w in writers)}")
    print(f"retried attempts:    {sum(w.retries for w in writers)} {dict(failures)}")
    print(f"recovered after kill:           {_seconds(after_kill)}")
    print(f"recovered after database start: {_seconds(after_start)}")
    print(f"unacknowledged site names in the log: {len(set(names) - set(acknowledged))}")
    tracebacks = sum(1 for line in output if "Traceback" in line)
    print(f"server tracebacks: {tracebacks}")
    if twice or present != len(acknowledged):
        sys.exit(1)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


if __name__ == "__main__":
    main()
