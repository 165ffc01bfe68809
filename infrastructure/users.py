"""User accounts: who may log in, in which role, with which password.

Users are configuration, not events: the table ``rectify_users`` sits beside the
events in the same database (SQLite file or PostgreSQL database) and is never
written to the event log, so password hashes cannot end up in the audit trail.
Passwords are hashed with Argon2id (``argon2-cffi``).

Wrong passwords are counted per account, at login and when signing alike:
``RECTIFY_LOGIN_MAX_FAILURES`` (default 5) in a row lock the account for
``RECTIFY_LOGIN_LOCK_MINUTES`` (default 15), during which even the right
password is refused with ``AccountLocked``. A right password clears the count;
an operator can lift a lock (``rectify users unlock``) or set a new password.

People leave: an account is disabled (``rectify users disable``), never
deleted, because the log names it. A disabled account cannot log in or sign,
and tokens issued to it before are refused from the next request on. So are
tokens issued before a password change: changing it signs the user out everywhere.
"""

from __future__ import annotations

import builtins
import math
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from application.errors import AccountLocked
from domain.values import Actor, Role
from infrastructure.side_tables import Dialect, SideDatabase

MIN_PASSWORD_LENGTH = 8
# Argon2 pre-hashes any length, but an unbounded password is still a cheap way
# to make the server work; no real passphrase is this long.
MAX_PASSWORD_LENGTH = 1024
MAX_NAME_LENGTH = 200
USER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

# Roles a person can log in as; "system" is the service itself and has no account.
LOGIN_ROLES = (Role.INSPECTOR, Role.RESPONSIBLE_PARTY, Role.SUPERVISOR, Role.AUDITOR)

MAX_FAILURES_VARIABLE = "RECTIFY_LOGIN_MAX_FAILURES"
LOCK_MINUTES_VARIABLE = "RECTIFY_LOGIN_LOCK_MINUTES"
DEFAULT_MAX_FAILURES = 5
DEFAULT_LOCK_MINUTES = 15.0


@dataclass(frozen=True)
class User:
    """A person who can log in.

    ``party_name`` is, for a responsible party (整改责任人), the name used on the
    orders addressed to them; orders link to the account by
    ``ResponsibleParty.user_id``.
    """

    user_id: str
    name: str
    role: Role
    party_name: str | None = None
    active: bool = True
    """False once disabled: the account stays (the log names it) but logs nobody in."""
    password_changed_at: float | None = None
    """When the password was last changed (epoch seconds); tokens from before are void."""

    def actor(self) -> Actor:
        """The user as the domain records them on events."""
        return Actor(user_id=self.user_id, name=self.name, role=self.role)


@dataclass(frozen=True)
class _Row:
    user: User
    password_hash: str


