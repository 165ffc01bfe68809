"""Who sees which read-model rows (the role table of the product, for reading).

- A responsible party (整改责任人) sees only what concerns the orders addressed
  to them: their orders, and the cases those orders belong to. Inspections, a
  site's history and the dashboards are not theirs to read.
- Inspectors, supervisors and auditors read everything. Asking for "mine"
  narrows it to what the user is involved in: the inspections whose team they
  are on, and the cases and orders of those inspections or of orders they issued.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import NotPermitted
from domain.values import Role


@dataclass(frozen=True)
class Scope:
    """Which rows a query may return.

    ``party_user_id``: only orders addressed to this user (and their cases).
    ``involved_user_id``: only what this user is involved in. Both None: everything.
    """

    party_user_id: str | None = None
    involved_user_id: str | None = None

    @property
    def is_party(self) -> bool:
        return self.party_user_id is not None


def scope_for(user_id: str, role: Role | str, *, mine: bool = False) -> Scope:
    """The rows ``user_id`` acting as ``role`` may see (narrowed to theirs if ``mine``)."""
    role = Role(role)
    if role == Role.RESPONSIBLE_PARTY:
        return Scope(party_user_id=user_id)
    if mine:
        return Scope(involved_user_id=user_id)
    return Scope()


def require_staff(role: Role | str, what: str) -> None:
    """Refuse a responsible party a read model that is not about their own orders."""
    if Role(role) == Role.RESPONSIBLE_PARTY:
        raise NotPermitted(
            f"a responsible party sees only the orders addressed to them, not {what}",
            rule="party_sees_only_own_orders",
        )
