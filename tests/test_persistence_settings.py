"""Database URLs become the right eventsourcing settings; the clock tests can move."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.popo import POPOFactory
from eventsourcing.sqlite import SQLiteConnectionPool

from infrastructure.clock import ManualClock, SystemClock
from infrastructure.persistence import (
    DATABASE_URL_VARIABLE,
    SQLITE_MEMORY_DBNAME,
    database_url_from_env,
    describe,
    environment_for,
)

ACCEPTED_URLS = [
    None,
    "",
    "sqlite:///relative/dir/rectify.db",
    "sqlite:///:memory:",
    "sqlite://",
    "postgresql://user:secret@db.example:6543/rectify?pool_size=2&max_overflow=3",
    "postgres://user@db.example/rectify",
    "postgresql+psycopg://user:@db.example/rectify",
    "popo://",
    "memory://",
]


@pytest.fixture(autouse=True)
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Relative SQLite paths land in the test's own directory, not the repository."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# environment_for: SQLite


@pytest.mark.parametrize("url", [None, "", "   "])
def test_no_url_means_the_default_sqlite_file(url: str | None, in_tmp_dir: Path) -> None:
    env = environment_for(url)

    assert env == {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(in_tmp_dir / "var" / "rectify.sqlite3"),
        "SQLITE_LOCK_TIMEOUT": "30",
        "APPLICATION_RECORDER_TOPIC": "infrastructure.recorders:KeyedSQLiteApplicationRecorder",
    }
    assert (in_tmp_dir / "var").is_dir()


def test_relative_sqlite_path_is_resolved_against_the_working_directory(in_tmp_dir: Path) -> None:
    env = environment_for("sqlite:///data/cases/rectify.db")

    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert env["SQLITE_DBNAME"] == str(in_tmp_dir / "data" / "cases" / "rectify.db")
    assert env["SQLITE_LOCK_TIMEOUT"] == "30"
    assert (in_tmp_dir / "data" / "cases").is_dir()


def test_absolute_sqlite_path_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "rectify.db"

    env = environment_for(f"sqlite:///{target}")

    assert str(target).startswith("/")  # so the URL above had four slashes
    assert env["SQLITE_DBNAME"] == str(target)
    assert target.parent.is_dir()


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://"])
def test_sqlite_memory_uses_a_shared_named_database(url: str) -> None:
    env = environment_for(url)

    assert env == {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": SQLITE_MEMORY_DBNAME,
        "SQLITE_LOCK_TIMEOUT": "30",
        "APPLICATION_RECORDER_TOPIC": "infrastructure.recorders:KeyedSQLiteApplicationRecorder",
    }
    # eventsourcing only serialises access for names it recognises as in-memory.
    assert SQLiteConnectionPool.detect_memory_mode(env["SQLITE_DBNAME"])


def test_sqlite_memory_round_trip() -> None:
    app = Rectify(env=environment_for("sqlite:///:memory:"))
    try:
        note = Note("in memory")
        app.save(note)
        assert app.repository.get(note.id).text == "in memory"
    finally:
        app.close()


# environment_for: PostgreSQL


def test_postgres_url_with_everything() -> None:
    env = environment_for(
        "postgresql://rectify:s3cret@db.example:6543/rectify_prod?pool_size=20&max_overflow=40"
    )

    assert env == {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": "rectify_prod",
        "POSTGRES_HOST": "db.example",
        "POSTGRES_PORT": "6543",
        "POSTGRES_USER": "rectify",
        "POSTGRES_PASSWORD": "s3cret",
        "POSTGRES_POOL_SIZE": "20",
        "POSTGRES_MAX_OVERFLOW": "40",
        "POSTGRES_CONNECT_TIMEOUT": "1",
        "APPLICATION_RECORDER_TOPIC": "infrastructure.recorders:KeyedPostgresApplicationRecorder",
    }


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg", "PostgreSQL"])
def test_postgres_schemes_and_defaults(scheme: str) -> None:
    env = environment_for(f"{scheme}://rectify@10.0.0.7/rectify")

    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert env["POSTGRES_HOST"] == "10.0.0.7"
    assert env["POSTGRES_PORT"] == "5432"
    assert env["POSTGRES_USER"] == "rectify"
    assert env["POSTGRES_PASSWORD"] == ""
    assert env["POSTGRES_POOL_SIZE"] == "5"
    assert env["POSTGRES_MAX_OVERFLOW"] == "10"
    assert env["POSTGRES_CONNECT_TIMEOUT"] == "1"
    assert "POSTGRES_LOCK_TIMEOUT" not in env


def test_postgres_user_and_password_are_percent_decoded() -> None:
    env = environment_for(
        "postgresql://ops%40site:p%3Ass%2Fw%40rd%25@db.example/%E6%95%B4%E6%94%B9"
    )

    assert env["POSTGRES_USER"] == "ops@site"
    assert env["POSTGRES_PASSWORD"] == "p:ss/w@rd%"
    assert env["POSTGRES_DBNAME"] == "整改"


def test_postgres_ipv6_host() -> None:
    env = environment_for("postgresql://u:p@[::1]:5433/rectify")

    assert env["POSTGRES_HOST"] == "::1"
    assert env["POSTGRES_PORT"] == "5433"


def test_postgres_unix_socket_directory_as_host() -> None:
    env = environment_for("postgresql://u@%2Fvar%2Frun%2Fpostgresql/rectify")

    assert env["POSTGRES_HOST"] == "/var/run/postgresql"


@pytest.mark.parametrize("url", ACCEPTED_URLS)
def test_db_functions_are_never_enabled(url: str | None) -> None:
    env = environment_for(url)

    assert not any(key.endswith("ENABLE_DB_FUNCTIONS") for key in env)


@pytest.mark.parametrize("url", ACCEPTED_URLS)
def test_settings_are_unprefixed_strings(url: str | None) -> None:
    env = environment_for(url)

    assert all(isinstance(value, str) for value in env.values())
    assert not any(key.startswith("RECTIFY_") for key in env)


# environment_for: in-process store


@pytest.mark.parametrize("url", ["popo://", "memory://", "POPO://"])
def test_popo(url: str) -> None:
    assert environment_for(url) == {"PERSISTENCE_MODULE": "eventsourcing.popo"}


# environment_for: refused


@pytest.mark.parametrize(
    "url",
    [
        "mysql://user@host/db",
        "rectify.sqlite3",
        "/var/lib/rectify.sqlite3",
        "sqlite:relative.db",
        "sqlite://host/rectify.db",
        "sqlite:///rectify.db?timeout=5",
        "postgresql://db.example",
        "postgresql://db.example/",
        "postgresql:///rectify",
        "postgresql://db.example/a/b",
        "postgresql://db.example:port/rectify",
        "postgresql://db.example:70000/rectify",
        "postgresql://db.example/rectify?sslmode=require",
        "postgresql://db.example/rectify?pool_size=many",
        "postgresql://db.example/rectify?pool_size=0",
        "postgresql://db.example/rectify?max_overflow=-1",
        "popo://somewhere",
    ],
)
def test_unaccepted_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=re.escape("Accepted forms: sqlite:///relative/path.db")):
        environment_for(url)


def test_refusal_does_not_print_the_password() -> None:
    with pytest.raises(ValueError) as raised:
        environment_for("postgresql://u:hunter2@db.example/rectify?sslmode=require")

    assert "hunter2" not in str(raised.value)
    assert "sslmode" in str(raised.value)


# describe and database_url_from_env


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://rectify:s3cret@db.example:5432/rectify",
            "postgresql://rectify:***@db.example:5432/rectify",
        ),
        ("postgresql://rectify@db.example/rectify", "postgresql://rectify@db.example/rectify"),
        ("postgresql://u:p%40ss@db.example/rectify", "postgresql://u:***@db.example/rectify"),
        ("sqlite:////srv/rectify.db", "sqlite:////srv/rectify.db"),
        ("popo://", "popo://"),
        (None, "sqlite:///./var/rectify.sqlite3"),
        ("", "sqlite:///./var/rectify.sqlite3"),
    ],
)
def test_describe_masks_the_password(url: str | None, shown: str) -> None:
    assert describe(url) == shown


def test_database_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATABASE_URL_VARIABLE, raising=False)
    assert database_url_from_env() is None

    monkeypatch.setenv(DATABASE_URL_VARIABLE, "  ")
    assert database_url_from_env() is None

    monkeypatch.setenv(DATABASE_URL_VARIABLE, "popo://")
    assert database_url_from_env() == "popo://"


# The settings as an Application sees them


class Rectify(Application[UUID]):
    """A bare application carrying the service's name, so table names and key prefixes match."""


