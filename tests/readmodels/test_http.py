"""The read models over HTTP: read your own writes, role filtering, /health."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from application.app import RectifyApp
from infrastructure.clock import ManualClock
from infrastructure.composition import build_app
from tests.core.scenario import (
    CHEN_XIAOFENG,
    KANGSHUN_SHOP,
    LIU_FANG,
    TAO_BIAOYIN,
    TAO_BIAOYIN_SHOP,
    YU_JIANHUA,
    YU_JIANHUA_SHOP,
    ZHANG_MING,
    Stage,
    Sweep,
)
from tests.readmodels.http_client import Api, api_for, users_of_the_sweep


@pytest.fixture
def slow_polling_app(database_url: str, clock: ManualClock) -> Iterator[RectifyApp]:
    """The projections look at the log only every 30 s unless a query wakes them,
    so a query that sees a fresh write saw it because it asked for it."""
    app = build_app(
        database_url,
        clock=clock,
        passwords=users_of_the_sweep(),
        settings={"PROJECTION_POLL_SECONDS": "30", "OVERDUE_CHECK_SECONDS": "0"},
    )
    yield app
    app.close()


@pytest.fixture
def api(slow_polling_app: RectifyApp) -> Iterator[Api]:
    with api_for(slow_polling_app) as client:
        yield client


def test_a_query_with_a_commands_position_returns_the_new_state(
    slow_polling_app: RectifyApp, api: Api, clock: ManualClock
) -> None:
    sweep = Sweep(slow_polling_app, clock)
    case = sweep.arrange_case(Stage.ORDER_ISSUED)
    version = sweep.version(case.order)

    command = api.post(
        TAO_BIAOYIN, f"/orders/{case.order}/acknowledge", headers={"If-Match": f'"{version}"'}
    )
    assert command.status_code == 200, command.text
    position = command.json()["position"]
    assert int(command.headers["X-Log-Position"]) == position

    found = api.get(TAO_BIAOYIN, "/cases", params={"after": position})
    assert found.status_code == 200, found.text
    (row,) = found.json()["items"]
    assert row["case_id"] == str(case.hazard)
    assert row["order_status"] == "acknowledged"
    assert int(found.headers["X-Read-Model-Position"]) >= position
    assert "X-Read-Model-Behind" not in found.headers

    # The same through the header, on a queue of the site's history.
    history = api.get(
        CHEN_XIAOFENG, f"/sites/{case.site_id}/history", headers={"X-Log-Position": str(position)}
    )
    assert history.status_code == 200, history.text
    assert history.json()["items"][-1]["kind"] == "order.acknowledged"
    assert history.json()["items"][-1]["position"] == position


def test_a_responsible_party_sees_only_their_own_orders(
    slow_polling_app: RectifyApp, api: Api, clock: ManualClock
) -> None:
    sweep = Sweep(slow_polling_app, clock)
    own = sweep.arrange_case(Stage.COMPLETION_REPORTED)
    other = sweep.arrange_case(Stage.COMPLETION_REPORTED, site=YU_JIANHUA_SHOP)
    sweep.arrange_case(Stage.COMPLETION_REPORTED, site=KANGSHUN_SHOP)
    after = {"after": sweep.log_position()}

    for_party = api.get(TAO_BIAOYIN, "/queues/awaiting-verification", params=after).json()
    assert [r["case_id"] for r in for_party["items"]] == [str(own.hazard)]
    assert for_party["total"] == 1
    for_other = api.get(YU_JIANHUA, "/cases", params=after).json()
    assert [r["case_id"] for r in for_other["items"]] == [str(other.hazard)]
    for_inspector = api.get(CHEN_XIAOFENG, "/queues/awaiting-verification", params=after).json()
    assert for_inspector["total"] == 3

    assert api.get(TAO_BIAOYIN, "/queues/open-inspections", params=after).json()["total"] == 0
    refused = api.get(TAO_BIAOYIN, "/dashboard", params=after)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["rule"] == "party_sees_only_own_orders"
    assert api.get(TAO_BIAOYIN, f"/sites/{own.site_id}/history").status_code == 403
    assert api.get(LIU_FANG, "/dashboard", params=after).status_code == 200


def test_the_list_of_sites_is_a_read_model_for_staff_only(
    slow_polling_app: RectifyApp, api: Api, clock: ManualClock
) -> None:
    sweep = Sweep(slow_polling_app, clock)
    closed = sweep.arrange_case(Stage.CLOSED)
    sweep.arrange_case(Stage.ORDER_ISSUED, site=KANGSHUN_SHOP)
    after = {"after": sweep.log_position()}

    for reader in (CHEN_XIAOFENG, ZHANG_MING, LIU_FANG):
        listed = api.get(reader, "/sites", params=after)
        assert listed.status_code == 200, listed.text
        rows = {row["name"]: row for row in listed.json()["items"]}
        assert listed.json()["total"] == len(rows) == 2
    assert rows[TAO_BIAOYIN_SHOP]["site_id"] == str(closed.site_id)
    assert (rows[TAO_BIAOYIN_SHOP]["open_cases"], rows[TAO_BIAOYIN_SHOP]["closed_cases"]) == (0, 1)
    assert (rows[KANGSHUN_SHOP]["open_cases"], rows[KANGSHUN_SHOP]["closed_cases"]) == (1, 0)

    paged = api.get(LIU_FANG, "/sites", params={**after, "limit": 1, "offset": 1}).json()
    assert (paged["total"], len(paged["items"])) == (2, 1)
    elsewhere = api.get(LIU_FANG, "/sites", params={**after, "region": "南昌市"}).json()
    assert elsewhere["total"] == 0

    refused = api.get(TAO_BIAOYIN, "/sites", params=after)
    assert refused.status_code == 403
    assert refused.json()["rule"] == "party_sees_only_own_orders"


def test_a_page_says_whether_its_total_is_exact(
    slow_polling_app: RectifyApp, api: Api, clock: ManualClock
) -> None:
    sweep = Sweep(slow_polling_app, clock)
    sweep.arrange_case(Stage.ORDER_ISSUED)
    after = {"after": sweep.log_position()}
    for path in ("/cases", "/sites", "/queues/orders-due-soon", "/queues/awaiting-closure"):
        body = api.get(ZHANG_MING, path, params=after).json()
        assert body["total_exact"] is True, path
        assert body["total"] == len(body["items"]), path
    cases = api.get(ZHANG_MING, "/cases", params=after).json()
    assert cases["total"] == 1
    schema = api.client.get("/openapi.json").json()["components"]["schemas"]["CasePage"]
    assert "total_exact" in schema["required"] and "next_cursor" in schema["properties"]

    sweep.arrange_case(Stage.ORDER_ISSUED, site=KANGSHUN_SHOP)
    after = {"after": sweep.log_position()}
    first = api.get(ZHANG_MING, "/cases", params={**after, "limit": 1}).json()
    second = api.get(
        ZHANG_MING, "/cases", params={**after, "limit": 1, "cursor": first["next_cursor"]}
    ).json()
    assert (first["total"], second["total"]) == (2, 2)
    assert first["items"][0]["case_id"] != second["items"][0]["case_id"]
    for params in ({"cursor": "not-a-cursor"}, {"cursor": first["next_cursor"], "offset": 1}):
        refused = api.get(ZHANG_MING, "/cases", params={**after, **params})
        assert refused.status_code == 422, refused.text
        assert refused.json()["rule"] == "cursor_invalid"


def test_mine_narrows_a_queue_to_the_callers_inspections(
    slow_polling_app: RectifyApp, api: Api, clock: ManualClock
) -> None:
    sweep = Sweep(slow_polling_app, clock)
    sweep.open_inspection(by=CHEN_XIAOFENG)  # the team: 张铭 and 陈小峰
    after = {"after": sweep.log_position()}
    mine = api.get(ZHANG_MING, "/queues/open-inspections", params={**after, "mine": "true"})
    assert mine.json()["total"] == 1
    from tests.core.scenario import YU_JIANMING

    not_mine = api.get(YU_JIANMING, "/queues/open-inspections", params={**after, "mine": "true"})
    assert not_mine.json()["total"] == 0
    everyone = api.get(YU_JIANMING, "/queues/open-inspections", params=after)
    assert everyone.json()["total"] == 1


def test_bad_query_input_is_a_problem_and_changes_nothing(
    slow_polling_app: RectifyApp, api: Api, clock: ManualClock
) -> None:
    before = slow_polling_app.recorder.max_notification_id()
    for path, params, headers in (
        ("/cases", {"sort": "nonsense"}, {}),
        ("/cases", {"status": "lost"}, {}),
        ("/cases", {"severity": "huge"}, {}),
        ("/cases", {"limit": "0"}, {}),
        ("/queues/orders-overdue", {"after": "-1"}, {}),
        ("/queues/orders-overdue", {}, {"X-Log-Position": "soon"}),
        ("/sites/not-a-uuid/history", {}, {}),
        # Numbers too large for the database's integers are refused, not passed
        # on to overflow the driver (found by fuzzing the OpenAPI document).
        ("/queues/open-inspections", {"offset": str(10**29)}, {}),
        ("/cases", {"after": str(2**63)}, {}),
        ("/cases", {}, {"X-Log-Position": str(2**63)}),
        ("/cases", {}, {"X-Log-Position": "9" * 5000}),
    ):
        reply = api.get(CHEN_XIAOFENG, path, params=params, headers=headers)
        assert 400 <= reply.status_code < 500, (path, params, reply.status_code, reply.text)
        assert reply.headers["content-type"].startswith("application/problem+json"), reply.text
    assert slow_polling_app.recorder.max_notification_id() == before
    assert api.client.get("/queues/orders-overdue").status_code == 401


def test_a_position_ahead_of_the_log_is_refused_at_once(
    slow_polling_app: RectifyApp, api: Api, clock: ManualClock
) -> None:
    """No command returned it, so no read model will ever reach it: a clear 422
    instead of holding the request for the whole wait."""
    sweep = Sweep(slow_polling_app, clock)
    sweep.arrange_case(Stage.HAZARD_REPORTED)
    head = sweep.log_position()
    for params, headers in (({"after": head + 1}, {}), ({}, {"X-Log-Position": str(head + 1)})):
        reply = api.get(CHEN_XIAOFENG, "/cases", params=params, headers=headers)
        assert reply.status_code == 422, reply.text
        assert reply.headers["content-type"].startswith("application/problem+json")
        assert reply.json()["rule"] == "log_position_ahead"
        assert str(head) in reply.json()["detail"]
    at_head = api.get(CHEN_XIAOFENG, "/cases", params={"after": head})
    assert at_head.status_code == 200
    assert at_head.json()["total"] == 1
    assert slow_polling_app.recorder.max_notification_id() == head


def test_health_reports_each_projections_position_and_lag(
    slow_polling_app: RectifyApp, api: Api, clock: ManualClock
) -> None:
    sweep = Sweep(slow_polling_app, clock)
    sweep.arrange_case(Stage.HAZARD_REPORTED)
    api.get(CHEN_XIAOFENG, "/dashboard", params={"after": sweep.log_position()})
    health = api.client.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok"
    assert body["head"] == sweep.log_position()
    states = {p["name"]: p for p in body["projections"]}
    assert set(states) == {"cases", "site_history"}
    assert states["cases"]["position"] == sweep.log_position()
    assert states["cases"]["lag"] == 0
    assert states["cases"]["running"] is True


def test_a_read_model_that_does_not_catch_up_in_time_answers_with_how_far_behind(
    database_url: str, clock: ManualClock
) -> None:
    """With the projections left to workers and no worker running, the query
    waits its 2 s, then answers what it has, saying it is behind — not an error."""
    app = build_app(
        database_url,
        clock=clock,
        passwords=users_of_the_sweep(),
        settings={"PROJECTIONS": "external"},
    )
    try:
        sweep = Sweep(app, clock)
        with api_for(app) as api:
            inspection = sweep.open_inspection()
            version = sweep.version(inspection)
            command = api.post(
                CHEN_XIAOFENG,
                f"/inspections/{inspection}/cancel",
                json={"reason": "店主不在，改日再查"},
                headers={"If-Match": f'"{version}"'},
            )
            assert command.status_code == 200, command.text
            position = command.json()["position"]
            stale = api.get(CHEN_XIAOFENG, "/queues/open-inspections", params={"after": position})
            assert stale.status_code == 200
            assert stale.json()["total"] == 0  # nothing projected at all
            assert int(stale.headers["X-Read-Model-Position"]) == 0
            assert int(stale.headers["X-Read-Model-Behind"]) == position
            assert int(stale.headers["X-Read-Model-Lag"]) == position
            health = api.client.get("/health").json()
            assert {p["running"] for p in health["projections"]} == {None}
            assert {p["lag"] for p in health["projections"]} == {position}
    finally:
        app.close()
