"""Clocks: the real one, and one that tests can move.

Deadlines and overdue orders depend on "now"; passing a clock in, instead of
calling ``datetime.now`` inside the code, lets a test move time forward to the
day after a deadline without sleeping.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that, when called, returns the current time as an aware UTC datetime."""

    def __call__(self) -> datetime: ...


class SystemClock:
    """The wall clock, in UTC."""

    def __call__(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that stands still until told to move.

    Accepts only timezone-aware datetimes and keeps them in UTC, so the times
    it hands out compare and serialise like those of :class:`SystemClock`.
    """

    def __init__(self, start: datetime) -> None:
        """Start the clock at ``start`` (aware; converted to UTC)."""
        self._lock = threading.Lock()
        self._now = _as_utc(start)

    def __call__(self) -> datetime:
        """Return the clock's current time."""
        with self._lock:
            return self._now

    def advance(self, **timedelta_kwargs: float) -> datetime:
        """Move the clock by a ``timedelta(**timedelta_kwargs)`` and return the new time.

        A negative interval moves it back, which a test of clock skew may want.
        """
        step = timedelta(**timedelta_kwargs)
        with self._lock:
            self._now = self._now + step
            return self._now

    def set(self, moment: datetime) -> None:
        """Put the clock at ``moment`` (aware; converted to UTC)."""
        utc = _as_utc(moment)
        with self._lock:
            self._now = utc

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()!r})"


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"ManualClock needs a timezone-aware datetime, got naive {moment!r}")
    return moment.astimezone(UTC)
