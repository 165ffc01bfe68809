"""Limits on password checks, so that guessing passwords is slow and cannot starve the server.

Argon2 is slow on purpose (tens of milliseconds and 64 MiB per check with the
default parameters): that protects the hashes, but it makes every password
check a cheap way for anyone to burn the server's CPU and memory. Two limits,
beside the per-account lockout of :mod:`infrastructure.users`, keep that in
bounds; the user store applies both wherever a password is checked (logging
in, signing, the console's sign-in):

- **per process**, at most ``RECTIFY_PASSWORD_CHECKS`` checks run at once
  (default: the CPUs the process may use; ``rectify serve --workers N`` shares
  them among its workers). A request whose check cannot
  start within ``RECTIFY_PASSWORD_CHECK_WAIT_SECONDS`` (default 1) of its
  arrival (:data:`REQUEST_ARRIVED`) is refused with
  :class:`~application.errors.PasswordChecksBusy` (HTTP 503 with
  ``Retry-After``) — never queued without end;
- **per client address**, at most ``RECTIFY_LOGIN_RATE_LIMIT`` attempts
  (default ``30/minute;300/hour``, in the notation of the ``limits`` library;
  ``off`` disables it), refused with
  :class:`~application.errors.TooManyLoginAttempts` (HTTP 429 with
  ``Retry-After``). Counted in the process's memory: with several API
  processes each keeps its own count.

The address is the one the HTTP layer puts in :data:`CLIENT_ADDRESS` for the
request being served; a check made outside a request (the CLI) has none and
is not limited by address.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from application.errors import PasswordChecksBusy, TooManyLoginAttempts

PASSWORD_CHECKS_VARIABLE = "RECTIFY_PASSWORD_CHECKS"
CHECK_WAIT_VARIABLE = "RECTIFY_PASSWORD_CHECK_WAIT_SECONDS"
RATE_LIMIT_VARIABLE = "RECTIFY_LOGIN_RATE_LIMIT"

# An office behind one NAT address signs in together at the start of a shift;
# thirty a minute lets a large team in while a guesser from one address gets
# 300 tries an hour over every account, each of which locks after five.
DEFAULT_RATE_LIMIT = "30/minute;300/hour"
DEFAULT_CHECK_WAIT_SECONDS = 1.0
RATE_LIMIT_OFF = frozenset({"off", "none", "0"})

CLIENT_ADDRESS: ContextVar[str | None] = ContextVar("rectify_client_address", default=None)
"""The address of the client whose request is being served, set by the HTTP layer."""

REQUEST_ARRIVED: ContextVar[float | None] = ContextVar("rectify_request_arrived", default=None)
"""When (``time.monotonic()``) the request being served arrived, set by the HTTP layer:
the wait for a check slot counts from then, so time spent queueing for a thread
is not waited again."""


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class LoginLimitSettings:
    """The limits, as read from the environment by :meth:`from_environ`."""

    password_checks: int
    check_wait_seconds: float
    rate_limit: str | None
    """In ``limits`` notation (``30/minute;300/hour``), or None for no limit by address."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> LoginLimitSettings:
        """The settings from ``RECTIFY_*`` variables; ValueError naming a malformed one."""
        checks_text = environ.get(PASSWORD_CHECKS_VARIABLE, "").strip()
        wait_text = environ.get(CHECK_WAIT_VARIABLE, "").strip()
        rate_text = environ.get(RATE_LIMIT_VARIABLE, "").strip()
        if checks_text:
            if not checks_text.isascii() or not checks_text.isdigit() or int(checks_text) < 1:
                raise ValueError(
                    f"{PASSWORD_CHECKS_VARIABLE} must be a whole number of at least 1, "
                    f"not {checks_text!r}"
                )
            checks = int(checks_text)
        else:
            checks = available_cpus()
        try:
            wait = float(wait_text) if wait_text else DEFAULT_CHECK_WAIT_SECONDS
        except ValueError:
            wait = -1.0
        if not 0 <= wait <= 60:
            raise ValueError(
                f"{CHECK_WAIT_VARIABLE} must be a number of seconds from 0 to 60, not {wait_text!r}"
            )
        rate = rate_text or DEFAULT_RATE_LIMIT
        if rate.lower() in RATE_LIMIT_OFF:
            return cls(password_checks=checks, check_wait_seconds=wait, rate_limit=None)
        _parse_rate(rate)
        return cls(password_checks=checks, check_wait_seconds=wait, rate_limit=rate)


def _parse_rate(text: str) -> list[RateLimitItem]:
    try:
        items = parse_many(text)
    except ValueError:
        items = []
    if not items:
        raise ValueError(
            f"{RATE_LIMIT_VARIABLE} must be limits such as '30/minute;300/hour' "
            f"(or 'off'), not {text!r}"
        )
    return items


class PasswordCheckSlots:
    """At most ``slots`` password checks at once in this process; the others wait a
    little, then are refused rather than queued: a queue without end is a hang."""

    def __init__(self, slots: int, wait_seconds: float) -> None:
        if slots < 1 or wait_seconds < 0:
            raise ValueError("at least one slot, and a wait that is not negative")
        self.slots = slots
        self.wait_seconds = wait_seconds
        self._semaphore = threading.BoundedSemaphore(slots)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a slot for one check; PasswordChecksBusy if none frees in time."""
        arrived = REQUEST_ARRIVED.get()
        wait = self.wait_seconds
        if arrived is not None:
            wait = max(0.0, arrived + self.wait_seconds - time.monotonic())
        if not self._semaphore.acquire(timeout=wait):
            raise PasswordChecksBusy(retry_after=max(1, math.ceil(self.wait_seconds)))
        try:
            yield
        finally:
            self._semaphore.release()


class AttemptsByAddress:
    """Password attempts per client address, over moving windows (``limits``)."""

    def __init__(self, rate_limit: str) -> None:
        self.rate_limit = rate_limit
        self._items = _parse_rate(rate_limit)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        # Test every window before hitting any, under one lock, so that an
        # attempt refused by the hourly limit is not counted in the minute's.
        self._lock = threading.Lock()

    def count(self, address: str) -> None:
        """Count one attempt from ``address``; TooManyLoginAttempts when over a limit."""
        with self._lock:
            for item in self._items:
                if not self._limiter.test(item, address):
                    reset_at, _ = self._limiter.get_window_stats(item, address)
                    raise TooManyLoginAttempts(
                        address,
                        limit=str(item),
                        retry_after=max(1, math.ceil(reset_at - time.time())),
                    )
            for item in self._items:
                self._limiter.hit(item, address)


@dataclass
class LoginLimits:
    """What the user store applies around every password check."""

    slots: PasswordCheckSlots
    by_address: AttemptsByAddress | None

    @classmethod
    def from_settings(cls, settings: LoginLimitSettings) -> LoginLimits:
        return cls(
            slots=PasswordCheckSlots(settings.password_checks, settings.check_wait_seconds),
            by_address=AttemptsByAddress(settings.rate_limit) if settings.rate_limit else None,
        )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> LoginLimits:
        return cls.from_settings(LoginLimitSettings.from_environ(environ))

    @classmethod
    def unlimited(cls) -> LoginLimits:
        """A slot per CPU and no limit by address: for stores built outside a server."""
        return cls(PasswordCheckSlots(available_cpus(), DEFAULT_CHECK_WAIT_SECONDS), None)

    def count_attempt(self) -> None:
        """Count an attempt against the current request's client address, if any."""
        address = CLIENT_ADDRESS.get()
        if address is not None and self.by_address is not None:
            self.by_address.count(address)
