"""Operating the read models: rebuild from the log, check against a rebuild, status.

Both rebuild and check first replay the whole log into scratch tables
(``rm_scratch_*``) while the live tables stay in service. Then, in one
transaction that holds the live view's lock (so a running worker waits):

- rebuild replaces the live rows with the scratch rows and records the
  scratch position, so a live worker carries on from there;
- check compares the two sets of rows at the same position, row by row.

If a live worker moved on while the scratch copy was being built, the copy is
brought up to the live position first, outside the transaction, and the step
is tried again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.application import Application

from application.projections.read_models import ReadModelProjection
from infrastructure.projections.locks import WORKER_LABEL_PREFIX, advisory_key
from infrastructure.projections.runner import ProjectionRunner
from infrastructure.projections.subscription import PullSubscription
from infrastructure.readmodels.store import PROJECTION_CLASSES, ReadModelStore
from infrastructure.readmodels.views import ReadModelView

Progress = Callable[[int, int], None]
MAX_ATTEMPTS = 50
# Events per page of the log and per transaction of a replay.
REPLAY_BATCH = 1000


@dataclass(frozen=True)
class RebuildReport:
    """What a rebuild did: events replayed, how long it took, where it ended."""

    name: str
    events: int
    seconds: float
    position: int | None

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Difference:
    """A row that is not the same in the live table and in the rebuild."""

    table: str
    key: dict[str, Any]
    live: dict[str, Any] | None
    rebuilt: dict[str, Any] | None

    @property
    def columns(self) -> list[str]:
        """The columns whose values differ (all of them if one side is missing)."""
        if self.live is None or self.rebuilt is None:
            return list((self.live or self.rebuilt or {}).keys())
        return [c for c in self.live if self.live[c] != self.rebuilt.get(c)]


@dataclass
class CheckReport:
    """The outcome of comparing one projection's live tables with a rebuild."""

    name: str
    position: int | None
    head: int
    differences: list[Difference] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences


def _scratch(store: ReadModelStore, name: str) -> tuple[ReadModelView, ReadModelProjection]:
    """A fresh scratch copy of projection ``name`` (whatever a crashed run left, dropped)."""
    store.view(name, scratch=True).drop()
    projection = store.projection(name, scratch=True)
    return projection.view, projection


def _catch_up(
    app: Application[Any],
    projection: ReadModelProjection,
    stop_at: int | None,
    progress: Progress | None,
) -> int:
    return ProjectionRunner(app, projection, batch_size=REPLAY_BATCH).catch_up(
        stop_at=stop_at, progress=progress
    )


def _columns(view: ReadModelView, table: str) -> str:
    return ", ".join(view.table(table).column_names)


def _replay(
    app: Application[Any],
    projections: list[ReadModelProjection],
    progress: Progress | None,
) -> int:
    """Feed every projection (each on fresh tables) the whole log as it is now,
    reading and decoding each page of the log once for all of them: reading
    costs about as much as one projection's writing. Returns how many events."""
    subscription = PullSubscription(
        app, None, batch_size=REPLAY_BATCH, stop_at=app.recorder.max_notification_id() or 0
    )
    count = 0
    while batch := subscription.fetch():
        for projection in projections:
            projection.process_batch(batch)
        count += len(batch)
        if progress is not None:
            progress(count, batch[-1][1].notification_id)
    return count


def rebuild(
    app: Application[Any],
    store: ReadModelStore,
    name: str,
    progress: Progress | None = None,
) -> RebuildReport:
    """Replay the whole log into projection ``name``'s tables, replacing their rows."""
    (report,) = rebuild_many(app, store, [name], progress)
    return report


def rebuild_many(
    app: Application[Any],
    store: ReadModelStore,
    names: Sequence[str],
    progress: Progress | None = None,
) -> list[RebuildReport]:
    """Replay the whole log once into scratch copies of every projection named,
    then put each in service in turn (see :func:`rebuild`). A report's
    ``seconds`` run from the start of the replay to that projection's swap."""
    started = time.perf_counter()
    scratches = [_scratch(store, name) for name in names]
    try:
        events = _replay(app, [projection for _, projection in scratches], progress)
        return [
            _swap(app, store, name, scratch, projection, events, started, progress)
            for name, (scratch, projection) in zip(names, scratches, strict=True)
        ]
    finally:
        for scratch, _ in scratches:
            scratch.drop()


