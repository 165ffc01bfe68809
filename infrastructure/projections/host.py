"""Running the read models of one application: inside the API process by default,
or as a separate worker (``rectify projections run``).

:class:`ReadModelHost` starts one :class:`ProjectionRunner` per read-model
projection and, on a schedule, the overdue check. On PostgreSQL a
:class:`~infrastructure.projections.waker.NotifyWaker` wakes the runners as soon
as events are committed. On PostgreSQL each runner
takes its projection's advisory lock, so any number of API processes and
workers can run hosts against one database: one advances each projection, the
others stand by. The overdue check runs only where the ``cases`` projection is
led, since it reads that projection's open orders.

Settings (process environment, or ``settings=`` of ``build_app``):

- ``RECTIFY_PROJECTIONS`` — ``inline`` (default): the API process runs the
  projections; ``external``: it does not, workers do;
- ``RECTIFY_OVERDUE_CHECK_SECONDS`` — how often the overdue check runs (60;
  0 turns it off);
- ``RECTIFY_PROJECTION_POLL_SECONDS`` — how long a runner waits before asking
  the log again when it had nothing new (0.1);
- ``RECTIFY_PROJECTION_BATCH_SIZE`` — the most events applied in one
  transaction (500).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Self

from application.app import OverdueReport, RectifyApp
from infrastructure.projections.locks import NoLock, PostgresAdvisoryLock, WorkerLock
from infrastructure.projections.runner import ProjectionRunner
from infrastructure.projections.waker import NotifyWaker
from infrastructure.readmodels.queries import ReadModelQueries
from infrastructure.readmodels.store import PROJECTION_NAMES, ReadModelStore

log = logging.getLogger("rectify.projections")

DEFAULT_OVERDUE_SECONDS = 60.0
DEFAULT_POLL_SECONDS = 0.1
DEFAULT_BATCH_SIZE = 500
INLINE, EXTERNAL = "inline", "external"


def setting(app: RectifyApp, key: str, default: str) -> str:
    """A ``RECTIFY_<key>`` setting (the application's environment finds the prefix)."""
    value = app.env.get(key)
    return default if value is None or not str(value).strip() else str(value).strip()


def projections_mode(app: RectifyApp) -> str:
    """``inline`` or ``external`` (see the module's settings)."""
    mode = setting(app, "PROJECTIONS", INLINE).lower()
    if mode not in (INLINE, EXTERNAL):
        raise ValueError(f"RECTIFY_PROJECTIONS must be {INLINE} or {EXTERNAL}, not {mode!r}")
    return mode


@dataclass(frozen=True)
class ProjectionHealth:
    """One projection as ``/health`` reports it."""

    name: str
    position: int | None
    head: int
    running: bool | None
    leader: bool | None
    error: str | None

    @property
    def lag(self) -> int:
        return max(0, self.head - (self.position or 0))


class ReadModelHost:
    """The read-model projections of one application, and their queries.

    With ``run=False`` nothing is started (an API process whose projections
    run in workers): the queries, positions and waiting still work.
    """

    def __init__(
        self,
        app: RectifyApp,
        *,
        names: Iterable[str] | None = None,
        run: bool = True,
        overdue_interval: float | None = None,
        poll_interval: float | None = None,
    ) -> None:
        self.app = app
        self.store = ReadModelStore(app)
        self.queries = ReadModelQueries(self.store)
        self.names = tuple(names or PROJECTION_NAMES)
        self.run = run
        self.overdue_interval = (
            float(setting(app, "OVERDUE_CHECK_SECONDS", str(DEFAULT_OVERDUE_SECONDS)))
            if overdue_interval is None
            else overdue_interval
        )
        poll = (
            float(setting(app, "PROJECTION_POLL_SECONDS", str(DEFAULT_POLL_SECONDS)))
            if poll_interval is None
            else poll_interval
        )
        batch_size = int(setting(app, "PROJECTION_BATCH_SIZE", str(DEFAULT_BATCH_SIZE)))
        self.views = {name: self.store.view(name) for name in PROJECTION_NAMES}
        self.runners: dict[str, ProjectionRunner[Any]] = {}
        if run:
            for name in self.names:
                self.runners[name] = ProjectionRunner(
                    app,
                    self.store.projection(name),
                    lock=self._lock(name),
                    poll_interval=poll,
                    batch_size=batch_size,
                )
        self.waker: NotifyWaker | None = None
        if self.runners and self.store.is_postgres:
            self.waker = NotifyWaker(
                self.store.postgres_connect_kwargs(),
                app.recorder.channel_name,  # type: ignore[attr-defined]
                [runner.wake for runner in self.runners.values()],
            )
        self.last_overdue: OverdueReport | None = None
        self.overdue_error: BaseException | None = None
        self._stopping = threading.Event()
        self._overdue_thread: threading.Thread | None = None

    def _lock(self, name: str) -> WorkerLock:
        if self.store.is_postgres:
            return PostgresAdvisoryLock(self.store.postgres_connect_kwargs(), name)
        return NoLock()

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> Self:
        for runner in self.runners.values():
            runner.start()
        if self.waker is not None:
            self.waker.start()
        if self.run and self.overdue_interval > 0 and "cases" in self.runners:
            self._overdue_thread = threading.Thread(
                target=self._overdue_loop, name="overdue-check", daemon=True
            )
            self._overdue_thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self.waker is not None:
            self.waker.stop()
        for runner in self.runners.values():
            runner.stop()
        for runner in self.runners.values():
            runner.join(timeout=10)
        if self._overdue_thread is not None:
            self._overdue_thread.join(timeout=10)

    def close(self) -> None:
        self.stop()
        self.store.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def failed(self) -> dict[str, BaseException]:
        """Runners stopped by an error in their projection."""
        return {n: r.error for n, r in self.runners.items() if r.error is not None}

    # -- positions ------------------------------------------------------------------

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def positions(self, names: Iterable[str] | None = None) -> dict[str, int | None]:
        return {
            name: self.views[name].max_tracking_id(self.app.name)
            for name in (names or PROJECTION_NAMES)
        }

    def wait_for(
        self, position: int, names: Iterable[str], timeout: float = 2.0
    ) -> dict[str, int | None]:
        """Wait up to ``timeout`` seconds for projections ``names`` to reach
        ``position``; return where each got to (possibly short of it)."""
        names = tuple(names)
        for name in names:
            if name in self.runners:
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

    def health(self) -> list[ProjectionHealth]:
        head = self.head()
        positions = self.positions()
        report = []
        for name in PROJECTION_NAMES:
            runner = self.runners.get(name)
            error = (runner.error or runner.last_error) if runner is not None else None
            report.append(
                ProjectionHealth(
                    name=name,
                    position=positions[name],
                    head=head,
                    running=runner.is_running if runner is not None else None,
                    leader=runner.is_leader if runner is not None else None,
                    error=None if error is None else f"{type(error).__name__}: {error}",
                )
            )
        return report

    # -- the overdue check ----------------------------------------------------------

    def check_overdue(self) -> OverdueReport:
        """Record as overdue every open order past its deadline (from the read
        model's candidates; the application checks each against its events)."""
        report = self.app.mark_overdue(self.queries.orders_past_deadline(self.app.today()))
        self.last_overdue = report
        if report.marked:
            log.info(
                "overdue check: %d marked, %d escalated", len(report.marked), len(report.escalated)
            )
        return report

    def _overdue_loop(self) -> None:
        cases = self.runners["cases"]
        while not self._stopping.wait(self.overdue_interval):
            if not cases.is_leader:
                continue  # another process leads the cases projection, and checks
            try:
                self.check_overdue()
                self.overdue_error = None
            except Exception as error:  # reported by /health; tried again next time
                self.overdue_error = error
                log.exception("overdue check failed")
