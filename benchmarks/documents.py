"""Documents: how long a notice takes to make and render, and how fast (and in how
much memory) the hazard ledger is exported for many cases.

1. The demo (安义县残联, April 2022) is loaded into a fresh database and projected.
   Each of its orders' notices is made from the events and rendered to PDF,
   ``--renders`` times in all: p50 / p95 of making (from the log, with the chain
   head) and of rendering (WeasyPrint), and of the two together.
2. The read model is filled to ``--cases`` cases with copies of the demo's case,
   order and verification rows (fresh ids, bulk-inserted: projecting that many
   cases from events would time the projections, not the ledger). The ledger of
   every case is then exported as .xlsx and as .csv, each in a child process
   whose peak resident memory is reported; the same export of a tenth of the
   cases shows whether memory grows with the rows.

    python benchmarks/documents.py [--cases 100000] [--renders 60] [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from application.audit.describe import topics_for  # noqa: E402
from application.projections.access import Scope  # noqa: E402
from infrastructure.composition import Services  # noqa: E402
from infrastructure.documents.ledger import write_csv, write_xlsx  # noqa: E402
from infrastructure.documents.pdf import render_pdf  # noqa: E402
from infrastructure.projections.runner import ProjectionRunner  # noqa: E402
from infrastructure.readmodels.queries import CaseFilter  # noqa: E402
from interfaces.cli.demo import load_demo_data  # noqa: E402

DEFAULT_POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
INSERT_BATCH = 5_000


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


# -- 1. notices ---------------------------------------------------------------------------------


def time_notices(url: str, renders: int) -> dict[str, Any]:
    services = Services.open(url)
    documents = services.documents
    orders = [
        uuid.UUID(str(n.originator_id))
        for n in documents.audit.notifications(topics=topics_for(("RectificationOrder.Issued",)))
    ]
    made, rendered, total = [], [], []
    pages = 0
    for index in range(renders):
        t0 = time.perf_counter()
        document = documents.notice(orders[index % len(orders)])
        t1 = time.perf_counter()
        pdf = render_pdf(document, issuing_unit="安义县残疾人联合会")
        t2 = time.perf_counter()
        made.append(t1 - t0)
        rendered.append(t2 - t1)
        total.append(t2 - t0)
        pages += pdf.count(b"/Type /Page\n") or pdf.count(b"/Type/Page")
    services.close()
    return {
        "renders": renders,
        "orders": len(orders),
        "make": (statistics.median(made), percentile(made, 0.95)),
        "render": (statistics.median(rendered), percentile(rendered, 0.95)),
        "total": (statistics.median(total), percentile(total, 0.95)),
    }


# -- 2. the read model, filled ------------------------------------------------------------------


def _rows(cursor: Any, sql: str) -> list[dict[str, Any]]:
    cursor.execute(sql)
    return [dict(row) for row in cursor.fetchall()]


def fill_read_model(url: str, cases: int) -> int:
    """Copy the projected demo cases (with their orders and verifications) until
    ``cases`` cases are in ``rm_cases``; returns how many there are."""
    services = Services.open(url)
    app = services.app
    store = services.read_models
    ProjectionRunner(app, store.projection("cases"), batch_size=1000).catch_up()
    postgres = store.is_postgres
    mark = "%s" if postgres else "?"
    with store.datastore.transaction(commit=True) as cursor:
        template_cases = _rows(cursor, "SELECT * FROM rm_cases ORDER BY case_id")
        template_orders = _rows(cursor, "SELECT * FROM rm_orders ORDER BY order_id")
        template_verifications = _rows(cursor, "SELECT * FROM rm_verifications")
        have = len(template_cases)
        copy = 0
        while have < cases:
            batch: dict[str, list[tuple[Any, ...]]] = {
                "cases": [],
                "orders": [],
                "verifications": [],
            }
            while have < cases and len(batch["cases"]) < INSERT_BATCH:
                copy += 1
                fresh: dict[str, str] = {}

                def new(old: str | None, fresh: dict[str, str] = fresh, copy: int = copy) -> Any:
                    if old is None:
                        return None
                    return fresh.setdefault(old, str(uuid.uuid5(uuid.UUID(old), str(copy))))

                for row in template_cases:
                    if have >= cases:
                        break
                    batch["cases"].append(
                        tuple(
                            new(v) if k in ("case_id", "open_order_id", "latest_order_id") else v
                            for k, v in row.items()
                        )
                    )
                    have += 1
                for row in template_orders:
                    if row["case_id"] in fresh:
                        batch["orders"].append(
                            tuple(
                                new(v)
                                if k in ("order_id", "case_id")
                                else f"{v}-{copy}"
                                if k == "number"
                                else v
                                for k, v in row.items()
                            )
                        )
                for row in template_verifications:
                    if row["case_id"] in fresh:
                        batch["verifications"].append(
                            tuple(
                                new(v) if k in ("verification_id", "case_id", "order_id") else v
                                for k, v in row.items()
                            )
                        )
            for table, template in (
                ("cases", template_cases),
                ("orders", template_orders),
                ("verifications", template_verifications),
            ):
                if batch[table] and template:
                    columns = ", ".join(template[0])
                    marks = ", ".join(mark for _ in template[0])
                    cursor.executemany(
                        f"INSERT INTO rm_{table} ({columns}) VALUES ({marks})", batch[table]
                    )
    store.close()
    services.close()
    return have


# -- 3. the ledger, in a child process each -----------------------------------------------------


def export_phase(url: str, fmt: str, limit: int | None) -> dict[str, Any]:
    services = Services.open(url)
    app = services.app
    queries = services.queries
    rows = queries.iter_ledger(Scope(), CaseFilter(), sort="reported_at")
    if limit is not None:
        rows = itertools.islice(rows, limit)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"ledger.{fmt}"
        started = time.perf_counter()
        if fmt == "xlsx":
            count = write_xlsx(rows, path, lang="zh", time_zone=app.time_zone)
        else:
            with path.open("w", encoding="utf-8-sig", newline="") as stream:
                count = write_csv(rows, stream, lang="zh", time_zone=app.time_zone)
        seconds = time.perf_counter() - started
        size = path.stat().st_size
    services.close()
    return {
        "format": fmt,
        "rows": count,
        "seconds": round(seconds, 2),
        "rows_per_second": round(count / seconds) if seconds else None,
        "size_mib": round(size / 2**20, 1),
        "max_rss_mib": round(peak_memory_kib() / 1024, 1),
    }


def peak_memory_kib() -> int:
    """This process's peak resident memory. VmHWM, not getrusage's ru_maxrss: Linux
    carries ru_maxrss over from the parent across fork and exec, and the parent
    here has rendered PDFs, which take far more than an export."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_export(url: str, fmt: str, limit: int | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", fmt, "--url", url]
    if limit is not None:
        command += ["--limit", str(limit)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


# -- main -----------------------------------------------------------------------------------------


def fresh_database(backend: str, scratch: Path, admin: str) -> tuple[str, Any]:
    """A new database: a SQLite file in ``scratch``, or a PostgreSQL database dropped at the end."""
    if backend == "sqlite":
        return f"sqlite:///{scratch / 'documents.sqlite3'}", None
    import psycopg
    from psycopg import sql

    name = f"rectify_bench_documents_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    return admin.rsplit("/", 1)[0] + "/" + name, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--renders", type=int, default=60)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-admin-url", default=DEFAULT_POSTGRES_ADMIN)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        print(json.dumps(export_phase(args.url, args.phase, args.limit)))
        return

    with tempfile.TemporaryDirectory() as scratch:
        url, drop = fresh_database(args.backend, Path(scratch), args.postgres_admin_url)
        try:
            load_demo_data(url)
            print(
                f"== documents benchmark on {args.backend} (load average {os.getloadavg()[0]:.1f})"
            )
            notices = time_notices(url, args.renders)
            print(f"notice, {notices['renders']} renders of the demo's {notices['orders']} orders:")
            for name in ("make", "render", "total"):
                p50, p95 = notices[name]
                print(f"  {name:<7} p50 {ms(p50):>7}   p95 {ms(p95):>7}")
            started = time.perf_counter()
            cases = fill_read_model(url, args.cases)
            print(f"read model filled to {cases:,} cases in {time.perf_counter() - started:.0f} s")
            print("ledger export (each in a child process; peak = its maximum resident memory):")
            for fmt in ("xlsx", "csv"):
                for limit in (cases // 10, None):
                    result = run_export(url, fmt, limit)
                    print(
                        f"  {fmt:<4} {result['rows']:>8,} rows in {result['seconds']:>6.1f} s"
                        f" = {result['rows_per_second'] or 0:>7,} rows/s,"
                        f" {result['size_mib']:>6.1f} MiB file,"
                        f" peak {result['max_rss_mib']:>6.1f} MiB"
                    )
        finally:
            if drop is not None:
                drop()


if __name__ == "__main__":
    main()
