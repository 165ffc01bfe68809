"""A pull subscription to an application's notification log, for any recorder.

The library's ``ApplicationSubscription`` needs the recorder's ``subscribe()``,
which SQLite's recorder lacks; this one only needs ``select_notifications``, so
it works on SQLite, PostgreSQL and POPO alike. It polls: when the log has
nothing new it waits ``poll_interval`` seconds (or until :meth:`wake` is called)
and asks again.

Gaps: notification ids can skip numbers (on PostgreSQL, a transaction that
rolled back after taking ids). Each select asks for ids after the last one
yielded, ordered by id, so whatever comes after a gap is yielded, and a gap
never stops the subscription. A gap is never filled later: the PostgreSQL
recorder inserts under an exclusive table lock, so ids are committed in the
order they are issued, and SQLite writes one transaction at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any, Self

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking


class PullSubscription(Iterator[tuple[Any, Tracking]]):
    """Yields (domain event, tracking) for every event after ``gt``, then waits
    for more; iterating stops only when :meth:`stop` is called.

    :meth:`next_batch` hands out what is already there as one list, for a runner
    that applies events in batches.
    """

    def __init__(
        self,
        app: Application[Any],
        gt: int | None = None,
        topics: Sequence[str] = (),
        *,
        poll_interval: float = 0.1,
        batch_size: int = 500,
        stop_at: int | None = None,
    ) -> None:
        self.app = app
        self.name = app.name
        self.recorder = app.recorder
        self.mapper = app.mapper
        self.topics = list(topics)
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.stop_at = stop_at
        self._last = gt
        self._buffer: list[tuple[Any, Tracking]] = []
        self._stopped = threading.Event()
        self._woken = threading.Event()

    @property
    def last_id(self) -> int | None:
        """The id of the last notification fetched (not necessarily yielded yet)."""
        return self._last

    def restart(self, gt: int | None) -> None:
        """Forget anything fetched and not yet yielded; continue after ``gt``."""
        self._buffer.clear()
        self._last = gt

    def wake(self) -> None:
        """Stop waiting and look at the log now (e.g. after a command was saved)."""
        self._woken.set()

    def stop(self) -> None:
        self._stopped.set()
        self._woken.set()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def reached_stop(self) -> bool:
        """Whether everything up to ``stop_at`` (if given) has been fetched."""
        return self.stop_at is not None and (self._last or 0) >= self.stop_at

    def fetch(self) -> list[tuple[Any, Tracking]]:
        """Up to ``batch_size`` events after the last fetched one; empty if none yet."""
        if self.reached_stop():
            return []
        notifications = self.recorder.select_notifications(
            start=self._last or 0,
            limit=self.batch_size,
            stop=self.stop_at,
            topics=self.topics,
            inclusive_of_start=False,
        )
        if not notifications:
            return []
        self._last = notifications[-1].id
        return [(self.mapper.to_domain_event(n), Tracking(self.name, n.id)) for n in notifications]

    def next_batch(self, timeout: float | None = None) -> list[tuple[Any, Tracking]]:
        """What has been recorded since the last batch, waiting up to ``timeout``
        (default: one poll interval) for something to arrive. May be empty."""
        if self._buffer:
            batch, self._buffer = self._buffer, []
            return batch
        batch = self.fetch()
        if batch or self.stopped:
            return batch
        self._woken.wait(self.poll_interval if timeout is None else timeout)
        self._woken.clear()
        return [] if self.stopped else self.fetch()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> tuple[Any, Tracking]:
        while not self._buffer:
            if self.stopped or self.reached_stop():
                raise StopIteration
            self._buffer = self.next_batch()
        return self._buffer.pop(0)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
