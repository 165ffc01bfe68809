"""The audit over HTTP: auditors read everything and change nothing; the log and its
export are for auditors and supervisors; bad questions are clear 4xx problems."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from application.audit import ProblemKind
from infrastructure.clock import ManualClock
from infrastructure.composition import build_audit
from tests.audit.tamper import tamperer_for
from tests.backends import POPO_URL
from tests.core.scenario import (
    CHEN_XIAOFENG,
    LIU_FANG,
    TAO_BIAOYIN,
    ZHANG_MING,
    Case,
    Stage,
)
from tests.http.conftest import Api, build_api, problem

AUDITOR = LIU_FANG


@contextmanager
def api_on(url: str, clock: ManualClock) -> Iterator[Api]:
    """The API on ``url``, its lifespan (and the chain's projection) running."""
    api, rectify, users = build_api(url, clock)
    try:
        with api.client:
            yield api
    finally:
        rectify.close()
        users.close()


@pytest.fixture
def api(clock: ManualClock) -> Iterator[Api]:
    """The API on the in-memory store."""
    with api_on(POPO_URL, clock) as running:
        yield running


@pytest.fixture
def backend_api(database_url: str, clock: ManualClock) -> Iterator[Api]:
    """The API, once per backend."""
    with api_on(database_url, clock) as running:
        yield running


def closed_case(api: Api) -> Case:
    """A general case taken to closed, an hour between steps after the report."""
    case = api.sweep.arrange_case(Stage.ORDER_ISSUED)
    for step in (api.sweep.acknowledge, api.sweep.report_completion):
        api.clock.advance(hours=1)
        step(case.order)
    api.clock.advance(hours=1)
    api.sweep.verify(case.hazard)
    api.clock.advance(hours=1)
    api.sweep.close(case.hazard)
    return case


def test_an_auditor_fetches_any_cases_timeline_over_http(backend_api: Api) -> None:
    api = backend_api
    case = closed_case(api)
    response = api.get(f"/audit/cases/{case.hazard}/timeline", AUDITOR)
    assert response.status_code == 200, response.text
    entries = response.json()["entries"]
    positions = [e["position"] for e in entries]
    assert positions == sorted(positions)
    types = [e["event_type"] for e in entries]
    assert types[0] == "Inspection.Opened"
    assert types[-1] == "Hazard.Closed"
    assert "RectificationOrder.Acknowledged" in types and "Verification.Performed" in types
    closed = entries[-1]
    assert closed["actor"] == {"id": "zhangming", "name": "张铭", "role": "supervisor"}
    assert closed["reason"] == "复查合格，准予销号"
    assert "销号" in closed["sentence"]["zh"] and "closed the case" in closed["sentence"]["en"]
    assert {"field": "status", "old": "verified", "new": "closed"} in closed["changes"]


def test_a_timeline_with_states_replays_the_case_step_by_step(api: Api) -> None:
    case = closed_case(api)
    response = api.get(
        f"/audit/cases/{case.hazard}/timeline", AUDITOR, params={"include_state": "true"}
    )
    assert response.status_code == 200, response.text
    statuses = [
        e["case_state"]["hazard"]["state"]["status"] if e["case_state"]["hazard"] else None
        for e in response.json()["entries"]
    ]
    assert statuses[0] is None  # the inspection opened before the hazard was reported
    assert statuses[-1] == "closed"
    assert "awaiting_verification" in statuses


def test_an_auditor_fetches_a_cases_state_as_of_a_past_time(backend_api: Api) -> None:
    api = backend_api
    case = api.sweep.arrange_case(Stage.ACKNOWLEDGED)
    acknowledged_at = api.clock()
    api.clock.advance(hours=2)
    api.sweep.report_completion(case.order)
    api.clock.advance(hours=2)
    api.sweep.verify(case.hazard)

    past = api.get(
        f"/audit/cases/{case.hazard}/state",
        AUDITOR,
        params={"as_of": (acknowledged_at + timedelta(hours=1)).isoformat()},
    )
    assert past.status_code == 200, past.text
    body = past.json()
    assert body["hazard"]["state"]["status"] == "rectifying"
    assert [o["state"]["status"] for o in body["orders"]] == ["acknowledged"]
    assert body["verifications"] == []

    now = api.get(f"/audit/cases/{case.hazard}/state", AUDITOR).json()
    assert now["hazard"]["state"]["status"] == "verified"
    assert len(now["verifications"]) == 1

    first = api.get(f"/audit/cases/{case.hazard}/state", AUDITOR, params={"version": 1}).json()
    assert first["hazard"]["version"] == 1
    assert first["hazard"]["state"]["status"] == "reported"
    assert first["orders"] == []


def test_an_auditor_reads_any_aggregate_as_of_a_version(api: Api) -> None:
    case = api.sweep.arrange_case(Stage.ACKNOWLEDGED)
    response = api.get(f"/audit/aggregates/{case.order}", AUDITOR, params={"version": 1})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["type"], body["version"], body["state"]["status"]) == (
        "rectification_order",
        1,
        "issued",
    )


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/sites", {"name": "审计员开的店", "region": "安义县"}),
        ("/cases/{case}/close", {"reason": "审计员想销号", "password": "liufang-2022"}),
        ("/cases/{case}/regrade", {"severity": "major", "reason": "审计员认为重大"}),
        ("/orders/{order}/acknowledge", {}),
        ("/audit/log", {}),
    ],
)
def test_an_auditors_post_anywhere_is_403_and_records_nothing(
    api: Api, path: str, payload: dict
) -> None:
    case = api.sweep.arrange_case(Stage.VERIFIED)
    before = api.position()
    response = api.post(
        path.format(case=case.hazard, order=case.order), AUDITOR, payload, if_match=1
    )
    problem(response, 403)
    assert api.position() == before


