"""How fast the read models catch up on a long log, and what a full rebuild costs.

    .venv/bin/python benchmarks/projections_rebuild.py                   # 1M events, PostgreSQL
    .venv/bin/python benchmarks/projections_rebuild.py --events 100000    # fewer
    .venv/bin/python benchmarks/projections_rebuild.py --backend sqlite   # or: both
    .venv/bin/python benchmarks/projections_rebuild.py --reuse            # keep an earlier log
    .venv/bin/python benchmarks/projections_rebuild.py --check            # also time a check

The log is made of copies of a set of real cases — recorded through the
application on the in-memory store: closed cases (general and major), one
closed after a failed first verification and an extension, an overdue one,
a dismissed one, one fixed on the spot — each copy with fresh aggregate ids, so
every event decodes and projects like a real one. The rows are bulk-inserted
(PostgreSQL COPY, sqlite3 executemany), which is how a million events are had in
reasonable time; the application would take far longer to record them.

Then, each in a child process of its own so its peak memory (max RSS) is its own:

- ``catch-up``: every read-model projection applies the whole log to empty
  live tables, as a worker starting on an existing log does (events/s);
- ``rebuild``: ``rectify projections rebuild`` — one replay of the log into
  scratch tables of every projection, then each swapped in (seconds to each
  swap, events/s, peak memory);
- ``check`` (with ``--check``): ``rectify projections check``.

PostgreSQL: a database ``rectify_projections_bench`` on 127.0.0.1:5432
(``--postgres-url``), dropped and created again unless ``--reuse``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from synthetic_log import Row, event_count, fill, recorded_rows  # noqa: E402

from infrastructure.clock import ManualClock  # noqa: E402
from infrastructure.composition import build_app  # noqa: E402

DEFAULT_SQLITE = ROOT / "var" / "bench-projections.sqlite3"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/rectify_projections_bench"


# -- the template: a handful of real cases ---------------------------------------------------


def template_events() -> list[Row]:
    """The stored events of several cases in different states, recorded through
    the application on the in-memory store."""
    from domain.values import Severity
    from tests.core.scenario import (
        CHEN_XIAOFENG,
        HUOGEN_BARBERSHOP,
        KANGSHUN_SHOP,
        SWEEP_STARTS,
        WAN_PINGYING_SHOP,
        YU_JIANHUA_SHOP,
        YU_JIANMING,
        ZHANG_MING,
        FakePasswords,
        Stage,
        Sweep,
        password_of,
        photo,
    )

    clock = ManualClock(SWEEP_STARTS)
    app = build_app("popo://", clock=clock, passwords=FakePasswords())
    sweep = Sweep(app, clock)
    sweep.arrange_case(Stage.CLOSED)
    sweep.arrange_case(Stage.CLOSED, severity=Severity.MAJOR, site=KANGSHUN_SHOP)
    retried = sweep.arrange_case(Stage.ACKNOWLEDGED, site=YU_JIANHUA_SHOP)
    deadline = app.get_order(retried.order).deadline
    sweep.request_extension(retried.order, deadline + timedelta(days=5))
    app.grant_extension(
        ZHANG_MING,
        retried.order,
        reason="检测点排队",
        password=password_of(ZHANG_MING),
        expected_version=sweep.version(retried.order),
    )
    sweep.report_completion(retried.order)
    sweep.verify(retried.hazard, passed=False)
    sweep.report_completion(retried.order)
    sweep.verify(retried.hazard, by=ZHANG_MING)
    sweep.close(retried.hazard, by=YU_JIANMING)
    late = sweep.arrange_case(Stage.ACKNOWLEDGED, severity=Severity.MAJOR, site=WAN_PINGYING_SHOP)
    dismissed = sweep.arrange_case(Stage.ORDER_ISSUED, site=HUOGEN_BARBERSHOP)
    app.dismiss_hazard(
        ZHANG_MING,
        dismissed.hazard,
        reason="误报",
        expected_version=sweep.version(dismissed.hazard),
    )
    spot = sweep.arrange_case(Stage.HAZARD_REPORTED)
    app.fix_on_the_spot(
        CHEN_XIAOFENG,
        spot.hazard,
        note="当场补登",
        evidence=[photo("登记表")],
        expected_version=sweep.version(spot.hazard),
    )
    sweep.verify(spot.hazard)
    clock.advance(days=40)
    app.mark_overdue([late.order])
    rows = recorded_rows(app)
    app.close()
    return rows


# -- the measured phases (each in a child process) -------------------------------------------


def phase(name: str, url: str, batch_size: int) -> dict[str, Any]:
    from infrastructure.composition import Services
    from infrastructure.projections import maintenance
    from infrastructure.projections.runner import ProjectionRunner
    from infrastructure.readmodels.store import PROJECTION_NAMES

    services = Services.open(url)
    app, store = services.app, services.read_models
    result: dict[str, Any] = {"phase": name, "projections": {}}
    started = time.perf_counter()
    if name == "rebuild":
        # As ``rectify projections rebuild`` does: one replay of the log feeds
        # every projection; each figure runs from the start to its swap.
        for report in maintenance.rebuild_many(app, store, PROJECTION_NAMES):
            result["projections"][report.name] = {
                "events": report.events,
                "seconds": round(report.seconds, 2),
                "events_per_second": round(report.events_per_second),
            }
    for projection in PROJECTION_NAMES if name != "rebuild" else ():
        t0 = time.perf_counter()
        if name == "catch-up":
            view = store.view(projection)
            with view.write_transaction() as cursor:
                view.clear_in(cursor)
                view.set_position_in(cursor, app.name, None)
            runner = ProjectionRunner(app, store.projection(projection), batch_size=batch_size)
            events = runner.catch_up()
        elif name == "check":
            report = maintenance.check(app, store, projection)
            assert report.ok, report.differences[:3]
            events = report.position or 0
        else:
            raise ValueError(name)
        seconds = time.perf_counter() - t0
        result["projections"][projection] = {
            "events": events,
            "seconds": round(seconds, 2),
            "events_per_second": round(events / seconds) if seconds else None,
        }
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["max_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    services.close()
    return result


def run_phase(name: str, url: str, batch_size: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", name, "--url", url]
    command += ["--batch-size", str(batch_size)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(output.strip().splitlines()[-1])


def report(backend: str, events: int, fill_seconds: float, results: list[dict[str, Any]]) -> None:
    print(f"\n== {backend}: {events:,} events (log filled in {fill_seconds:.0f} s)")
    for result in results:
        print(
            f"  {result['phase']:<9} total {result['seconds']:>8.1f} s, "
            f"peak memory {result['max_rss_mib']:>7.1f} MiB"
        )
        for name, figures in result["projections"].items():
            print(
                f"    {name:<13} {figures['events']:>10,} events in {figures['seconds']:>8.1f} s"
                f" = {figures['events_per_second'] or 0:>8,} events/s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--sqlite-path", default=str(DEFAULT_SQLITE))
    parser.add_argument("--batch-size", type=int, default=1000, help="events per transaction")
    parser.add_argument("--reuse", action="store_true", help="keep a log already there")
    parser.add_argument("--check", action="store_true", help="also time a check")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        print(json.dumps(phase(args.phase, args.url, args.batch_size)))
        return

    backends = ["postgres", "sqlite"] if args.backend == "both" else [args.backend]
    for backend in backends:
        if backend == "postgres":
            url = args.postgres_url
        else:
            Path(args.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{Path(args.sqlite_path).resolve()}"
        started = time.perf_counter()
        fill(url, args.events, args.reuse, template_events)
        fill_seconds = time.perf_counter() - started
        events = event_count(url)
        phases = ["catch-up", "rebuild", *(["check"] if args.check else [])]
        results = [run_phase(name, url, args.batch_size) for name in phases]
        report(backend, events, fill_seconds, results)


if __name__ == "__main__":
    main()
