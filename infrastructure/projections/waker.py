"""On PostgreSQL, wake the runners as soon as events are committed.

The library's PostgreSQL recorder sends ``NOTIFY <events table>`` in every
transaction that records events (what its own ``subscribe()`` listens for).
Runners pull the log on a timer; a :class:`NotifyWaker` listens on that channel
and wakes them at once, so a worker in another process than the API applies a
command's events within milliseconds rather than a poll interval. Polling stays
as the fallback: a notification lost while reconnecting costs one interval.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from psycopg import sql

log = logging.getLogger("rectify.projections")

RECONNECT_SECONDS = 1.0


class NotifyWaker:
    """Calls every ``wake`` callback when ``channel`` is notified."""

    def __init__(
        self, connect_kwargs: dict[str, Any], channel: str, wakes: Iterable[Callable[[], None]]
    ) -> None:
        self._connect_kwargs = {k: v for k, v in connect_kwargs.items() if k != "row_factory"}
        self.channel = channel
        self._wakes = list(wakes)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> NotifyWaker:
        self._thread = threading.Thread(target=self._listen, name="projection-waker", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _listen(self) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(**self._connect_kwargs, autocommit=True) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    while not self._stopping.is_set():
                        # Short timeouts, so that stop() is noticed promptly.
                        for _ in conn.notifies(timeout=0.2, stop_after=1):
                            for wake in self._wakes:
                                wake()
            except psycopg.Error as error:
                log.warning("projection waker: %s; listening again shortly", error)
                self._stopping.wait(RECONNECT_SECONDS)
