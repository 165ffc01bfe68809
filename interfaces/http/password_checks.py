"""Where the HTTP layer meets the limits on password checks (``infrastructure.login_limits``).

- :class:`ClientAddressMiddleware` tells the user store, for every request,
  which client address is asking, so attempts are counted per address
  wherever a password is checked — at ``/token``, when signing, at the
  console's sign-in — without each endpoint passing it on.
- :func:`authenticate` runs a login's password check on threads of its own,
  not on the pool that serves every other request: a burst of logins then
  queues behind the (few) password-check slots instead of taking every thread
  and leaving ``/health`` and the rest waiting. A queue longer than
  :data:`QUEUED_LOGINS_PER_SLOT` per slot is refused at once (503), and a
  login whose check could not start within the wait the settings allow from
  its arrival is refused when its turn comes (503).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from application.errors import PasswordChecksBusy
from infrastructure.login_limits import CLIENT_ADDRESS, REQUEST_ARRIVED

if TYPE_CHECKING:
    from fastapi import FastAPI

    from infrastructure.users import User, UserStore

# Threads for logins: one per check slot, and more to count attempts in the
# database (and refuse them at once, when the account is locked) while the
# others hash. Queued logins cost no thread; a login that waited past its
# budget is refused as soon as it gets one, so the queue drains quickly.
LOGIN_THREADS_PER_SLOT = 4
QUEUED_LOGINS_PER_SLOT = 64


class ClientAddressMiddleware:
    """Make the request's client address, and when it arrived, known to the
    password checks it leads to.

    The address is the one uvicorn reports: behind a reverse proxy on the same
    machine, the ``X-Forwarded-For`` it sends (uvicorn trusts 127.0.0.1 by
    default; ``--forwarded-allow-ips`` names others).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        address = CLIENT_ADDRESS.set(client[0] if client else None)
        arrived = REQUEST_ARRIVED.set(time.monotonic())
        try:
            await self.app(scope, receive, send)
        finally:
            REQUEST_ARRIVED.reset(arrived)
            CLIENT_ADDRESS.reset(address)


class LoginThreads:
    """The threads logins are checked on, and how many may wait for them."""

    def __init__(self, slots: int) -> None:
        self.limiter = anyio.CapacityLimiter(slots * LOGIN_THREADS_PER_SLOT)
        self.max_waiting = slots * QUEUED_LOGINS_PER_SLOT

    async def authenticate(self, users: UserStore, user_id: str, password: str) -> User | None:
        """``users.authenticate`` on these threads; PasswordChecksBusy if too many wait."""
        if self.limiter.statistics().tasks_waiting >= self.max_waiting:
            raise PasswordChecksBusy(retry_after=1)
        return await anyio.to_thread.run_sync(
            users.authenticate, user_id, password, limiter=self.limiter
        )


def install_login_threads(app: FastAPI, users: UserStore) -> None:
    """Give ``app`` the login threads sized to ``users``' password-check slots."""
    app.state.login_threads = LoginThreads(users.limits.slots.slots)
