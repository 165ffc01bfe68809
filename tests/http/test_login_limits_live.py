"""Password guesses sent at once to the real server: ``rectify serve`` on SQLite (one
process) and on PostgreSQL (gunicorn, two worker processes sharing the count; two
keep the shared test server's connections in bounds and still cross processes).

- 50 wrong passwords for one account at once: at most five are checked (401),
  the rest are 429 before any check; the right password afterwards is 429 too.
- The same for wrong signatures when closing a case and granting an extension;
  none records an event.
- 100 logins at once with unknown ids keep the p99 of ``GET /health`` from
  another client within :data:`HEALTH_P99_MARGIN_SECONDS` of its idle p99, and
  each is answered (401, or 503 with ``Retry-After``), none left hanging.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from application.app import RectifyApp
from infrastructure.bootstrap import build_app
from infrastructure.clock import ManualClock
from infrastructure.users import create_user_store
from tests.backends import fresh_postgres_database, sqlite_url_for
from tests.cli.live import free_port, wait_for_openapi
from tests.core.scenario import PASSWORDS, SWEEP_STARTS, Case, Stage, Sweep
from tests.http.conftest import FAST_HASHER, add_people

T = TypeVar("T")


def run_apart(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on an event loop of its own thread.

    In a worker that has also run the browser suite, pytest-playwright's
    synchronous API keeps an event loop running in the main thread, where
    ``asyncio.run`` refuses to start another.
    """
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


GUESSES = 50
BURST = 100
# Measured on the 2-CPU development machine, shared with other work (load
# average 3-4), the server using its real Argon2 parameters: with the limits,
# /health's p99 during the burst was 190-230 ms (p50 6-43 ms), on SQLite and on
# PostgreSQL, and the burst was answered within 2.5 s. With the checks left
# unbounded (RECTIFY_PASSWORD_CHECKS=100) the same burst took 54 s to answer
# and /health's p99 was 3.1 s (idle: 25 ms). At load average 18 the limited
# server's p99 reached 1.8 s, its idle p99 being near 1 s: so the bound is the
# idle p99 of the same run plus this margin, which the unbounded server fails.
HEALTH_P99_MARGIN_SECONDS = 1.5
ANSWER_BOUND_SECONDS = 20.0


@dataclass
class Live:
    """A running server, its URL, and an application of the test's on the same database."""

    url: str
    process: subprocess.Popen[str]
    rectify: RectifyApp
    sweep: Sweep
    close_case: Case
    extension_case: Case

    def events_since(self, position: int) -> list[str]:
        return [type(e).__qualname__ for e in self.sweep.events_since(position)]


