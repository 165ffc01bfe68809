"""The database stops: requests answer 503 at once, and the service carries on
by itself when it returns.

Each test runs on a private PostgreSQL cluster that it stops and starts (never
the shared server).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import psycopg
from fastapi.testclient import TestClient

from tests.core.scenario import CHEN_XIAOFENG
from tests.faults.cluster import PrivateCluster, wait_until
from tests.http.conftest import build_api, problem

SITE = {"name": "陶表印盲人按摩店", "region": "安义县", "operator": "陶表印"}
# What "at once" means: the 2 s, with room for a busy test machine.
BOUND_SECONDS = 2.5
READ_MODELS_RECOVER_SECONDS = 20.0


def timed(send: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


def test_with_the_database_stopped_every_request_is_503_within_the_bound(
    cluster: PrivateCluster, cluster_url: str, clock: Any
) -> None:
    api, rectify, users = build_api(cluster_url, clock)
    try:
        with api.client:
            first = api.post("/sites", CHEN_XIAOFENG, SITE)
            assert first.status_code == 201
            site = first.json()["id"]
            cluster.stop()

            command, took = timed(
                lambda: api.post("/sites", CHEN_XIAOFENG, SITE, key="during-outage")
            )
            assert took < BOUND_SECONDS, took
            problem(command, 503, "database_unavailable")
            assert command.headers["Retry-After"] == "2"
            for path in ("/sites", f"/sites/{site}", "/queues/awaiting-closure"):
                read, took = timed(lambda path=path: api.get(path, CHEN_XIAOFENG))
                assert took < BOUND_SECONDS, (path, took)
                problem(read, 503, "database_unavailable")
            health, took = timed(lambda: api.get("/health", None))
            assert took < BOUND_SECONDS, took
            assert health.status_code == 503
            assert health.json()["status"] == "down"
            assert health.headers["Retry-After"] == "2"
            live, took = timed(lambda: api.get("/health/live", None))
            assert (live.status_code, live.json()) == (200, {"status": "alive"})

            cluster.start()
            before = api.position()
            retry = api.post("/sites", CHEN_XIAOFENG, SITE, key="during-outage")
            assert retry.status_code == 201, retry.text  # the outage recorded nothing
            assert "Idempotent-Replayed" not in retry.headers
            assert api.events_since(before) == ["Site.Registered"]
            # The read models carry on by themselves too: their runners
            # reconnect and catch up (in seconds, on a loaded machine).
            wanted = retry.json()["position"]
            caught_up = wait_until(
                lambda: (
                    "X-Read-Model-Behind"
                    not in api.get(f"/sites?after={wanted}", CHEN_XIAOFENG).headers
                ),
                timeout=READ_MODELS_RECOVER_SECONDS,
            )
            assert caught_up, "the read models did not catch up after the database returned"
            listed = api.get(f"/sites?after={wanted}", CHEN_XIAOFENG)
            assert retry.json()["id"] in {s["site_id"] for s in listed.json()["items"]}
            assert api.get("/health", None).json()["status"] == "ok"
    finally:
        cluster.start()
        rectify.close()
        users.close()


def test_the_database_stopping_after_the_commit_loses_only_the_answer(
    cluster: PrivateCluster, cluster_url: str, clock: Any
) -> None:
    """Committed, then the database went away before the answer: 503; retries
    meanwhile are 503 too; once it is back, the retry replays the commit."""
    api, rectify, users = build_api(cluster_url, clock)
    api.client = TestClient(api.app, raise_server_exceptions=False)
    register = rectify.register_site

    def commit_then_lose_the_database(*args: Any, **kwargs: Any) -> Any:
        rectify.register_site = register  # type: ignore[method-assign]
        register(*args, **kwargs)
        cluster.stop()
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    try:
        with api.client:
            before = api.position()
            rectify.register_site = commit_then_lose_the_database  # type: ignore[method-assign]
            first = api.post("/sites", CHEN_XIAOFENG, SITE, key="commit-then-outage")
            problem(first, 503, "database_unavailable")
            meanwhile = api.post("/sites", CHEN_XIAOFENG, SITE, key="commit-then-outage")
            problem(meanwhile, 503, "database_unavailable")

            cluster.start()
            retry = api.post("/sites", CHEN_XIAOFENG, SITE, key="commit-then-outage")
            assert retry.status_code == 201, retry.text
            assert retry.headers["Idempotent-Replayed"] == "true"
            [event] = api.sweep.events_since(before)
            assert retry.json()["id"] == str(event.originator_id)
            assert retry.json()["position"] == api.position()
    finally:
        cluster.start()
        rectify.close()
        users.close()
