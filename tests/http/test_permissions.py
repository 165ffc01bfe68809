"""Every endpoint × every role, from one table: PRODUCT.md's role table over HTTP.

Allowed: the request succeeds and records exactly the events listed. Refused:
403 problem+json, and nothing recorded. A responsible party sees and acts only
on the orders addressed to them (``party`` is the one the arranged order names,
``other_party`` another with an account); an auditor reads everything and
changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute

from interfaces.http.routers import (
    auth,
    cases,
    checklists,
    evidence,
    inspections,
    orders,
    sites,
    verifications,
)
from tests.core.scenario import PASSWORDS, Case, Stage
from tests.http.conftest import PEOPLE, Api, problem

INSPECTING = frozenset({"inspector", "supervisor"})
SUPERVISOR = frozenset({"supervisor"})
READERS = frozenset({"inspector", "supervisor", "auditor"})
ADDRESSED = READERS | {"party"}
EVERYONE = frozenset(PEOPLE)
ON_ORDERS = frozenset({"party", "inspector", "supervisor"})
UPLOADERS = EVERYONE - {"auditor"}
"""Anyone who may cite evidence: every party uploads for their own orders."""


@dataclass
class Context:
    """What a request of the table is built from."""

    api: Api
    case: Case
    role: str
    evidence: dict[str, Any]

    @property
    def password(self) -> str:
        return PASSWORDS[PEOPLE[self.role].user_id]


Body = Callable[[Context], Any]


@dataclass(frozen=True)
class Endpoint:
    """One endpoint: how to call it, who may, and what it records when allowed."""

    name: str
    method: str
    path: str
    stage: Stage
    allowed: frozenset[str]
    events: tuple[str, ...] = ()
    if_match: str | None = None
    """Whose version ``If-Match`` carries: "inspection", "case" or "order"."""
    body: Body | None = None
    prepare: Callable[[Api, Case], None] | None = None
    upload: bool = False
    status: int = 200
    route: str = field(default="")
    """The route's path template, when it differs from ``path``."""


def _request_extension(api: Api, case: Case) -> None:
    api.sweep.request_extension(case.order, new_deadline=api.sweep.today().replace(day=30))


