"""What every aggregate of a case shares: who acted, and the guards that use it."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from eventsourcing.domain import Aggregate

from domain.errors import IllegalTransition, NotPermitted
from domain.values import Actor, Role


class CaseAggregate(Aggregate):
    """Base of the aggregates, which keep their state in a ``status`` ``StrEnum``.

    (``status`` is not annotated here: the library would take it for a field of
    every created event.)
    """

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
