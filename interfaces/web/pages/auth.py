"""Signing in and out, and choosing the language."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from application.errors import AccountLocked, PasswordChecksBusy, TooManyLoginAttempts
from interfaces.web import deps
from interfaces.web.core import (
    SESSION_COOKIE,
    check_csrf,
    check_origin,
    current_viewer,
    render,
    require_viewer,
    safe_next,
)
from interfaces.web.i18n import LANGUAGE_COOKIE, LANGUAGES
from interfaces.web.messages import N_

router = APIRouter()

WRONG_CREDENTIALS = N_("The user id or password is wrong.")
LOCKED = N_("Too many wrong passwords: the account is locked for now.")
TOO_MANY_ATTEMPTS = N_("Too many sign-in attempts from this device: wait a minute and try again.")
BUSY = N_("The server is busy checking passwords: try again in a moment.")
ONE_YEAR = 365 * 24 * 60 * 60


@router.get("/ui/signin")
def signin_page(request: Request, next: str = "/") -> Response:
    if current_viewer(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "signin.html", None, next=safe_next(next), error=None, username="")


@router.post("/ui/signin")
async def signin(request: Request) -> Response:
    check_origin(request)
    form = await request.form()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or "/"))
    try:
        # The API's own login check: same accounts, same Argon2 hashes, same
        # lockout, and the same bounded threads, so sign-ins cannot starve pages.
        user = await request.app.state.login_threads.authenticate(
            deps.users(request), username, password
        )
    except (AccountLocked, TooManyLoginAttempts, PasswordChecksBusy) as error:
        message, status = {
            AccountLocked: (LOCKED, 429),
            TooManyLoginAttempts: (TOO_MANY_ATTEMPTS, 429),
            PasswordChecksBusy: (BUSY, 503),
        }[type(error)]
        refused = render(
            request, "signin.html", None, status, next=target, error=message, username=username
        )
        refused.headers["Retry-After"] = str(getattr(error, "retry_after", 1))
        return refused
    if user is None:
        return render(
            request,
            "signin.html",
            None,
            401,
            next=target,
            error=WRONG_CREDENTIALS,
            username=username,
        )
    session = await run_in_threadpool(deps.sessions(request).begin, user.user_id)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.session_id,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/ui/signout")
async def signout(request: Request) -> Response:
    viewer = require_viewer(request)
    await check_csrf(request, viewer)
    await run_in_threadpool(deps.sessions(request).end, viewer.session.session_id)
    response = RedirectResponse("/ui/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/ui/language/{language}")
def choose_language(request: Request, language: str, next: str = "/") -> Response:
    """Keep the chosen language in a cookie and go back to the page."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if language in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, language, max_age=ONE_YEAR, samesite="lax", httponly=True, path="/"
        )
    return response
