"""The demo's notices and verification records as PDF: what poppler reads in them."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from domain.order import RectificationOrder
from domain.verification import Verification
from tests.documents.conftest import Demo, pdf_fonts, pdf_text, squeezed


def _zh_date(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def _notice(demo: Demo, order: RectificationOrder, user: str = "zhangming", **params: str):
    return demo.client.get(
        f"/orders/{order.id}/notice.pdf", headers=demo.headers(user), params=params
    )


def test_every_demo_order_gives_a_chinese_notice_with_its_number_party_measures_and_deadline(
    demo: Demo, tmp_path: Path
) -> None:
    assert len(demo.order_ids) == 6
    for order_id in demo.order_ids:
        order = demo.rectify.get_order(order_id)
        response = _notice(demo, order)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert response.content.startswith(b"%PDF-")
        text = squeezed(pdf_text(response.content, tmp_path))
        assert "隐患整改通知书" in text
        assert f"编号：{order.number}" in text
        assert order.party.name in text
        assert squeezed(order.measures) in text
        assert _zh_date(order.deadline) in text
        assert re.search(r"第1页共\d+页", text), text
        # Where it was made from, printed for a reader to check.
        position = int(response.headers["X-Log-Position"])
        head = response.headers["X-Chain-Head"].split("@")[0]
        assert f"日志位置:{position}" in text or f"日志位置：{position}" in text
        assert head in text


def test_the_notice_embeds_the_cjk_serif_font_named_in_its_css(demo: Demo, tmp_path: Path) -> None:
    response = _notice(demo, demo.rectify.get_order(demo.order_ids[0]))
    fonts = pdf_fonts(response.content, tmp_path)
    serif = [f for f in fonts if "Noto-Serif-CJK-SC" in f["name"]]
    assert serif, fonts
    assert all(f["emb"] == "yes" for f in fonts), fonts


def test_a_major_orders_notice_carries_its_five_point_plan(demo: Demo, tmp_path: Path) -> None:
    orders = [demo.rectify.get_order(i) for i in demo.order_ids]
    major = [o for o in orders if o.five_point_plan is not None]
    general = [o for o in orders if o.five_point_plan is None]
    assert major and general
    for order in major:
        plan = order.five_point_plan
        assert plan is not None
        text = squeezed(pdf_text(_notice(demo, order).content, tmp_path))
        assert "五落实" in text
        assert "重大隐患" in text
        for part in (plan.responsible_person, plan.measures, plan.funds, plan.contingency_plan):
            assert squeezed(part) in text
        assert _zh_date(plan.deadline) in text
    general_text = squeezed(pdf_text(_notice(demo, general[0]).content, tmp_path))
    assert "五落实" not in general_text


def test_the_notice_shows_a_granted_extension_beside_the_first_deadline(
    demo: Demo, tmp_path: Path
) -> None:
    orders = [demo.rectify.get_order(i) for i in demo.order_ids]
    extended = [
        o
        for o in orders
        if any(
            type(e).__qualname__ == "RectificationOrder.ExtensionGranted"
            for e in demo.rectify.events.get(o.id)
        )
    ]
    assert extended, "the demo grants one extension"
    order = extended[0]
    first = next(iter(demo.rectify.events.get(order.id))).deadline
    text = squeezed(pdf_text(_notice(demo, order).content, tmp_path))
    assert f"原定期限{_zh_date(first)}" in text
    assert "批准延期" in text
    assert _zh_date(order.deadline) in text


def test_english_on_request_by_query_or_accept_language(demo: Demo, tmp_path: Path) -> None:
    order = demo.rectify.get_order(demo.order_ids[0])
    by_query = _notice(demo, order, lang="en")
    by_header = demo.client.get(
        f"/orders/{order.id}/notice.pdf",
        headers={**demo.headers("zhangming"), "Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"},
    )
    for response in (by_query, by_header):
        assert response.status_code == 200
        assert response.headers["content-language"] == "en"
        text = pdf_text(response.content, tmp_path)
        assert "Rectification notice" in text
        assert re.search(r"Page 1 of \d+", text), text
        assert order.number in text


def test_each_demo_verification_gives_a_record_with_its_result_and_findings(
    demo: Demo, tmp_path: Path
) -> None:
    assert demo.verification_ids
    for verification_id in demo.verification_ids:
        verification: Verification = demo.rectify.get_verification(verification_id)
        response = demo.client.get(
            f"/verifications/{verification_id}/record.pdf", headers=demo.headers("auditor")
        )
        assert response.status_code == 200, response.text
        text = squeezed(pdf_text(response.content, tmp_path))
        assert "复查意见书" in text
        assert squeezed(verification.findings) in text
        assert ("合格，隐患已整改到位" if verification.passed else "不合格，须重新整改") in text
        assert verification.verifier.name in text
        assert f"第{verification.attempt}次复查" in text


def test_a_party_gets_only_their_own_orders_notices(demo: Demo) -> None:
    orders = [demo.rectify.get_order(i) for i in demo.order_ids]
    own = [o for o in orders if o.party.is_account("taobiaoyin")]
    others = [o for o in orders if not o.party.is_account("taobiaoyin")]
    assert own and others
    assert _notice(demo, own[0], user="taobiaoyin").status_code == 200
    refused = _notice(demo, others[0], user="taobiaoyin")
    assert refused.status_code == 403
    assert refused.json()["rule"] == "party_sees_only_own_orders"
    for verification_id in demo.verification_ids:
        verification = demo.rectify.get_verification(verification_id)
        order = demo.rectify.get_order(verification.order_id) if verification.order_id else None
        response = demo.client.get(
            f"/verifications/{verification_id}/record.pdf", headers=demo.headers("taobiaoyin")
        )
        mine = order is not None and order.party.is_account("taobiaoyin")
        assert response.status_code == (200 if mine else 403)


def test_an_unknown_order_is_a_404_problem_and_a_bad_language_a_422(demo: Demo) -> None:
    missing = demo.client.get(
        "/orders/00000000-0000-4000-8000-000000000000/notice.pdf",
        headers=demo.headers("zhangming"),
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    order = demo.rectify.get_order(demo.order_ids[0])
    bad = _notice(demo, order, lang="fr")
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
