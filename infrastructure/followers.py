"""Everything that follows the log, registered by name and run by one host.

A **follower** is something with a name that processes the events of the log in
log order, exactly once, keeping its own tracking position beside what it writes
(the ``cases`` and ``site_history`` read models, the audit hash chain); or a
**periodic job** that acts on what the followers built, every so many seconds
(the overdue check). Each is registered once, in :data:`FOLLOWERS`, and run by a
:class:`FollowerHost`:

- inline, in the API process — the app's lifespan starts one host for every
  follower (``RECTIFY_PROJECTIONS=inline``, the default), or a host that runs
  nothing and only reports positions (``external``);
- as workers: ``rectify followers run [NAME…]`` (every follower without a NAME).

On PostgreSQL each follower takes an advisory lock named after it, so any number
of API processes and workers may run the same follower: one leads, the others
stand by and take over when its session ends; the events' ``NOTIFY`` wakes the
log followers at once. On SQLite and in memory one process serves the store, and
every follower's own position check refuses anything applied twice anyway.
``/health`` and ``rectify followers status`` give each follower's position and
lag (a periodic job: when it last ran).

Adding a follower is one registration. A projection (an
``eventsourcing.projection.Projection`` whose view is a ``TrackingRecorder``),
built from the services of :mod:`infrastructure.composition`::

    FOLLOWERS.log("webhook_outbox", lambda services: OutboxProjection(services.outbox_view()))

and a periodic job, with the setting that says how often (0 turns it off)::

    FOLLOWERS.periodic(
        "reminders",
        lambda services: services.reminders.send_due,
        every="REMINDER_CHECK_SECONDS",
        default_seconds=60,
    )

Settings (``RECTIFY_`` in the process environment, or ``settings=``):

- ``RECTIFY_PROJECTIONS`` — ``inline`` (default) or ``external`` (see above);
- ``RECTIFY_OVERDUE_CHECK_SECONDS`` — how often the overdue check runs (60;
  0 turns it off);
- ``RECTIFY_PROJECTION_POLL_SECONDS`` — how long a log follower waits before
  asking the log again when it had nothing new (0.1);
- ``RECTIFY_PROJECTION_BATCH_SIZE`` — the most events applied in one
  transaction (500).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, Self

from eventsourcing.application import Application
from eventsourcing.projection import Projection

from infrastructure.projections.locks import WorkerLock
from infrastructure.projections.runner import TRANSIENT_ERRORS, ProjectionRunner
from infrastructure.projections.waker import NotifyWaker

log = logging.getLogger("rectify.followers")

DEFAULT_POLL_SECONDS = 0.1
DEFAULT_BATCH_SIZE = 500
INLINE, EXTERNAL = "inline", "external"
LOG, PERIODIC = "log", "periodic"


class FollowerServices(Protocol):
    """What the host needs of the composition root (:mod:`infrastructure.composition`):
    the application whose log is followed, per-follower locks, a waker, settings."""

    @property
    def app(self) -> Application[Any]: ...

    def setting(self, key: str, default: str) -> str:
        """A ``RECTIFY_<key>`` setting."""
        ...

    def worker_lock(self, name: str) -> WorkerLock:
        """The lock that lets one process at a time advance follower ``name``."""
        ...

    def notify_waker(self, wakes: Iterable[Callable[[], None]]) -> NotifyWaker | None:
        """Something that calls ``wakes`` when events are committed, if the store can."""
        ...


def projections_mode(services: FollowerServices) -> str:
    """``inline`` or ``external`` (see the module's settings)."""
    mode = services.setting("PROJECTIONS", INLINE).lower()
    if mode not in (INLINE, EXTERNAL):
        raise ValueError(f"RECTIFY_PROJECTIONS must be {INLINE} or {EXTERNAL}, not {mode!r}")
    return mode


# -- registrations ---------------------------------------------------------------------


@dataclass(frozen=True)
class LogFollowerSpec:
    """A follower of the log: how to build its projection from the services."""

    name: str
    projection: Callable[[Any], Projection[Any]]
    kind: str = LOG


@dataclass(frozen=True)
class PeriodicSpec:
    """A job run every ``RECTIFY_<every>`` seconds (``default_seconds`` without it)."""

    name: str
    job: Callable[[Any], Callable[[], object]]
    every: str
    default_seconds: float
    kind: str = PERIODIC


FollowerSpec = LogFollowerSpec | PeriodicSpec


class FollowerRegistry:
    """Every follower by name, in the order registered (the order they start in)."""

    def __init__(self) -> None:
        self._specs: dict[str, FollowerSpec] = {}

    def log(self, name: str, projection: Callable[[Any], Projection[Any]]) -> None:
        """Register a follower of the log; ``projection(services)`` builds it."""
        self._add(LogFollowerSpec(name, projection))

    def periodic(
        self,
        name: str,
        job: Callable[[Any], Callable[[], object]],
        *,
        every: str,
        default_seconds: float,
    ) -> None:
        """Register a periodic job; ``job(services)`` gives the callable to run."""
        self._add(PeriodicSpec(name, job, every, default_seconds))

    def _add(self, spec: FollowerSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"a follower named {spec.name!r} is registered already")
        self._specs[spec.name] = spec

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._specs)

    def __getitem__(self, name: str) -> FollowerSpec:
        return self._specs[name]

    def __iter__(self) -> Iterator[FollowerSpec]:
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def select(self, names: Iterable[str] | None) -> tuple[str, ...]:
        """``names`` checked against the registry (all of them for None)."""
        if names is None:
            return self.names
        chosen = tuple(dict.fromkeys(names))
        unknown = [n for n in chosen if n not in self._specs]
        if unknown:
            raise KeyError(
                f"no follower named {', '.join(map(repr, unknown))}; known: {', '.join(self.names)}"
            )
        return chosen


