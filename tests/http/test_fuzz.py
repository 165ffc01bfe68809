"""The API fuzzed from its own OpenAPI document, with schemathesis.

For every operation the document describes, requests that fit the document —
and, in schemathesis's negative phases, requests that nearly fit it — go to the
API on a SQLite file holding a case waiting for re-inspection. Whatever arrives:

- the answer is never a 5xx (a 500 is a bug), has the documented media type
  and a body its documented schema accepts (schemathesis's
  ``not_a_server_error``, ``content_type_conformance``,
  ``response_schema_conformance``);
- data valid by the document (schemathesis's positive phase) is never refused
  for its shape: a 400, 413 or 422 whose problem+json ``rule`` is the HTTP
  layer's (``request_invalid``, ``body_unparseable``, ``nul_character``, a
  malformed ``If-Match`` or ``Idempotency-Key``) or a value rule of the domain
  (``<what>_required``, ``<what>_too_long``) means the document fails to state
  a constraint the API enforces. A refusal naming any other rule is the domain
  or the application judging the data against the records — a stale version,
  a state that forbids the command, an unknown user or evidence, a rule across
  fields — which no schema can state, and is legitimate;
- a refusal (4xx) is ``application/problem+json`` with a detail;
- a refusal records nothing: the log's head does not move.

Path parameters that come out as well-formed ids are pointed at the real case,
order, inspection and site, so the fuzzing reaches the rules behind the ids
instead of stopping at 404. ``RECTIFY_FUZZ_AS`` (inspector, party, auditor) fuzzes
as another role than the supervisor. The run is the same every time, so CI does not
flake on what one random draw found; to hunt for new bugs, set
``RECTIFY_FUZZ_RANDOM=1`` and raise ``RECTIFY_FUZZ_EXAMPLES`` (default 15).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from infrastructure.clock import ManualClock
from infrastructure.composition import build_app, create_user_store
from interfaces.http.app import create_app
from tests.backends import POPO_URL, sqlite_url_for
from tests.core.scenario import SWEEP_STARTS, ZHANG_MING, Stage
from tests.http.conftest import PEOPLE, Api, _api_on

EXAMPLES = int(os.environ.get("RECTIFY_FUZZ_EXAMPLES", "15"))

_ETAG = re.compile(r'^"[0-9]+"$')
_VERSIONED = ("case_id", "order_id", "inspection_id")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


CONTRACT_CHECKS = [
    not_a_server_error,
    content_type_conformance,
    response_schema_conformance,
]
"""schemathesis's checks that hold every answer to the document: no 5xx, the
documented media type, a body its schema accepts."""

# The rules that refuse a request for its shape — what a document can state:
# the HTTP layer's own (a field's type, length, pattern; a malformed header or
# body) and the domain's value rules, ``<what>_required`` (blank text) and
# ``<what>_too_long``.
_SHAPE_RULES = frozenset(
    {
        "request_invalid",
        "body_unparseable",
        "nul_character",
        "if_match_invalid",
        "idempotency_key_invalid",
        "log_position_invalid",
    }
)
_SHAPE_RULE_SUFFIXES = ("_required", "_too_long")


def _rule_of(response: Any) -> str | None:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return None
    rule = response.json().get("rule")
    return rule if isinstance(rule, str) else None


def _refused_for_its_shape(status: int, rule: str | None) -> bool:
    """Whether a 400/413/422 answer to data valid by the document is a contract mismatch.

    Every other refusal names a rule of the domain or the application that no
    schema can state: the record's state or version (409, 412), a reference to
    something that does not exist (``unknown_user``, ``evidence_not_uploaded``),
    a key reused with another body, the operator's allow-list, a rule across
    fields (``as_of_choice``), a position ahead of the log.
    """
    if status not in (400, 413, 422):
        return False
    if rule is None:
        return True
    return rule in _SHAPE_RULES or rule.endswith(_SHAPE_RULE_SUFFIXES)


def _document() -> dict[str, Any]:
    """The OpenAPI document, from an app that is built but never started."""
    users = create_user_store(POPO_URL)
    rectify = build_app(POPO_URL, clock=ManualClock(SWEEP_STARTS), passwords=users)
    try:
        return create_app(rectify, users).openapi()
    finally:
        rectify.close()
        users.close()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def _matches(pattern: str, value: object) -> bool:
    """A JSON Schema (ECMAScript) pattern match: there ``$`` is the very end."""
    ecma = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    return isinstance(value, str) and re.search(ecma, value) is not None


def _fits_document(case: schemathesis.Case) -> bool:
    """Whether every header and top-level body field sent matches its documented pattern.

    schemathesis reads patterns with Python's ``re``, whose ``$`` also matches
    before a final newline, and its coverage phase marks as positive some
    header values its pattern does not match (``If-Match: 0``). Those are not
    data valid by the document, so a refusal of them is no mismatch.
    """
    operation = DOCUMENT["paths"][case.path][case.method.lower()]
    sent = {k.lower(): v for k, v in (case.headers or {}).items()}
    for parameter in operation.get("parameters", []):
        # An optional header's schema is anyOf [its own, null].
        options = parameter["schema"].get("anyOf", [parameter["schema"]])
        pattern = options[0].get("pattern")
        value = sent.get(parameter["name"].lower())
        sent_header = parameter["in"] == "header" and value is not None
        if sent_header and pattern and not _matches(pattern, str(value)):
            return False
    body = case.body if isinstance(case.body, dict) else {}
    ref = (
        operation.get("requestBody", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema", {})
        .get("$ref", "")
    )
    properties = DOCUMENT["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    for name, field in properties.get("properties", {}).items():
        pattern = field.get("pattern")
        if pattern and name in body and not _matches(pattern, body[name]):
            return False
    return True


class Target:
    """The API under fuzzing and the ids of the case arranged in it."""

    def __init__(self, api: Api) -> None:
        self.api = api
        case = api.sweep.arrange_case(Stage.COMPLETION_REPORTED)
        self.ids = {
            "case_id": str(case.hazard),
            "aggregate_id": str(case.hazard),
            "order_id": str(case.order),
            "inspection_id": str(case.inspection_id),
            "site_id": str(case.site_id),
        }
        # A supervisor may call every operation (the role tests cover who may
        # not); RECTIFY_FUZZ_AS=inspector|party|auditor fuzzes as another role.
        actor = PEOPLE.get(os.environ.get("RECTIFY_FUZZ_AS", "supervisor"), ZHANG_MING)
        self.authorization = f"Bearer {api.token(actor)}"

    def send(self, case: schemathesis.Case) -> Any:
        for name, value in list(case.path_parameters.items()):
            if name in self.ids and isinstance(value, str) and _UUID.match(value):
                case.path_parameters[name] = self.ids[name]
        request = case.as_transport_kwargs(base_url="http://testserver")
        headers = {k: v for k, v in request.pop("headers").items() if k.lower() != "connection"}
        # A well-formed If-Match names the record's current version, so the
        # command reaches the domain's rules rather than stopping at 412.
        aggregate = next(
            (
                v
                for k, v in case.path_parameters.items()
                if k in _VERSIONED and v in self.ids.values()
            ),
            None,
        )
        for name, value in list(headers.items()):
            if name.lower() == "if-match" and aggregate and _ETAG.match(str(value)):
                headers[name] = f'"{self.api.version(UUID(aggregate))}"'
        if "authorization" not in {k.lower() for k in headers}:
            headers["Authorization"] = self.authorization
        body: dict[str, Any] = {}
        if request.get("json") is not None or "json" in request:
            body["json"] = request["json"]
        if request.get("files"):
            body["files"] = request["files"]
        data = request.get("data")
        if isinstance(data, dict):
            body["data"] = data
        elif data is not None:
            body["content"] = data
        return self.api.client.request(
            request["method"],
            request["url"],
            headers=headers,
            params=request.get("params"),
            **body,
        )


@pytest.fixture
def target(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> Iterator[Target]:
    # SQLite by default, the store a newcomer runs; RECTIFY_FUZZ_BACKEND=postgres
    # fuzzes PostgreSQL, whose text columns, for one, refuse NUL characters.
    if os.environ.get("RECTIFY_FUZZ_BACKEND") == "postgres":
        url = request.getfixturevalue("postgres_url")
    else:
        url = sqlite_url_for(tmp_path / "fuzz.sqlite3")
    yield from (Target(api) for api in _api_on(url, clock))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not os.environ.get("RECTIFY_FUZZ_RANDOM"),
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error_and_a_refusal_records_nothing(
    case: schemathesis.Case, target: Target
) -> None:
    before = target.api.position()
    response = target.send(case)
    shown = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    assert response.status_code < 500, shown
    if not isinstance(response.request.stream, httpx.ByteStream):
        # schemathesis reads the request back from the response, and an
        # upload's multipart body is a stream already spent: it gets the
        # request line and headers, which is all its checks here look at.
        response.request = httpx.Request(
            response.request.method, response.request.url, headers=response.request.headers
        )
    case.validate_response(response, checks=CONTRACT_CHECKS)
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if positive and _fits_document(case):
        rule = _rule_of(response)
        if os.environ.get("RECTIFY_FUZZ_LOG") and response.status_code >= 400:
            with open(os.environ["RECTIFY_FUZZ_LOG"], "a", encoding="utf-8") as log:
                log.write(f"{case.method} {case.path} {response.status_code} {rule}\n")
        assert not _refused_for_its_shape(response.status_code, rule), (
            f"data valid by the document was refused for its shape (rule {rule}): {shown}"
        )
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json"), shown
        assert response.json()["detail"], shown
        assert target.api.position() == before, f"a refused request recorded events: {shown}"
