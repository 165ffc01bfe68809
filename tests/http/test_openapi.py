"""The OpenAPI document is complete: every operation described, with examples,
its errors as problem+json, its security, and the headers commands take."""

from __future__ import annotations

from typing import Any

import pytest

from tests.http.conftest import Api

RESOURCE_PREFIXES = (
    "/token",
    "/users",
    "/sites",
    "/checklists",
    "/inspections",
    "/cases",
    "/orders",
    "/verifications",
    "/evidence",
)


def _operations(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    document = api.client.get("/openapi.json").json()
    return [
        (path, method, operation)
        for path, operations in document["paths"].items()
        if path.startswith(RESOURCE_PREFIXES) and not path.endswith("/history")
        for method, operation in operations.items()
    ]


@pytest.fixture
def document(api: Api) -> dict[str, Any]:
    return api.client.get("/openapi.json").json()


def test_swagger_ui_can_log_in_with_the_password_flow(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == "token"


def test_every_operation_is_described_and_secured(api: Api) -> None:
    for path, method, operation in _operations(api):
        assert operation.get("description"), f"{method} {path} has no description"
        assert operation.get("tags"), f"{method} {path} has no tag"
        if path != "/token":
            assert operation.get("security"), f"{method} {path} is not secured"
            assert "401" in operation["responses"], f"{method} {path}"


def test_errors_are_documented_as_problem_json(api: Api, document: dict[str, Any]) -> None:
    assert "Problem" in document["components"]["schemas"]
    for path, method, operation in _operations(api):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert list(response.get("content", {})) == ["application/problem+json"], (
                    f"{method} {path} {status}"
                )


def test_commands_document_if_match_idempotency_key_and_examples(
    api: Api, document: dict[str, Any]
) -> None:
    schemas = document["components"]["schemas"]
    for path, method, operation in _operations(api):
        if method != "post" or path in ("/token", "/evidence"):
            continue
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in headers, f"{method} {path}"
        if "{" in path:
            assert "If-Match" in headers, f"{method} {path}"
            assert "412" in operation["responses"] and "428" in operation["responses"]
        body = operation.get("requestBody")
        if body:
            ref = body["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
            assert schemas[ref].get("examples"), f"{ref} has no example"


def test_the_api_documentation_is_served(api: Api) -> None:
    assert api.client.get("/docs").status_code == 200
    assert "/cases/{case_id}/close" in api.client.get("/openapi.json").json()["paths"]


def test_query_parameters_document_the_values_they_accept(document: dict[str, Any]) -> None:
    """A client generated from the document sends only values the API takes:
    case statuses and sorts are enums, a log position is digits, and numbers
    stop where the database's 64-bit integers do."""
    parameters = {p["name"]: p["schema"] for p in document["paths"]["/cases"]["get"]["parameters"]}
    status_ref = parameters["status"]["anyOf"][0]["items"]["$ref"].split("/")[-1]
    statuses = document["components"]["schemas"][status_ref]["enum"]
    assert statuses == [
        "reported",
        "rectifying",
        "awaiting_verification",
        "verified",
        "closed",
        "dismissed",
    ]
    assert "reported_at" in parameters["sort"]["enum"]
    assert parameters["x-log-position"]["anyOf"][0]["pattern"] == "^[0-9]{1,19}$"
    assert parameters["after"]["anyOf"][0]["maximum"] == 2**63 - 1
    assert parameters["offset"]["maximum"] == 1_000_000_000
