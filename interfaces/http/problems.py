"""Every error the API returns, as ``application/problem+json`` (RFC 9457), in one place.

The body is ``{"type", "title", "status", "detail", "rule"?, "errors"?}``:
``rule`` is the stable name of the rule that refused the request (the domain's
``DomainError.rule``, or one of this module's), ``errors`` lists the fields a
malformed request got wrong. Input values are never echoed back: a field may
be a password.

Status codes: an illegal transition (and a lost race) is 409, a command whose
values break a rule is 422, a refusal by role or relation is 403 (so is a
signature with the wrong password: rule ``signature_rejected``), an unknown
id 404, a stale ``If-Match`` 412, a missing one 428, a body too large 413.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from application.errors import (
    AccountLocked,
    ApplicationError,
    ConcurrencyConflict,
    NotFound,
    PasswordChecksBusy,
    SignatureRejected,
    StaleVersion,
    TooManyLoginAttempts,
)
from domain.errors import DomainError, IllegalTransition, InvalidCommand, NotPermitted
from infrastructure.evidence import EvidenceAltered

PROBLEM_MEDIA_TYPE = "application/problem+json"

logger = logging.getLogger("rectify.http")


class FieldError(BaseModel):
    """One field a request got wrong."""

    loc: list[str | int] = Field(examples=[["body", "reason"]])
    msg: str = Field(examples=["Field required"])
    type: str = Field(examples=["missing"])


class Problem(BaseModel):
    """An error (RFC 9457 problem details)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:rectify:problem:case_closes_only_from_verified",
                    "title": "Conflict",
                    "status": 409,
                    "detail": "cannot close the case: hazard is rectifying, must be verified",
                    "rule": "case_closes_only_from_verified",
                }
            ]
        }
    )

    type: str = Field(description="A URI naming the kind of problem; `about:blank` if general.")
    title: str = Field(description="The HTTP status phrase.")
    status: int
    detail: str = Field(description="What went wrong, naming the rule or field.")
    rule: str | None = Field(default=None, description="The stable name of the rule refused.")
    errors: list[FieldError] | None = Field(
        default=None, description="For a malformed request: each field that is wrong."
    )


class ProblemError(StarletteHTTPException):
    """An HTTP error with a rule name, rendered as problem details.

    A subclass of Starlette's HTTPException so FastAPI passes it through
    unchanged wherever it handles those (e.g. while reading the body).
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        rule: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.rule = rule


def problem_response(
    status: int,
    detail: str,
    *,
    rule: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response; usable as an ASGI app by middleware too."""
    body: dict[str, Any] = {
        "type": f"urn:rectify:problem:{rule}" if rule else "about:blank",
        "title": _phrase(status),
        "status": status,
        "detail": detail,
    }
    if rule:
        body["rule"] = rule
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def status_of_domain_error(error: DomainError) -> int:
    """409 for an illegal transition, 403 for a refusal, 422 for a broken rule of values."""
    if isinstance(error, IllegalTransition):
        return 409
    if isinstance(error, NotPermitted):
        return 403
    if isinstance(error, InvalidCommand):
        return 422
    return 422


def status_of_application_error(error: ApplicationError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, StaleVersion):
        return 412
    if isinstance(error, ConcurrencyConflict):
        return 409
    if isinstance(error, SignatureRejected):
        return 403
    if isinstance(error, AccountLocked | TooManyLoginAttempts):
        return 429
    if isinstance(error, PasswordChecksBusy):
        return 503
    return 422


async def _domain_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    return problem_response(status_of_domain_error(error), error.message, rule=error.rule)


async def _application_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApplicationError)
    headers = None
    if isinstance(error, StaleVersion):
        # The current version, so the client can see how far behind it was.
        headers = {"ETag": f'"{error.actual}"'}
    elif isinstance(error, AccountLocked | TooManyLoginAttempts | PasswordChecksBusy):
        headers = {"Retry-After": str(error.retry_after)}
    return problem_response(
        status_of_application_error(error), error.message, rule=error.rule, headers=headers
    )


async def _evidence_altered(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, EvidenceAltered)
    return problem_response(409, str(error), rule="evidence_altered")


def _location(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def describe_validation_errors(raw: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """A detail naming each wrong field, and the errors without their input values."""
    errors = []
    for item in raw:
        msg = str(item.get("msg", "invalid"))
        if item.get("type") == "json_invalid" and item.get("ctx", {}).get("error"):
            msg = f"{msg}: {item['ctx']['error']}"
        errors.append(
            {
                "loc": [p if isinstance(p, int) else str(p) for p in item.get("loc", ())],
                "msg": msg,
                "type": str(item.get("type", "value_error")),
            }
        )
    shown = "; ".join(f"{_location(e['loc'])}: {e['msg']}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"the request is not valid: {shown}{more}", errors


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    detail, errors = describe_validation_errors(list(error.errors()))
    return problem_response(422, detail, rule="request_invalid", errors=errors)


_FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    rule = getattr(error, "rule", None)
    detail = error.detail if isinstance(error.detail, str) else _phrase(error.status_code)
    headers = error.headers
    if rule is None and error.status_code == 400 and detail == _FASTAPI_BODY_PARSE_ERROR:
        # FastAPI's answer to a body it could not parse at all (e.g. JSON
        # nested deeper than the parser recurses).
        rule, detail = "body_unparseable", "the request body could not be parsed"
    if error.status_code == 405:
        allowed = _allowed_methods(request)
        rule = "method_not_allowed"
        detail = f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}"
        headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    return problem_response(error.status_code, detail, rule=rule, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path.

    Starlette's own ``Allow`` names only the first route that matched the path,
    and one path can have several (``GET /sites`` is a read model, ``POST
    /sites`` a command). Asked of each route through ``matches``, the routing
    contract, so routers included in others are asked too.
    """
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    # The server closes the connection after an unhandled error; saying so lets
    # a client open a new one rather than fail its next request on this one.
    return problem_response(
        500,
        "an unexpected error occurred; it has been logged",
        rule="internal_error",
        headers={"Connection": "close"},
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error of ``app`` as problem details."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(ApplicationError, _application_error)
    app.add_exception_handler(EvidenceAltered, _evidence_altered)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting these error statuses as problem+json."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS.get(status, _phrase(status)),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


_DESCRIPTIONS = {
    400: "Malformed header (e.g. `If-Match` or `Idempotency-Key`).",
    401: "Not logged in, or the token is invalid or expired.",
    403: "The user's role or relation to the record does not allow this; nothing recorded.",
    404: "No such record.",
    409: "Not allowed in the record's current state, or another change won a race.",
    412: "`If-Match` names a version that is no longer current; reload and retry.",
    413: "The request body is too large.",
    422: "The request's values break a rule; `rule` or `errors` names it.",
    428: "`If-Match` is required on this change.",
    429: "Too many wrong passwords in a row (the account is locked: rule `account_locked`), "
    "or too many password attempts from the client's address (`too_many_login_attempts`); "
    "nothing was checked or recorded; see `Retry-After`.",
    503: "The server is checking as many passwords as it may at once (rule "
    "`password_checks_busy`); nothing was checked or recorded; see `Retry-After`.",
}