FOLLOWERS = FollowerRegistry()
"""The service's followers; :mod:`infrastructure.composition` registers the built-in ones."""


# -- periodic jobs ---------------------------------------------------------------------


class PeriodicFollower:
    """Runs ``job`` every ``interval`` seconds in a thread, while holding ``lock``.

    Same face as a :class:`ProjectionRunner` for the host (start, stop, join,
    wake, is_running, is_leader, error, last_error), with no log position: it
    reports when it last ran instead. A failing run is logged, kept in
    ``last_error`` and tried again next time; it never stops the job.
    """

    kind = PERIODIC

    def __init__(
        self,
        name: str,
        job: Callable[[], object],
        *,
        interval: float,
        lock: WorkerLock,
    ) -> None:
        self.name = name
        self.job = job
        self.interval = interval
        self.lock = lock
        self.is_leader = False
        self.error: BaseException | None = None
        self.last_error: BaseException | None = None
        self.last_run: datetime | None = None
        self.last_result: object = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def position(self) -> int | None:
        return None

    def start(self) -> Self:
        if self.interval <= 0:
            return self  # turned off by its setting
        self._thread = threading.Thread(
            target=self._loop, name=f"periodic-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        return None  # it runs on its clock, not on new events

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_once(self) -> object:
        """Run the job now, in the caller's thread (no lock taken)."""
        result = self.job()
        self.last_run = datetime.now(UTC)
        self.last_result = result
        return result

    def _loop(self) -> None:
        try:
            while not self._stopping.wait(self.interval):
                try:
                    self.is_leader = self.lock.acquire()
                except TRANSIENT_ERRORS as error:
                    self.is_leader = False
                    self.last_error = error
                    continue
                if not self.is_leader:
                    continue  # another process runs it
                try:
                    self.run_once()
                    self.last_error = None
                except Exception as error:  # reported by /health; tried again next time
                    self.last_error = error
                    log.exception("%s failed", self.name)
        finally:
            self.is_leader = False
            self.lock.release()


Follower = ProjectionRunner[Any] | PeriodicFollower


# -- the host --------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowerHealth:
    """One follower as ``/health`` and ``rectify followers status`` report it."""

    name: str
    kind: str
    position: int | None
    head: int
    running: bool | None
    leader: bool | None
    error: str | None
    last_run: datetime | None = None

    @property
    def lag(self) -> int | None:
        """Log positions behind the head; None for a periodic job."""
        if self.kind != LOG:
            return None
        return max(0, self.head - (self.position or 0))


class FollowerHost:
    """Runs followers of one application's log: all registered ones, or ``names``.

    With ``run=False`` nothing is started (an API process whose followers run in
    workers): positions, lag and waiting still work. ``intervals`` overrides a
    periodic job's interval by name (0: not run on a schedule).
    """

    def __init__(
        self,
        services: FollowerServices,
        *,
        names: Iterable[str] | None = None,
        run: bool = True,
        registry: FollowerRegistry = FOLLOWERS,
        intervals: Mapping[str, float] | None = None,
        poll_interval: float | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.services = services
        self.app = services.app
        self.registry = registry
        self.run = run
        self.names = registry.select(names)
        poll = (
            float(services.setting("PROJECTION_POLL_SECONDS", str(DEFAULT_POLL_SECONDS)))
            if poll_interval is None
            else poll_interval
        )
        batch = (
            int(services.setting("PROJECTION_BATCH_SIZE", str(DEFAULT_BATCH_SIZE)))
            if batch_size is None
            else batch_size
        )
        intervals = dict(intervals or {})
        self.followers: dict[str, Follower] = {}
        for name in self.names:
            spec = registry[name]
            lock = services.worker_lock(name)
            if isinstance(spec, LogFollowerSpec):
                self.followers[name] = ProjectionRunner(
                    self.app,
                    spec.projection(services),
                    name=name,
                    lock=lock,
                    poll_interval=poll,
                    batch_size=batch,
                )
            else:
                interval = intervals.get(name)
                if interval is None:
                    interval = float(services.setting(spec.every, str(spec.default_seconds)))
                self.followers[name] = PeriodicFollower(
                    name, spec.job(services), interval=interval, lock=lock
                )
        self.waker: NotifyWaker | None = None
        if run:
            wakes = [f.wake for f in self.followers.values() if isinstance(f, ProjectionRunner)]
            if wakes:
                self.waker = services.notify_waker(wakes)

    @property
    def runners(self) -> dict[str, ProjectionRunner[Any]]:
        """The followers of the log, by name."""
        return {n: f for n, f in self.followers.items() if isinstance(f, ProjectionRunner)}

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> Self:
        if self.run:
            for follower in self.followers.values():
                follower.start()
            if self.waker is not None:
                self.waker.start()
        return self

    def stop(self) -> None:
        if self.waker is not None:
            self.waker.stop()
        for follower in self.followers.values():
            follower.stop()
        for follower in self.followers.values():
            follower.join(timeout=10)

    close = stop

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def failed(self) -> dict[str, BaseException]:
        """Followers stopped by an error (a log follower stops rather than skip an event)."""
        return {n: f.error for n, f in self.followers.items() if f.error is not None}

    def run_until(self, stop: threading.Event, check_every: float = 0.5) -> None:
        """Block until ``stop`` is set or a follower fails (a worker's main loop)."""
        while not stop.wait(check_every):
            if self.failed:
                return

    # -- positions ------------------------------------------------------------------

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def positions(self, names: Iterable[str] | None = None) -> dict[str, int | None]:
        """Each log follower's recorded position (of ``names``, or all)."""
        chosen = self.runners if names is None else {n: self.runners[n] for n in names}
        return {name: runner.position() for name, runner in chosen.items()}

    def wait_for(
        self, position: int, names: Iterable[str], timeout: float = 2.0
    ) -> dict[str, int | None]:
        """Wait up to ``timeout`` seconds for log followers ``names`` to reach
        ``position``; return where each got to (possibly short of it)."""
        names = tuple(names)
        for name in names:
            self.runners[name].wake()
        deadline = time.monotonic() + timeout
        interval = 0.01
        while True:
            reached = self.positions(names)
            if all((p or 0) >= position for p in reached.values()):
                return reached
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return reached
            time.sleep(min(interval, remaining))
            interval = min(interval * 2, 0.1)

    def health(self) -> list[FollowerHealth]:
        head = self.head()
        report = []
        for name, follower in self.followers.items():
            error = follower.error or follower.last_error
            report.append(
                FollowerHealth(
                    name=name,
                    kind=follower.kind,
                    position=follower.position(),
                    head=head,
                    running=follower.is_running if self.run else None,
                    leader=follower.is_leader if self.run else None,
                    error=None if error is None else f"{type(error).__name__}: {error}",
                    last_run=getattr(follower, "last_run", None),
                )
            )
        return report
