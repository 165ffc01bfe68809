"""The API fuzzed from its own OpenAPI document, with schemathesis.

For every operation the document describes, requests that fit the document —
and, in schemathesis's negative phases, requests that nearly fit it — go to the
API on a SQLite file holding a case waiting for re-inspection. Whatever arrives:

- the answer is never a 5xx (a 500 is a bug);
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

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

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


def _document() -> dict[str, Any]:
    """The OpenAPI document, from an app that is built but never started."""
    users = create_user_store(POPO_URL)
    rectify = build_app(POPO_URL, clock=ManualClock(SWEEP_STARTS), passwords=users)
    try:
        return create_app(rectify, users).openapi()
    finally:
        rectify.close()
        users.close()


schema = schemathesis.openapi.from_dict(_document())


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
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json"), shown
        assert response.json()["detail"], shown
        assert target.api.position() == before, f"a refused request recorded events: {shown}"
