"""Errors are application/problem+json with a clear message; bad input never gets a 500.

Each refusal names the rule or the field, and records nothing.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import jwt
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infrastructure.clock import ManualClock
from infrastructure.composition import build_app
from infrastructure.users import InMemoryUserStore
from interfaces.http.app import create_app
from tests.core.scenario import (
    CHEN_XIAOFENG,
    PASSWORDS,
    SWEEP_STARTS,
    TAO_BIAOYIN,
    ZHANG_MING,
    Stage,
)
from tests.http.conftest import FAST_HASHER, Api, add_people, problem
from tests.http.test_permissions import ENDPOINTS

COMMANDS = [e for e in ENDPOINTS if e.method == "POST"]


@pytest.mark.parametrize("endpoint", COMMANDS, ids=lambda e: e.name.replace(" ", "_"))
def test_an_unauthenticated_command_is_401_problem_json(api: Api, endpoint: Any) -> None:
    path = endpoint.path.format(
        site=uuid4(),
        inspection=uuid4(),
        case=uuid4(),
        order=uuid4(),
        verification=uuid4(),
        sha256="0" * 64,
    )
    response = api.client.post(path, json={"anything": 1}, headers={"If-Match": '"1"'})
    body = problem(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "token" in body["detail"]
    assert api.position() == 0


SECRET = "s" * 40


@pytest.fixture
def known_secret_api() -> Api:
    """The API signing tokens with a secret the test knows, to forge bad ones."""
    users = InMemoryUserStore(FAST_HASHER)
    add_people(users)
    clock = ManualClock(SWEEP_STARTS)
    app = create_app(build_app("popo://", clock=clock, passwords=users), users, token_secret=SECRET)
    return Api(app, TestClient(app), clock)


def _token(secret: str = SECRET, **claims: Any) -> str:
    now = int(time.time())
    # A day: the tokens are made when the tests are collected, and a whole
    # suite on a busy machine can take longer than minutes to reach them.
    payload = {"sub": "chenxiaofeng", "iss": "rectify", "iat": now, "exp": now + 86_400, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


@pytest.mark.parametrize(
    ("authorization", "says"),
    [
        ("Bearer not-a-token", "not valid"),
        (f"Bearer {_token(secret='t' * 40)}", "not valid"),
        (f"Bearer {_token(exp=int(time.time()) - 5)}", "expired"),
        (f"Bearer {_token(sub='nobody')}", "no longer exists"),
        (f"Bearer {_token(iss='someone-else')}", "not valid"),
        ("Basic Y2hlbnhpYW9mZW5nOnB3", "bearer token"),
        ("Bearer " + jwt.encode({"sub": "chenxiaofeng"}, None, algorithm="none"), "not valid"),
    ],
    ids=["garbage", "other-secret", "expired", "unknown-user", "other-issuer", "basic", "alg-none"],
)
def test_a_bad_token_is_401(known_secret_api: Api, authorization: str, says: str) -> None:
    for response in (
        known_secret_api.client.get("/users/me", headers={"Authorization": authorization}),
        known_secret_api.client.post(
            "/sites", json={"name": "a", "region": "b"}, headers={"Authorization": authorization}
        ),
    ):
        body = problem(response, 401, "not_authenticated")
        assert says in body["detail"]
    assert known_secret_api.position() == 0


def test_a_token_signed_with_the_secret_works(known_secret_api: Api) -> None:
    response = known_secret_api.client.get(
        "/users/me", headers={"Authorization": f"Bearer {_token()}"}
    )
    assert response.json()["user_id"] == "chenxiaofeng"


def _site_body(**changes: Any) -> dict[str, Any]:
    return {"name": "康顺盲人按摩店", "region": "安义县", **changes}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_site_body(name=1), "body.name"),
        ({"region": "安义县"}, "body.name"),
        (_site_body(owner="康顺"), "body.owner"),
        (_site_body(name="\ud800"), "body.name"),
        (_site_body(name="a\x00b"), "body.name"),
        (_site_body(name="长" * 201), "body.name"),
        ([_site_body()], "body"),
        ("康顺", "body"),
        (None, "body"),
    ],
    ids=[
        "wrong-type",
        "missing",
        "unknown-field",
        "lone-surrogate",
        "nul",
        "too-long",
        "array",
        "string",
        "no-body",
    ],
)
def test_a_malformed_body_is_422_naming_the_field(api: Api, body: Any, field: str) -> None:
    response = api.post("/sites", CHEN_XIAOFENG, body)
    detail = problem(response, 422, "request_invalid")
    assert field in detail["detail"]
    assert any(".".join(map(str, e["loc"])).startswith(field) for e in detail["errors"])
    # The input itself is not echoed back: it may be a password.
    assert all(set(error) == {"loc", "msg", "type"} for error in detail["errors"])
    assert api.position() == 0


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"name": "a", "region":', "application/json", 422),
        (b"name=a&region=b", "application/x-www-form-urlencoded", 422),
        (b'{"name": "a", "region": "b"}', "text/plain", 422),
        (b"\xff\xfe\xfd", "application/json", 400),
        (b"[" * 200_000, "application/json", 400),
        (b'{"name": NaN, "region": Infinity}', "application/json", 422),
        (b'{"name": ' + b"9" * 5000 + b"}", "application/json", 400),
    ],
    ids=[
        "truncated-json",
        "form",
        "text-plain",
        "not-utf8",
        "nested-too-deep",
        "nan",
        "huge-integer",
    ],
)
def test_an_unparseable_body_is_a_4xx_problem(
    api: Api, content: bytes, content_type: str, status: int
) -> None:
    response = api.client.post(
        "/sites",
        content=content,
        headers={**api.headers(CHEN_XIAOFENG), "Content-Type": content_type},
    )
    problem(response, status)
    assert api.position() == 0


def test_a_wrongly_typed_command_names_the_field(api: Api) -> None:
    case = api.sweep.arrange_case(Stage.COMPLETION_REPORTED)
    response = api.post(
        f"/cases/{case.hazard}/verifications",
        CHEN_XIAOFENG,
        {"passed": "yes", "findings": "ok"},
        if_match=api.version(case.hazard),
    )
    assert "body.passed" in problem(response, 422, "request_invalid")["detail"]
    response = api.post(
        f"/orders/{case.order}/extension-requests",
        CHEN_XIAOFENG,
        {"new_deadline": "next week", "reason": "r"},
        if_match=api.version(case.order),
    )
    assert "body.new_deadline" in problem(response, 422)["detail"]
    response = api.post(
        f"/cases/{'not-a-uuid'}/regrade",
        CHEN_XIAOFENG,
        {"severity": "major", "reason": "r"},
        if_match=1,
    )
    assert "path.case_id" in problem(response, 422)["detail"]


@pytest.mark.parametrize(
    ("stage", "path", "body", "status", "rule"),
    [
        (
            Stage.HAZARD_REPORTED,
            "/cases/{case}/close",
            {"reason": "r", "password": PASSWORDS[ZHANG_MING.user_id]},
            409,
            "case_closes_only_from_verified",
        ),
        (
            Stage.HAZARD_REPORTED,
            "/cases/{case}/regrade",
            {"severity": "major", "reason": " "},
            422,
            "reason_required",
        ),
        (
            Stage.INSPECTION_OPEN,
            "/inspections/{inspection}/items/mask",
            {"result": "fail"},
            422,
            "failed_item_needs_note",
        ),
        (
            Stage.INSPECTION_OPEN,
            "/inspections/{inspection}/items/no-such-item",
            {"result": "pass"},
            422,
            "unknown_checklist_item",
        ),
        (
            Stage.ORDER_ISSUED,
            "/cases/{case}/orders",
            {"party": {"name": "a", "contact": "b"}, "measures": "m"},
            409,
            "one_open_order_per_hazard",
        ),
        (
            Stage.HAZARD_REPORTED,
            "/cases/{case}/orders",
            {"party": {"name": "a", "contact": "b", "user_id": "zhangming"}, "measures": "m"},
            422,
            "party_account_not_responsible_party",
        ),
        (
            Stage.COMPLETION_REPORTED,
            "/orders/{order}/completion-report",
            {"note": "again"},
            409,
            "completion_report_already_awaiting_verification",
        ),
        (
            Stage.HAZARD_REPORTED,
            "/cases/{case}/fix-on-the-spot",
            {
                "note": "n",
                "evidence": [
                    {"sha256": "a" * 64, "name": "x.jpg", "media_type": "image/jpeg", "size": 1}
                ],
            },
            422,
            "evidence_not_uploaded",
        ),
    ],
    ids=[
        "illegal-transition",
        "blank-reason",
        "failed-item-without-note",
        "unknown-item",
        "second-open-order",
        "order-to-a-non-party",
        "completion-twice",
        "unknown-evidence",
    ],
)
def test_a_domain_refusal_is_409_or_422_naming_the_rule(
    api: Api, stage: Stage, path: str, body: dict, status: int, rule: str
) -> None:
    case = api.sweep.arrange_case(stage)
    target = {"case": case.hazard_id, "inspection": case.inspection_id, "order": case.order_id}
    aggregate = next(v for k, v in target.items() if "{" + k + "}" in path)
    before = api.position()
    response = api.post(path.format(**target), ZHANG_MING, body, if_match=api.version(aggregate))
    problem(response, status, rule)
    assert api.events_since(before) == []


def test_an_unknown_record_is_404(api: Api) -> None:
    problem(api.get(f"/cases/{uuid4()}", ZHANG_MING), 404, "not_found")
    response = api.post(
        f"/cases/{uuid4()}/regrade", ZHANG_MING, {"severity": "major", "reason": "r"}, if_match=1
    )
    problem(response, 404, "not_found")
    problem(api.get("/checklists/no-such-list", ZHANG_MING), 404, "unknown_checklist")


def test_unknown_paths_and_methods_are_problems_too(api: Api) -> None:
    problem(api.get("/no-such-thing", ZHANG_MING), 404)
    problem(api.client.delete("/sites", headers=api.headers(ZHANG_MING)), 405)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        # A path served by two routes: the read model's GET and the command's POST.
        ("DELETE", "/sites", "GET, POST"),
        ("PUT", "/cases/{case}", "GET"),
        ("GET", "/cases/{case}/close", "POST"),
    ],
)
def test_a_method_not_allowed_names_every_method_the_path_takes(
    api: Api, method: str, path: str, allowed: str
) -> None:
    case = api.sweep.arrange_case(Stage.HAZARD_REPORTED)
    response = api.client.request(
        method, path.format(case=case.hazard), headers=api.headers(ZHANG_MING)
    )
    body = problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == allowed
    assert allowed in body["detail"]


def test_a_body_over_one_mib_is_413_declared_or_streamed(api: Api) -> None:
    big = json.dumps(_site_body(address="x" * (1024 * 1024))).encode()
    problem(
        api.client.post(
            "/sites",
            content=big,
            headers={
                **api.headers(CHEN_XIAOFENG),
                "Content-Type": "application/json",
            },
        ),
        413,
        "body_too_large",
    )

    def chunks():
        yield b'{"name": "a", "region": "b", "address": "'
        for _ in range(300):
            yield b"x" * 4096
        yield b'"}'

    streamed = api.client.post(
        "/sites",
        content=chunks(),
        headers={
            **api.headers(CHEN_XIAOFENG),
            "Content-Type": "application/json",
        },
    )
    problem(streamed, 413, "body_too_large")
    assert api.position() == 0


# -- fuzzing: whatever arrives, the answer is never a 500 ---------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "name",
    "region",
    "result",
    "note",
    "reason",
    "password",
    "party",
    "measures",
    "deadline",
    "passed",
    "findings",
    "severity",
    "evidence",
    "category",
    "description",
]
OBJECTS = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6)
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _never_500(api: Api, response: Any, before: int) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert api.events_since(before) == []


@FUZZ
@given(body=OBJECTS | JSON)
def test_fuzzed_command_bodies_never_get_a_500(api: Api, body: Any) -> None:
    case = api.sweep.arrange_case(Stage.VERIFIED) if api.position() == 0 else None
    cases = api.sweep.events_since(0)
    hazard_id = (
        case.hazard
        if case
        else next(e.originator_id for e in cases if type(e).__qualname__ == "Hazard.Reported")
    )
    for path in (
        "/sites",
        f"/cases/{hazard_id}/orders",
        f"/cases/{hazard_id}/close",
        f"/cases/{hazard_id}/verifications",
    ):
        before = api.position()
        response = api.post(path, ZHANG_MING, body, if_match=api.version(hazard_id))
        _never_500(api, response, before)


@FUZZ
@given(
    item=st.text(max_size=20),
    body=OBJECTS,
    if_match=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
    key=st.text(
        st.characters(min_codepoint=32, max_codepoint=255, blacklist_characters="\x7f"), max_size=20
    ),
)
def test_fuzzed_paths_and_headers_never_get_a_500(
    api: Api, item: str, body: Any, if_match: str, key: str
) -> None:
    case = api.sweep.arrange_case(Stage.INSPECTION_OPEN)
    before = api.position()
    response = api.client.post(
        f"/inspections/{case.inspection_id}/items/{quote(item, safe='')}",
        json=body,
        headers={
            **api.headers(CHEN_XIAOFENG),
            "If-Match": if_match.encode("utf-8"),
            "Idempotency-Key": key.encode("latin-1"),
        },
    )
    _never_500(api, response, before)


@FUZZ
@given(
    raw=st.binary(max_size=200),
    content_type=st.sampled_from(
        ["application/json", "multipart/form-data; boundary=x", "text/plain", ""]
    ),
)
def test_fuzzed_raw_bodies_never_get_a_500(api: Api, raw: bytes, content_type: str) -> None:
    before = api.position()
    headers = {**api.headers(ZHANG_MING), "Content-Type": content_type}
    for path in ("/sites", "/evidence", "/token"):
        _never_500(api, api.client.post(path, content=raw, headers=headers), before)


def test_passwords_never_come_back_in_an_error(api: Api) -> None:
    case = api.sweep.arrange_case(Stage.VERIFIED)
    secret = PASSWORDS[ZHANG_MING.user_id]
    response = api.post(
        f"/cases/{case.hazard}/close",
        ZHANG_MING,
        {"reason": "ok", "password": secret, "extra": secret},
        if_match=1,
    )
    assert secret not in response.text


def test_a_nul_character_outside_the_body_is_400_on_every_backend(backend_api: Api) -> None:
    """PostgreSQL's text refuses NUL outright (a query filtering by it was a 500);
    it is refused at the door, wherever it hides, and nothing is recorded."""
    api = backend_api
    case = api.sweep.arrange_case(Stage.ORDER_ISSUED)
    before = api.position()
    site = {
        "name": "新店",
        "region": "安义县",
        "address": "安义县城",
        "kind": "按摩店",
        "operator": "某人",
        "contact": "0791-0000000",
    }
    for response, where in (
        (api.get("/cases", ZHANG_MING, params={"region": "安义\x00县"}), "query"),
        (api.get("/cases", ZHANG_MING, params={"party": "\x00"}), "query"),
        (api.get("/audit/log", ZHANG_MING, params={"actor": "zhang\x00ming"}), "query"),
        (api.get("/checklists/epidemic%002022", ZHANG_MING), "path"),
        (api.post("/sites", ZHANG_MING, site, key="retry\x00-1"), "header"),
        (
            api.post(
                f"/orders/{case.order}/acknowledge",
                TAO_BIAOYIN,
                if_match=api.version(case.order),
                headers={"X-Note": "a\x00b"},
            ),
            "header",
        ),
    ):
        body = problem(response, 400, "nul_character")
        assert where in body["detail"]
    assert api.position() == before
    assert api.get(f"/cases/{case.hazard}", ZHANG_MING).status_code == 200