class UserStore(ABC):
    """Accounts and their password hashes; satisfies ``application.ports.PasswordChecker``."""

    def __init__(
        self,
        hasher: PasswordHasher | None = None,
        *,
        max_failures: int = DEFAULT_MAX_FAILURES,
        lock_seconds: float = DEFAULT_LOCK_MINUTES * 60,
        now: Callable[[], float] = time.time,
    ) -> None:
        if max_failures < 1 or lock_seconds < 0:
            raise ValueError("max_failures must be at least 1 and lock_seconds not negative")
        self.hasher = hasher or PasswordHasher()
        self.max_failures = max_failures
        self.lock_seconds = lock_seconds
        self.now = now
        # Checking a password for an unknown user costs the same as for a known
        # one, so response times do not tell which user ids exist.
        self._dummy_hash = self.hasher.hash("not a password of anyone")

    # -- the contract ----------------------------------------------------------

    def add(
        self,
        user_id: str,
        name: str,
        role: Role | str,
        password: str,
        party_name: str | None = None,
    ) -> User:
        """Create an account; ValueError on a duplicate id, a bad role or a short password."""
        user = User(
            user_id=_check_user_id(user_id),
            name=_check_text(name, "name"),
            role=_check_role(role),
            party_name=None,
        )
        if party_name is not None and user.role != Role.RESPONSIBLE_PARTY:
            raise ValueError(
                f"party_name is for responsible parties only; {user_id} is a {user.role.value}"
            )
        if user.role == Role.RESPONSIBLE_PARTY:
            chosen = user.name if party_name is None else party_name
            user = User(user.user_id, user.name, user.role, _check_text(chosen, "party name"))
        password_hash = self.hasher.hash(_check_password(password))
        if not self._insert(_Row(user, password_hash)):
            raise ValueError(f"a user with id {user_id!r} already exists")
        return user

    def get(self, user_id: str) -> User | None:
        """The user with this id, or None."""
        row = self._select(user_id)
        return row.user if row else None

    def list(self) -> builtins.list[User]:
        """Every user, by id."""
        return sorted((row.user for row in self._select_all()), key=lambda u: u.user_id)

    def set_password(self, user_id: str, password: str) -> None:
        """Replace a user's password; KeyError if there is no such user."""
        password_hash = self.hasher.hash(_check_password(password))
        if not self._update_hash(user_id, password_hash, changed_at=self.now()):
            raise KeyError(user_id)
        self._clear_failures(user_id)

    def set_active(self, user_id: str, active: bool) -> User:
        """Enable or disable an account; KeyError if there is no such user."""
        if not self._update_active(user_id, active):
            raise KeyError(user_id)
        if active:
            self._clear_failures(user_id)
        user = self.get(user_id)
        assert user is not None
        return user

    def set_role(self, user_id: str, role: Role | str, party_name: str | None = None) -> User:
        """Give an account another role (a promotion, say); KeyError if there is no
        such user, ValueError for a role nobody logs in as.

        The log keeps the role each event was recorded with; from now on the
        user acts in the new one. A responsible party's ``party_name`` (default:
        their name) goes with that role and is dropped with it.
        """
        new_role = _check_role(role)
        current = self.get(user_id)
        if current is None:
            raise KeyError(user_id)
        if party_name is not None and new_role != Role.RESPONSIBLE_PARTY:
            raise ValueError(f"party_name is for responsible parties only, not a {new_role.value}")
        if new_role == Role.RESPONSIBLE_PARTY:
            party = _check_text(current.name if party_name is None else party_name, "party name")
        else:
            party = None
        if not self._update_role(user_id, new_role, party):
            raise KeyError(user_id)
        user = self.get(user_id)
        assert user is not None
        return user

    def unlock(self, user_id: str) -> None:
        """Lift a lock and forget the wrong passwords; KeyError if there is no such user."""
        if self._select(user_id) is None:
            raise KeyError(user_id)
        self._clear_failures(user_id)

    def check_password(self, user_id: str, password: str) -> bool:
        """Whether ``password`` is the user's; False for an unknown user.

        Raises ``AccountLocked`` while the account is locked.
        """
        return self.authenticate(user_id, password) is not None

    def authenticate(self, user_id: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else None.

        Raises ``AccountLocked`` while the account is locked, and on the wrong
        password that locks it.
        """
        known_form = isinstance(user_id, str) and USER_ID_PATTERN.match(user_id)
        row = self._select(user_id) if known_form else None
        if row is not None and not row.user.active:
            # As for an unknown user: the same answer, the same time taken.
            row = None
        if row is None:
            if isinstance(password, str) and len(password) <= MAX_PASSWORD_LENGTH:
                _verify(self.hasher, self._dummy_hash, password)
            return None
        failures, locked_until = self._failures(user_id)
        now = self.now()
        if locked_until > now:
            raise self._locked(user_id, locked_until, now)
        if (
            not isinstance(password, str)
            or len(password) > MAX_PASSWORD_LENGTH
            or not _verify(self.hasher, row.password_hash, password)
        ):
            locked_until = self._count_failure(user_id, now)
            if locked_until > now:
                raise self._locked(user_id, locked_until, now)
            return None
        if failures or locked_until:
            self._clear_failures(user_id)
        if self.hasher.check_needs_rehash(row.password_hash):
            # The hashing cost was raised since this password was set.
            self._update_hash(user_id, self.hasher.hash(password))
        return row.user

    def close(self) -> None:  # noqa: B027 - an optional hook; most stores hold nothing
        """Release connections, if any."""

    @staticmethod
    def _locked(user_id: str, locked_until: float, now: float) -> AccountLocked:
        return AccountLocked(
            user_id,
            until=datetime.fromtimestamp(locked_until, UTC),
            retry_after=max(1, math.ceil(locked_until - now)),
        )

    # -- storage ---------------------------------------------------------------

    @abstractmethod
    def _update_role(self, user_id: str, role: Role, party_name: str | None) -> bool:
        """Set role and party name; False if there is no such user."""

    @abstractmethod
    def _update_active(self, user_id: str, active: bool) -> bool:
        """Set whether the account is active; False if there is no such user."""

    @abstractmethod
    def _failures(self, user_id: str) -> tuple[int, float]:
        """Wrong passwords in a row, and the time (epoch seconds) a lock ends, or 0."""

    @abstractmethod
    def _count_failure(self, user_id: str, now: float) -> float:
        """Count one more wrong password, atomically; when that makes
        ``max_failures``, lock the account and start counting afresh. Return
        the time the lock ends, or 0."""

    @abstractmethod
    def _clear_failures(self, user_id: str) -> None:
        """Forget wrong passwords and any lock."""

    @abstractmethod
    def _insert(self, row: _Row) -> bool:
        """Insert; False if the id is taken."""

    @abstractmethod
    def _select(self, user_id: str) -> _Row | None: ...

    @abstractmethod
    def _select_all(self) -> builtins.list[_Row]: ...

    @abstractmethod
    def _update_hash(
        self, user_id: str, password_hash: str, *, changed_at: float | None = None
    ) -> bool:
        """Replace the hash, and with ``changed_at`` record a new password (a
        rehash of the same one passes none); False if there is no such user."""


class InMemoryUserStore(UserStore):
    """Users kept in the process, for the in-memory (popo) store and tests."""

    def __init__(self, hasher: PasswordHasher | None = None, **policy: Any) -> None:
        super().__init__(hasher, **policy)
        self._rows: dict[str, _Row] = {}
        self._failed: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _failures(self, user_id: str) -> tuple[int, float]:
        with self._lock:
            return self._failed.get(user_id, (0, 0.0))

    def _count_failure(self, user_id: str, now: float) -> float:
        with self._lock:
            failures = self._failed.get(user_id, (0, 0.0))[0] + 1
            if failures >= self.max_failures:
                self._failed[user_id] = (0, now + self.lock_seconds)
                return now + self.lock_seconds
            self._failed[user_id] = (failures, 0.0)
            return 0.0

    def _clear_failures(self, user_id: str) -> None:
        with self._lock:
            self._failed.pop(user_id, None)

    def _insert(self, row: _Row) -> bool:
        with self._lock:
            if row.user.user_id in self._rows:
                return False
            self._rows[row.user.user_id] = row
            return True

    def _select(self, user_id: str) -> _Row | None:
        with self._lock:
            return self._rows.get(user_id)

    def _select_all(self) -> builtins.list[_Row]:
        with self._lock:
            return list(self._rows.values())

    def _update_hash(
        self, user_id: str, password_hash: str, *, changed_at: float | None = None
    ) -> bool:
        with self._lock:
            row = self._rows.get(user_id)
            if row is None:
                return False
            user = row.user
            if changed_at is not None:
                user = replace(user, password_changed_at=changed_at)
            self._rows[user_id] = _Row(user, password_hash)
            return True

    def _update_role(self, user_id: str, role: Role, party_name: str | None) -> bool:
        with self._lock:
            row = self._rows.get(user_id)
            if row is None:
                return False
            user = replace(row.user, role=role, party_name=party_name)
            self._rows[user_id] = _Row(user, row.password_hash)
            return True

    def _update_active(self, user_id: str, active: bool) -> bool:
        with self._lock:
            row = self._rows.get(user_id)
            if row is None:
                return False
            self._rows[user_id] = _Row(replace(row.user, active=active), row.password_hash)
            return True


USERS_DDL: dict[Dialect, list[str]] = {
    "sqlite": [
        "CREATE TABLE IF NOT EXISTS rectify_users ("
        " user_id TEXT PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " role TEXT NOT NULL,"
        " party_name TEXT,"
        " password_hash TEXT NOT NULL,"
        " created_at REAL NOT NULL)",
        "CREATE TABLE IF NOT EXISTS rectify_login_failures ("
        " user_id TEXT PRIMARY KEY,"
        " failures INTEGER NOT NULL,"
        " locked_until REAL NOT NULL)",
    ],
    "postgres": [
        "CREATE TABLE IF NOT EXISTS rectify_users ("
        " user_id TEXT PRIMARY KEY,"
        " name TEXT NOT NULL,"
        " role TEXT NOT NULL,"
        " party_name TEXT,"
        " password_hash TEXT NOT NULL,"
        " created_at DOUBLE PRECISION NOT NULL)",
        "CREATE TABLE IF NOT EXISTS rectify_login_failures ("
        " user_id TEXT PRIMARY KEY,"
        " failures INTEGER NOT NULL,"
        " locked_until DOUBLE PRECISION NOT NULL)",
    ],
}

# Columns added after the table was first created, with their types. Every
# start adds those a table lacks, so a new table and one made by an earlier
# version take the same path and end up alike.
USERS_ADDED_COLUMNS: dict[str, dict[Dialect, str]] = {
    "disabled_at": {"sqlite": "REAL", "postgres": "DOUBLE PRECISION"},
    "password_changed_at": {"sqlite": "REAL", "postgres": "DOUBLE PRECISION"},
}

_COLUMNS = "user_id, name, role, party_name, password_hash, disabled_at, password_changed_at"


class SqlUserStore(UserStore):
    """Users in the table ``rectify_users`` of the events' database."""

    def __init__(
        self,
        database: SideDatabase,
        hasher: PasswordHasher | None = None,
        *,
        owns_database: bool = False,
        **policy: Any,
    ) -> None:
        super().__init__(hasher, **policy)
        self.database = database
        self._owns_database = owns_database
        database.ensure_tables(USERS_DDL)
        database.ensure_columns("rectify_users", USERS_ADDED_COLUMNS)

    def _insert(self, row: _Row) -> bool:
        user = row.user
        with self.database.transaction() as tx:
            tx.execute(
                "INSERT INTO rectify_users"
                " (user_id, name, role, party_name, password_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id) DO NOTHING",
                (
                    user.user_id,
                    user.name,
                    user.role.value,
                    user.party_name,
                    row.password_hash,
                    time.time(),
                ),
            )
            return tx.rowcount() == 1

    def _select(self, user_id: str) -> _Row | None:
        rows = self.database.execute(
            f"SELECT {_COLUMNS} FROM rectify_users WHERE user_id = ?", (user_id,), write=False
        )
        return _row(rows[0]) if rows else None

    def _select_all(self) -> builtins.list[_Row]:
        rows = self.database.execute(f"SELECT {_COLUMNS} FROM rectify_users", write=False)
        return [_row(r) for r in rows]

    def _update_hash(
        self, user_id: str, password_hash: str, *, changed_at: float | None = None
    ) -> bool:
        with self.database.transaction() as tx:
            if changed_at is None:
                tx.execute(
                    "UPDATE rectify_users SET password_hash = ? WHERE user_id = ?",
                    (password_hash, user_id),
                )
            else:
                tx.execute(
                    "UPDATE rectify_users SET password_hash = ?, password_changed_at = ?"
                    " WHERE user_id = ?",
                    (password_hash, changed_at, user_id),
                )
            return tx.rowcount() == 1

    def _update_role(self, user_id: str, role: Role, party_name: str | None) -> bool:
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE rectify_users SET role = ?, party_name = ? WHERE user_id = ?",
                (role.value, party_name, user_id),
            )
            return tx.rowcount() == 1

    def _update_active(self, user_id: str, active: bool) -> bool:
        with self.database.transaction() as tx:
            # COALESCE keeps the first time it was disabled.
            tx.execute(
                "UPDATE rectify_users SET disabled_at = "
                + ("NULL" if active else "COALESCE(disabled_at, ?)")
                + " WHERE user_id = ?",
                (user_id,) if active else (time.time(), user_id),
            )
            return tx.rowcount() == 1

    def _failures(self, user_id: str) -> tuple[int, float]:
        rows = self.database.execute(
            "SELECT failures, locked_until FROM rectify_login_failures WHERE user_id = ?",
            (user_id,),
            write=False,
        )
        return (int(rows[0][0]), float(rows[0][1])) if rows else (0, 0.0)

    def _count_failure(self, user_id: str, now: float) -> float:
        # One transaction, and the upsert takes the row's lock, so wrong
        # passwords sent at once from several processes are all counted.
        with self.database.transaction() as tx:
            tx.execute(
                "INSERT INTO rectify_login_failures (user_id, failures, locked_until)"
                " VALUES (?, 1, 0) ON CONFLICT (user_id) DO UPDATE"
                " SET failures = rectify_login_failures.failures + 1",
                (user_id,),
            )
            failures = int(
                tx.execute(
                    "SELECT failures FROM rectify_login_failures WHERE user_id = ?", (user_id,)
                )[0][0]
            )
            if failures < self.max_failures:
                return 0.0
            until = now + self.lock_seconds
            tx.execute(
                "UPDATE rectify_login_failures SET failures = 0, locked_until = ?"
                " WHERE user_id = ?",
                (until, user_id),
            )
            return until

    def _clear_failures(self, user_id: str) -> None:
        self.database.execute("DELETE FROM rectify_login_failures WHERE user_id = ?", (user_id,))

    def close(self) -> None:
        """Close the database connection if this store opened it."""
        if self._owns_database:
            self.database.close()


