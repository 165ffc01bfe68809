"""The event feed: the log in commit order from a position, for auditors,
supervisors and integration keys; paged under concurrent writers it is the log."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from application.app import RectifyApp
from application.integration.events import event_id
from domain.errors import InvalidCommand
from infrastructure.clock import ManualClock
from infrastructure.composition import build_app
from infrastructure.integration.services import Integration
from tests.core.scenario import (
    CHEN_XIAOFENG,
    LIU_FANG,
    SITES,
    SWEEP_STARTS,
    TAO_BIAOYIN,
    ZHANG_MING,
    FakePasswords,
    Sweep,
)
from tests.integration.conftest import bearer, catch_up_outbox
from tests.integration.workload import run_commands

WRITERS = 8


def read_all(client: TestClient, headers: dict[str, str], limit: int = 7) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = client.get("/feed", params={"after": after, "limit": limit}, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        if not body["events"]:
            assert body["next_after"] == after
            return events
        events += body["events"]
        after = body["next_after"]


def test_the_feed_pages_the_log_in_commit_order_with_every_field(
    client: TestClient, app: RectifyApp, sweep: Sweep
) -> None:
    case = sweep.site()
    run_commands(sweep, 20)
    events = read_all(client, bearer(client, LIU_FANG.user_id))
    notifications = list(app.recorder.select_notifications(start=1, limit=1000))
    assert [e["position"] for e in events] == [n.id for n in notifications]
    first = events[0]
    assert first["type"] == "Site.Registered"
    assert first["aggregate"] == {"id": str(case), "type": "site"}
    assert first["id"] == str(event_id(case, 1))
    assert first["actor"] == {"id": "chenxiaofeng", "name": "陈小峰", "role": "inspector"}
    assert first["data"]["name"] == "陶表印盲人按摩店"
    hazard = next(e for e in events if e["type"] == "Hazard.Reported")
    order = next(e for e in events if e["type"] == "RectificationOrder.Issued")
    # An order's events carry their case: the hazard they are for.
    assert order["case_id"] == hazard["case_id"] == hazard["aggregate"]["id"]
    acknowledged = next(e for e in events if e["type"] == "RectificationOrder.Acknowledged")
    assert acknowledged["case_id"] == hazard["case_id"]


def test_a_reader_at_the_head_waits_for_the_next_event(
    client: TestClient, app: RectifyApp, sweep: Sweep
) -> None:
    sweep.site()
    head = app.recorder.max_notification_id()
    headers = bearer(client, ZHANG_MING.user_id)
    timer = threading.Timer(0.3, lambda: sweep.site(list(SITES)[1]))
    timer.start()
    started = time.monotonic()
    page = client.get("/feed", params={"after": head, "wait": 5}, headers=headers).json()
    timer.join()
    assert 0.2 < time.monotonic() - started < 4.5
    assert [e["type"] for e in page["events"]] == ["Site.Registered"]
    assert page["next_after"] == page["events"][0]["position"] > head
    # With nothing new, a wait ends empty at its time.
    empty = client.get(
        "/feed", params={"after": page["next_after"], "wait": 0.2}, headers=headers
    ).json()
    assert empty["events"] == [] and empty["next_after"] == page["next_after"]


@pytest.mark.parametrize("who", [CHEN_XIAOFENG, TAO_BIAOYIN])
def test_inspectors_and_parties_may_not_read_the_feed(client: TestClient, who: Any) -> None:
    answer = client.get("/feed", headers=bearer(client, who.user_id))
    assert answer.status_code == 403
    assert answer.json()["rule"] == "role_not_permitted"


def test_an_integration_key_reads_the_feed_only_until_revoked(
    client: TestClient, integration: Integration, sweep: Sweep
) -> None:
    sweep.site()
    _key, text = integration.keys.create("county-oa", created_by="operator:test")
    headers = {"Authorization": f"Bearer {text}"}
    events = read_all(client, headers)
    assert [e["type"] for e in events] == ["Site.Registered"]
    # Nothing else: not a read model, not a command (and the command records nothing).
    head = integration.feed.head()
    assert client.get("/sites", headers=headers).status_code == 403
    refused = client.post(
        "/sites", headers=headers, json={"name": "x", "region": "安义县", "address": "y"}
    )
    assert refused.status_code == 403
    assert refused.json()["rule"] == "integration_key_reads_only_feed"
    assert integration.feed.head() == head
    assert client.get("/webhooks/subscriptions", headers=headers).status_code == 403
    # A wrong secret for a real key id, and then a revoked key, are 401.
    forged = text[:-4] + ("AAAA" if not text.endswith("AAAA") else "BBBB")
    assert client.get("/feed", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert integration.keys.revoke("county-oa") == 1
    answer = client.get("/feed", headers=headers)
    assert answer.status_code == 401
    assert [k.revoked_at is not None for k in integration.keys.list()] == [True]


def test_a_page_nobody_could_mean_is_refused(client: TestClient, integration: Integration) -> None:
    headers = bearer(client, LIU_FANG.user_id)
    for params in ({"limit": 0}, {"limit": 1001}, {"after": -1}, {"wait": 31}):
        answer = client.get("/feed", params=params, headers=headers)
        assert answer.status_code == 422, params
    with pytest.raises(InvalidCommand):
        integration.feed.page(after=0, limit=0)
    ahead = client.get("/feed", params={"after": 10**6, "wait": 5}, headers=headers)
    assert ahead.status_code == 422 and ahead.json()["rule"] == "log_position_ahead"


def test_the_feed_paged_from_zero_under_eight_concurrent_writers_equals_the_log(
    url: str, integration: Integration, app: RectifyApp
) -> None:
    """Each writer runs its own application (its own connections), as separate
    API processes would; a reader pages the feed from 0 all the while."""
    errors: list[BaseException] = []
    done = threading.Event()

    def write(n: int) -> None:
        writer = build_app(url, clock=ManualClock(SWEEP_STARTS), passwords=FakePasswords())
        try:
            run_commands(Sweep(writer, ManualClock(SWEEP_STARTS)), 25)
        except BaseException as error:
            errors.append(error)
        finally:
            writer.close()

    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in writers:
        thread.start()
    read: list[dict[str, Any]] = []
    after = 0
    waker = threading.Thread(target=lambda: ([t.join() for t in writers], done.set()))
    waker.start()
    while True:
        finished = done.is_set()
        page = integration.feed.page(after=after, limit=13)
        read += page.events
        after = page.next_after
        if finished and not page.events:
            break
    waker.join()
    assert not errors, errors
    log = list(app.recorder.select_notifications(start=1, limit=100_000))
    assert len(log) >= WRITERS * 25
    assert [e["position"] for e in read] == [n.id for n in log]
    assert len({e["id"] for e in read}) == len(read)


def test_health_shows_the_integration_followers_position_and_lag(
    client: TestClient, integration: Integration, sweep: Sweep
) -> None:
    sweep.site()
    health = client.get("/health").json()
    before = {f["name"]: f for f in health["followers"]}
    assert before["webhook_outbox"]["kind"] == "log"
    assert before["webhook_outbox"]["lag"] == health["head"] > 0
    assert before["webhook_delivery"]["kind"] == before["reminders"]["kind"] == "periodic"
    catch_up_outbox(integration)
    health = client.get("/health").json()
    after = {f["name"]: f for f in health["followers"]}
    assert after["webhook_outbox"]["lag"] == 0
    assert after["webhook_outbox"]["position"] == health["head"]
