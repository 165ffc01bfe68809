"""The actions offered on a record are exactly those the domain would accept now."""

from __future__ import annotations

from datetime import datetime

from application.actions import case_actions, inspection_actions, order_actions
from application.app import RectifyApp
from application.demo import (
    AUDITOR,
    CHEN_XIAOFENG,
    STORY_START,
    TAO_BIAOYIN,
    ZHANG_MING,
    DemoDataset,
    find_dataset,
    load_demo,
)
from infrastructure.bootstrap import build_app
from infrastructure.clock import ManualClock

NOW = datetime(2022, 5, 6, 12, 0, tzinfo=STORY_START.tzinfo)


def _demo() -> tuple[RectifyApp, DemoDataset]:
    app = build_app("popo://")
    load_demo(app, ManualClock(STORY_START))
    demo = find_dataset(app)
    assert demo is not None
    return app, demo


def _case(app: RectifyApp, demo: DemoDataset, status: str):  # type: ignore[no-untyped-def]
    hazard = next(h for h in (app.get_hazard(i) for i in demo.hazard_ids) if h.status == status)
    open_order = app.get_order(hazard.open_order_id) if hazard.open_order_id else None
    return hazard, open_order


def test_a_verified_case_is_closed_only_by_a_supervisor() -> None:
    app, demo = _demo()
    hazard, order = _case(app, demo, "verified")
    assert case_actions(hazard, order, ZHANG_MING.actor, NOW).names == {"close"}
    for person in (CHEN_XIAOFENG, TAO_BIAOYIN, AUDITOR):
        assert "close" not in case_actions(hazard, order, person.actor, NOW)


def test_a_case_awaiting_verification_offers_verification_to_inspectors() -> None:
    app, demo = _demo()
    hazard, order = _case(app, demo, "awaiting_verification")
    inspector = case_actions(hazard, order, CHEN_XIAOFENG.actor, NOW)
    assert "verify" in inspector and "close" not in inspector and "dismiss" not in inspector
    assert "dismiss" in case_actions(hazard, order, ZHANG_MING.actor, NOW)
    assert case_actions(hazard, order, TAO_BIAOYIN.actor, NOW).names == frozenset()
    assert case_actions(hazard, order, AUDITOR.actor, NOW).names == frozenset()


def test_a_reported_case_offers_an_order_and_nothing_is_recorded() -> None:
    app, demo = _demo()
    hazard, order = _case(app, demo, "reported")
    version, head = hazard.version, app.recorder.max_notification_id()
    offered = case_actions(hazard, order, CHEN_XIAOFENG.actor, NOW)
    assert "issue_order" in offered and "verify" not in offered
    assert hazard.version == version and not hazard.collect_events()
    assert app.recorder.max_notification_id() == head


def test_the_party_may_act_only_on_their_own_order() -> None:
    app, demo = _demo()
    orders = [app.get_order(o) for o in demo.order_ids]
    own = next(o for o in orders if o.party.is_account(TAO_BIAOYIN.user_id) and o.is_open)
    # Their completion report awaits verification: nothing for them to do now.
    assert own.status == "completion_reported"
    assert not order_actions(own, TAO_BIAOYIN.actor, NOW).names
    others = [o for o in orders if o.status in ("issued", "acknowledged")]
    assert others
    for order in others:
        assert not order_actions(order, TAO_BIAOYIN.actor, NOW).names
        assert not order_actions(order, AUDITOR.actor, NOW).names
        # An inspector records the acknowledgement and completion for a party without an account.
        offered = order_actions(order, CHEN_XIAOFENG.actor, NOW)
        assert "report_completion" in offered
        assert ("acknowledge" in offered) == (order.status == "issued")
        assert "grant_extension" not in offered


def test_an_open_inspection_is_completed_only_when_every_item_is_recorded() -> None:
    app, demo = _demo()
    inspection = next(
        i for i in (app.get_inspection(x) for x in demo.inspection_ids) if i.status == "open"
    )
    offered = inspection_actions(inspection, CHEN_XIAOFENG.actor, NOW)
    assert "record_item" in offered and "complete" not in offered
    assert not inspection_actions(inspection, AUDITOR.actor, NOW).names
