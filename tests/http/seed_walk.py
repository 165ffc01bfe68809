"""The seed story's case, walked over HTTP by the people who lived it.

陈小峰 inspects 陶表印盲人按摩店 against the 2022 epidemic checklist; the visitor
register is not kept; he reports the hazard and orders 陶表印 to put it right;
陶表印 reports completion; the first verification fails, the second passes;
张铭 closes the case with his signature. On the way, the walk checks what a
careless or unlucky client meets: a stale ``If-Match`` (412), a retried
``Idempotency-Key`` (the first response again, nothing new recorded), a signed
close with a wrong password (403, nothing recorded), an auditor's command (403)
and a command without a token (401 problem+json).

Every step asserts the events it recorded, read from the log through
``log`` — the same application in-process, or another one on the server's
database when the server runs as a subprocess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from domain.checklists import EPIDEMIC_2022, get_template

PROBLEM = "application/problem+json"


class EventLog(Protocol):
    """Reads what the server recorded."""

    def position(self) -> int: ...

    def events_since(self, position: int) -> list[str]: ...


@dataclass(frozen=True)
class Login:
    user_id: str
    password: str


@dataclass(frozen=True)
class Cast:
    """Who plays which part in the walk, with their passwords."""

    inspector: Login
    supervisor: Login
    party: Login
    auditor: Login


@dataclass
class WalkResult:
    """The ids the walk created, for further checks."""

    site_id: str
    inspection_id: str
    case_id: str
    order_id: str
    verification_ids: list[str]


class Walker:
    """Sends requests as the cast and asserts each one's status and recorded events."""

    def __init__(self, client: httpx.Client, log: EventLog, cast: Cast) -> None:
        self.client = client
        self.log = log
        self.cast = cast
        self.tokens: dict[str, str] = {}

    def log_in(self, login: Login) -> None:
        response = self.client.post(
            "/token", data={"username": login.user_id, "password": login.password}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "bearer"
        self.tokens[login.user_id] = body["access_token"]

    def send(
        self,
        who: Login | None,
        method: str,
        path: str,
        *,
        json: Any = None,
        if_match: int | None = None,
        key: str | None = None,
        status: int = 200,
        records: Sequence[str] = (),
    ) -> httpx.Response:
        headers = {}
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who.user_id]}"
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        if key is not None:
            headers["Idempotency-Key"] = key
        before = self.log.position()
        response = self.client.request(method, path, json=json, headers=headers)
        assert response.status_code == status, f"{method} {path}: {response.text}"
        if status >= 400:
            assert response.headers["content-type"].startswith(PROBLEM), response.headers
        assert self.log.events_since(before) == list(records), f"{method} {path}"
        if records:
            body = response.json()
            assert response.headers["ETag"] == f'"{body["version"]}"'
            assert int(response.headers["X-Log-Position"]) == body["position"]
        return response

    def version_of(self, kind: str, body: dict[str, Any]) -> int:
        """The new version of the record of ``kind`` a command changed."""
        return next(c["version"] for c in body["changed"] if c["kind"] == kind)


