"""Optimistic concurrency over HTTP: ``ETag`` out, ``If-Match`` in.

A resource's ETag is its aggregate's version as a strong entity tag (``"7"``).
A state-changing request names, in ``If-Match``, the version it was based on —
for a change to a record, that record's ETag; for creating a record under
another (a hazard under an inspection, an order or a verification under a
case), the parent's. Missing: 428. Malformed: 400. Stale: 412, with the
current ETag, and nothing recorded.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Header, Response
from pydantic import WithJsonSchema

from interfaces.http.problems import ProblemError

_STRONG_ETAG = re.compile(r'^"([0-9]{1,9})"$')

IF_MATCH_DESCRIPTION = (
    "The ETag (version) of the record this change is based on, as returned by its "
    'GET or by the previous command, e.g. `"3"`. Required: without it the request '
    "is refused with 428; if the record has changed since, with 412."
)


def etag(version: int) -> str:
    """The strong entity tag of a version."""
    return f'"{version}"'


def set_version_headers(response: Response, version: int, position: int | None = None) -> None:
    """Put the version (``ETag``) and the log position (``X-Log-Position``) on a response."""
    response.headers["ETag"] = etag(version)
    if position is not None:
        response.headers["X-Log-Position"] = str(position)


def parse_if_match(value: str | None) -> int:
    """The version named by an ``If-Match`` header; 428 if missing, 400 if malformed."""
    if value is None or not value.strip():
        raise ProblemError(
            428,
            "If-Match is required: send the ETag of the record this change is based on, "
            "so that no change is silently overwritten",
            rule="if_match_required",
        )
    match = _STRONG_ETAG.match(value.strip())
    if match is None:
        raise ProblemError(
            400,
            f"If-Match must be one strong ETag as sent by this API, e.g. '\"3\"', "
            f"not {value.strip()[:40]!r}",
            rule="if_match_invalid",
        )
    return int(match.group(1))


async def expected_version(
    if_match: Annotated[
        str | None,
        Header(alias="If-Match", description=IF_MATCH_DESCRIPTION, examples=['"3"']),
        # The document states the pattern (and no null: an absent header is the
        # None); a malformed value keeps its own answer, 400 with rule
        # if_match_invalid, from parse_if_match.
        WithJsonSchema({"type": "string", "pattern": '^"[0-9]{1,9}"$'}),
    ] = None,
) -> int:
    """Dependency: the version the request was based on."""
    return parse_if_match(if_match)
