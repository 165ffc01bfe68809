"""What the routers share: documented error responses and dependencies as types.

An endpoint says who may call it by the type of its ``user`` parameter
(``user: Inspecting``), and asks for ``If-Match`` with ``version: IfMatch``.
The user comes first in each signature so a refusal (401/403) is decided
before anything about the request's headers or body.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from domain.values import Role
from infrastructure.users import User
from interfaces.http.commands import Commands, commands
from interfaces.http.concurrency import expected_version
from interfaces.http.problems import problem_responses
from interfaces.http.security import ALL_ROLES, INSPECTING_ROLES, require_roles

READ_ERRORS = problem_responses(401, 403, 404, 422)
CREATE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422)
CHANGE_ERRORS = problem_responses(400, 401, 403, 404, 409, 412, 413, 422, 428)
SIGNED_ERRORS = problem_responses(400, 401, 403, 404, 409, 412, 413, 422, 428, 429, 503)
"""A signed change re-enters a password, so it can also meet a locked account."""

Inspecting = Annotated[User, Depends(require_roles(*INSPECTING_ROLES))]
"""Inspectors, and supervisors (who may do everything an inspector may)."""
Supervising = Annotated[User, Depends(require_roles(Role.SUPERVISOR))]
ReadingAll = Annotated[User, Depends(require_roles(Role.INSPECTOR, Role.SUPERVISOR, Role.AUDITOR))]
"""Everyone but responsible parties, who see only their own orders."""
Anyone = Annotated[User, Depends(require_roles(*ALL_ROLES))]
ActingOnOrders = Annotated[User, Depends(require_roles(Role.RESPONSIBLE_PARTY, *INSPECTING_ROLES))]
"""The party an order names, or an inspector or supervisor recording it for them."""

MAX_OFFSET = 1_000_000_000
"""No list is this long; a larger offset is a mistake, not a page."""

IfMatch = Annotated[int, Depends(expected_version)]
"""The version (``If-Match``) the change was based on."""
Cmd = Annotated[Commands, Depends(commands)]
