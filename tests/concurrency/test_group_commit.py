"""Group commit on PostgreSQL: the saves that arrive together are committed in one
transaction, each still atomic and each still refused alone on a conflict.

To make "arrive together" certain rather than likely, a test holds the events
table's lock from another connection: the first save then waits on it inside
its transaction while the others queue behind it, and all of those are written
by the next transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, StoredEvent

from application.app import RectifyApp
from domain.values import Actor, Role
from infrastructure.clock import ManualClock
from infrastructure.composition import build_app
from infrastructure.idempotency import (
    IDEMPOTENCY_DDL,
    KeyAlreadyAnswered,
    PendingKey,
    StoredResponse,
    pending_key,
)
from infrastructure.persistence import environment_for, is_database_unavailable
from infrastructure.recorders import (
    KeyedPostgresApplicationRecorder,
    KeyedSQLiteApplicationRecorder,
)

THREADS = 6
INSPECTOR = Actor("chenxiaofeng", "陈小峰", Role.INSPECTOR)
QUEUE_WAIT_SECONDS = 20.0


@pytest.fixture
def app(postgres_url: str) -> Iterator[RectifyApp]:
    built = build_app(
        postgres_url,
        clock=ManualClock(datetime(2022, 4, 18, 1, 0, tzinfo=UTC)),
        settings={"POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": "2"},
    )
    yield built
    built.close()


@pytest.fixture
def store(postgres_url: str) -> Iterator[Application]:
    """The service's recorder under a bare application: events of any topic, and
    the table the idempotency answers are written to."""
    env = environment_for(postgres_url)
    env.update({"POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": "2"})
    bare = Application(env=env)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for ddl in IDEMPOTENCY_DDL["postgres"]:
            conn.execute(ddl)
    yield bare
    bare.close()


def _recorder(app: Application) -> KeyedPostgresApplicationRecorder:
    recorder = app.recorder
    assert isinstance(recorder, KeyedPostgresApplicationRecorder)
    return recorder


@contextmanager
def _events_table_locked(
    url: str, recorder: KeyedPostgresApplicationRecorder
) -> Iterator[Callable[[], bool]]:
    """Hold the events table's lock; yield whether a save is waiting for it."""
    table = f"{recorder.datastore.schema or 'public'}.{recorder.events_table_name}"
    with psycopg.connect(url) as conn:
        conn.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")

        def waited_on() -> bool:
            row = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND NOT granted",
                (table,),
            ).fetchone()
            return row is not None and row[0] > 0

        yield waited_on
        # An outage test has this connection terminated too.
        with suppress(psycopg.OperationalError):
            conn.rollback()


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + QUEUE_WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def _together(
    url: str,
    recorder: KeyedPostgresApplicationRecorder,
    works: Sequence[Callable[[], object]],
    queued: Callable[[], None] = lambda: None,
) -> list[object]:
    """Run each work on its own thread while the events table is locked, call
    ``queued`` and release the lock once all but the first (which leads, waiting
    on the lock) have queued, and return what each returned or raised."""
    outcomes: list[object] = [None] * len(works)

    def run(index: int) -> None:
        try:
            outcomes[index] = works[index]()
        except BaseException as error:  # the test asserts on it
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(works))]
    with _events_table_locked(url, recorder) as waited_on:
        threads[0].start()
        _until(waited_on, "the first save did not reach the lock")
        for thread in threads[1:]:
            thread.start()
        # The saves queued behind it hold no connection: only the recorder
        # knows them.
        _until(lambda: len(recorder._group._queue) == len(works) - 1, "the saves did not queue")
        queued()
    for thread in threads:
        thread.join(timeout=QUEUE_WAIT_SECONDS)
        assert not thread.is_alive()
    return outcomes


def _event(originator_id: UUID, version: int = 1) -> StoredEvent:
    return StoredEvent(
        originator_id=originator_id,
        originator_version=version,
        topic="tests.concurrency:Thing.Created",
        state=b"{}",
    )


def test_concurrent_commands_share_a_transaction(app: RectifyApp, postgres_url: str) -> None:
    recorder = _recorder(app)
    recorder.batch_sizes = []

    def register(n: int) -> Callable[[], object]:
        def work() -> tuple[UUID, list[int]]:
            with app.collecting_saves() as recordings:
                site = app.register_site(INSPECTOR, name=f"店 #{n}", region="安义县")
            return site, [r.notification.id for r in recordings]

        return work

    outcomes = _together(postgres_url, recorder, [register(n) for n in range(THREADS)])

    assert all(isinstance(outcome, tuple) for outcome in outcomes), outcomes
    assert recorder.batch_sizes == [THREADS - 1]  # the first alone, then the rest at once
    logged = recorder.select_notifications(start=None, limit=100)
    assert [n.id for n in logged] == list(range(1, THREADS + 1))
    assert {n.topic.rsplit(".", 1)[-1] for n in logged} == {"Registered"}
    by_id = {n.id: n.originator_id for n in logged}
    for site, ids in outcomes:  # type: ignore[misc]
        # Each command is told its own position, not a neighbour's.
        assert [by_id[i] for i in ids] == [site]