class Note(Aggregate):
    """The smallest aggregate that records something."""

    def __init__(self, text: str) -> None:
        self.text = text


def test_settings_passed_as_env_beat_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.postgres")

    app = Rectify(env=environment_for("popo://"))

    assert isinstance(app.factory, POPOFactory)


def test_application_saves_and_reads_back_on_each_backend(database_url: str) -> None:
    app = Rectify(env=environment_for(database_url))
    try:
        note = Note("戴口罩")
        app.save(note)

        assert app.repository.get(note.id).text == "戴口罩"
        notifications = app.notification_log.select(start=1, limit=10)
        assert [n.originator_id for n in notifications] == [note.id]
        assert notifications[0].topic.endswith("Note.Created")
    finally:
        app.close()

    if database_url.startswith("popo"):
        return
    # A second application on the same URL sees what the first one stored.
    reopened = Rectify(env=environment_for(database_url))
    try:
        assert reopened.repository.get(note.id).text == "戴口罩"
        assert len(reopened.notification_log.select(start=1, limit=10)) == 1
    finally:
        reopened.close()


# Clocks


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock()()

    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


def test_manual_clock_stands_still_until_moved() -> None:
    start = datetime(2022, 4, 18, 9, 30, tzinfo=UTC)
    clock = ManualClock(start)

    assert clock() == start
    assert clock() == start
    assert clock.advance(days=2, hours=1) == start + timedelta(days=2, hours=1)
    assert clock() == start + timedelta(days=2, hours=1)

    clock.set(datetime(2022, 5, 1, tzinfo=UTC))
    assert clock() == datetime(2022, 5, 1, tzinfo=UTC)

    clock.advance(minutes=-30)
    assert clock() == datetime(2022, 4, 30, 23, 30, tzinfo=UTC)


def test_manual_clock_keeps_time_in_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    clock = ManualClock(datetime(2022, 4, 18, 9, 0, tzinfo=beijing))

    assert clock() == datetime(2022, 4, 18, 1, 0, tzinfo=UTC)
    assert clock().utcoffset() == timedelta(0)


def test_manual_clock_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2022, 4, 18, 9, 0))

    clock = ManualClock(datetime(2022, 4, 18, 9, 0, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2022, 4, 19, 9, 0))
    assert clock() == datetime(2022, 4, 18, 9, 0, tzinfo=UTC)
