"""Idempotency-Key: a retried request is not applied twice."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from infrastructure.clock import ManualClock
from infrastructure.composition import build_app, create_idempotency_store, create_user_store
from infrastructure.idempotency import (
    Claim,
    InMemoryIdempotencyStore,
    StoredResponse,
    purge_settings,
)
from interfaces.http.app import create_app
from tests.backends import fresh_postgres_database, sqlite_url_for
from tests.core.scenario import CHEN_XIAOFENG, SWEEP_STARTS, ZHANG_MING, Stage
from tests.http.conftest import FAST_HASHER, Api, add_people, build_api, problem

SITE = {"name": "康顺盲人按摩店", "region": "安义县", "operator": "康顺盲人按摩店店主"}


def test_a_retried_request_is_not_applied_twice(api: Api) -> None:
    first = api.post("/sites", CHEN_XIAOFENG, SITE, key="register-kangshun")
    assert first.status_code == 201
    after_first = api.position()
    retry = api.post("/sites", CHEN_XIAOFENG, SITE, key="register-kangshun")
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["ETag"] == first.headers["ETag"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert api.events_since(after_first) == []


def test_a_retry_is_answered_from_the_key_even_when_its_if_match_is_stale(api: Api) -> None:
    case = api.sweep.arrange_case(Stage.INSPECTION_OPEN)
    path = f"/inspections/{case.inspection_id}/items/mask"
    first = api.post(path, CHEN_XIAOFENG, {"result": "pass"}, if_match=1, key="mask-1")
    before = api.position()
    retry = api.post(path, CHEN_XIAOFENG, {"result": "pass"}, if_match=1, key="mask-1")
    assert (retry.status_code, retry.json()) == (200, first.json())
    assert api.events_since(before) == []


def test_the_same_key_with_another_body_is_422(api: Api) -> None:
    api.post("/sites", CHEN_XIAOFENG, SITE, key="k")
    before = api.position()
    other = api.post("/sites", CHEN_XIAOFENG, {**SITE, "name": "火根神剪理发店"}, key="k")
    problem(other, 422, "idempotency_key_reused")
    elsewhere = api.post("/inspections", CHEN_XIAOFENG, {"site_id": "x"}, key="k")
    problem(elsewhere, 422, "idempotency_key_reused")
    assert api.events_since(before) == []


def test_the_body_is_compared_as_json_not_as_bytes(api: Api) -> None:
    first = api.post("/sites", CHEN_XIAOFENG, SITE, key="k")
    before = api.position()
    reordered = json.dumps(dict(reversed(list(SITE.items()))), indent=2, ensure_ascii=False)
    retry = api.client.post(
        "/sites",
        content=reordered.encode(),
        headers={**api.headers(CHEN_XIAOFENG, key="k"), "Content-Type": "application/json"},
    )
    assert retry.json() == first.json()
    assert api.events_since(before) == []


def test_keys_belong_to_their_user(api: Api) -> None:
    before = api.position()
    mine = api.post("/sites", CHEN_XIAOFENG, SITE, key="same-key")
    theirs = api.post("/sites", ZHANG_MING, SITE, key="same-key")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert api.events_since(before) == ["Site.Registered", "Site.Registered"]


def test_a_refused_request_frees_its_key_for_a_corrected_retry(api: Api) -> None:
    """An error records nothing, so it is not kept: the retry is evaluated afresh."""
    case = api.sweep.arrange_case(Stage.INSPECTION_OPEN)
    path = f"/inspections/{case.inspection_id}/items/mask"
    api.sweep.record(case.inspection_id, "temperature", "pass")
    stale = api.post(path, CHEN_XIAOFENG, {"result": "pass"}, if_match=1, key="mask")
    problem(stale, 412, "stale_version")
    before = api.position()
    fresh = api.post(path, CHEN_XIAOFENG, {"result": "pass"}, if_match=2, key="mask")
    assert fresh.status_code == 200
    assert api.events_since(before) == ["Inspection.ItemRecorded"]


@pytest.mark.parametrize("key", ["", "x" * 256, "钥匙", "with space"])
def test_a_malformed_key_is_400(api: Api, key: str) -> None:
    response = api.client.post(
        "/sites",
        json=SITE,
        headers={**api.headers(CHEN_XIAOFENG), "Idempotency-Key": key.encode("utf-8")},
    )
    problem(response, 400, "idempotency_key_invalid")
    assert api.position() == 0


def test_concurrent_retries_apply_the_command_once(api: Api) -> None:
    """The second retry arrives while the first still runs: it waits, then replays."""
    register = api.rectify.register_site
    entered = threading.Event()

    def slow_register(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        time.sleep(0.3)
        return register(*args, **kwargs)

    api.rectify.register_site = slow_register  # type: ignore[method-assign]
    responses: list[Any] = []

    def send() -> None:
        responses.append(api.post("/sites", CHEN_XIAOFENG, SITE, key="double-click"))

    first = threading.Thread(target=send)
    first.start()
    assert entered.wait(5)
    second = threading.Thread(target=send)
    second.start()
    first.join()
    second.join()
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].json() == responses[1].json()
    assert api.events_since(0) == ["Site.Registered"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def lasting_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that outlives the process: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        yield sqlite_url_for(tmp_path / "rectify.sqlite3")
    else:
        with fresh_postgres_database() as url:
            yield url


def test_keys_survive_a_restart(lasting_url: str) -> None:
    """A new server process on the same database answers a retry from the stored key."""
    database_url = lasting_url
    clock = ManualClock(SWEEP_STARTS)
    first_api, rectify, users = build_api(database_url, clock)
    with first_api.client:
        first = first_api.post("/sites", CHEN_XIAOFENG, SITE, key="before-restart")
        assert first.status_code == 201
    rectify.close()
    users.close()

    users = create_user_store(database_url, hasher=FAST_HASHER)
    rectify = build_app(database_url, clock=clock, passwords=users)
    try:
        app = create_app(rectify, users)
        second_api = Api(app, TestClient(app), clock)
        with second_api.client:
            before = second_api.position()
            retry = second_api.post("/sites", CHEN_XIAOFENG, SITE, key="before-restart")
            assert retry.status_code == 201
            assert retry.json() == first.json()
            assert second_api.events_since(before) == []
    finally:
        rectify.close()
        users.close()


def test_the_store_keeps_answers_on_its_database(database_url: str) -> None:
    """Unit-level: a key is new, answered (replay), or used for another request."""
    store = create_idempotency_store(database_url)
    try:
        assert store.begin("u", "k", "POST /sites", "h1").claim == Claim.STARTED
        stored = StoredResponse(201, [("content-type", "application/json")], b'{"id": 1}')
        store.keep("u", "k", "POST /sites", "h1", stored)
        store.keep("u", "k", "POST /sites", "h1", StoredResponse(201, [], b"second"))
        replay = store.begin("u", "k", "POST /sites", "h1")
        assert (replay.claim, replay.response) == (Claim.REPLAY, stored)  # the first kept wins
        assert store.begin("u", "k", "POST /sites", "h2").claim == Claim.MISMATCH
        assert store.begin("other-user", "k", "POST /sites", "h1").claim == Claim.STARTED
    finally:
        store.close()


def test_purging_forgets_only_old_answered_keys() -> None:
    now = [0.0]
    store = InMemoryIdempotencyStore(clock=lambda: now[0])
    store.keep("u", "old", "POST /sites", "h", StoredResponse(201, [], b""))
    now[0] = 90.0
    store.keep("u", "recent", "POST /sites", "h", StoredResponse(201, [], b""))
    now[0] = 100.0
    assert store.purge(older_than_seconds=50) == 1
    assert store.begin("u", "old", "POST /sites", "h").claim == Claim.STARTED
    assert store.begin("u", "recent", "POST /sites", "h").claim == Claim.REPLAY


def test_the_api_purges_old_answered_keys_by_itself(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With nobody running ``rectify idempotency purge``, the API's own purger
    forgets answered keys older than the window; settings in hours and days."""
    monkeypatch.setenv("RECTIFY_IDEMPOTENCY_PURGE_HOURS", str(0.05 / 3600))  # every 50 ms
    monkeypatch.setenv("RECTIFY_IDEMPOTENCY_KEEP_DAYS", str(30 / 86_400))  # 30 s
    now = [1_000.0]
    store = InMemoryIdempotencyStore(clock=lambda: now[0])
    url = f"sqlite:///{tmp_path / 'rectify.sqlite3'}"
    users = create_user_store(url, hasher=FAST_HASHER)
    add_people(users)
    rectify = build_app(url, clock=clock, passwords=users)
    app = create_app(rectify, users, idempotency=store)
    try:
        with TestClient(app) as client:
            api = Api(app, client, clock)
            first = api.post("/sites", ZHANG_MING, SITE, key="register-once")
            assert first.status_code == 201
            retried = api.post("/sites", ZHANG_MING, SITE, key="register-once")
            assert retried.headers.get("Idempotent-Replayed") == "true"

            now[0] += 31  # past the window: the next round forgets the key
            deadline = time.monotonic() + 5
            while app.state.idempotency_purger.purged == 0:
                assert time.monotonic() < deadline, "the purger never ran"
                time.sleep(0.02)
            again = api.post("/sites", ZHANG_MING, SITE, key="register-once")
            assert again.status_code == 201
            assert "Idempotent-Replayed" not in again.headers
            assert again.json()["id"] != first.json()["id"]
    finally:
        rectify.close()
        users.close()


@pytest.mark.parametrize(
    ("hours", "days", "says"),
    [("daily", "", "must be numbers"), ("-1", "", "between 0"), ("", "1e9", "between 0")],
)
def test_malformed_purge_settings_are_refused(hours: str, days: str, says: str) -> None:
    settings = {"IDEMPOTENCY_PURGE_HOURS": hours, "IDEMPOTENCY_KEEP_DAYS": days}
    with pytest.raises(ValueError, match=says):
        purge_settings(settings.get)
    assert purge_settings({}.get) == (24 * 3600, 7 * 86_400)