def _swap(
    app: Application[Any],
    store: ReadModelStore,
    name: str,
    scratch: ReadModelView,
    projection: ReadModelProjection,
    events: int,
    started: float,
    progress: Progress | None,
) -> RebuildReport:
    """Replace the live rows of ``name`` with the scratch copy's, in one transaction."""
    live = store.view(name)
    for _ in range(MAX_ATTEMPTS):
        with live.write_transaction() as cursor:
            live.lock_in(cursor)
            live_at = live.position_in(cursor, app.name) or 0
            scratch_at = scratch.position_in(cursor, app.name) or 0
            if scratch_at >= live_at:
                live.clear_in(cursor)
                for table in live.tables:
                    columns = _columns(live, table.name)
                    cursor.execute(
                        f"INSERT INTO {live.prefix}{table.name} ({columns}) "
                        f"SELECT {columns} FROM {scratch.prefix}{table.name}"
                    )
                live.set_position_in(cursor, app.name, scratch_at or None)
                return RebuildReport(
                    name, events, time.perf_counter() - started, scratch_at or None
                )
        # A live worker is ahead of the copy: bring the copy up to it and retry.
        events += _catch_up(app, projection, live_at, progress)
    raise RuntimeError(f"projection {name} kept moving ahead of its rebuild; try again")


def check(
    app: Application[Any],
    store: ReadModelStore,
    name: str,
    progress: Progress | None = None,
) -> CheckReport:
    """Rebuild projection ``name`` into scratch tables up to the live position
    and compare them with the live tables."""
    scratch, projection = _scratch(store, name)
    live = store.view(name)
    head = app.recorder.max_notification_id() or 0
    try:
        live_at = live.max_tracking_id(app.name) or 0
        _catch_up(app, projection, live_at, progress)
        for _ in range(MAX_ATTEMPTS):
            with live.read_transaction() as cursor:
                live.lock_in(cursor)
                live_at = live.position_in(cursor, app.name) or 0
                scratch_at = scratch.position_in(cursor, app.name) or 0
                if scratch_at == live_at:
                    report = CheckReport(name, live_at or None, head)
                    for table in live.tables:
                        report.differences += _compare(live, scratch, table.name, cursor)
                        report.rows[table.name] = _count(live, table.name, cursor)
                    return report
            _catch_up(app, projection, live_at, progress)
        raise RuntimeError(f"projection {name} kept moving ahead of its check; try again")
    finally:
        scratch.drop()


def _count(view: ReadModelView, table: str, cursor: Any) -> int:
    cursor.execute(f"SELECT COUNT(*) AS n FROM {view.prefix}{table}")
    return int(dict(cursor.fetchone())["n"])


def _compare(
    live: ReadModelView, scratch: ReadModelView, table: str, cursor: Any
) -> list[Difference]:
    spec = live.table(table)
    columns = _columns(live, table)

    def only_in(a: str, b: str) -> dict[tuple[Any, ...], dict[str, Any]]:
        # EXCEPT compares NULLs as equal, as a row-by-row comparison should.
        cursor.execute(f"SELECT {columns} FROM {a}{table} EXCEPT SELECT {columns} FROM {b}{table}")
        rows = [dict(row) for row in cursor.fetchall()]
        return {tuple(row[k] for k in spec.key): row for row in rows}

    live_only = only_in(live.prefix, scratch.prefix)
    rebuilt_only = only_in(scratch.prefix, live.prefix)
    return [
        Difference(
            table=table,
            key=dict(zip(spec.key, key, strict=True)),
            live=live_only.get(key),
            rebuilt=rebuilt_only.get(key),
        )
        for key in sorted(set(live_only) | set(rebuilt_only), key=repr)
    ]


@dataclass(frozen=True)
class ProjectionStatus:
    """Where one projection is, against the head of the log."""

    name: str
    position: int | None
    head: int
    worker: str | None = None
    """Which process holds the projection's lock (``pid 1234 on host``), if one does."""

    @property
    def worker_pid(self) -> int | None:
        """The worker's process id, if it runs on this host's naming (see ``worker``)."""
        if self.worker is None:
            return None
        words = self.worker.split()
        return int(words[1]) if len(words) > 1 and words[0] == "pid" else None

    @property
    def lag(self) -> int:
        return max(0, self.head - (self.position or 0))


def status(app: Application[Any], store: ReadModelStore) -> list[ProjectionStatus]:
    """Each read-model projection's position and lag; on PostgreSQL also the
    worker process holding its lock, if one does."""
    head = app.recorder.max_notification_id() or 0
    holders = lock_holders(store, PROJECTION_CLASSES) if store.is_postgres else {}
    return [
        ProjectionStatus(
            name=name,
            position=store.view(name).max_tracking_id(app.name),
            head=head,
            worker=holders.get(name),
        )
        for name in PROJECTION_CLASSES
    ]


def lock_holders(store: ReadModelStore, names: Iterable[str]) -> dict[str, str]:
    """On PostgreSQL, which worker process holds each named follower's lock."""
    keys = {advisory_key(name): name for name in names}
    with store.datastore.transaction(commit=False) as cursor:
        # A bigint advisory key is kept as its high and low 32 bits.
        cursor.execute(
            "SELECT a.application_name, (l.classid::bigint << 32) | l.objid::bigint AS key "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        rows = [dict(row) for row in cursor.fetchall()]
    holders: dict[str, str] = {}
    for row in rows:
        name = keys.get(int(row["key"]))
        if name is not None:
            label = str(row["application_name"] or "")
            holders[name] = label.removeprefix(WORKER_LABEL_PREFIX).strip() or "unknown"
    return holders