@pytest.mark.parametrize("reader", [LIU_FANG, ZHANG_MING], ids=["auditor", "supervisor"])
def test_auditors_and_supervisors_read_the_global_log(api: Api, reader: object) -> None:
    api.sweep.arrange_case(Stage.ORDER_ISSUED)
    response = api.get("/audit/log", reader, params={"limit": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [e["position"] for e in body["entries"]] == [1, 2, 3, 4, 5]
    assert body["next_after"] == 5


@pytest.mark.parametrize("reader", [CHEN_XIAOFENG, TAO_BIAOYIN], ids=["inspector", "party"])
def test_the_global_log_and_its_export_are_refused_to_other_roles(api: Api, reader: object) -> None:
    api.sweep.arrange_case(Stage.HAZARD_REPORTED)
    problem(api.get("/audit/log", reader), 403, "role_not_permitted")
    problem(api.get("/audit/log/export", reader), 403, "role_not_permitted")
    problem(api.get("/audit/chain/verify", reader), 403, "role_not_permitted")


def test_a_responsible_party_may_not_replay_cases(api: Api) -> None:
    case = api.sweep.arrange_case(Stage.ORDER_ISSUED)
    problem(api.get(f"/audit/cases/{case.hazard}/timeline", TAO_BIAOYIN), 403)


def test_the_log_is_filtered_by_actor_type_aggregate_and_time(api: Api) -> None:
    case = api.sweep.arrange_case(Stage.ORDER_ISSUED)
    api.clock.advance(days=1)
    middle = api.clock()
    api.sweep.acknowledge(case.order)

    def page(**params: str) -> list[dict]:
        response = api.get("/audit/log", AUDITOR, params={"limit": 1000, **params})
        assert response.status_code == 200, response.text
        return response.json()["entries"]

    assert {e["actor"]["id"] for e in page(actor="taobiaoyin")} == {"taobiaoyin"}
    assert [e["event_type"] for e in page(type="RectificationOrder.Acknowledged")] == [
        "RectificationOrder.Acknowledged"
    ]
    assert {e["aggregate_id"] for e in page(aggregate=str(case.order))} == {str(case.order)}
    assert [e["event_type"] for e in page(since=middle.isoformat())] == [
        "RectificationOrder.Acknowledged"
    ]
    assert "RectificationOrder.Acknowledged" not in [
        e["event_type"] for e in page(until=(middle - timedelta(seconds=1)).isoformat())
    ]


def test_an_export_read_back_has_the_same_count_and_content_as_the_log(api: Api) -> None:
    closed_case(api)
    notifications = api.rectify.recorder.select_notifications(start=1, limit=10_000)

    jsonl = api.get("/audit/log/export", AUDITOR, params={"format": "jsonl"})
    assert jsonl.status_code == 200, jsonl.text
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in jsonl.text.splitlines()]

    exported_csv = api.get("/audit/log/export", ZHANG_MING, params={"format": "csv"})
    assert exported_csv.status_code == 200, exported_csv.text
    assert exported_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported_csv.text)))

    expected = [
        (n.id, str(n.originator_id), n.originator_version, n.topic, n.state) for n in notifications
    ]
    assert [
        (r["position"], r["aggregate_id"], r["aggregate_version"], r["topic"], r["state"].encode())
        for r in records
    ] == expected
    assert [
        (
            int(r["position"]),
            r["aggregate_id"],
            int(r["aggregate_version"]),
            r["topic"],
            r["state"].encode(),
        )
        for r in rows
    ] == expected


