"""Order numbers unique per year (e.g. ``2022-0007``).

One small aggregate per year hands out the numbers. It is saved in the same
transaction as the order, so two orders issued at once conflict on the
sequence's version and one of them retries: numbers are never shared.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import CaseAggregate
from domain.values import Actor


class OrderNumberSequence(CaseAggregate):
    """The order numbers handed out in one year."""

    @staticmethod
    def id_for_year(year: int) -> UUID:
        return uuid5(NAMESPACE_URL, f"rectify:order-number-sequence:{year}")

    @classmethod
    def create_id(cls, year: int, actor: Actor, timestamp: datetime) -> UUID:
        return cls.id_for_year(year)

    @event("Started")
    def __init__(self, year: int, actor: Actor, timestamp: datetime) -> None:
        self.year = year
        self.last = 0

    def allocate(self, *, actor: Actor, at: datetime) -> str:
        """Hand out the next number of the year to the order ``actor`` is issuing."""
        self._allocated(number=self.last + 1, actor=actor, timestamp=at)
        return f"{self.year}-{self.last:04d}"

    @event("Allocated")
    def _allocated(self, number: int, actor: Actor, timestamp: datetime) -> None:
        self.last = number
