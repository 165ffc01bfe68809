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
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from synthetic_log import Row, event_count, fill, recorded_rows  # noqa: E402

from application.audit import LogFilter  # noqa: E402
from infrastructure.clock import ManualClock  # noqa: E402
from infrastructure.composition import Services, build_app  # noqa: E402

DEFAULT_SQLITE = ROOT / "var" / "bench-audit.sqlite3"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/rectify_audit_bench"


# -- the template case -----------------------------------------------------------------------


def template_events() -> list[Row]:
    """The stored events of one closed case (with its site and inspection), recorded
    through the application on the in-memory store."""
    from tests.core.scenario import SWEEP_STARTS, FakePasswords, Severity, Stage, Sweep

    clock = ManualClock(SWEEP_STARTS)
    app = build_app("popo://", clock=clock, passwords=FakePasswords())
    Sweep(app, clock).arrange_case(Stage.CLOSED, severity=Severity.MAJOR)
    rows = recorded_rows(app)
    app.close()
    return rows


# -- the measured phases (each in a child process) -------------------------------------------


def phase(name: str, url: str, export_to: str | None) -> dict[str, Any]:
    services = Services.open(url)
    audit = services.audit
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
    services.close()
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
        else:
            url = args.postgres_url
        started = time.perf_counter()
        fill(url, args.events, args.reuse, template_events)
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
