"""What every console page shares: rendering, who is signed in, CSRF, and forms.

**Sessions.** The cookie ``rectify_session`` (HttpOnly, SameSite=Lax, Secure
when served over HTTPS) names a row of :mod:`infrastructure.sessions`; each
request checks that row and the account behind it.

**CSRF.** The synchronizer-token pattern: each session has its own random
token, kept on the server with the session; every form carries it in a hidden
field and htmx sends it as ``X-CSRF-Token`` (set once on ``<body hx-headers>``).
A state-changing request whose token is missing or differs is refused (403)
before anything else. Because the token lives in the server-side session
already, no second signed cookie (itsdangerous, starlette-csrf's double submit)
is needed: there is nothing for an attacker to forge or replay across
sessions, and sign-out voids it with the session. On top, a POST must come
from this origin (``Origin``, or ``Referer`` when a browser omits it).

**Forms** carry the version of the record they showed and a key of their own
(:func:`form_key`); :mod:`interfaces.web.forms` runs them.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from domain.values import Role
from infrastructure.sessions import ConsoleSession
from infrastructure.users import User
from interfaces.web import deps
from interfaces.web.i18n import (
    LANGUAGE_NAMES,
    LANGUAGES,
    Formatter,
    language_for,
    translations,
)
from interfaces.web.messages import N_

TEMPLATES = Path(__file__).parent / "templates"
SESSION_COOKIE = "rectify_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
CONSOLE_PREFIX = "/ui"
HOME = "/"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)


ROLE_NAMES = {
    Role.INSPECTOR: N_("inspector"),
    Role.RESPONSIBLE_PARTY: N_("responsible party"),
    Role.SUPERVISOR: N_("supervisor"),
    Role.AUDITOR: N_("auditor"),
    Role.SYSTEM: N_("system"),
}
STATUS_NAMES = {
    "reported": N_("reported"),
    "rectifying": N_("rectifying"),
    "awaiting_verification": N_("awaiting verification"),
    "verified": N_("verified"),
    "closed": N_("closed"),
    "dismissed": N_("dismissed"),
    "issued": N_("issued"),
    "acknowledged": N_("acknowledged"),
    "completion_reported": N_("completion reported"),
    "fulfilled": N_("fulfilled"),
    "cancelled": N_("cancelled"),
    "open": N_("in progress"),
    "completed": N_("completed"),
    "general": N_("general"),
    "major": N_("major"),
    "pass": N_("pass"),
    "fail": N_("fail"),
    "na": N_("n.a."),
    "passed": N_("passed"),
    "failed": N_("failed"),
}


class SignInRequired(Exception):
    """The page needs a signed-in person; answered with a redirect to the sign-in page."""


class Refused(Exception):
    """The signed-in person's role may not see or do this: the 403 page, nothing recorded."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class CsrfRefused(Exception):
    """A state-changing request without this session's CSRF token or from another origin."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in person of a request, with their session."""

    user: User
    session: ConsoleSession

    @property
    def role(self) -> Role:
        return self.user.role

    def is_(self, *roles: Role) -> bool:
        return self.user.role in roles


def current_viewer(request: Request) -> Viewer | None:
    """The person the session cookie names, if it is live and the account allows it."""
    cached = request.scope.get("rectify.viewer")
    if cached is not None:
        return cached
    store = deps.sessions(request)
    session = store.find(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    user = store.user_for(session, deps.users(request))
    if user is None:
        return None
    viewer = Viewer(user, session)
    request.scope["rectify.viewer"] = viewer
    return viewer


def require_viewer(request: Request, *roles: Role) -> Viewer:
    """The signed-in person, who must act in one of ``roles`` (any, when none given)."""
    viewer = current_viewer(request)
    if viewer is None:
        raise SignInRequired()
    if roles and viewer.role not in roles:
        raise Refused()
    return viewer


def _same_origin(request: Request) -> bool:
    own = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == own
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" == own
    # A browser names the origin of every POST; a request naming none is not from our page.
    return False


def check_origin(request: Request) -> None:
    """Refuse a POST from another site's page."""
    if not _same_origin(request):
        raise CsrfRefused()


async def check_csrf(request: Request, viewer: Viewer) -> FormData:
    """Refuse a POST without this session's CSRF token; return the form it sent."""
    check_origin(request)
    form = await request.form()
    sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(
        sent.encode(), viewer.session.csrf_token.encode()
    ):
        raise CsrfRefused()
    return form


def form_key() -> str:
    """A fresh key for one rendered form: sending that form twice records it once."""
    return secrets.token_urlsafe(18)


@dataclass
class Page:
    """What a template renders: the request's person, language and helpers, plus ``data``."""

    request: Request
    viewer: Viewer | None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def language(self) -> str:
        return language_for(self.request)

    @property
    def gettext(self) -> Translations:
        return translations(self.language)

    def context(self) -> dict[str, Any]:
        catalogue = self.gettext
        return {
            "request": self.request,
            "viewer": self.viewer,
            "lang": self.language,
            "html_lang": self.language.replace("_", "-"),
            "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
            "_": catalogue.gettext,
            "ngettext": lambda one, many, n: catalogue.ngettext(one, many, n) % {"num": n},
            "role_name": lambda role: catalogue.gettext(ROLE_NAMES[Role(role)]),
            "status_name": lambda status: catalogue.gettext(
                STATUS_NAMES.get(str(status), str(status))
            ),
            "message": lambda error: catalogue.gettext(error.message) % {"rule": error.rule},
            "new_form_key": form_key,
            "outcome": None,
            "today": deps.rectify(self.request).today(),
            "fmt": Formatter(self.language, deps.rectify(self.request).time_zone),
            "csrf_token": self.viewer.session.csrf_token if self.viewer else "",
            "csrf_field": CSRF_FIELD,
            "path": self.request.url.path,
            "query": str(self.request.url.query),
            "Role": Role,
            **self.data,
        }


def render(
    request: Request,
    template_name: str,
    viewer: Viewer | None,
    status_code: int = 200,
    /,
    **data: Any,
) -> HTMLResponse:
    """Render ``template_name`` for the request's person in their language."""
    page = Page(request, viewer, data)
    html = environment.get_template(template_name).render(page.context())
    response = HTMLResponse(html, status_code=status_code)
    # Pages show personal data and CSRF tokens: never kept by a shared cache.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Cookie, Accept-Language"
    # A signing page inside another site's frame could be clicked through unseen.
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def redirect(request: Request, url: str) -> Response:
    """See-other to ``url``; for htmx, the same as a full-page navigation."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None) -> str:
    """Only a path on this site may be returned to after sign-in (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return HOME
    return target
