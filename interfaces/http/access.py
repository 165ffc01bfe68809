"""Who may see which records beyond their role: a responsible party sees only the
orders addressed to them, and the cases and verifications of those orders.

A party asking for a record they may not see is refused with 403 (rule
``party_sees_only_own_orders``), the same answer as a refused command; the ids
are random UUIDs, so the refusal tells nothing a guess could not.
"""

from __future__ import annotations

from application.app import RectifyApp
from domain.order import RectificationOrder
from domain.values import Role
from domain.verification import Verification
from infrastructure.users import User
from interfaces.http.problems import ProblemError


def sees_order(user: User, order: RectificationOrder) -> bool:
    """Whether ``user`` may see ``order``: everyone but a party, and the party it names."""
    if user.role != Role.RESPONSIBLE_PARTY:
        return True
    return order.party.is_account(user.user_id)


def not_addressed_to(user: User, what: str) -> ProblemError:
    return ProblemError(
        403,
        f"{user.name} ({user.user_id}) is a responsible party and sees only the orders "
        f"addressed to them; {what} is not",
        rule="party_sees_only_own_orders",
    )


def require_sees_order(user: User, order: RectificationOrder) -> None:
    """403 unless ``user`` may see ``order``."""
    if not sees_order(user, order):
        raise not_addressed_to(user, f"order {order.number}")


def sees_verification(user: User, rectify: RectifyApp, verification: Verification) -> bool:
    """Whether ``user`` may see ``verification``: everyone but a party, and a party
    only one of their own order (a verification of an on-the-spot fix has no order,
    so no party sees it)."""
    if user.role != Role.RESPONSIBLE_PARTY:
        return True
    return verification.order_id is not None and sees_order(
        user, rectify.get_order(verification.order_id)
    )


def require_sees_verification(user: User, rectify: RectifyApp, verification: Verification) -> None:
    """403 unless ``user`` may see ``verification`` (see :func:`sees_verification`)."""
    if not sees_verification(user, rectify, verification):
        raise not_addressed_to(user, f"verification {verification.id}")
