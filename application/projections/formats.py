"""How values are written into read-model rows, the same on SQLite and PostgreSQL.

Every timestamp is UTC text of one fixed width, so text order is time order and
a rebuilt row compares equal to a live one on both databases; dates are
``YYYY-MM-DD``; ids are the UUID's canonical text; flags are 0 or 1.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def ts(moment: datetime) -> str:
    """An aware datetime as fixed-width UTC text, e.g. ``2022-04-10T02:30:00.000000Z``."""
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_ts(text: str) -> datetime:
    """The inverse of :func:`ts`."""
    return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def local_day(moment: datetime, time_zone: ZoneInfo) -> str:
    """The calendar date of ``moment`` where the cases are, as ``YYYY-MM-DD``."""
    return moment.astimezone(time_zone).date().isoformat()


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def uid(value: UUID | str | None) -> str | None:
    return None if value is None else str(value)


def flag(value: Any) -> int:
    return 1 if value else 0