def lockout_policy(environ: Mapping[str, str]) -> dict[str, Any]:
    """``max_failures`` and ``lock_seconds`` from the environment; ValueError if malformed."""
    max_text = environ.get(MAX_FAILURES_VARIABLE, "").strip()
    minutes_text = environ.get(LOCK_MINUTES_VARIABLE, "").strip()
    try:
        max_failures = int(max_text) if max_text else DEFAULT_MAX_FAILURES
        minutes = float(minutes_text) if minutes_text else DEFAULT_LOCK_MINUTES
    except ValueError:
        raise ValueError(
            f"{MAX_FAILURES_VARIABLE} must be a whole number and {LOCK_MINUTES_VARIABLE} "
            f"a number of minutes, not {max_text!r} and {minutes_text!r}"
        ) from None
    if max_failures < 1 or not 0 <= minutes < 10**6:
        raise ValueError(
            f"{MAX_FAILURES_VARIABLE} must be at least 1 and {LOCK_MINUTES_VARIABLE} "
            "between 0 and 1,000,000"
        )
    return {"max_failures": max_failures, "lock_seconds": minutes * 60}


def _row(values: tuple) -> _Row:
    user_id, name, role, party_name, password_hash, disabled_at, changed_at = values
    user = User(
        user_id,
        name,
        Role(role),
        party_name,
        active=disabled_at is None,
        password_changed_at=None if changed_at is None else float(changed_at),
    )
    return _Row(user, password_hash)