def test_a_conflicting_member_is_refused_alone_while_the_others_commit(
    store: Application, postgres_url: str
) -> None:
    recorder = _recorder(store)
    recorder.batch_sizes = []
    taken = uuid4()
    recorder.insert_events([_event(taken)])
    fresh = [uuid4() for _ in range(THREADS - 2)]
    works: list[Callable[[], object]] = [lambda: recorder.insert_events([_event(uuid4())])]
    works += [lambda o=o: recorder.insert_events([_event(o), _event(o, 2)]) for o in fresh]  # type: ignore[misc]
    works.append(lambda: recorder.insert_events([_event(taken)]))

    outcomes = _together(postgres_url, recorder, works)

    # The shared transaction failed and was rolled back; each save then went alone.
    assert recorder.batch_sizes == []
    assert isinstance(outcomes[-1], IntegrityError)
    assert all(isinstance(o, list) for o in outcomes[:-1]), outcomes
    for originator, ids in zip(fresh, outcomes[1:-1], strict=True):
        assert [e.originator_version for e in recorder.select_events(originator)] == [1, 2]
        assert len(ids) == 2  # type: ignore[arg-type]
    assert [e.originator_version for e in recorder.select_events(taken)] == [1]
    logged = recorder.select_notifications(start=None, limit=100)
    assert len(logged) == 1 + 1 + 2 * len(fresh)
    assert [n.id for n in logged] == sorted({n.id for n in logged})


def _keyed(key: str) -> PendingKey:
    return PendingKey(
        user_id="chenxiaofeng",
        key=key,
        method_path="POST /sites",
        request_hash="h",
        answer=lambda recorded: StoredResponse(201, [], str(recorded[0].position).encode()),
    )


def test_a_key_is_answered_once_within_a_batch(store: Application, postgres_url: str) -> None:
    recorder = _recorder(store)
    recorder.batch_sizes = []
    attempts = [_keyed("same"), _keyed("same"), _keyed("other")]
    originators = [uuid4() for _ in attempts]

    def attempt(index: int) -> Callable[[], object]:
        def work() -> object:
            token = pending_key.set(attempts[index])
            try:
                return recorder.insert_events([_event(originators[index])])
            finally:
                pending_key.reset(token)

        return work

    # A first save leads alone while the three attempts queue behind it.
    outcomes = _together(
        postgres_url,
        recorder,
        [lambda: recorder.insert_events([_event(uuid4())]), *map(attempt, range(3))],
    )

    refused = [i for i, o in enumerate(outcomes[1:]) if isinstance(o, KeyAlreadyAnswered)]
    assert len(refused) == 1 and refused[0] in (0, 1), outcomes
    answered = 1 - refused[0]
    assert recorder.select_events(originators[refused[0]]) == []
    assert len(recorder.select_events(originators[answered])) == 1
    assert len(recorder.select_events(originators[2])) == 1
    assert attempts[answered].stored and attempts[2].stored
    assert not attempts[refused[0]].stored and attempts[refused[0]].recorded == []
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            "SELECT idempotency_key, body FROM rectify_idempotency ORDER BY idempotency_key"
        ).fetchall()
    assert rows == [
        ("other", str(outcomes[3][0]).encode()),  # type: ignore[index]
        ("same", str(outcomes[1 + answered][0]).encode()),  # type: ignore[index]
    ]


def test_a_lone_save_does_not_wait_for_company(store: Application) -> None:
    recorder = _recorder(store)
    recorder.batch_sizes = []
    for _ in range(3):
        recorder.insert_events([_event(uuid4())])
    # Each was written as soon as it came, by itself: no shared transaction.
    assert recorder.batch_sizes == []
    assert [n.id for n in recorder.select_notifications(start=None, limit=10)] == [1, 2, 3]


def test_an_outage_fails_every_member_fast(store: Application, postgres_url: str) -> None:
    recorder = _recorder(store)
    dbname = postgres_url.rsplit("/", 1)[1]
    admin = postgres_url.rsplit("/", 1)[0] + "/postgres"

    def cut() -> None:
        # The database goes away while one save waits on the lock inside its
        # transaction and the others wait for it: none may hang.
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )

    started = time.monotonic()
    try:
        outcomes = _together(
            postgres_url,
            recorder,
            [lambda: recorder.insert_events([_event(uuid4())]) for _ in range(THREADS)],
            queued=cut,
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
    elapsed = time.monotonic() - started

    assert all(isinstance(o, BaseException) and is_database_unavailable(o) for o in outcomes), (
        outcomes
    )
    # Within the retry bound of the leader and of each member written after it,
    # not the library's minute of retries.
    assert elapsed < 10, elapsed
    assert recorder.select_notifications(start=None, limit=10) == []


def test_sqlite_saves_are_not_gathered(tmp_path: Path) -> None:
    # SQLite has one writer anyway: its recorder is the library's, as before.
    env = environment_for(f"sqlite:///{tmp_path}/group.sqlite3")
    bare = Application(env=env)
    try:
        assert type(bare.recorder) is KeyedSQLiteApplicationRecorder
        assert not hasattr(bare.recorder, "_group")
    finally:
        bare.close()


def test_a_member_failing_for_its_own_reason_fails_alone(
    store: Application, postgres_url: str
) -> None:
    recorder = _recorder(store)
    recorder.batch_sizes = []

    def broken(recorded: Sequence[object]) -> StoredResponse:
        raise ValueError("this answer cannot be made")

    faulty = PendingKey(
        user_id="chenxiaofeng", key="faulty", method_path="POST /sites", request_hash="h"
    )
    faulty.answer = broken
    originators = [uuid4() for _ in range(3)]

    def save(index: int) -> Callable[[], object]:
        def work() -> object:
            token = pending_key.set(faulty if index == 1 else None)
            try:
                return recorder.insert_events([_event(originators[index])])
            finally:
                pending_key.reset(token)

        return work

    outcomes = _together(
        postgres_url,
        recorder,
        [lambda: recorder.insert_events([_event(uuid4())]), *map(save, range(3))],
    )

    assert isinstance(outcomes[2], ValueError), outcomes
    assert all(isinstance(outcomes[i], list) for i in (0, 1, 3)), outcomes
    assert recorder.select_events(originators[1]) == []
    assert [len(recorder.select_events(originators[i])) for i in (0, 2)] == [1, 1]
    assert not faulty.stored and faulty.recorded == []
