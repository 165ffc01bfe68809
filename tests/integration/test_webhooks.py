"""Webhooks: every event reaches a receiver on 127.0.0.1, signed (Standard
Webhooks, verified with the ``standardwebhooks`` package), in log order per case;
a receiver that is down gets everything once it is up, with the same ids."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest

from infrastructure.integration.services import Integration
from infrastructure.integration.webhooks import DELIVERED, PENDING, PositionMoved
from tests.core.scenario import Sweep
from tests.integration.conftest import catch_up_outbox
from tests.integration.receiver import Receiver
from tests.integration.workload import run_commands


def deliver_everything(integration: Integration, timeout: float = 30.0) -> None:
    """Fill the outbox and send until nothing is pending (retries included)."""
    deadline = time.monotonic() + timeout
    while True:
        catch_up_outbox(integration)
        integration.deliver_due()
        if not integration.webhooks.deliveries(status=PENDING, limit=1):
            return
        assert time.monotonic() < deadline, "deliveries still pending"
        time.sleep(0.02)


def log_positions(integration: Integration) -> list[int]:
    return [n.id for n in integration.feed._select(0, 1_000_000)]


@pytest.mark.slow
def test_every_event_of_a_1000_command_run_arrives_signed_and_in_order_per_case(
    integration: Integration, sweep: Sweep, receiver: Receiver
) -> None:
    subscription = integration.webhooks.subscribe(receiver.url, ["*"], created_by="zhangming")
    receiver.secret = subscription.secret

    events = run_commands(sweep, 1000)
    deliver_everything(integration, timeout=120)

    arrived = receiver.unique()
    assert len(arrived) == events == len(log_positions(integration))
    assert all(a.verified for a in receiver.arrivals)
    assert sorted(a.body["data"]["position"] for a in arrived.values()) == log_positions(
        integration
    )
    # Per case, the arrivals come in the log's order.
    by_case: dict[str, list[int]] = defaultdict(list)
    for arrival in receiver.arrivals:
        by_case[arrival.body["data"]["case_id"]].append(arrival.body["data"]["position"])
    assert by_case and all(positions == sorted(positions) for positions in by_case.values())
    delivered = integration.webhooks.deliveries(subscription.subscription_id, limit=5000)
    assert {d["status"] for d in delivered} == {DELIVERED}
    assert all(d["attempts"] == 1 and d["latency_ms"] is not None for d in delivered)


def test_a_receiver_down_for_a_while_gets_everything_with_the_same_ids(
    integration: Integration, sweep: Sweep, receiver: Receiver
) -> None:
    subscription = integration.webhooks.subscribe(receiver.url, ["*"], created_by="zhangming")
    receiver.secret = subscription.secret
    receiver.down = True
    events = run_commands(sweep, 40)
    catch_up_outbox(integration)
    integration.deliver_due()
    failed = integration.webhooks.deliveries(subscription.subscription_id, limit=500)
    assert failed and all(d["status"] == PENDING for d in failed)
    # One attempt each for the first message of each case; later ones wait their turn.
    assert {d["last_status"] for d in failed if d["attempts"]} == {503}
    ids_while_down = {a.message_id for a in receiver.arrivals}

    # Gone altogether (connections refused), then back up on the same port.
    port = receiver.port
    receiver.stop()
    time.sleep(0.3)
    integration.deliver_due()
    receiver.down = False
    receiver.start(port)
    deliver_everything(integration)

    arrived = receiver.unique()
    assert len(arrived) == events
    assert ids_while_down <= set(arrived)
    assert all(a.verified for a in receiver.arrivals)
    retried = [
        d
        for d in integration.webhooks.deliveries(subscription.subscription_id, limit=500)
        if d["attempts"] > 1
    ]
    assert retried and all(d["message_id"] in arrived for d in retried)
    attempts = integration.webhooks.attempts(retried[0]["delivery_id"])
    assert attempts[0]["status_code"] == 503
    assert attempts[-1]["status_code"] == 204


def test_the_outbox_is_filled_once_even_when_two_fillers_race(
    integration: Integration, sweep: Sweep, receiver: Receiver
) -> None:
    subscription = integration.webhooks.subscribe(receiver.url, ["*"], created_by="zhangming")
    events = run_commands(sweep, 30)
    other = Integration(
        integration.app,
        integration.users,
        integration.side,
        queries=lambda: None,  # type: ignore[arg-type,return-value]
    )
    try:
        first = integration.outbox_projection()
        second = other.outbox_projection()
        items = list(
            (integration.app.mapper.to_domain_event(n), _tracking(n.id))
            for n in integration.feed._select(0, 1000)
        )
        first.process_batch(items)
        with pytest.raises(PositionMoved):
            second.process_batch(items)
    finally:
        other.close()
    rows = integration.webhooks.deliveries(subscription.subscription_id, limit=1000)
    assert len(rows) == events == len({r["message_id"] for r in rows})
    assert integration.webhooks.position() == items[-1][1].notification_id


def test_only_wanted_event_types_and_events_after_subscribing_are_delivered(
    integration: Integration, sweep: Sweep, receiver: Receiver
) -> None:
    sweep.site()  # before the subscription: not delivered
    catch_up_outbox(integration)
    subscription = integration.webhooks.subscribe(
        receiver.url, ["Hazard.Reported"], created_by="zhangming"
    )
    receiver.secret = subscription.secret
    run_commands(sweep, 20)
    deliver_everything(integration)
    assert [a.body["type"] for a in receiver.arrivals] == ["Hazard.Reported"]
    assert receiver.arrivals[0].verified


def _tracking(position: int):  # type: ignore[no-untyped-def]
    from eventsourcing.persistence import Tracking

    return Tracking(application_name="Rectify", notification_id=position)
