"""How long every list, queue, search, site page and the dashboard take over a
read model of a province: 1,000,000 cases.

    .venv/bin/python benchmarks/read_scale.py                         # PostgreSQL, 1M cases
    .venv/bin/python benchmarks/read_scale.py --cases 100000          # fewer
    .venv/bin/python benchmarks/read_scale.py --reuse                 # keep an earlier fill
    .venv/bin/python benchmarks/read_scale.py --backend sqlite        # a SQLite file
    .venv/bin/python benchmarks/read_scale.py --only dashboard        # the requests named so

A million cases through events would take hours, so the ``rm_*`` tables are
filled directly, in bulk (COPY on PostgreSQL, executemany on SQLite), with rows
shaped as the ``cases`` projection writes them: ~40 cases per site, ~4 per
inspection, two inspectors per inspection, one order per case that needed one,
verifications for the cases verified or closed; regions, severities, statuses,
parties, inspectors and dates spread so that each filter is as selective as in
real data (a few busy sites, most quiet; most cases closed; the open ones
recent). The event log stays empty and the read models' positions unset, so the
server finds nothing to apply and serves the filled rows as they are.

Then ``rectify serve --workers N`` is started on it and each request is made
``--requests`` times, one at a time, as a supervisor, an inspector (张铭's
colleague 陈小峰, on ~1/300 of the teams) and a responsible party (陶表印, ~1/2000
of the orders); p50 and p95 of the time to the last byte are printed.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from console_pages import sign_in  # noqa: E402

from application.demo import CHEN_XIAOFENG, TAO_BIAOYIN, ZHANG_MING, DemoUser  # noqa: E402
from application.projections.formats import ts  # noqa: E402
from infrastructure.readmodels.queries import QUEUES, SORTS  # noqa: E402
from infrastructure.readmodels.schema import LIVE_PREFIX, TABLES, Table  # noqa: E402
from infrastructure.readmodels.sql import POSTGRES, SQLITE  # noqa: E402
from infrastructure.users import create_user_store  # noqa: E402
from interfaces.cli.demo import ensure_demo_users  # noqa: E402
from tests.browser.server import free_port, rectify_command  # noqa: E402

SLOW_MS = 2000.0
TIMEOUT_S = 120
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/rectify_reads_bench"
DEFAULT_SQLITE = ROOT / "var" / "bench-reads.sqlite3"
TIME_ZONE = ZoneInfo("Asia/Shanghai")
# The counties and districts of 南昌 (the seed's city), busiest first.
REGIONS = (
    "南昌县",
    "新建区",
    "青山湖区",
    "红谷滩区",
    "进贤县",
    "西湖区",
    "东湖区",
    "青云谱区",
    "安义县",
    "湾里区",
)
REGION_WEIGHTS = (18, 15, 13, 12, 11, 9, 8, 6, 5, 3)
KINDS = ("盲人按摩店", "康复中心", "托养机构", "辅具店", "培训学校", "社区服务站")
CATEGORIES = ("消防", "用电", "燃气", "疏散通道", "应急照明", "无障碍设施", "卫生")
INSPECTORS = 300  # 陈小峰 is one of them
PARTIES = 2000  # 陶表印 is one of them
CASES_PER_SITE = 25
CASES_PER_INSPECTION = 4
YEARS = 5
# Of the cases: status, share. The open ones are recent (see _case_dates).
STATUSES = (
    ("closed", 0.72),
    ("dismissed", 0.03),
    ("reported", 0.03),
    ("rectifying", 0.12),
    ("awaiting_verification", 0.04),
    ("verified", 0.06),
)


# -- the fill ------------------------------------------------------------------------------


def _uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Fill:
    """The rows of a read model of ``cases`` cases, generated table by table, in
    the column order of :mod:`infrastructure.readmodels.schema`."""

    def __init__(self, cases: int, today: date, seed: int = 13) -> None:
        self.rng = random.Random(seed)
        self.cases = cases
        self.today = today
        self.now = datetime.combine(today, datetime.min.time(), TIME_ZONE).astimezone(UTC)
        self.inspector_ids = [CHEN_XIAOFENG.user_id] + [
            f"inspector{n:03}" for n in range(1, INSPECTORS)
        ]
        self.party_ids = [TAO_BIAOYIN.user_id] + [f"party{n:04}" for n in range(1, PARTIES)]
        sites = max(1, cases // CASES_PER_SITE)
        # A few busy sites, most quiet: each site's weight is drawn from a long tail.
        self.sites = [
            (_uid(self.rng), self.rng.choices(REGIONS, REGION_WEIGHTS)[0], n) for n in range(sites)
        ]
        self.site_weights = [self.rng.paretovariate(1.2) for _ in self.sites]
        self.rows: dict[str, list[tuple[Any, ...]]] = {}

    def site_rows(self) -> Iterator[tuple[Any, ...]]:
        for site_id, region, n in self.sites:
            kind = KINDS[n % len(KINDS)]
            registered = self.now - timedelta(days=YEARS * 366 + self.rng.randrange(365))
            yield (
                site_id,
                f"{region}{kind}{n}号",
                region,
                f"{region}人民路{n}号",
                f"经营者{n}",
                f"1390000{n % 10000:04}",
                kind,
                ts(registered),
            )

    def generate(self) -> dict[str, Iterator[tuple[Any, ...]]]:
        """Every table's rows (the cases' tables drawn together, so they agree)."""
        rng = self.rng
        inspections, inspectors, cases, orders, verifications, history = [], [], [], [], [], []
        site_of_case = rng.choices(range(len(self.sites)), self.site_weights, k=self.cases)
        site_of_case.sort()
        statuses = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES], k=self.cases)
        inspection: tuple[str, str, datetime] | None = None
        in_inspection = 0
        for index in range(self.cases):
            site_id = self.sites[site_of_case[index]][0]
            status = statuses[index]
            reported = self._reported_at(status)
            if (
                inspection is None
                or inspection[1] != site_id
                or in_inspection >= CASES_PER_INSPECTION
            ):
                inspection = (_uid(rng), site_id, reported - timedelta(minutes=30))
                in_inspection = 0
                team = rng.sample(self.inspector_ids, 2)
                still_open = status == "reported" and rng.random() < 0.3
                inspections.append(
                    (
                        inspection[0],
                        site_id,
                        "SAFETY-2022",
                        1,
                        12,
                        "open" if still_open else "completed",
                        ts(inspection[2]),
                        team[0],
                        f"检查员{team[0]}",
                        None if still_open else ts(inspection[2] + timedelta(hours=2)),
                        None,
                    )
                )
                for member, role in zip(team, ("lead", "member"), strict=True):
                    inspectors.append((inspection[0], member, f"检查员{member}", role))
            in_inspection += 1
            case_id = _uid(rng)
            severity = "major" if rng.random() < 0.15 else "general"
            fixed = status == "closed" and rng.random() < 0.1
            order_id = None
            awaiting_since = verified_at = closed_at = dismissed_at = None
            verified_by = None
            last = reported
            if status == "dismissed":
                dismissed_at = reported + timedelta(days=1)
                last = dismissed_at
            elif status != "reported" and not fixed:
                order_id = _uid(rng)
                issued = reported + timedelta(hours=rng.randrange(2, 48))
                deadline = (
                    (issued + timedelta(days=rng.choice((7, 15, 30)))).astimezone(TIME_ZONE).date()
                )
                party = self.party_ids[rng.randrange(PARTIES)]
                acknowledged = issued + timedelta(hours=rng.randrange(1, 72))
                completion = fulfilled = None
                order_status = "issued" if rng.random() < 0.3 else "acknowledged"
                attempts = 2 if rng.random() < 0.08 else 1
                last = acknowledged
                if status in ("awaiting_verification", "verified", "closed"):
                    completion = acknowledged + timedelta(days=rng.randrange(1, 20))
                    order_status = "completion_reported"
                    awaiting_since = completion
                    last = completion
                if status in ("verified", "closed"):
                    order_status = "fulfilled"
                    verified_at = completion + timedelta(days=rng.randrange(1, 5))  # type: ignore[operator]
                    fulfilled = verified_at
                    awaiting_since = None
                    verified_by = rng.choice(self.inspector_ids)
                    for attempt in range(1, attempts + 1):
                        passed = 1 if attempt == attempts else 0
                        at = verified_at - timedelta(days=(attempts - attempt) * 3)
                        verifications.append(
                            (
                                _uid(rng),
                                case_id,
                                order_id,
                                attempt,
                                passed,
                                "合格" if passed else "仍有隐患",
                                ts(at),
                                verified_by,
                                f"检查员{verified_by}",
                            )
                        )
                    last = verified_at
                active = order_status in ("issued", "acknowledged")
                overdue = 1 if active and deadline < self.today else 0
                overdue_ever = overdue or (1 if rng.random() < 0.1 else 0)
                extension = active and not overdue and rng.random() < 0.05
                orders.append(
                    (
                        order_id,
                        case_id,
                        f"整改〔{reported.year}〕{index + 1}号",
                        f"责任人{party}" if party != TAO_BIAOYIN.user_id else TAO_BIAOYIN.name,
                        "13800000000",
                        party,
                        "限期整改",
                        deadline.isoformat(),
                        severity,
                        1 if severity == "major" else 0,
                        order_status,
                        attempts,
                        ts(issued),
                        inspection_team_lead(inspectors, inspection[0]),
                        "检查员",
                        ts(acknowledged),
                        None,
                        overdue,
                        overdue_ever,
                        (deadline + timedelta(days=1)).isoformat() if overdue else None,
                        0,
                        (deadline + timedelta(days=15)).isoformat() if extension else None,
                        "材料未到" if extension else None,
                        ts(acknowledged + timedelta(hours=1)) if extension else None,
                        party if extension else None,
                        ts(completion) if completion else None,
                        ts(fulfilled) if fulfilled else None,
                        None,
                    )
                )
            if status == "closed":
                closed_at = (verified_at or reported) + timedelta(days=rng.randrange(0, 4), hours=2)
                last = closed_at
            cases.append(
                (
                    case_id,
                    site_id,
                    inspection[0],
                    f"I{in_inspection:02}",
                    CATEGORIES[index % len(CATEGORIES)],
                    "灭火器过期",
                    "一楼",
                    severity,
                    status,
                    1 if fixed else 0,
                    ts(reported),
                    reported.astimezone(TIME_ZONE).date().isoformat(),
                    inspection_team_lead(inspectors, inspection[0]),
                    "检查员",
                    order_id if status in ("rectifying", "awaiting_verification") else None,
                    order_id,
                    ts(awaiting_since) if awaiting_since else None,
                    ts(verified_at) if verified_at else None,
                    verified_by,
                    f"检查员{verified_by}" if verified_by else None,
                    ts(closed_at) if closed_at else None,
                    closed_at.astimezone(TIME_ZONE).date().isoformat() if closed_at else None,
                    "zhangming" if closed_at else None,
                    "张铭" if closed_at else None,
                    ts(dismissed_at) if dismissed_at else None,
                    ts(last),
                )
            )
            history.append(
                (
                    index + 1,
                    site_id,
                    case_id,
                    "hazard",
                    case_id,
                    1,
                    "HazardReported",
                    ts(reported),
                    "上报隐患",
                    None,
                    "inspector001",
                    "检查员",
                    "inspector",
                )
            )
        self.rows = {
            "inspections": inspections,
            "inspection_inspectors": inspectors,
            "cases": cases,
            "orders": orders,
            "verifications": verifications,
            "history": history,
            "history_subjects": [(c[0], c[1], c[0]) for c in cases],
        }
        return {"sites": self.site_rows(), **{k: iter(v) for k, v in self.rows.items()}}

    def _reported_at(self, status: str) -> datetime:
        # Closed and dismissed cases spread over the years; open ones are recent.
        days = YEARS * 365 if status in ("closed", "dismissed") else 120
        return self.now - timedelta(seconds=self.rng.randrange(86400, days * 86400))


def inspection_team_lead(inspectors: list[tuple[Any, ...]], inspection_id: str) -> str:
    """The lead of the inspection just added (the last two rows are its team)."""
    lead = inspectors[-2]
    assert lead[0] == inspection_id
    return str(lead[1])


def _tables() -> list[Table]:
    return [table for tables in TABLES.values() for table in tables]


def fill_postgres(url: str, cases: int, today: date) -> None:
    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    fill = Fill(cases, today)
    with psycopg.connect(url, autocommit=True) as conn:
        tables = {t.name: t for t in _tables()}
        for table in tables.values():
            for statement in POSTGRES.ddl(table, LIVE_PREFIX):
                conn.execute(statement)  # type: ignore[arg-type]
        for name_, rows in fill.generate().items():
            columns = ", ".join(tables[name_].column_names)
            with conn.cursor().copy(f"COPY {LIVE_PREFIX}{name_} ({columns}) FROM STDIN") as copy:  # type: ignore[arg-type]
                for row in rows:
                    copy.write_row(row)
        conn.execute("VACUUM ANALYZE")


def fill_sqlite(path: Path, cases: int, today: date) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    fill = Fill(cases, today)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    tables = {t.name: t for t in _tables()}
    for table in tables.values():
        for statement in SQLITE.ddl(table, LIVE_PREFIX):
            conn.execute(statement)
    for name, rows in fill.generate().items():
        table = tables[name]
        marks = ", ".join("?" for _ in table.columns)
        conn.executemany(
            f"INSERT INTO {LIVE_PREFIX}{name} ({', '.join(table.column_names)}) VALUES ({marks})",
            rows,
        )
        conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


# -- the requests --------------------------------------------------------------------------


def sample(url: str) -> dict[str, str]:
    """Ids and values to ask about: the busiest site, a typical one, a region."""
    query = """SELECT site_id, COUNT(*) AS n FROM rm_cases GROUP BY site_id ORDER BY n DESC"""
    if url.startswith("sqlite"):
        conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
        rows = conn.execute(query).fetchall()
        conn.close()
    else:
        with psycopg.connect(url) as pg:
            rows = pg.execute(query).fetchall()  # type: ignore[arg-type]
    return {"busy_site": rows[0][0], "site": rows[len(rows) // 2][0]}


def api_requests(ids: dict[str, str], today: date) -> list[tuple[str, DemoUser, str]]:
    """(label, who, path) for every request the table shows."""
    supervisor, inspector, party = ZHANG_MING, CHEN_XIAOFENG, TAO_BIAOYIN
    year_ago = (today - timedelta(days=365)).isoformat()
    month_ago = (today - timedelta(days=30)).isoformat()
    out: list[tuple[str, DemoUser, str]] = []
    for queue in QUEUES:
        out.append((f"queue {queue} (supervisor)", supervisor, f"/queues/{queue}?limit=20"))
        out.append(
            (f"queue {queue} (inspector, mine)", inspector, f"/queues/{queue}?limit=20&mine=true")
        )
        if queue != "open-inspections":
            out.append((f"queue {queue} (party)", party, f"/queues/{queue}?limit=20"))
    cases = "/cases?limit=20"
    out += [
        ("cases", supervisor, cases),
        ("cases site_id (busiest)", supervisor, f"{cases}&site_id={ids['busy_site']}"),
        ("cases site_id", supervisor, f"{cases}&site_id={ids['site']}"),
        ("cases region", supervisor, f"{cases}&region=安义县"),
        ("cases severity=major", supervisor, f"{cases}&severity=major"),
        ("cases status=rectifying", supervisor, f"{cases}&status=rectifying"),
        ("cases party (name part)", supervisor, f"{cases}&party=陶表印"),
        ("cases party (user id)", supervisor, f"{cases}&party=party0042"),
        (
            "cases reported last year",
            supervisor,
            f"{cases}&reported_from={year_ago}&reported_to={today}",
        ),
        (
            "cases closed last month",
            supervisor,
            f"{cases}&closed_from={month_ago}&closed_to={today}",
        ),
        ("cases region+status", supervisor, f"{cases}&region=安义县&status=rectifying"),
        ("cases mine (inspector)", inspector, f"{cases}&mine=true"),
        ("cases (party)", party, cases),
        ("cases deep page offset=10000", supervisor, f"{cases}&offset=10000"),
        # The same page by cursor: the one the row before it hands out.
        ("cases deep page by cursor (row 10000)", supervisor, f"{cases}&cursor={{cursor}}"),
    ]
    for sort in SORTS:
        for order in ("desc", "asc"):
            out.append(
                (f"cases sort={sort} {order}", supervisor, f"{cases}&sort={sort}&order={order}")
            )
    out += [
        ("sites", supervisor, "/sites?limit=20"),
        ("sites region", supervisor, "/sites?limit=20&region=安义县"),
        ("site history (busiest)", supervisor, f"/sites/{ids['busy_site']}/history?limit=50"),
        ("site history desc", supervisor, f"/sites/{ids['site']}/history?limit=50&order=desc"),
        ("dashboard", supervisor, "/dashboard"),
        ("dashboard region", supervisor, "/dashboard?region=安义县"),
    ]
    return out


def percentile(values: list[float], fraction: float) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def timed(client: httpx.Client, path: str, requests: int, headers: dict[str, str]) -> list[float]:
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
    return timings


def serve(url: str, workers: int, workdir: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log = workdir / "serve.log"
    command = [*rectify_command(), "serve", "--database-url", url, "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("rectify serve exited:\n" + log.read_text(errors="replace")[-3000:])
        try:
            if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                return process, base, log
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise SystemExit("rectify serve did not answer:\n" + log.read_text(errors="replace")[-3000:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--sqlite-path", default=str(DEFAULT_SQLITE))
    parser.add_argument("--reuse", action="store_true", help="keep the read model already there")
    parser.add_argument("--drop", action="store_true", help="drop the PostgreSQL database after")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per line")
    parser.add_argument("--workers", type=int, default=2, help="server workers (PostgreSQL)")
    parser.add_argument("--only", default="", help="only the lines whose label contains this")
    args = parser.parse_args()

    today = datetime.now(TIME_ZONE).date()
    if args.backend == "postgres":
        url = args.postgres_url
        workers = args.workers
    else:
        path = Path(args.sqlite_path).resolve()
        url = f"sqlite:///{path}"
        workers = 1  # a SQLite database is served by one process
    if not args.reuse:
        started = time.perf_counter()
        if args.backend == "postgres":
            fill_postgres(url, args.cases, today)
        else:
            fill_sqlite(path, args.cases, today)
        print(f"filled {args.cases:,} cases in {time.perf_counter() - started:.0f} s")
    users = create_user_store(url)
    try:
        ensure_demo_users(users)
    finally:
        users.close()
    ids = sample(url)

    with tempfile.TemporaryDirectory() as workdir:
        process, base, _log = serve(url, workers, Path(workdir))
        try:
            tokens: dict[str, str] = {}
            print(
                f"\n{args.backend}, {args.cases:,} cases, {workers} worker(s), "
                f"{args.requests} requests per line, one at a time"
            )
            print(f"  {'request':<46} {'p50 ms':>8} {'p95 ms':>8}")
            with httpx.Client(base_url=base, timeout=TIMEOUT_S) as client:
                for label, user, path in api_requests(ids, today):
                    if args.only not in label:
                        continue
                    if user.user_id not in tokens:
                        response = client.post(
                            "/token", data={"username": user.user_id, "password": user.password}
                        )
                        response.raise_for_status()
                        tokens[user.user_id] = response.json()["access_token"]
                    headers = {"Authorization": f"Bearer {tokens[user.user_id]}"}
                    if "{cursor}" in path:
                        before = client.get("/cases?limit=1&offset=9999", headers=headers)
                        path = path.replace("{cursor}", before.json()["next_cursor"])
                    try:
                        warm = timed(client, path, 1, headers)  # connections, plans
                        # A request of seconds is measured a few times, not --requests.
                        count = args.requests if warm[0] < SLOW_MS else 3
                        timings = timed(client, path, count, headers)
                    except httpx.TimeoutException:
                        print(f"  {label[:46]:<46} timed out after {TIMEOUT_S} s", flush=True)
                        continue
                    print(
                        f"  {label[:46]:<46} {statistics.median(timings):>8.1f} "
                        f"{percentile(timings, 0.95):>8.1f}",
                        flush=True,
                    )
            for user in (CHEN_XIAOFENG, TAO_BIAOYIN, ZHANG_MING):
                label = f"console home / ({user.role.value})"
                if args.only not in label:
                    continue
                with httpx.Client(base_url=base, timeout=TIMEOUT_S) as console:
                    sign_in(console, user)
                    timed(console, "/", 2, {})
                    timings = timed(console, "/", args.requests, {})
                    print(
                        f"  {label[:46]:<46} {statistics.median(timings):>8.1f} "
                        f"{percentile(timings, 0.95):>8.1f}",
                        flush=True,
                    )
        finally:
            process.terminate()
            process.wait(timeout=30)
    if args.drop and args.backend == "postgres":
        base_url, _, name = url.rpartition("/")
        with psycopg.connect(f"{base_url}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
