"""How fast the audit verifies and exports a long log, and how much memory it takes.

    .venv/bin/python benchmarks/audit_verify_export.py                   # 1,000,000 events, SQLite
    .venv/bin/python benchmarks/audit_verify_export.py --events 200000 --backend both
    .venv/bin/python benchmarks/audit_verify_export.py --reuse           # keep an earlier log

The log is made of copies of one real case (the 2022-04-18 sweep's closed case,
recorded through the application): each copy gets fresh aggregate ids, so
every event decodes and reads like a real one, and the rows are bulk-inserted
(sqlite3 / PostgreSQL COPY) to get a million of them in reasonable time. The
chain is then written by the chain's own catch-up, and verify and export each
run in a child process of their own, so the peak memory (max RSS) reported is
theirs alone. The export is JSON Lines, to a temporary file (or --export-to).

PostgreSQL: a database ``rectify_audit_bench`` on 127.0.0.1:5432 (``--postgres-url``),
dropped and created again unless ``--reuse``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from application.audit import LogFilter  # noqa: E402
from infrastructure.audit import build_audit  # noqa: E402
from infrastructure.bootstrap import build_app  # noqa: E402
from infrastructure.clock import ManualClock  # noqa: E402
from infrastructure.persistence import environment_for  # noqa: E402

DEFAULT_SQLITE = ROOT / "var" / "bench-audit.sqlite3"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/rectify_audit_bench"
INSERT_BATCH = 10_000


# -- the template case -----------------------------------------------------------------------


def template_events() -> list[tuple[uuid.UUID, int, str, bytes]]:
    """The stored events of one closed case (with its site and inspection), recorded
    through the application on the in-memory store."""
    from tests.core.scenario import SWEEP_STARTS, FakePasswords, Severity, Stage, Sweep

    clock = ManualClock(SWEEP_STARTS)
    app = build_app("popo://", clock=clock, passwords=FakePasswords())
    Sweep(app, clock).arrange_case(Stage.CLOSED, severity=Severity.MAJOR)
    rows = [
        (n.originator_id, n.originator_version, n.topic, n.state)
        for n in app.recorder.select_notifications(start=1, limit=1000)
    ]
    app.close()
    return rows


def copies(template: list[tuple[uuid.UUID, int, str, bytes]], count: int) -> Iterator[tuple]:
    """``count`` events: the template again and again, each copy with fresh ids.

    Ids appear in the stored JSON as hex (``uuid_hex``), so a copy replaces the
    template's ids in the state bytes too: references between the copy's
    aggregates stay consistent.
    """
    ids = sorted({row[0] for row in template}, key=str)
    made = 0
    copy = 0
    while made < count:
        fresh = {old: uuid.uuid5(old, str(copy)) for old in ids}
        for originator_id, version, topic, state in template:
            for old, new in fresh.items():
                state = state.replace(old.hex.encode(), new.hex.encode())
            yield fresh[originator_id], version, topic, state
            made += 1
            if made == count:
                return
        copy += 1


# -- filling a database ----------------------------------------------------------------------


def event_count(url: str) -> int:
    app = build_app(url)
    try:
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


def fill_sqlite(url: str, count: int, reuse: bool) -> None:
    path = Path(environment_for(url)["SQLITE_DBNAME"])
    if reuse and path.exists() and event_count(url) >= count:
        return
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    build_app(url).close()  # creates the events table as the application does
    template = template_events()
    with closing(sqlite3.connect(path)) as connection:
        rows = copies(template, count)
        while True:
            batch = [(i.hex, v, t, s) for i, v, t, s in _take(rows, INSERT_BATCH)]
            if not batch:
                break
            with connection:
                connection.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)", batch)


def fill_postgres(url: str, count: int, reuse: bool) -> None:
    env = environment_for(url)
    dbname = env["POSTGRES_DBNAME"]
    admin = dict(
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"] or None,
        password=env["POSTGRES_PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    with psycopg.connect(**admin) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)
        ).fetchone()
    if reuse and exists and event_count(url) >= count:
        return
    with psycopg.connect(**admin) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    build_app(url).close()
    template = template_events()
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        with cursor.copy(
            "COPY rectify_events (originator_id, originator_version, topic, state) FROM STDIN"
        ) as copy:
            for row in copies(template, count):
                copy.write_row(row)
        cursor.execute("ANALYZE rectify_events")


def _take(rows: Iterator[tuple], size: int) -> list[tuple]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            break
    return batch


# -- the measured phases (each in a child process) -------------------------------------------


def phase(name: str, url: str, export_to: str | None) -> dict[str, Any]:
    app = build_app(url)
    audit = build_audit(app)
    started = time.perf_counter()
    result: dict[str, Any] = {"phase": name}
    if name == "chain":
        result["events"] = audit.catch_up()
    elif name == "verify":
        report = audit.verify()
        assert report.ok, report
        result["events"] = report.checked
        result["head"] = report.head.anchor if report.head else None
    elif name == "export":
        assert export_to is not None
        events = 0
        with open(export_to, "w", encoding="utf-8") as file:
            for line in audit.export_jsonl(LogFilter()):
                file.write(line)
                events += 1
        result["events"] = events
        result["bytes"] = os.path.getsize(export_to) if export_to != os.devnull else None
    result["seconds"] = time.perf_counter() - started
    result["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    app.close()
    return result


def run_phase(name: str, url: str, export_to: str | None = None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", name, "--url", url]
    if export_to:
        command += ["--export-to", export_to]
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(output.strip().splitlines()[-1])


def report(backend: str, result: dict[str, Any]) -> None:
    rate = result["events"] / result["seconds"] if result["seconds"] else float("inf")
    extra = f", {result['bytes'] / 1024 / 1024:.0f} MiB written" if result.get("bytes") else ""
    print(
        f"{backend:<9} {result['phase']:<7} {result['events']:>9,} events "
        f"in {result['seconds']:7.1f} s = {rate:>9,.0f} events/s, "
        f"peak RSS {result['max_rss_mib']:6.0f} MiB{extra}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--sqlite-path", type=Path, default=DEFAULT_SQLITE)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--reuse", action="store_true", help="Keep a log of at least --events.")
    parser.add_argument("--export-to", help="Export file (default: a temporary file).")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        print(json.dumps(phase(args.phase, args.url, args.export_to)))
        return

    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        if backend == "sqlite":
            args.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{args.sqlite_path.resolve()}"
            fill = fill_sqlite
        else:
            url = args.postgres_url
            fill = fill_postgres
        started = time.perf_counter()
        fill(url, args.events, args.reuse)
        total = event_count(url)
        print(
            f"{backend:<9} log     {total:>9,} events ready in "
            f"{time.perf_counter() - started:7.1f} s",
            flush=True,
        )
        report(backend, run_phase("chain", url))
        report(backend, run_phase("verify", url))
        with tempfile.TemporaryDirectory() as scratch:
            target = args.export_to or str(Path(scratch) / "log.jsonl")
            report(backend, run_phase("export", url, target))


if __name__ == "__main__":
    main()