def _serve(database_url: str, workers: int, cwd: Path, **env: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    rectify = str(Path(sys.executable).with_name("rectify"))
    process = subprocess.Popen(
        [rectify, "serve", "--workers", str(workers), "--port", str(port)],
        cwd=cwd,
        env={**os.environ, "RECTIFY_DATABASE_URL": database_url, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_openapi(url, process)
    return process, url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Live]:
    """The server on each backend, with the sweep's people and two cases waiting to be signed."""
    if request.param == "sqlite":
        url, workers, database = sqlite_url_for(tmp_path / "served.sqlite3"), 1, None
    else:
        database = fresh_postgres_database()
        url, workers = database.__enter__(), 2
    users = create_user_store(url, hasher=FAST_HASHER)
    add_people(users)
    clock = ManualClock(SWEEP_STARTS)
    rectify = build_app(url, clock=clock, passwords=users)
    sweep = Sweep(rectify, clock)
    close_case = sweep.arrange_case(Stage.VERIFIED)
    extension_case = sweep.arrange_case(Stage.ACKNOWLEDGED)
    sweep.request_extension(extension_case.order, date(2022, 5, 9))
    # A generous wait for a check slot: the lockout, not the load limit, is
    # what these tests count, on a machine that may be busy.
    process, base = _serve(url, workers, tmp_path, RECTIFY_PASSWORD_CHECK_WAIT_SECONDS="30")
    try:
        yield Live(base, process, rectify, sweep, close_case, extension_case)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
        rectify.close()
        users.close()
        if database is not None:
            database.__exit__(None, None, None)
    assert "Traceback" not in output, output
    if workers > 1:
        assert output.count("Booting worker") == workers, output


async def _at_once(
    url: str, count: int, method: str, path: str, **kwargs: Any
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        return list(
            await asyncio.gather(*(client.request(method, path, **kwargs) for _ in range(count)))
        )


def _statuses(responses: list[httpx.Response]) -> dict[int, int]:
    codes = [r.status_code for r in responses]
    return {code: codes.count(code) for code in sorted(set(codes))}


def _token(live: Live, user_id: str) -> str:
    response = httpx.post(
        f"{live.url}/token", data={"username": user_id, "password": PASSWORDS[user_id]}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_fifty_wrong_passwords_at_once_get_at_most_five_checks(live: Live) -> None:
    form = {"username": "taobiaoyin", "password": "wrong-password"}

    answers = run_apart(_at_once(live.url, GUESSES, "POST", "/token", data=form))

    statuses = _statuses(answers)
    assert set(statuses) == {401, 429}, statuses
    assert statuses[401] <= 5, statuses
    assert {r.json()["rule"] for r in answers if r.status_code == 429} == {"account_locked"}
    assert all(int(r.headers["Retry-After"]) > 0 for r in answers if r.status_code == 429)
    right = httpx.post(
        f"{live.url}/token", data={**form, "password": PASSWORDS["taobiaoyin"]}, timeout=30
    )
    assert right.status_code == 429, right.text
    assert right.json()["rule"] == "account_locked"


@pytest.mark.parametrize("signed", ["close", "grant"])
def test_fifty_wrong_signatures_at_once_get_at_most_five_checks_and_record_nothing(
    live: Live, signed: str
) -> None:
    if signed == "close":
        signer, case_id = "zhangming", live.close_case.hazard
        path, reason = f"/cases/{case_id}/close", "复查合格，准予销号"
        aggregate = case_id
    else:
        signer, case_id = "yujianming", live.extension_case.hazard
        path, reason = f"/orders/{live.extension_case.order}/extension-requests/grant", "理由充分"
        aggregate = live.extension_case.order
    headers = {
        "Authorization": f"Bearer {_token(live, signer)}",
        "If-Match": f'"{live.sweep.version(aggregate)}"',
    }
    before = live.sweep.log_position()

    answers = run_apart(
        _at_once(
            live.url,
            GUESSES,
            "POST",
            path,
            json={"reason": reason, "password": "not-the-signers"},
            headers=headers,
        )
    )

    statuses = _statuses(answers)
    assert set(statuses) == {403, 429}, statuses
    assert statuses[403] <= 5, statuses
    assert {r.json()["rule"] for r in answers if r.status_code == 403} == {"signature_rejected"}
    assert {r.json()["rule"] for r in answers if r.status_code == 429} == {"account_locked"}
    right = httpx.post(
        f"{live.url}{path}",
        json={"reason": reason, "password": PASSWORDS[signer]},
        headers=headers,
        timeout=30,
    )
    assert right.status_code == 429, right.text
    assert live.events_since(before) == []
    if signed == "close":
        assert live.rectify.get_hazard(case_id).status == "verified"
    else:
        assert live.rectify.get_order(aggregate).pending_extension is not None


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _idle_health(url: str, seconds: float = 2.0) -> list[float]:
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            (await client.get("/health")).raise_for_status()
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)
    return latencies


async def _burst_and_watch_health(url: str) -> tuple[list[httpx.Response], list[float], float]:
    """100 logins with unknown ids at once, while another client asks /health in turn."""
    done = asyncio.Event()
    latencies: list[float] = []

    async def watch() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            while not done.is_set() or len(latencies) < 20:
                started = time.perf_counter()
                response = await client.get("/health")
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 200
                await asyncio.sleep(0.02)

    async def burst() -> tuple[list[httpx.Response], float]:
        limits = httpx.Limits(max_connections=BURST, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            started = time.perf_counter()
            answers = await asyncio.gather(
                *(
                    client.post(
                        "/token",
                        data={"username": f"guess-{secrets.token_hex(6)}", "password": "guess"},
                    )
                    for _ in range(BURST)
                )
            )
            elapsed = time.perf_counter() - started
        done.set()
        return list(answers), elapsed

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    answers, elapsed = await burst()
    await watcher
    return answers, latencies, elapsed


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server_with_default_limits(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The server as deployed: real Argon2, a slot per CPU, a one-second wait for one."""
    if request.param == "sqlite":
        url, workers, database = sqlite_url_for(tmp_path / "served.sqlite3"), 1, None
    else:
        database = fresh_postgres_database()
        url, workers = database.__enter__(), 2
    users = create_user_store(url)
    add_people(users)
    users.close()
    environment = {"RECTIFY_PASSWORD_CHECKS": "", "RECTIFY_PASSWORD_CHECK_WAIT_SECONDS": ""}
    process, base = _serve(url, workers, tmp_path, **environment)
    try:
        yield base
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
        if database is not None:
            database.__exit__(None, None, None)
    assert "Traceback" not in output and "WORKER TIMEOUT" not in output, output


def test_a_burst_of_logins_with_unknown_ids_leaves_health_answering(
    server_with_default_limits: str,
) -> None:
    """Each burst's answers must be right; its /health p99 within the bound in one
    of two bursts: a machine shared with other work can stall any one request
    (seen at load average 40), while logins that starved the server would fail
    both, as the unbounded server does every time."""
    measured = []
    for _ in range(2):
        idle = _percentile(run_apart(_idle_health(server_with_default_limits)), 0.99)
        answers, latencies, elapsed = run_apart(_burst_and_watch_health(server_with_default_limits))
        statuses = _statuses(answers)
        assert set(statuses) <= {401, 503}, statuses
        assert statuses.get(401, 0) >= 1, statuses
        for answer in answers:
            if answer.status_code == 503:
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert answer.json()["rule"] == "password_checks_busy"
                assert int(answer.headers["Retry-After"]) >= 1
        assert elapsed < ANSWER_BOUND_SECONDS, f"the burst took {elapsed:.1f} s to be answered"
        p50, p99 = statistics.median(latencies), _percentile(latencies, 0.99)
        print(f"/health: idle p99 {idle * 1000:.0f} ms; during the burst p50 {p50 * 1000:.0f} ms,")
        print(f"  p99 {p99 * 1000:.0f} ms; answers {statuses} in {elapsed:.1f} s")
        measured.append((idle, p50, p99))
        if p99 <= idle + HEALTH_P99_MARGIN_SECONDS:
            return
        time.sleep(1)  # the Retry-After the refused logins were given
    raise AssertionError(f"/health p99 over its bound in both bursts (idle, p50, p99): {measured}")
