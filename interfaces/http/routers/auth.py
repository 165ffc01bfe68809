"""Logging in (OAuth2 password flow) and who am I."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request

from infrastructure.users import User
from interfaces.http.problems import ProblemError, problem_responses
from interfaces.http.schemas.views import TokenView, UserView
from interfaces.http.security import TOKEN_PATH, current_user

router = APIRouter(tags=["users"])


@router.post(
    TOKEN_PATH, response_model=TokenView, responses=problem_responses(401, 413, 422, 429, 503)
)
async def log_in(
    request: Request,
    # An empty form field reaches FastAPI as a missing one, so the document
    # says at least one character.
    username: Annotated[str, Form(min_length=1, max_length=64, description="The user id.")],
    password: Annotated[
        str, Form(min_length=1, max_length=1024, json_schema_extra={"format": "password"})
    ],
    grant_type: Annotated[Literal["password"], Form()] = "password",
) -> TokenView:
    """Exchange a user id and password for a bearer token (OAuth2 password flow).

    This is what Swagger UI's *Authorize* button calls. A wrong user id or
    password is 401 (rule `invalid_credentials`), the same for both. Five wrong
    passwords in a row (`RECTIFY_LOGIN_MAX_FAILURES`) lock the account for 15
    minutes (`RECTIFY_LOGIN_LOCK_MINUTES`): 429 (rule `account_locked`) with
    `Retry-After`, even for the right password; attempts are counted before the
    password is checked, so guesses sent at once get no more checks. Too many
    attempts from one client address (`RECTIFY_LOGIN_RATE_LIMIT`, default 30 a
    minute and 300 an hour) are 429 (rule `too_many_login_attempts`); when the
    server is already checking as many passwords as it may at once, 503 (rule
    `password_checks_busy`). Both carry `Retry-After` and check nothing.
    """
    # On threads of its own, so a burst of logins leaves the others' pool alone.
    user = await request.app.state.login_threads.authenticate(
        request.app.state.users, username, password
    )
    if user is None:
        raise ProblemError(
            401,
            "the user id or password is wrong",
            rule="invalid_credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    issued = request.app.state.auth.tokens.issue(user.user_id)
    return TokenView(
        access_token=issued.access_token, token_type="bearer", expires_in=issued.expires_in
    )


@router.get("/users/me", response_model=UserView, responses=problem_responses(401))
def who_am_i(user: Annotated[User, Depends(current_user)]) -> UserView:
    """The logged-in user: id, name, role. Roles: all."""
    return UserView.of(user)
