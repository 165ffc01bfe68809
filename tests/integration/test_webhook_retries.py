"""Retries: a subscription whose deliveries fail past the retry window is marked
failing; an operator reactivates it or redelivers, with the same webhook-id."""

from __future__ import annotations

import time

import pytest

from application.integration.webhooks import FAILING, RetryPolicy
from infrastructure.integration.services import Integration
from infrastructure.integration.webhooks import PENDING
from tests.core.scenario import Sweep
from tests.integration.conftest import catch_up_outbox
from tests.integration.receiver import Receiver


def test_back_off_doubles_up_to_its_longest_and_gives_up_after_a_day() -> None:
    policy = RetryPolicy()
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert policy.delay(20) == 3600
    assert not policy.gives_up(0, 86399) and policy.gives_up(0, 86400)


@pytest.fixture
def settings() -> dict[str, str]:
    # Give up after a fraction of a second, so "a day of failures" fits in a test.
    return {
        "WEBHOOK_ALLOW": "127.0.0.1",
        "WEBHOOK_RETRY_SECONDS": "0.01",
        "WEBHOOK_RETRY_MAX_SECONDS": "0.02",
        "WEBHOOK_GIVE_UP_SECONDS": "0.3",
    }


def test_a_subscription_failing_past_the_retry_window_is_marked_failing_and_can_be_redelivered(
    integration: Integration, sweep: Sweep, receiver: Receiver
) -> None:
    subscription = integration.webhooks.subscribe(
        receiver.url, ["Site.Registered"], created_by="zhangming"
    )
    receiver.secret = subscription.secret
    receiver.down = True
    sweep.site()
    catch_up_outbox(integration)
    deadline = time.monotonic() + 10
    while integration.webhooks.subscription(subscription.subscription_id).status != FAILING:
        integration.deliver_due()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    [delivery] = integration.webhooks.deliveries(subscription.subscription_id)
    assert delivery["status"] == PENDING and delivery["attempts"] >= 2
    # A failing subscription is not tried again by itself...
    receiver.down = False
    integration.deliver_due()
    assert receiver.arrivals == []
    # ...until an operator reactivates it; then the same message arrives, once.
    assert integration.webhooks.reactivate(subscription.subscription_id) == 1
    integration.deliver_due()
    assert [a.message_id for a in receiver.arrivals] == [delivery["message_id"]]
    assert receiver.arrivals[0].body["type"] == "Site.Registered"
    # Redelivery sends it again with the same webhook-id.
    integration.webhooks.redeliver(delivery["delivery_id"])
    integration.deliver_due()
    assert [a.message_id for a in receiver.arrivals] == [delivery["message_id"]] * 2
    assert all(a.verified for a in receiver.arrivals)