ENDPOINTS = [
    # -- sites, checklists, users --------------------------------------------------
    Endpoint(
        "register site",
        "POST",
        "/sites",
        Stage.INSPECTION_OPEN,
        INSPECTING,
        ("Site.Registered",),
        body=lambda c: {"name": "康顺盲人按摩店", "region": "安义县"},
        status=201,
    ),
    # GET /sites is a read model: tests/readmodels/test_http.py covers its roles.
    Endpoint(
        "get site", "GET", "/sites/{site}", Stage.INSPECTION_OPEN, READERS, route="/sites/{site_id}"
    ),
    Endpoint("list checklists", "GET", "/checklists", Stage.INSPECTION_OPEN, EVERYONE),
    Endpoint(
        "get checklist",
        "GET",
        "/checklists/epidemic-2022",
        Stage.INSPECTION_OPEN,
        EVERYONE,
        route="/checklists/{code}",
    ),
    Endpoint("who am I", "GET", "/users/me", Stage.INSPECTION_OPEN, EVERYONE),
    # -- inspections -----------------------------------------------------------------
    Endpoint(
        "open inspection",
        "POST",
        "/inspections",
        Stage.INSPECTION_OPEN,
        INSPECTING,
        ("Inspection.Opened",),
        body=lambda c: {"site_id": str(c.case.site_id), "template_code": "epidemic-2022"},
        status=201,
    ),
    Endpoint(
        "get inspection",
        "GET",
        "/inspections/{inspection}",
        Stage.INSPECTION_OPEN,
        READERS,
        route="/inspections/{inspection_id}",
    ),
    Endpoint(
        "record item",
        "POST",
        "/inspections/{inspection}/items/mask",
        Stage.INSPECTION_OPEN,
        INSPECTING,
        ("Inspection.ItemRecorded",),
        if_match="inspection",
        body=lambda c: {"result": "pass"},
        route="/inspections/{inspection_id}/items/{item_code}",
    ),
    Endpoint(
        "complete inspection",
        "POST",
        "/inspections/{inspection}/complete",
        Stage.ITEMS_RECORDED,
        INSPECTING,
        ("Inspection.Completed",),
        if_match="inspection",
        route="/inspections/{inspection_id}/complete",
    ),
    Endpoint(
        "cancel inspection",
        "POST",
        "/inspections/{inspection}/cancel",
        Stage.INSPECTION_OPEN,
        INSPECTING,
        ("Inspection.Cancelled",),
        if_match="inspection",
        body=lambda c: {"reason": "店铺当日歇业"},
        route="/inspections/{inspection_id}/cancel",
    ),
    Endpoint(
        "report hazard",
        "POST",
        "/inspections/{inspection}/hazards",
        Stage.ITEMS_RECORDED,
        INSPECTING,
        ("Hazard.Reported", "Inspection.HazardReported"),
        if_match="inspection",
        status=201,
        body=lambda c: {
            "item_code": "staff-tested-every-two-days",
            "category": "疫情防控",
            "description": "经营人员未按要求两天一次核酸检测",
            "severity": "general",
            "evidence": [c.evidence],
        },
        route="/inspections/{inspection_id}/hazards",
    ),
    # -- cases -----------------------------------------------------------------------
    Endpoint(
        "get case", "GET", "/cases/{case}", Stage.ORDER_ISSUED, ADDRESSED, route="/cases/{case_id}"
    ),
    Endpoint(
        "regrade",
        "POST",
        "/cases/{case}/regrade",
        Stage.HAZARD_REPORTED,
        INSPECTING,
        ("Hazard.Regraded",),
        if_match="case",
        body=lambda c: {"severity": "major", "reason": "涉及多名顾客"},
        route="/cases/{case_id}/regrade",
    ),
    Endpoint(
        "fix on the spot",
        "POST",
        "/cases/{case}/fix-on-the-spot",
        Stage.HAZARD_REPORTED,
        INSPECTING,
        ("Hazard.FixedOnTheSpot",),
        if_match="case",
        body=lambda c: {"note": "当场补做检测登记", "evidence": [c.evidence]},
        route="/cases/{case_id}/fix-on-the-spot",
    ),
    Endpoint(
        "dismiss",
        "POST",
        "/cases/{case}/dismiss",
        Stage.ORDER_ISSUED,
        SUPERVISOR,
        ("Hazard.Dismissed", "RectificationOrder.Cancelled"),
        if_match="case",
        body=lambda c: {"reason": "误报：检测记录在另一本登记簿"},
        route="/cases/{case_id}/dismiss",
    ),
    Endpoint(
        "issue order",
        "POST",
        "/cases/{case}/orders",
        Stage.HAZARD_REPORTED,
        INSPECTING,
        (
            "RectificationOrder.Issued",
            "Hazard.OrderIssued",
            "OrderNumberSequence.Started",
            "OrderNumberSequence.Allocated",
        ),
        if_match="case",
        status=201,
        body=lambda c: {
            "party": {"name": "陶表印", "contact": "0791-83421001", "user_id": "taobiaoyin"},
            "measures": "立即组织全体经营人员核酸检测",
        },
        route="/cases/{case_id}/orders",
    ),
    Endpoint(
        "verify",
        "POST",
        "/cases/{case}/verifications",
        Stage.COMPLETION_REPORTED,
        INSPECTING,
        ("Verification.Performed", "RectificationOrder.Fulfilled", "Hazard.VerificationPassed"),
        if_match="case",
        status=201,
        body=lambda c: {"passed": True, "findings": "检测记录齐全", "evidence": [c.evidence]},
        route="/cases/{case_id}/verifications",
    ),
    Endpoint(
        "close",
        "POST",
        "/cases/{case}/close",
        Stage.VERIFIED,
        SUPERVISOR,
        ("Hazard.Closed",),
        if_match="case",
        body=lambda c: {"reason": "复查合格，准予销号", "password": c.password},
        route="/cases/{case_id}/close",
    ),
    Endpoint(
        "reopen",
        "POST",
        "/cases/{case}/reopen",
        Stage.CLOSED,
        SUPERVISOR,
        ("Hazard.Reopened",),
        if_match="case",
        body=lambda c: {"reason": "群众举报仍未整改"},
        route="/cases/{case_id}/reopen",
    ),
    # -- orders ----------------------------------------------------------------------
    Endpoint(
        "get order",
        "GET",
        "/orders/{order}",
        Stage.ORDER_ISSUED,
        ADDRESSED,
        route="/orders/{order_id}",
    ),
    Endpoint(
        "acknowledge",
        "POST",
        "/orders/{order}/acknowledge",
        Stage.ORDER_ISSUED,
        ON_ORDERS,
        ("RectificationOrder.Acknowledged",),
        if_match="order",
        route="/orders/{order_id}/acknowledge",
    ),
    Endpoint(
        "report progress",
        "POST",
        "/orders/{order}/progress",
        Stage.ACKNOWLEDGED,
        ON_ORDERS,
        ("RectificationOrder.ProgressReported",),
        if_match="order",
        body=lambda c: {"note": "已预约核酸检测", "evidence": [c.evidence]},
        route="/orders/{order_id}/progress",
    ),
    Endpoint(
        "request extension",
        "POST",
        "/orders/{order}/extension-requests",
        Stage.ACKNOWLEDGED,
        ON_ORDERS,
        ("RectificationOrder.ExtensionRequested",),
        if_match="order",
        body=lambda c: {"new_deadline": "2022-04-30", "reason": "检测点排队"},
        route="/orders/{order_id}/extension-requests",
    ),
    Endpoint(
        "grant extension",
        "POST",
        "/orders/{order}/extension-requests/grant",
        Stage.ACKNOWLEDGED,
        SUPERVISOR,
        ("RectificationOrder.ExtensionGranted",),
        if_match="order",
        prepare=_request_extension,
        body=lambda c: {"reason": "理由充分", "password": c.password},
        route="/orders/{order_id}/extension-requests/grant",
    ),
    Endpoint(
        "deny extension",
        "POST",
        "/orders/{order}/extension-requests/deny",
        Stage.ACKNOWLEDGED,
        SUPERVISOR,
        ("RectificationOrder.ExtensionDenied",),
        if_match="order",
        prepare=_request_extension,
        body=lambda c: {"reason": "可当日完成"},
        route="/orders/{order_id}/extension-requests/deny",
    ),
    Endpoint(
        "report completion",
        "POST",
        "/orders/{order}/completion-report",
        Stage.ACKNOWLEDGED,
        ON_ORDERS,
        ("RectificationOrder.CompletionReported", "Hazard.CompletionReported"),
        if_match="order",
        body=lambda c: {"note": "全体经营人员已完成核酸检测", "evidence": [c.evidence]},
        route="/orders/{order_id}/completion-report",
    ),
    # -- verifications and evidence --------------------------------------------------
    Endpoint(
        "get verification",
        "GET",
        "/verifications/{verification}",
        Stage.VERIFIED,
        ADDRESSED,
        route="/verifications/{verification_id}",
    ),
    Endpoint(
        "upload evidence",
        "POST",
        "/evidence",
        Stage.INSPECTION_OPEN,
        UPLOADERS,
        upload=True,
        status=201,
    ),
    Endpoint("download evidence", "GET", "/evidence/{sha256}", Stage.INSPECTION_OPEN, EVERYONE),
]


