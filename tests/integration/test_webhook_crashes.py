"""The webhook follower (``rectify followers run webhook_outbox webhook_delivery``)
SIGKILLed ten times while commands are recorded: nothing is lost, nothing is
invented, and what was sent twice carries the same webhook-id."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from infrastructure.composition import Services
from infrastructure.integration.webhooks import DELIVERED
from tests.core.scenario import Sweep
from tests.integration.conftest import catch_up_outbox
from tests.integration.receiver import Receiver
from tests.integration.workload import run_commands

ROOT = Path(__file__).resolve().parents[2]
KILLS = 10
COMMANDS = 300


def start_follower(url: str) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        RECTIFY_WEBHOOK_ALLOW="127.0.0.1",
        RECTIFY_WEBHOOK_DELIVERY_SECONDS="0.05",
        RECTIFY_PROJECTION_POLL_SECONDS="0.05",
        RECTIFY_PROJECTION_BATCH_SIZE="20",
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "interfaces.cli.main",
            "followers",
            "run",
            "webhook_outbox",
            "webhook_delivery",
            "--database-url",
            url,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_the_webhook_follower_killed_ten_times_loses_nothing(
    url: str, services: Services, sweep: Sweep, receiver: Receiver
) -> None:
    integration = services.integration
    subscription = integration.webhooks.subscribe(receiver.url, ["*"], created_by="zhangming")
    receiver.secret = subscription.secret
    start = sweep.log_position()
    writer_errors: list[BaseException] = []

    def write() -> None:
        try:
            run_commands(sweep, COMMANDS)
        except BaseException as error:
            writer_errors.append(error)

    writer = threading.Thread(target=write)
    writer.start()
    follower = start_follower(url)
    randomly = random.Random(12)
    try:
        for _ in range(KILLS):
            time.sleep(randomly.uniform(0.5, 1.5))
            follower.send_signal(signal.SIGKILL)
            follower.wait(timeout=10)
            follower = start_follower(url)
        writer.join(timeout=300)
        assert not writer_errors, writer_errors
        events = sweep.log_position() - start
        deadline = time.monotonic() + 120
        while len(receiver.unique()) < events and time.monotonic() < deadline:
            assert follower.poll() is None, follower.stderr.read() if follower.stderr else ""
            time.sleep(0.1)
    finally:
        follower.send_signal(signal.SIGTERM)
        try:
            follower.wait(timeout=15)
        except subprocess.TimeoutExpired:
            follower.kill()
    arrived = receiver.unique()
    log = [n.id for n in integration.feed._select(start, 100_000)]
    assert sorted(a.body["data"]["position"] for a in arrived.values()) == log
    assert all(a.verified for a in receiver.arrivals)
    # Nothing invented: one outbox row per event, each delivered; a message sent
    # again after a kill came with the id it had the first time.
    catch_up_outbox(integration)
    rows = integration.webhooks.deliveries(subscription.subscription_id, limit=100_000)
    assert len(rows) == len(log) == len({r["message_id"] for r in rows})
    assert {r["status"] for r in rows} == {DELIVERED}
    assert {a.message_id for a in receiver.arrivals} == set(arrived)
    # Per case, first arrivals keep the log's order.
    by_case: dict[str, list[int]] = defaultdict(list)
    for arrival in arrived.values():
        by_case[arrival.body["data"]["case_id"]].append(arrival.body["data"]["position"])
    assert all(positions == sorted(positions) for positions in by_case.values())
