"""Optimistic concurrency over HTTP: ETag out, If-Match in; no silent overwrite."""

from __future__ import annotations

import threading

import pytest

from tests.core.scenario import CHEN_XIAOFENG, ZHANG_MING, Stage, losing_race
from tests.http.conftest import Api, problem

ITEM = "/inspections/{}/items/mask"


def test_a_read_carries_the_version_as_its_etag(api: Api) -> None:
    case = api.sweep.arrange_case(Stage.ORDER_ISSUED)
    for path, aggregate_id in [
        (f"/sites/{case.site_id}", case.site_id),
        (f"/inspections/{case.inspection_id}", case.inspection_id),
        (f"/cases/{case.hazard}", case.hazard),
        (f"/orders/{case.order}", case.order),
    ]:
        response = api.get(path, ZHANG_MING)
        assert response.status_code == 200
        version = api.version(aggregate_id)
        assert response.json()["version"] == version
        assert response.headers["ETag"] == f'"{version}"'


def test_state_changing_commands_carry_the_version_they_were_based_on(api: Api) -> None:
    """Missing If-Match: 428, and nothing recorded."""
    case = api.sweep.arrange_case(Stage.ACKNOWLEDGED)
    before = api.position()
    for path, body in [
        (ITEM.format(case.inspection_id), {"result": "pass"}),
        (f"/cases/{case.hazard}/regrade", {"severity": "major", "reason": "涉及多名顾客"}),
        (f"/cases/{case.hazard}/orders", {"party": {"name": "a", "contact": "b"}, "measures": "c"}),
        (f"/orders/{case.order}/progress", {"note": "已预约"}),
    ]:
        problem(api.post(path, CHEN_XIAOFENG, body), 428, "if_match_required")
    assert api.events_since(before) == []


def test_a_stale_version_is_refused_with_412_and_the_current_etag(api: Api) -> None:
    case = api.sweep.arrange_case(Stage.INSPECTION_OPEN)
    first = api.post(ITEM.format(case.inspection_id), CHEN_XIAOFENG, {"result": "pass"}, if_match=1)
    assert first.status_code == 200
    before = api.position()
    # Another client, still at version 1, records the same item differently.
    stale = api.post(
        ITEM.format(case.inspection_id),
        ZHANG_MING,
        {"result": "fail", "note": "未戴口罩"},
        if_match=1,
    )
    body = problem(stale, 412, "stale_version")
    assert "version 2" in body["detail"]
    assert stale.headers["ETag"] == '"2"'
    assert api.events_since(before) == []
    inspection = api.rectify.get_inspection(case.inspection_id)
    assert inspection.results["mask"]["result"] == "pass"


@pytest.mark.parametrize("value", ['W/"1"', "1", "*", '"one"', '"1", "2"', '"-1"'])
def test_a_malformed_if_match_is_400(api: Api, value: str) -> None:
    case = api.sweep.arrange_case(Stage.INSPECTION_OPEN)
    before = api.position()
    response = api.post(
        ITEM.format(case.inspection_id), CHEN_XIAOFENG, {"result": "pass"}, if_match=value
    )
    problem(response, 400, "if_match_invalid")
    assert api.events_since(before) == []


def test_each_response_hands_on_the_versions_to_base_the_next_command_on(api: Api) -> None:
    """Reporting a hazard changes the inspection too; the answer gives both versions."""
    case = api.sweep.arrange_case(Stage.ITEMS_RECORDED)
    version = api.version(case.inspection_id)
    reported = api.post(
        f"/inspections/{case.inspection_id}/hazards",
        CHEN_XIAOFENG,
        {
            "item_code": "staff-tested-every-two-days",
            "category": "疫情防控",
            "description": "经营人员未按要求两天一次核酸检测",
            "severity": "general",
        },
        if_match=version,
    )
    assert reported.status_code == 201
    body = reported.json()
    assert reported.headers["Location"] == f"/cases/{body['id']}"
    assert body["kind"] == "case" and body["version"] == 1
    changed = {c["kind"]: c["version"] for c in body["changed"]}
    assert changed == {"case": 1, "inspection": version + 1}
    completed = api.post(
        f"/inspections/{case.inspection_id}/complete", CHEN_XIAOFENG, if_match=changed["inspection"]
    )
    assert completed.status_code == 200
    assert completed.json()["version"] == version + 2


def test_a_write_that_loses_a_race_is_a_conflict_409(api: Api) -> None:
    """Both based on the same version; the one that commits second is refused."""
    case = api.sweep.arrange_case(Stage.INSPECTION_OPEN)
    with losing_race(api.rectify, lambda: api.sweep.record(case.inspection_id, "mask", "pass")):
        before = api.position()
        response = api.post(
            ITEM.format(case.inspection_id),
            CHEN_XIAOFENG,
            {"result": "fail", "note": "未戴口罩"},
            if_match=1,
        )
    problem(response, 409, "concurrent_write")
    # Only the rival's event: the loser recorded nothing.
    assert api.events_since(before) == ["Inspection.ItemRecorded"]
    assert api.rectify.get_inspection(case.inspection_id).results["mask"]["result"] == "pass"


def test_the_reported_version_is_the_commands_own_not_a_later_one(api: Api) -> None:
    """The ETag handed back is the version this command made, so a change saved
    right after it by someone else is not skipped by the next If-Match."""
    case = api.sweep.arrange_case(Stage.INSPECTION_OPEN)
    original = api.rectify._notify

    def someone_else_saves_right_after(recordings: list) -> None:
        original(recordings)
        api.rectify._notify = original
        # Another request, in another thread, commits before this one answers.
        other = threading.Thread(
            target=api.sweep.record,
            args=(case.inspection_id, "temperature", "pass"),
            kwargs={"by": ZHANG_MING},
        )
        other.start()
        other.join()

    api.rectify._notify = someone_else_saves_right_after
    response = api.post(
        ITEM.format(case.inspection_id), CHEN_XIAOFENG, {"result": "pass"}, if_match=1
    )
    assert response.json()["version"] == 2
    assert api.version(case.inspection_id) == 3
    follow_up = api.post(
        f"/inspections/{case.inspection_id}/items/health-code",
        CHEN_XIAOFENG,
        {"result": "pass"},
        if_match=2,
    )
    problem(follow_up, 412, "stale_version")
