"""Sending the outbox: each delivery signed as Standard Webhooks asks, at least once.

Headers: ``webhook-id`` (the message's id: the same on every retry and
redelivery, so a receiver can drop duplicates), ``webhook-timestamp`` (seconds
since the epoch, of this attempt) and ``webhook-signature`` (``v1,`` and the
base64 HMAC-SHA256 of ``id.timestamp.body`` under the subscription's secret),
made with the ``standardwebhooks`` package that receivers verify with.

A 2xx answer delivers; anything else (an error status, a refused or timed-out
connection, a target the allow-list now refuses) is a failed attempt, retried
with back-off (:class:`~application.integration.webhooks.RetryPolicy`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from application.integration.webhooks import RetryPolicy
from infrastructure.integration.targets import TargetRefused
from infrastructure.integration.webhooks import Delivery, Outcome, WebhookStore

log = logging.getLogger("rectify.webhooks")

TIMEOUT_SECONDS = 10.0
USER_AGENT = "rectify-webhooks/1"
# Deliveries of different cases in flight at once: enough to hide a slow
# receiver's latency, few enough to be polite to it.
CONCURRENCY = 8


def signed_headers(secret: str, message_id: str, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@dataclass
class DeliveryRound:
    """What one run of the delivery job did."""

    delivered: int = 0
    failed: int = 0
    now_failing: int = 0


class WebhookDeliverer:
    """Sends what is due in the outbox (a periodic job of the follower host)."""

    def __init__(
        self,
        store: WebhookStore,
        *,
        policy: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        batch_size: int = 100,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.store = store
        self.policy = policy or RetryPolicy()
        # No redirects: a 3xx to an address nobody allowed would dodge the allow-list.
        self.client = client or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
        self.clock = clock
        self.batch_size = batch_size
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook")

    def deliver_due(self) -> DeliveryRound:
        """Send every delivery that is due, until none is. Each case's messages go
        in order, one after the other, and stop at the first that fails (the rest
        wait for it); different cases are sent concurrently. A round's outcomes
        are recorded in one transaction."""
        done = DeliveryRound()
        while True:
            due = self.store.due(self.clock(), self.batch_size)
            if not due:
                return done
            by_case: dict[tuple[str, str], list[Delivery]] = {}
            for delivery in due:
                by_case.setdefault((delivery.subscription_id, delivery.case_key), []).append(
                    delivery
                )
            outcomes = [
                outcome
                for sent in self._pool.map(self._send_in_order, by_case.values())
                for outcome in sent
            ]
            failing = self.store.record(outcomes, now=self.clock(), policy=self.policy)
            for outcome in outcomes:
                if outcome.error is None:
                    done.delivered += 1
                else:
                    done.failed += 1
            for subscription_id in failing:
                log.warning("webhook subscription %s marked failing", subscription_id)
            done.now_failing += len(failing)
            if done.failed:
                return done  # what failed waits out its back-off; the rest of its case too

    def _send_in_order(self, deliveries: list[Delivery]) -> list[Outcome]:
        outcomes = []
        for delivery in deliveries:
            outcome = self._send(delivery)
            outcomes.append(outcome)
            if outcome.error is not None:
                break
        return outcomes

    def _send(self, delivery: Delivery) -> Outcome:
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            self.store.allow.check(delivery.target_url)
            at = datetime.fromtimestamp(self.clock(), UTC)
            response = self.client.post(
                delivery.target_url,
                content=delivery.body.encode(),
                headers=signed_headers(delivery.secret, delivery.message_id, delivery.body, at),
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except TargetRefused as refused:
            error = str(refused)
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"
        return Outcome(delivery, self.clock(), status, error, (time.monotonic() - started) * 1000)

    def close(self) -> None:
        self._pool.shutdown()
        self.client.close()
