"""Who is calling: bearer tokens (OAuth2 password flow) and the roles they act in.

Other routers authenticate with these dependencies::

    @router.get("/queues/mine")
    def my_queue(user: User = Depends(current_user)) -> ...

    @router.get("/audit/log", dependencies=[Depends(require_roles(Role.AUDITOR))])

A missing, malformed or expired token is a 401 problem with
``WWW-Authenticate: Bearer``; a role that may not call an endpoint, a 403.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from domain.values import Actor, Role
from infrastructure.integration.keys import looks_like_key
from infrastructure.tokens import InvalidToken, TokenIssuer
from infrastructure.users import User, UserStore
from interfaces.http.problems import ProblemError

TOKEN_PATH = "/token"

# The scope key under which the write guard leaves the user it authenticated,
# so the endpoint does not look the user up a second time.
USER_SCOPE_KEY = "rectify.user"

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_PATH.lstrip("/"),
    auto_error=False,
    description="Log in with a user id and password at `POST /token`; send the token "
    "as `Authorization: Bearer <token>`.",
)

INSPECTING_ROLES = (Role.INSPECTOR, Role.SUPERVISOR)
ALL_ROLES = (Role.INSPECTOR, Role.RESPONSIBLE_PARTY, Role.SUPERVISOR, Role.AUDITOR)


def unauthenticated(detail: str) -> ProblemError:
    """A 401 problem asking for a bearer token."""
    return ProblemError(
        401, detail, rule="not_authenticated", headers={"WWW-Authenticate": "Bearer"}
    )


@dataclass(frozen=True)
class Authenticator:
    """Turns an ``Authorization`` header into a user, or refuses with a 401 problem."""

    tokens: TokenIssuer
    users: UserStore

    def user_for_token(self, token: str | None) -> User:
        if not token:
            raise unauthenticated("log in first: this endpoint needs a bearer token")
        if looks_like_key(token):
            # A service account's key reads the feed and nothing else (see feed_reader).
            raise ProblemError(
                403,
                "an integration key may read only the event feed (GET /feed)",
                rule="integration_key_reads_only_feed",
            )
        try:
            claims = self.tokens.claims(token)
        except InvalidToken as error:
            raise unauthenticated(str(error)) from None
        user = self.users.get(claims.user_id)
        if user is None:
            raise unauthenticated("the access token names a user who no longer exists")
        if not user.active:
            raise unauthenticated(f"the account {user.user_id} is disabled")
        if user.password_changed_at is not None and claims.issued_at < user.password_changed_at:
            raise unauthenticated(
                "the password was changed after this token was issued; log in again"
            )
        return user

    def user_for_header(self, authorization: str | None) -> User:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            token = ""
        return self.user_for_token(token.strip() or None)


def authenticator(request: Request) -> Authenticator:
    """The app's authenticator (``app.state.auth``)."""
    return request.app.state.auth


def current_user(
    request: Request,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    """The logged-in user; 401 problem if there is none."""
    user = request.scope.get(USER_SCOPE_KEY)
    if isinstance(user, User):
        return user
    user = authenticator(request).user_for_token(token)
    request.scope[USER_SCOPE_KEY] = user
    return user


# The dependencies that only look at what is already in hand are ``async def``:
# FastAPI runs a plain ``def`` dependency in the thread pool, a hop that costs
# more than the check itself.
async def current_actor(user: Annotated[User, Depends(current_user)]) -> Actor:
    """The logged-in user as the domain records them (user id, name, role)."""
    return user.actor()


def role_refused(user: User, roles: tuple[Role, ...]) -> ProblemError:
    names = " or ".join(r.value for r in roles)
    return ProblemError(
        403,
        f"only a {names} may do this; {user.name} ({user.user_id}) is a {user.role.value}",
        rule="role_not_permitted",
    )


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, User]]:
    """A dependency that returns the user if they act in one of ``roles``, else 403."""
    allowed = tuple(roles)

    async def dependency(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in allowed:
            raise role_refused(user, allowed)
        return user

    dependency.__name__ = "require_" + "_or_".join(r.value for r in allowed)
    return dependency
