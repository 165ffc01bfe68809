"""Run any projection over an application's notification log, exactly once.

Usage (the API is stable; other projections — the audit hash chain — use it)::

    from infrastructure.projections.runner import ProjectionRunner

    view = ...        # a TrackingRecorder (e.g. built by the library's factory)
    projection = MyProjection(view)    # an eventsourcing.projection.Projection
    with ProjectionRunner(app, projection) as runner:   # follows the log in a thread
        position = app.some_command(...)
        runner.wait(position, timeout=2.0)   # TimeoutError if not reached
    # or, synchronously, in the caller's thread:
    ProjectionRunner(app, projection).catch_up()        # up to the head of the log

``ProjectionRunner(app, projection, *, name=None, lock=None, poll_interval=0.1,
batch_size=500, retry_interval=1.0, on_batch=None)``:

- ``app`` — the ``eventsourcing.application.Application`` whose log is read
  (any recorder: SQLite, PostgreSQL, POPO; it is only read, through
  ``recorder.select_notifications`` and ``mapper``; see
  :class:`~infrastructure.projections.subscription.PullSubscription`);
- ``projection`` — an instance of an ``eventsourcing.projection.Projection``
  subclass. Its ``view`` must be a ``TrackingRecorder``; its ``process_event(
  event, tracking)`` must write the event's effect and ``view.insert_tracking``
  (or equivalent) in one transaction — the runner resumes from
  ``view.max_tracking_id(app.name)``, so an event is applied again after a
  crash only if its tracking was not committed, i.e. neither was its effect.
  If the projection also has ``process_batch(items)`` (a list of (event,
  tracking)), the runner hands it whole pages of events instead, for speed;
- ``name`` — what logs and the host call it (default: the projection's name);
- ``lock`` — a :class:`~infrastructure.projections.locks.WorkerLock`: only the
  holder advances; others retry every ``retry_interval`` seconds and take
  over when the holder's session ends. None: no lock;
- ``on_batch(count, last_position)`` — called after each applied batch.

Methods: ``start()`` / ``stop()`` / ``join()`` (also as a context manager, which
re-raises a projection error on exit); ``run_forever(timeout=None)`` blocks and
re-raises; ``wait(notification_id, timeout=1.0)`` blocks until the view has
recorded that position (``TimeoutError`` otherwise); ``catch_up(stop_at=None,
progress=None)`` processes synchronously up to ``stop_at`` or the head and
returns the number of events; ``position()`` and ``lag()`` read the view and the
log; ``wake()`` makes a waiting runner look at the log now. Attributes:
``name``, ``app``, ``projection``, ``view``, ``is_leader``, ``error`` (an error
that stopped it), ``last_error`` (the latest transient one, retried).

Errors: a conflict (``IntegrityError``: someone else recorded those events
first) makes the runner re-read its position and go on; a lost database
connection (``OperationalError``/``InterfaceError``) is retried after
``retry_interval``; anything else — a bug in the projection — stops the runner
with ``error`` set, rather than skip the event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, Self

from eventsourcing.application import Application
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    Tracking,
    TTrackingRecorder,
)
from eventsourcing.projection import Projection

from infrastructure.projections.locks import NoLock, WorkerLock
from infrastructure.projections.subscription import PullSubscription

log = logging.getLogger("rectify.projections")

TRANSIENT_ERRORS = (OperationalError, InterfaceError)
# How often a leader checks that its lock's session is still alive.
LOCK_CHECK_INTERVAL = 2.0


class ProjectionRunner(Generic[TTrackingRecorder]):
    """Feeds a projection every event of an application's log after its
    recorded position, in order, once; in a thread of its own or synchronously."""

    kind = "log"
    """What :mod:`infrastructure.followers` calls a follower of the log."""

    def __init__(
        self,
        app: Application[Any],
        projection: Projection[TTrackingRecorder],
        *,
        name: str | None = None,
        lock: WorkerLock | None = None,
        poll_interval: float = 0.1,
        batch_size: int = 500,
        retry_interval: float = 1.0,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        self.app = app
        self.projection = projection
        self.view: TTrackingRecorder = projection.view
        self.name = name or projection.name
        self.lock: WorkerLock = lock or NoLock()
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.retry_interval = retry_interval
        self.on_batch = on_batch
        self.is_leader = False
        self.error: BaseException | None = None
        self.last_error: BaseException | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress = threading.Condition()
        self._position: int | None = None
        # Set when the position must be read again (on leading, after a conflict
        # or an error) before the next batch.
        self._needs_resync = True
        self._subscription: PullSubscription | None = None
        self._lock_checked_at = 0.0

    # -- reading where it is ----------------------------------------------------------

    def position(self) -> int | None:
        """The last position the view recorded (None: nothing yet)."""
        return self.view.max_tracking_id(self.app.name)

    def lag(self) -> int:
        """How many notification ids the view is behind the head of the log."""
        head = self.app.recorder.max_notification_id() or 0
        return max(0, head - (self.position() or 0))

    # -- running in a thread ------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError(f"projection runner {self.name} already started")
        self._thread = threading.Thread(
            target=self._run, name=f"projection-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._subscription is not None:
            self._subscription.stop()
        with self._progress:
            self._progress.notify_all()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        if self._subscription is not None:
            self._subscription.wake()

    def run_forever(self, timeout: float | None = None) -> None:
        """Block until stopped, ``timeout`` passes, or the projection fails (re-raised)."""
        self._stopping.wait(timeout)
        if self.error is not None:
            raise self.error

    def wait(self, notification_id: int | None, timeout: float = 1.0) -> None:
        """Block until the view has recorded ``notification_id`` (or later)."""
        if notification_id is None:
            return
        self.wake()
        deadline = time.monotonic() + timeout
        interval = 0.01
        while True:
            if self.error is not None:
                raise self.error
            position = self.position()
            if position is not None and position >= notification_id:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"projection {self.name} did not reach {notification_id} in {timeout}s "
                    f"(at {position})"
                )
            # Woken at once by our own thread's progress; polled for a worker elsewhere.
            with self._progress:
                self._progress.wait(min(interval, remaining))
            interval = min(interval * 2, 0.2)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.join()
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                if not self._lead():
                    self._stopping.wait(self.retry_interval)
                    continue
                try:
                    if self._needs_resync:
                        self._resync()
                    subscription = self._subscription
                    assert subscription is not None
                    self._apply(subscription.next_batch())
                    self.last_error = None
                except IntegrityError as conflict:
                    log.info("projection %s: %s; re-reading its position", self.name, conflict)
                    self._needs_resync = True
                except TRANSIENT_ERRORS as error:
                    self.last_error = error
                    log.warning("projection %s: %s; retrying", self.name, error)
                    self._stopping.wait(self.retry_interval)
                    # Re-read the position on the next round, inside this try: with
                    # the database still away, that fails as transiently as this did,
                    # and must not end the runner.
                    self._needs_resync = True
        except BaseException as error:
            self.error = error
            log.exception("projection %s stopped", self.name)
        finally:
            self.is_leader = False
            self.lock.release()
            self._stopping.set()
            with self._progress:
                self._progress.notify_all()

    def _lead(self) -> bool:
        """Hold the lock (checking now and then that it is still ours)."""
        now = time.monotonic()
        if self.is_leader and now - self._lock_checked_at < LOCK_CHECK_INTERVAL:
            return True
        self._lock_checked_at = now
        if self.is_leader and self.lock.still_held():
            return True
        if self.is_leader:
            log.warning("projection %s: lost its lock", self.name)
        self.is_leader = False
        try:
            acquired = self.lock.acquire()
        except TRANSIENT_ERRORS as error:
            self.last_error = error
            return False
        if acquired:
            self.is_leader = True
            self._subscription = PullSubscription(
                self.app, poll_interval=self.poll_interval, batch_size=self.batch_size
            )
            self._needs_resync = True
            log.info("projection %s: leading", self.name)
        return acquired

    def _resync(self) -> None:
        self._position = self.position()
        if self._subscription is not None:
            self._subscription.restart(self._position)
        self._needs_resync = False

    # -- applying -------------------------------------------------------------------------

    def _apply(self, batch: Sequence[tuple[Any, Tracking]]) -> None:
        if not batch:
            return
        process_batch = getattr(self.projection, "process_batch", None)
        if process_batch is not None:
            process_batch(batch)
        else:
            for event, tracking in batch:
                self.projection.process_event(event, tracking)
        self._position = batch[-1][1].notification_id
        if self.on_batch is not None:
            self.on_batch(len(batch), self._position)
        with self._progress:
            self._progress.notify_all()

    def catch_up(
        self,
        stop_at: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Apply, in the caller's thread, every event after the recorded position
        up to ``stop_at`` (default: the head of the log now). Returns how many.

        ``progress(count, position)`` is called after each batch. It takes no
        lock (the view's position check still refuses what another worker
        applied first), and is not to be used while the runner's own thread runs.
        """
        if self.is_running:
            raise RuntimeError(f"projection runner {self.name} is running in its thread")
        if stop_at is None:
            stop_at = self.app.recorder.max_notification_id() or 0
        subscription = PullSubscription(
            self.app, self.position(), batch_size=self.batch_size, stop_at=stop_at
        )
        count = 0
        while True:
            batch = subscription.fetch()
            if not batch:
                return count
            self._apply(batch)
            count += len(batch)
            if progress is not None:
                progress(count, batch[-1][1].notification_id)
