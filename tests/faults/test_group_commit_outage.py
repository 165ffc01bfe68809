"""The database stops while commands are gathered into one transaction: every
one of them fails at once, as each would alone, and none is left waiting.

Runs on a private PostgreSQL cluster that the test stops and starts.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from infrastructure.composition import build_app
from infrastructure.persistence import POSTGRES_CONNECT_TIMEOUT_SECONDS, is_database_unavailable
from infrastructure.recorders import KeyedPostgresApplicationRecorder
from tests.core.scenario import CHEN_XIAOFENG
from tests.faults.cluster import PrivateCluster

THREADS = 6
# One wait for a connection (POSTGRES_CONNECT_TIMEOUT_SECONDS), with room for a
# busy machine: not one wait per transaction the commands queued behind.
BOUND_SECONDS = POSTGRES_CONNECT_TIMEOUT_SECONDS + 0.75
JOIN_SECONDS = 30.0


def test_with_the_database_stopped_every_gathered_command_fails_fast(
    cluster: PrivateCluster, cluster_url: str, clock: Any
) -> None:
    app = build_app(
        cluster_url,
        clock=clock,
        settings={"POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": "2"},
    )
    recorder = app.recorder
    assert isinstance(recorder, KeyedPostgresApplicationRecorder)
    try:
        app.register_site(CHEN_XIAOFENG, name="陶表印盲人按摩店", region="安义县")
        before = recorder.max_notification_id()
        cluster.stop()

        barrier = threading.Barrier(THREADS)
        outcomes: list[tuple[BaseException | None, float]] = []

        def command(n: int) -> None:
            barrier.wait()
            started = time.monotonic()
            try:
                app.register_site(CHEN_XIAOFENG, name=f"店 #{n}", region="安义县")
            except BaseException as error:  # asserted below
                outcomes.append((error, time.monotonic() - started))
            else:
                outcomes.append((None, time.monotonic() - started))

        threads = [threading.Thread(target=command, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=JOIN_SECONDS)
        assert not any(thread.is_alive() for thread in threads), "a command was left waiting"

        assert len(outcomes) == THREADS
        for error, took in outcomes:
            assert error is not None and is_database_unavailable(error), error
            assert took < BOUND_SECONDS, took

        cluster.start()
        after = app.register_site(CHEN_XIAOFENG, name="陶表印盲人按摩店", region="安义县")
        # The outage recorded nothing: the next event follows the one before it.
        [event] = recorder.select_notifications(start=before, limit=10, inclusive_of_start=False)
        assert event.originator_id == after
    finally:
        cluster.start()
        app.close()
