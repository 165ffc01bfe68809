"""Database URLs turned into eventsourcing persistence settings.

The service is configured by one URL (``RECTIFY_DATABASE_URL``); eventsourcing is
configured by environment keys. :func:`environment_for` translates the first into
the second, and the result is meant to be passed as ``env=`` to the
``Application`` constructor.

Keys are returned without the application-name prefix so the same settings serve
every application and projection runner in the process, whatever its name.
eventsourcing merges ``os.environ`` under the ``env=`` mapping, so these keys win
over the same unprefixed keys in the process environment. They do not win over a
*prefixed* key: a stray ``RECTIFY_POSTGRES_DBNAME`` in ``os.environ`` is looked up
before ``POSTGRES_DBNAME`` by an application named "Rectify". Keys not returned
here (``POSTGRES_ENABLE_DB_FUNCTIONS``, ``CIPHER_TOPIC`` ...) still come from the
process environment.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError

DATABASE_URL_VARIABLE = "RECTIFY_DATABASE_URL"

DEFAULT_SQLITE_PATH = Path("var") / "rectify.sqlite3"

# A plain ":memory:" name would give every pooled connection its own empty
# database. A named shared-cache URI is one database for all connections in the
# process; eventsourcing recognises it as in-memory by "mode=memory" and then
# serialises readers and writers, which such a database needs.
SQLITE_MEMORY_DBNAME = "file:rectify?mode=memory&cache=shared"

# Seconds a writer waits for SQLite's lock; several processes (API, projection
# workers) may share one file, and the library's default of 5 s is too short
# under a burst of commands.
SQLITE_LOCK_TIMEOUT_SECONDS = 30

POSTGRES_DEFAULT_PORT = 5432
POSTGRES_DEFAULT_POOL_SIZE = 5
POSTGRES_DEFAULT_MAX_OVERFLOW = 10
# eventsourcing uses this as the pool's wait for a free connection, not only as
# the connect timeout; a short wait turns pool exhaustion, or a database that
# is down, into a quick error (503) instead of a hung request. The HTTP layer
# keeps its threads below the pool's size, so a request waits only when the
# database is away.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 1

# The event store's recorders (see infrastructure.recorders): an Idempotency-Key's
# answer committed with the events, and retries bounded in time. Named by topic,
# as eventsourcing takes them.
SQLITE_RECORDER_TOPIC = "infrastructure.recorders:KeyedSQLiteApplicationRecorder"
POSTGRES_RECORDER_TOPIC = "infrastructure.recorders:KeyedPostgresApplicationRecorder"

SQLITE_SCHEMES = frozenset({"sqlite"})
POSTGRES_SCHEMES = frozenset({"postgresql", "postgres", "postgresql+psycopg"})
POPO_SCHEMES = frozenset({"popo", "memory"})
POSTGRES_QUERY_PARAMETERS = frozenset({"pool_size", "max_overflow"})

ACCEPTED_FORMS = (
    "sqlite:///relative/path.db",
    "sqlite:////absolute/path.db",
    "sqlite:///:memory:",
    "postgresql://user:password@host:port/dbname?pool_size=N&max_overflow=M"
    " (also postgres:// and postgresql+psycopg://)",
    "popo:// or memory:// (in-process, nothing kept)",
)


def database_url_from_env() -> str | None:
    """Return ``RECTIFY_DATABASE_URL`` from the process environment, or None if unset or blank."""
    value = os.environ.get(DATABASE_URL_VARIABLE, "").strip()
    return value or None


def environment_for(url: str | None) -> dict[str, str]:
    """Translate a database URL into eventsourcing environment settings.

    None or an empty string selects the SQLite file ``./var/rectify.sqlite3``.
    Relative SQLite paths are resolved against the current working directory
    when this is called, and the file's directory is created. Raises
    ``ValueError`` for a URL that is not one of :data:`ACCEPTED_FORMS`.
    """
    if url is None or not url.strip():
        return _sqlite_file_environment(DEFAULT_SQLITE_PATH)
    url = url.strip()
    scheme, separator, _ = url.partition("://")
    scheme = scheme.lower()
    if not separator:
        raise _unaccepted(url, "it has no scheme")
    if scheme in SQLITE_SCHEMES:
        return _sqlite_environment(url)
    if scheme in POSTGRES_SCHEMES:
        return _postgres_environment(url)
    if scheme in POPO_SCHEMES:
        return _popo_environment(url)
    raise _unaccepted(url, f"the scheme {scheme!r} is not supported")


def describe(url: str | None) -> str:
    """Return the URL fit for logs and terminals: the password, if any, masked.

    None or an empty string describes the default SQLite file.
    """
    if url is None or not url.strip():
        return f"sqlite:///./{DEFAULT_SQLITE_PATH.as_posix()}"
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable database URL>"
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at:
        return url
    user, colon, _password = userinfo.partition(":")
    masked_userinfo = f"{user}:***" if colon else user
    return urlunsplit(parts._replace(netloc=f"{masked_userinfo}@{hostport}"))


def _sqlite_environment(url: str) -> dict[str, str]:
    # SQLAlchemy's convention: three slashes then a relative path, four for an
    # absolute one; nothing (or ":memory:") after the third slash for memory.
    rest = url.partition("://")[2]
    if "?" in rest or "#" in rest:
        raise _unaccepted(url, "SQLite URLs take no query or fragment")
    if rest == "":
        return _sqlite_memory_environment()
    if not rest.startswith("/"):
        raise _unaccepted(url, "a SQLite URL names no host: use three slashes, sqlite:///")
    path = rest[1:]
    if path in ("", ":memory:"):
        return _sqlite_memory_environment()
    return _sqlite_file_environment(Path(path))


def _sqlite_file_environment(path: Path) -> dict[str, str]:
    absolute = Path(os.path.abspath(path))
    absolute.parent.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(absolute),
        "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_SECONDS),
        "APPLICATION_RECORDER_TOPIC": SQLITE_RECORDER_TOPIC,
    }


def _sqlite_memory_environment() -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": SQLITE_MEMORY_DBNAME,
        "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_SECONDS),
        "APPLICATION_RECORDER_TOPIC": SQLITE_RECORDER_TOPIC,
    }


def _postgres_environment(url: str) -> dict[str, str]:
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise _unaccepted(url, str(error)) from None
    if parts.fragment:
        raise _unaccepted(url, "a PostgreSQL URL takes no fragment")

    userinfo, _, hostport = parts.netloc.rpartition("@")
    raw_user, _, raw_password = userinfo.partition(":")
    host, port = _split_host_port(url, hostport)
    if not host:
        raise _unaccepted(url, "it names no host")

    dbname = unquote(parts.path.removeprefix("/"))
    if not dbname or "/" in dbname:
        raise _unaccepted(url, "the path must be exactly one database name")

    options = _postgres_options(url, parts.query)

    # POSTGRES_ENABLE_DB_FUNCTIONS is left out on purpose: with it, events are
    # inserted by a server-side function, and readers tailing the notification
    # log were seen to miss committed events while several writers committed
    # concurrently. The default table-lock insert keeps the log gap-free.
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(port),
        # Empty user or password make libpq fall back to its defaults (the login
        # name, ~/.pgpass); eventsourcing only insists that the keys exist.
        "POSTGRES_USER": unquote(raw_user),
        "POSTGRES_PASSWORD": unquote(raw_password),
        "POSTGRES_POOL_SIZE": str(options["pool_size"]),
        "POSTGRES_MAX_OVERFLOW": str(options["max_overflow"]),
        "POSTGRES_CONNECT_TIMEOUT": str(POSTGRES_CONNECT_TIMEOUT_SECONDS),
        "APPLICATION_RECORDER_TOPIC": POSTGRES_RECORDER_TOPIC,
    }


def _split_host_port(url: str, hostport: str) -> tuple[str, int]:
    if hostport.startswith("["):
        host, bracket, after = hostport[1:].partition("]")
        if not bracket or (after and not after.startswith(":")):
            raise _unaccepted(url, "the IPv6 host is not closed by ']'")
        raw_port = after[1:]
    else:
        host, _, raw_port = hostport.partition(":")
        # Percent-encoding lets a Unix socket directory stand in for a host.
        host = unquote(host)
    if not raw_port:
        return host, POSTGRES_DEFAULT_PORT
    port = _parse_int(url, "port", raw_port)
    if not 0 < port < 65536:
        raise _unaccepted(url, f"the port {port} is out of range")
    return host, port


def _postgres_options(url: str, query: str) -> dict[str, int]:
    options = {
        "pool_size": POSTGRES_DEFAULT_POOL_SIZE,
        "max_overflow": POSTGRES_DEFAULT_MAX_OVERFLOW,
    }
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in POSTGRES_QUERY_PARAMETERS:
            accepted = ", ".join(sorted(POSTGRES_QUERY_PARAMETERS))
            raise _unaccepted(url, f"unknown parameter {name!r} (accepted: {accepted})")
        options[name] = _parse_int(url, name, value)
    if options["pool_size"] < 1:
        raise _unaccepted(url, "pool_size must be at least 1")
    if options["max_overflow"] < 0:
        raise _unaccepted(url, "max_overflow must not be negative")
    return options


def _popo_environment(url: str) -> dict[str, str]:
    if url.partition("://")[2]:
        raise _unaccepted(url, "the in-memory store takes nothing after '://'")
    return {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def _parse_int(url: str, name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise _unaccepted(url, f"{name} must be an integer, not {value!r}") from None


def _unaccepted(url: str, reason: str) -> ValueError:
    forms = "; ".join(ACCEPTED_FORMS)
    return ValueError(
        f"Unsupported database URL {describe(url)!r}: {reason}. Accepted forms: {forms}."
    )


def pool_connect_kwargs(pool: Any) -> dict[str, Any]:
    """The connection arguments a psycopg pool was made with, to open one more
    connection of one's own (for a session-level advisory lock, say)."""
    kwargs = pool.kwargs
    if not isinstance(kwargs, dict):
        raise TypeError("the pool's connection arguments are not a plain mapping")
    return dict(kwargs)


def is_database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the database cannot be reached now.

    PostgreSQL: a connection refused, lost or not had from the pool in time
    (psycopg's ``OperationalError``, as itself or as eventsourcing's). SQLite:
    the file locked by another process past the lock timeout.
    """
    seen: BaseException | None = error
    for _ in range(4):
        if seen is None:
            return False
        if isinstance(seen, psycopg.OperationalError | psycopg.InterfaceError):
            return True
        if isinstance(seen, sqlite3.OperationalError):
            return "locked" in str(seen) or "busy" in str(seen)
        if isinstance(seen, OperationalError | InterfaceError) and seen.__cause__ is None:
            return True
        seen = seen.__cause__
    return False
