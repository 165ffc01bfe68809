"""``POST /documents/check`` on the demo: an auditor checks a printed notice; a
party only their own; a file that is no document is a clear 422; after one byte
of the case's events changes in the database the answer names that event."""

from __future__ import annotations

from typing import Any

from application.audit.describe import topics_for
from infrastructure.audit import build_audit
from tests.audit.tamper import SQLiteTamperer
from tests.documents.conftest import Demo


def _check(demo: Demo, pdf: bytes, user: str) -> Any:
    return demo.client.post(
        "/documents/check",
        files={"file": ("notice.pdf", pdf, "application/pdf")},
        headers=demo.headers(user),
    )


def _head(demo: Demo) -> int:
    return demo.rectify.recorder.max_notification_id() or 0


def test_check_over_http_passes_fresh_and_names_the_event_changed_since(demo: Demo) -> None:
    orders = [demo.rectify.get_order(i) for i in demo.order_ids]
    order = next(o for o in orders if o.party.is_account("taobiaoyin"))
    other = next(o for o in orders if not o.party.is_account("taobiaoyin"))
    notice = demo.client.get(f"/orders/{order.id}/notice.pdf", headers=demo.headers("auditor"))
    assert notice.status_code == 200
    position = int(notice.headers["X-Log-Position"])
    head_before = _head(demo)

    fresh = _check(demo, notice.content, "auditor")
    assert fresh.status_code == 200, fresh.text
    body = fresh.json()
    assert body["status"] == "current" and body["ok"] is True
    assert body["position"] == position
    assert body["chain_hash"] == notice.headers["X-Chain-Head"].split("@")[0]
    assert body["findings"] == []
    assert _head(demo) == head_before  # a check records nothing

    # The party may check their own notice, not another party's.
    assert _check(demo, notice.content, "taobiaoyin").status_code == 200
    others = demo.client.get(f"/orders/{other.id}/notice.pdf", headers=demo.headers("auditor"))
    refused = _check(demo, others.content, "taobiaoyin")
    assert refused.status_code == 403
    assert refused.json()["rule"] == "party_sees_only_own_orders"

    audit = build_audit(demo.rectify)
    issued = next(
        n.id
        for n in audit.notifications(topics=topics_for(("RectificationOrder.Issued",)))
        if str(n.originator_id) == str(order.id)
    )
    SQLiteTamperer(demo.url).flip_byte(issued)
    tampered = _check(demo, notice.content, "auditor").json()
    assert tampered["status"] == "altered" and tampered["ok"] is False
    assert tampered["chain_problem"]["kind"] == "altered"
    assert tampered["chain_problem"]["position"] == issued
    assert any(f"position {issued}" in finding for finding in tampered["findings"])


def test_a_file_that_is_no_document_is_a_422_problem(demo: Demo) -> None:
    not_pdf = _check(demo, b"just some text", "auditor")
    assert not_pdf.status_code == 422
    assert not_pdf.headers["content-type"].startswith("application/problem+json")
    assert not_pdf.json()["rule"] in ("document_not_pdf", "document_record_missing")
    bare_pdf = _check(demo, b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "zhangming")
    assert bare_pdf.status_code == 422, bare_pdf.text
    missing = demo.client.post("/documents/check", headers=demo.headers("auditor"))
    assert missing.status_code == 422
