"""User accounts: who may log in, in which role, with which password.

Users are configuration, not events: the table ``rectify_users`` sits beside the
events in the same database (SQLite file or PostgreSQL database) and is never
written to the event log, so password hashes cannot end up in the audit trail.
Passwords are hashed with Argon2id (``argon2-cffi``).

Password attempts are counted per account, at login and when signing alike,
and counted *before* the password is checked: ``RECTIFY_LOGIN_MAX_FAILURES``
(default 5) in a row lock the account for ``RECTIFY_LOGIN_LOCK_MINUTES``
(default 15), during which every attempt, the right password too, is refused
with ``AccountLocked`` without being checked. Because the count comes first,
in one transaction shared by every process, guesses sent all at once get no
more checks than guesses sent one after another: at most five per account per
lock window. A right password clears the count; an operator can lift a lock
(``rectify users unlock``) or set a new password. A user id nobody has (or a
disabled account) is counted, locked and answered exactly like a real one,
after a check against a dummy hash that takes as long: neither the answer nor
its time tells which ids exist. Around every check the limits of
:mod:`infrastructure.login_limits` apply as well (checks at once per process,
attempts per client address).

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

from application.errors import AccountLocked, PasswordChecksBusy
from domain.values import Actor, Role
from infrastructure.login_limits import LoginLimits
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


@dataclass(frozen=True)
class _Attempt:
    """An attempt counted before its check: refused, or allowed (and maybe locking)."""

    refused_until: float = 0.0
    """When the lock that refused it ends; 0 if it may be checked."""
    locks_until: float = 0.0
    """The lock this attempt set, being the last one allowed; 0 if none."""


def _next_attempt(
    failures: int, locked_until: float, now: float, max_failures: int, lock_seconds: float
) -> tuple[_Attempt, int, float]:
    """The attempt, and the count and lock to store, after ``failures`` and a lock."""
    if locked_until > now:
        return _Attempt(refused_until=locked_until), failures, locked_until
    if locked_until:
        failures = 0  # a lock that has ended: the count starts afresh
    failures += 1
    if failures >= max_failures:
        until = now + lock_seconds
        return _Attempt(locks_until=until), failures, until
    return _Attempt(), failures, 0.0


def _refunded(failures: int, locked_until: float, attempt: _Attempt) -> tuple[int, float]:
    """The count and lock after taking back ``attempt``."""
    if attempt.locks_until and locked_until != attempt.locks_until:
        # Another attempt has set a lock of its own since: keep it.
        return failures, locked_until
    return max(0, failures - 1), 0.0 if attempt.locks_until else locked_until


class UserStore(ABC):
    """Accounts and their password hashes; satisfies ``application.ports.PasswordChecker``."""

    def __init__(
        self,
        hasher: PasswordHasher | None = None,
        *,
        max_failures: int = DEFAULT_MAX_FAILURES,
        lock_seconds: float = DEFAULT_LOCK_MINUTES * 60,
        now: Callable[[], float] = time.time,
        limits: LoginLimits | None = None,
    ) -> None:
        if max_failures < 1 or lock_seconds < 0:
            raise ValueError("max_failures must be at least 1 and lock_seconds not negative")
        self.hasher = hasher or PasswordHasher()
        self.max_failures = max_failures
        self.lock_seconds = lock_seconds
        self.now = now
        self.limits = limits or LoginLimits.unlimited()
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

        In this order, so that a refusal costs no password check: the client
        address's attempts are counted (``TooManyLoginAttempts``), then the
        account's (``AccountLocked`` while it is locked); a slot to check in is
        taken (``PasswordChecksBusy`` if none frees in time, and the attempt is
        not held against the account). Then the password is checked; a right
        one clears the account's count, and the wrong one that reached the
        limit raises ``AccountLocked``.
        """
        self.limits.count_attempt()
        well_formed = isinstance(user_id, str) and USER_ID_PATTERN.match(user_id) is not None
        attempt = self._begin_attempt(user_id) if well_formed else None
        try:
            with self.limits.slots.slot():
                user = self._check(user_id if well_formed else None, password)
        except PasswordChecksBusy:
            if attempt is not None:
                self._refund_attempt(user_id, attempt)
            raise
        if user is not None:
            self._clear_failures(user.user_id)
            return user
        if attempt is not None and attempt.locks_until:
            now = self.now()
            raise self._locked(user_id, max(attempt.locks_until, now + 1), now)
        return None

    def _begin_attempt(self, user_id: str) -> _Attempt:
        """Count the attempt before the check; AccountLocked if the account takes none now."""
        now = self.now()
        attempt = self._reserve_attempt(user_id, now)
        if attempt.refused_until:
            raise self._locked(user_id, attempt.refused_until, now)
        return attempt

    def _check(self, user_id: str | None, password: str) -> User | None:
        """The password check itself: the same work whether the account exists or not."""
        row = self._select(user_id) if user_id is not None else None
        if row is not None and not row.user.active:
            # As for an unknown user: the same answer, the same time taken.
            row = None
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
            return None
        password_hash = row.password_hash if row is not None else self._dummy_hash
        if not _verify(self.hasher, password_hash, password) or row is None:
            return None
        if self.hasher.check_needs_rehash(row.password_hash):
            # The hashing cost was raised since this password was set.
            self._update_hash(row.user.user_id, self.hasher.hash(password))
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
    def _reserve_attempt(self, user_id: str, now: float) -> _Attempt:
        """Atomically, across processes: refuse while a lock lasts; else count one
        more attempt (a lock that has ended starts the count afresh) and, when
        that makes ``max_failures``, lock the account from now on — the check
        that follows lifts it again if the password is right."""

    @abstractmethod
    def _refund_attempt(self, user_id: str, attempt: _Attempt) -> None:
        """Take back an attempt that was counted but never checked, and the lock it
        set, unless a later attempt has locked the account since."""

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

    def _reserve_attempt(self, user_id: str, now: float) -> _Attempt:
        with self._lock:
            failures, locked_until = self._failed.get(user_id, (0, 0.0))
            attempt, failures, locked_until = _next_attempt(
                failures, locked_until, now, self.max_failures, self.lock_seconds
            )
            self._failed[user_id] = (failures, locked_until)
            return attempt

    def _refund_attempt(self, user_id: str, attempt: _Attempt) -> None:
        with self._lock:
            if user_id in self._failed:
                self._failed[user_id] = _refunded(*self._failed[user_id], attempt)

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

    def _locked_failures_row(self, tx: Any, user_id: str) -> tuple[int, float]:
        """The account's count and lock, its row locked until the transaction ends."""
        # Inserted first, so there is a row to lock even for a first attempt;
        # SQLite's BEGIN IMMEDIATE has already serialised the writers.
        tx.execute(
            "INSERT INTO rectify_login_failures (user_id, failures, locked_until)"
            " VALUES (?, 0, 0) ON CONFLICT (user_id) DO NOTHING",
            (user_id,),
        )
        lock = " FOR UPDATE" if self.database.dialect == "postgres" else ""
        failures, locked_until = tx.execute(
            "SELECT failures, locked_until FROM rectify_login_failures WHERE user_id = ?" + lock,
            (user_id,),
        )[0]
        return int(failures), float(locked_until)

    def _reserve_attempt(self, user_id: str, now: float) -> _Attempt:
        # One transaction holding the row's lock: attempts sent at once from
        # several processes are counted one after another, none twice.
        with self.database.transaction() as tx:
            attempt, failures, locked_until = _next_attempt(
                *self._locked_failures_row(tx, user_id), now, self.max_failures, self.lock_seconds
            )
            if not attempt.refused_until:
                tx.execute(
                    "UPDATE rectify_login_failures SET failures = ?, locked_until = ?"
                    " WHERE user_id = ?",
                    (failures, locked_until, user_id),
                )
            return attempt

    def _refund_attempt(self, user_id: str, attempt: _Attempt) -> None:
        with self.database.transaction() as tx:
            failures, locked_until = _refunded(*self._locked_failures_row(tx, user_id), attempt)
            tx.execute(
                "UPDATE rectify_login_failures SET failures = ?, locked_until = ?"
                " WHERE user_id = ?",
                (failures, locked_until, user_id),
            )

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
