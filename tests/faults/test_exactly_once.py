"""A retried command is applied once, whatever failed between its commit and its answer.

The answer of a keyed command is committed in the transaction of its events, so a
retry after any crash finds it and replays it (``Idempotent-Replayed: true``) —
at once, with no lease to wait out — and the log holds the command's events once.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from infrastructure.bootstrap import build_app
from infrastructure.persistence import environment_for
from infrastructure.users import create_user_store
from interfaces.http.app import create_app
from tests.core.scenario import CHEN_XIAOFENG, Stage
from tests.http.conftest import FAST_HASHER, Api, build_api, problem

SITE = {"name": "康顺盲人按摩店", "region": "安义县", "operator": "康顺盲人按摩店店主"}


class ProcessDied(Exception):
    """Stands for the process dying: nothing after the commit runs."""


@pytest.fixture
def faulty_api(lasting_url: str, clock: Any) -> Iterator[Api]:
    """The API on a lasting database; server errors are answered, not raised."""
    api, rectify, users = build_api(lasting_url, clock)
    api.client = TestClient(api.app, raise_server_exceptions=False)
    with api.client:
        yield api
    rectify.close()
    users.close()


def fail_after_commit(api: Api, use_case: str, failure: Callable[[], BaseException]) -> None:
    """Make the next call of ``use_case`` commit its events, then fail with ``failure()``."""
    original = getattr(api.rectify, use_case)

    def committing_then_failing(*args: Any, **kwargs: Any) -> Any:
        setattr(api.rectify, use_case, original)  # once: the retry runs normally
        original(*args, **kwargs)
        raise failure()

    setattr(api.rectify, use_case, committing_then_failing)


def disconnect(url: str) -> BaseException:
    """Cut the app's connections to its database, and the error a request then meets."""
    env = environment_for(url)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        with psycopg.connect(
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"],
            dbname="postgres",
            autocommit=True,
        ) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (env["POSTGRES_DBNAME"],),
            )
        return psycopg.OperationalError("server closed the connection unexpectedly")
    return sqlite3.OperationalError("database is locked")


def assert_replays_the_one_registration(api: Api, retry: Any, before: int) -> None:
    assert retry.status_code == 201, retry.text
    assert retry.headers["Idempotent-Replayed"] == "true"
    [event] = api.sweep.events_since(before)
    assert type(event).__qualname__ == "Site.Registered"
    body = retry.json()
    assert body["id"] == str(event.originator_id)
    assert body["version"] == 1
    assert body["position"] == api.position()
    assert retry.headers["ETag"] == '"1"'
    assert retry.headers["X-Log-Position"] == str(api.position())
    assert retry.headers["Location"] == f"/sites/{event.originator_id}"
    assert api.rectify.get_site(event.originator_id).name == SITE["name"]


def test_a_crash_between_commit_and_answer_is_replayed_at_once(faulty_api: Api) -> None:
    api = faulty_api
    before = api.position()
    fail_after_commit(api, "register_site", lambda: ProcessDied())

    first = api.post("/sites", CHEN_XIAOFENG, SITE, key="crash-after-commit")
    problem(first, 500, "internal_error")
    assert first.headers["Connection"] == "close"

    retry = api.post("/sites", CHEN_XIAOFENG, SITE, key="crash-after-commit")
    assert_replays_the_one_registration(api, retry, before)
    again = api.post("/sites", CHEN_XIAOFENG, SITE, key="crash-after-commit")
    assert (again.status_code, again.json()) == (201, retry.json())
    assert len(api.sweep.events_since(before)) == 1


def test_a_database_disconnect_after_commit_is_a_503_and_the_retry_replays(
    faulty_api: Api, lasting_url: str
) -> None:
    api = faulty_api
    before = api.position()
    fail_after_commit(api, "register_site", lambda: disconnect(lasting_url))

    first = api.post("/sites", CHEN_XIAOFENG, SITE, key="disconnect-after-commit")
    problem(first, 503, "database_unavailable")
    assert first.headers["Retry-After"] == "2"

    retry = api.post("/sites", CHEN_XIAOFENG, SITE, key="disconnect-after-commit")
    assert_replays_the_one_registration(api, retry, before)


def test_a_change_whose_answer_was_lost_replays_its_version(faulty_api: Api) -> None:
    api = faulty_api
    case = api.sweep.arrange_case(Stage.INSPECTION_OPEN)
    path = f"/inspections/{case.inspection_id}/items/mask"
    version = api.version(case.inspection_id)
    before = api.position()
    fail_after_commit(api, "record_item", lambda: ProcessDied())

    first = api.post(path, CHEN_XIAOFENG, {"result": "pass"}, if_match=version, key="mask")
    assert first.status_code == 500
    # The If-Match is stale now, but the key answers first.
    retry = api.post(path, CHEN_XIAOFENG, {"result": "pass"}, if_match=version, key="mask")

    assert retry.status_code == 200, retry.text
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert api.events_since(before) == ["Inspection.ItemRecorded"]
    assert retry.json()["version"] == version + 1 == api.version(case.inspection_id)
    assert retry.headers["ETag"] == f'"{version + 1}"'
    assert api.rectify.get_inspection(case.inspection_id).version == version + 1


def test_the_answer_kept_with_the_events_is_the_answer_given(faulty_api: Api) -> None:
    """The replay is the first response byte for byte: status, body and headers."""
    api = faulty_api
    first = api.post("/sites", CHEN_XIAOFENG, SITE, key="same-bytes")
    retry = api.post("/sites", CHEN_XIAOFENG, SITE, key="same-bytes")
    assert retry.status_code == first.status_code == 201
    assert retry.content == first.content
    for header in ("Content-Type", "Location", "ETag", "X-Log-Position", "Content-Length"):
        assert retry.headers[header] == first.headers[header]


def test_two_processes_racing_one_key_apply_it_once(lasting_url: str, clock: Any) -> None:
    """Two API processes get the same request at once: one commits, the other's
    events roll back with its key's row, and it answers the first's response."""
    first_api, first_app, first_users = build_api(lasting_url, clock)
    second_users = create_user_store(lasting_url, hasher=FAST_HASHER)  # the same accounts
    second_app = build_app(lasting_url, clock=clock, passwords=second_users)
    second_http = create_app(second_app, second_users)
    second_api = Api(second_http, TestClient(second_http), clock)
    first_committed = threading.Event()
    register = second_app.register_site

    def after_the_first(*args: Any, **kwargs: Any) -> Any:
        assert first_committed.wait(10)
        return register(*args, **kwargs)

    second_app.register_site = after_the_first  # type: ignore[method-assign]
    answers: dict[str, Any] = {}
    try:
        with first_api.client, second_api.client:
            before = first_api.position()
            racing = threading.Thread(
                target=lambda: answers.update(
                    second=second_api.post("/sites", CHEN_XIAOFENG, SITE, key="race")
                )
            )
            racing.start()
            answers["first"] = first_api.post("/sites", CHEN_XIAOFENG, SITE, key="race")
            first_committed.set()
            racing.join(15)
            assert answers["first"].status_code == 201, answers["first"].text
            assert answers["second"].status_code == 201, answers["second"].text
            assert answers["second"].headers["Idempotent-Replayed"] == "true"
            assert answers["second"].json() == answers["first"].json()
            assert first_api.events_since(before) == ["Site.Registered"]
    finally:
        for closing in (first_app, second_app, first_users, second_users):
            closing.close()