@pytest.mark.parametrize(
    ("path", "params", "status", "rule"),
    [
        (
            "/audit/cases/{case}/state",
            {"as_of": "2022-04-18T09:00", "version": 1},
            422,
            "as_of_choice",
        ),
        ("/audit/cases/{case}/state", {"version": 99}, 404, "not_found"),
        ("/audit/cases/{case}/state", {"as_of": "2021-01-01T00:00+08:00"}, 404, "not_found"),
        ("/audit/cases/{case}/state", {"as_of": "yesterday"}, 422, "request_invalid"),
        ("/audit/cases/{order}/timeline", {}, 404, "not_found"),
        ("/audit/aggregates/{order}", {"version": 0}, 422, "request_invalid"),
        ("/audit/log", {"type": "Hazard.Vanished"}, 422, "unknown_event_type"),
        ("/audit/log/export", {"type": "Hazard.Vanished"}, 422, "unknown_event_type"),
        ("/audit/log/export", {"format": "xml"}, 422, "request_invalid"),
        ("/audit/chain/verify", {"anchor": "abc@1"}, 422, "anchor_invalid"),
        # Numbers beyond the database's 64-bit integers are refused up front.
        ("/audit/chain/verify", {"anchor": "a" * 64 + f"@{2**63}"}, 422, "anchor_invalid"),
        ("/audit/log", {"after": 2**63}, 422, "request_invalid"),
        ("/audit/aggregates/{order}", {"version": 2**63}, 422, "request_invalid"),
        ("/audit/cases/{case}/state", {"position": 2**63}, 422, "request_invalid"),
    ],
)
def test_bad_audit_questions_are_clear_problems(
    api: Api, path: str, params: dict, status: int, rule: str
) -> None:
    case = api.sweep.arrange_case(Stage.ORDER_ISSUED)
    response = api.get(path.format(case=case.hazard, order=case.order), AUDITOR, params=params)
    problem(response, status, rule)


def wait_for_chain(api: Api, position: int, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        response = api.get("/audit/chain/head", AUDITOR)
        if response.status_code == 200 and response.json()["position"] >= position:
            return response.json()
        assert time.monotonic() < deadline, f"the chain did not reach {position}"
        time.sleep(0.05)


def test_the_api_keeps_the_chain_up_to_date_and_verifies_it(api: Api) -> None:
    closed_case(api)
    head = wait_for_chain(api, api.position())
    assert head["anchor"] == f"{head['hash']}@{head['position']}"
    response = api.get("/audit/chain/verify", AUDITOR, params={"anchor": head["anchor"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    assert body["checked"] == api.position()
    assert body["problem"] is None


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_verify_over_http_names_the_tampered_position(
    request: pytest.FixtureRequest, backend: str, clock: ManualClock
) -> None:
    url = request.getfixturevalue(f"{backend}_url")
    with api_on(url, clock) as api:
        closed_case(api)
        wait_for_chain(api, api.position())
        tamperer_for(url).flip_byte(8)
        body = api.get("/audit/chain/verify", AUDITOR).json()
        assert body["ok"] is False
        assert body["problem"]["kind"] == ProblemKind.ALTERED.value
        assert body["problem"]["position"] == 8
        assert build_audit(api.rectify).verify().problem is not None