def walk_seed_scenario(client: httpx.Client, log: EventLog, cast: Cast) -> WalkResult:
    """Walk the seed case from inspection to 销号; return the ids it created."""
    w = Walker(client, log, cast)
    inspector, supervisor, party = cast.inspector, cast.supervisor, cast.party
    auditor = cast.auditor

    # A command without a token is refused before anything else.
    refused = w.send(None, "POST", "/sites", json={"name": "x", "region": "y"}, status=401)
    assert refused.headers["WWW-Authenticate"] == "Bearer"

    for login in (inspector, supervisor, party, auditor):
        w.log_in(login)
    me = w.send(party, "GET", "/users/me").json()
    assert me["role"] == "responsible_party"

    site = w.send(
        inspector,
        "POST",
        "/sites",
        status=201,
        records=["Site.Registered"],
        json={
            "name": "陶表印盲人按摩店",
            "region": "安义县",
            "address": "安义县城",
            "operator": "陶表印",
            "contact": "0791-83421001",
            "kind": "盲人按摩",
        },
    ).json()

    # The auditor reads everything and changes nothing.
    w.send(auditor, "GET", f"/sites/{site['id']}")
    w.send(auditor, "POST", "/sites", json={"name": "x", "region": "y"}, status=403)

    inspection = w.send(
        inspector,
        "POST",
        "/inspections",
        status=201,
        records=["Inspection.Opened"],
        json={"site_id": site["id"], "template_code": EPIDEMIC_2022},
    ).json()
    inspection_id = inspection["id"]
    version = inspection["version"]
    for code in get_template(EPIDEMIC_2022).item_codes:
        body = (
            {"result": "fail", "note": "未落实进出人员信息登记"}
            if code == "visitor-register"
            else {"result": "pass"}
        )
        result = w.send(
            inspector,
            "POST",
            f"/inspections/{inspection_id}/items/{code}",
            json=body,
            if_match=version,
            records=["Inspection.ItemRecorded"],
        ).json()
        version = result["version"]

    # A client still holding an old version is refused, and nothing is overwritten.
    stale = w.send(
        inspector,
        "POST",
        f"/inspections/{inspection_id}/items/mask",
        json={"result": "na"},
        if_match=version - 1,
        status=412,
    )
    assert stale.headers["ETag"] == f'"{version}"'

    hazard = w.send(
        inspector,
        "POST",
        f"/inspections/{inspection_id}/hazards",
        status=201,
        if_match=version,
        records=["Hazard.Reported", "Inspection.HazardReported"],
        json={
            "item_code": "visitor-register",
            "category": "疫情防控",
            "description": "未落实进出人员信息登记",
            "location": "前台",
            "severity": "general",
        },
    ).json()
    case_id = hazard["id"]
    w.send(
        inspector,
        "POST",
        f"/inspections/{inspection_id}/complete",
        if_match=w.version_of("inspection", hazard),
        records=["Inspection.Completed"],
    )

    issue = {
        "party": {"name": "陶表印", "contact": "0791-83421001", "user_id": party.user_id},
        "measures": "建立进出人员信息登记簿，逐一登记",
    }
    order = w.send(
        inspector,
        "POST",
        f"/cases/{case_id}/orders",
        status=201,
        if_match=1,
        key="order-for-visitor-register",
        json=issue,
        records=[
            "RectificationOrder.Issued",
            "Hazard.OrderIssued",
            "OrderNumberSequence.Started",
            "OrderNumberSequence.Allocated",
        ],
    )
    # The response was lost; the retry with the same key gets it again, and no
    # second order is issued (though its If-Match is stale by now).
    retried = w.send(
        inspector,
        "POST",
        f"/cases/{case_id}/orders",
        status=201,
        if_match=1,
        key="order-for-visitor-register",
        json=issue,
    )
    assert retried.json() == order.json()
    assert retried.headers["Idempotent-Replayed"] == "true"
    order_id = order.json()["id"]

    # 陶表印 sees his order and acts on it.
    order_view = w.send(party, "GET", f"/orders/{order_id}").json()
    assert order_view["party"]["user_id"] == party.user_id
    acked = w.send(
        party,
        "POST",
        f"/orders/{order_id}/acknowledge",
        if_match=1,
        records=["RectificationOrder.Acknowledged"],
    ).json()
    completion = {"note": "已建立登记簿", "evidence": []}
    reported = w.send(
        party,
        "POST",
        f"/orders/{order_id}/completion-report",
        if_match=acked["version"],
        json=completion,
        records=["RectificationOrder.CompletionReported", "Hazard.CompletionReported"],
    ).json()

    failed = w.send(
        inspector,
        "POST",
        f"/cases/{case_id}/verifications",
        status=201,
        if_match=w.version_of("case", reported),
        json={"passed": False, "findings": "登记簿只记录了姓名，缺联系方式"},
        records=[
            "Verification.Performed",
            "RectificationOrder.ReopenedAfterFailedVerification",
            "Hazard.VerificationFailed",
        ],
    ).json()
    reported = w.send(
        party,
        "POST",
        f"/orders/{order_id}/completion-report",
        if_match=w.version_of("order", failed),
        json={"note": "已补登联系方式", "evidence": []},
        records=["RectificationOrder.CompletionReported", "Hazard.CompletionReported"],
    ).json()
    passed = w.send(
        inspector,
        "POST",
        f"/cases/{case_id}/verifications",
        status=201,
        if_match=w.version_of("case", reported),
        json={"passed": True, "findings": "登记簿完整"},
        records=[
            "Verification.Performed",
            "RectificationOrder.Fulfilled",
            "Hazard.VerificationPassed",
        ],
    ).json()

    case_version = w.version_of("case", passed)
    wrong = w.send(
        supervisor,
        "POST",
        f"/cases/{case_id}/close",
        if_match=case_version,
        json={"reason": "复查合格，准予销号", "password": "not-my-password"},
        status=403,
    )
    assert wrong.json()["rule"] == "signature_rejected"
    w.send(
        supervisor,
        "POST",
        f"/cases/{case_id}/close",
        if_match=case_version,
        json={"reason": "复查合格，准予销号", "password": supervisor.password},
        records=["Hazard.Closed"],
    )

    case = w.send(auditor, "GET", f"/cases/{case_id}").json()
    assert case["status"] == "closed"
    assert case["orders"][0]["status"] == "fulfilled"
    assert case["orders"][0]["attempt"] == 2
    return WalkResult(
        site_id=site["id"],
        inspection_id=inspection_id,
        case_id=case_id,
        order_id=order_id,
        verification_ids=[failed["id"], passed["id"]],
    )
