"""What every aggregate of a case shares: who acted, and the guards that use it."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate, Snapshot

from domain.errors import IllegalTransition, NotPermitted
from domain.values import Actor, Role


class CaseSnapshot(Snapshot):
    """A snapshot that gives back the aggregate with its enum-typed attributes.

    JSON keeps a ``StrEnum`` as a plain string; without this an aggregate loaded
    from a snapshot would differ in type from one replayed from its events.
    """

    def mutate(self, _: None) -> Any:
        aggregate = super().mutate(_)
        for name, enum in getattr(type(aggregate), "enum_attributes", ()):
            value = aggregate.__dict__.get(name)
            if value is not None:
                aggregate.__dict__[name] = enum(value)
        return aggregate


class CaseAggregate(Aggregate):
    """Base of the aggregates, which keep their state in a ``status`` ``StrEnum``.

    (``status`` is not annotated here: the library would take it for a field of
    every created event.) ``enum_attributes`` names the attributes a snapshot
    must turn back into enums.
    """

    Snapshot = CaseSnapshot
    enum_attributes: ClassVar[tuple[tuple[str, type[StrEnum]], ...]] = ()

    def _require_status(self, allowed: Iterable[StrEnum], action: str, rule: str) -> None:
        allowed = tuple(allowed)
        status = self.__dict__["status"]
        if status not in allowed:
            wanted = " or ".join(s.value for s in allowed)
            raise IllegalTransition(
                f"cannot {action}: {type(self).__name__.lower()} is {status}, must be {wanted}",
                rule=rule,
            )


def require_role(actor: Actor, roles: Iterable[Role], action: str, rule: str) -> None:
    """Refuse ``action`` unless ``actor`` acts in one of ``roles``."""
    roles = tuple(roles)
    if actor.role not in roles:
        names = " or ".join(r.value for r in roles)
        raise NotPermitted(
            f"only a {names} may {action}; {actor.name} acts as {actor.role.value}", rule=rule
        )


INSPECTING_ROLES = (Role.INSPECTOR, Role.SUPERVISOR)
