"""The web console: server-rendered pages (Jinja2, htmx) over the same use cases and
read models as the HTTP API, for people rather than programs.

:func:`install_console` adds it to the API's FastAPI app: the home page at
``/``, every other page under ``/ui/``, static files under ``/static/``. The
API's paths (``/cases``, ``/sites``, ``/orders`` …) stay JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import Response

from application.errors import NotFound
from infrastructure.sessions import SessionStore
from interfaces.web.core import (
    CONSOLE_PREFIX,
    CsrfRefused,
    Refused,
    SignInRequired,
    current_viewer,
    redirect,
    render,
)

STATIC = Path(__file__).parent / "static"
STATIC_PREFIX = "/static"


def is_console_path(path: str) -> bool:
    """Whether ``path`` is the console's (its pages authenticate by session, not token)."""
    return path == "/" or path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


def install_console(app: FastAPI, sessions: SessionStore) -> None:
    """Serve the console from ``app``, its sessions kept in ``sessions``."""
    from interfaces.web.pages import (
        audit,
        auth,
        cases,
        documents,
        home,
        inspections,
        orders,
        sites,
    )

    app.state.console_sessions = sessions
    for module in (auth, home, sites, inspections, cases, orders, documents, audit):
        app.include_router(module.router, include_in_schema=False)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, _: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/"
        return redirect(request, f"/ui/signin?next={quote(target, safe='/')}")

    @app.exception_handler(Refused)
    async def refused(request: Request, _: Exception) -> Response:
        return render(request, "refused.html", current_viewer(request), 403)

    # The API answers these with problem+json; on the console's pages a person
    # gets a page instead.
    for error_class in (NotFound, RequestValidationError):
        api_handler = next(
            (app.exception_handlers[c] for c in error_class.__mro__ if c in app.exception_handlers),
            None,
        )

        async def not_found(
            request: Request, error: Exception, api_handler: Any = api_handler
        ) -> Response:
            if is_console_path(request.url.path) or api_handler is None:
                return console_not_found(request)
            return await api_handler(request, error)

        app.add_exception_handler(error_class, not_found)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _: Exception) -> Response:
        return render(request, "csrf.html", current_viewer(request), 403)


def console_not_found(request: Request) -> Response:
    """The console's 404 page (the API keeps its problem+json 404)."""
    return render(request, "notfound.html", current_viewer(request), 404)


__all__ = ["console_not_found", "install_console", "is_console_path"]