def _path(endpoint: Endpoint, case: Case, evidence: dict[str, Any]) -> str:
    return endpoint.path.format(
        site=case.site_id,
        inspection=case.inspection_id,
        case=case.hazard_id,
        order=case.order_id,
        verification=case.verification_ids[-1] if case.verification_ids else None,
        sha256=evidence["sha256"],
    )


def _if_match(endpoint: Endpoint, api: Api, case: Case) -> int | None:
    target = {
        "inspection": case.inspection_id,
        "case": case.hazard_id,
        "order": case.order_id,
    }.get(endpoint.if_match or "")
    return None if target is None else api.version(target)


def _call(api: Api, endpoint: Endpoint, role: str) -> tuple[Any, int]:
    """Arrange the endpoint's case, call it as ``role``; the response and the log position."""
    case = api.sweep.arrange_case(endpoint.stage)
    if endpoint.prepare:
        endpoint.prepare(api, case)
    stored = api.store_evidence()
    evidence = {
        "sha256": stored.sha256,
        "name": stored.name,
        "media_type": stored.media_type,
        "size": stored.size,
    }
    actor = PEOPLE[role]
    before = api.position()
    path = _path(endpoint, case, evidence)
    if endpoint.method == "GET":
        return api.get(path, actor), before
    if endpoint.upload:
        response = api.client.post(
            path,
            files={"file": ("照片.jpg", b"JPEG bytes", "image/jpeg")},
            headers=api.headers(actor),
        )
        return response, before
    body = endpoint.body(Context(api, case, role, evidence)) if endpoint.body else None
    return api.post(path, actor, body, if_match=_if_match(endpoint, api, case)), before


@pytest.mark.parametrize("role", sorted(PEOPLE))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name.replace(" ", "_"))
def test_each_role_is_allowed_or_refused_as_the_role_table_says(
    api: Api, endpoint: Endpoint, role: str
) -> None:
    response, before = _call(api, endpoint, role)
    if role in endpoint.allowed:
        assert response.status_code == endpoint.status, response.text
        assert api.events_since(before) == list(endpoint.events)
        if endpoint.events:
            body = response.json()
            assert response.headers["ETag"] == f'"{body["version"]}"'
            assert response.headers["X-Log-Position"] == str(body["position"])
            assert body["position"] == api.position()
    else:
        problem(response, 403)
        assert api.events_since(before) == [], "a refused request recorded an event"


def test_the_table_covers_every_endpoint() -> None:
    """No resource endpoint escapes the role table (logging in is the only public one).

    The read-model and audit routers have role tests of their own.
    """
    modules = (auth, sites, checklists, inspections, cases, orders, verifications, evidence)
    served = {
        (method, route.path)
        for module in modules
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    tabled = {(e.method, e.route or e.path) for e in ENDPOINTS}
    assert served - tabled == {("POST", "/token")}
    assert tabled <= served