def _verify(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError, UnicodeEncodeError):
        # UnicodeEncodeError: a lone surrogate cannot be anyone's password.
        return False


def _check_user_id(user_id: str) -> str:
    if not isinstance(user_id, str) or not USER_ID_PATTERN.match(user_id):
        raise ValueError(
            f"user id {user_id!r} is not valid: use 1 to 64 letters, digits, '.', '_', '@' "
            "or '-', starting with a letter or digit"
        )
    return user_id


def _check_text(value: str, what: str) -> str:
    text = (value or "").strip() if isinstance(value, str) else ""
    if not text:
        raise ValueError(f"the {what} is required")
    if len(text) > MAX_NAME_LENGTH:
        raise ValueError(f"the {what} is longer than {MAX_NAME_LENGTH} characters")
    return text


def _check_role(role: Role | str) -> Role:
    try:
        parsed = Role(role)
    except ValueError:
        parsed = None
    if parsed not in LOGIN_ROLES:
        names = ", ".join(r.value for r in LOGIN_ROLES)
        raise ValueError(f"role {role!r} is not one of: {names}")
    return parsed


def _check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"the password must be at most {MAX_PASSWORD_LENGTH} characters long")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the password is not valid Unicode text") from None
    return password


def create_user_store(
    database_url: str | None,
    *,
    hasher: PasswordHasher | None = None,
    database: SideDatabase | None = None,
) -> UserStore:
    """The users on a database URL; see
    :func:`infrastructure.composition.create_user_store`."""
    # Imported here: the composition root imports this module.
    from infrastructure.composition import create_user_store as create

    return create(database_url, hasher=hasher, database=database)
