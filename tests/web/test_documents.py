"""The console's printable documents: each order's 整改通知书, each verification's
复查意见 and the search's 隐患台账, under the same role rules as the records."""

from __future__ import annotations

import io
import shutil
import subprocess
from uuid import UUID

import pytest
from openpyxl import load_workbook

from application.demo import AUDITOR, CHEN_XIAOFENG, TAO_BIAOYIN
from tests.web.conftest import Console
from tests.web.test_pages import _order


def _pdf_text(pdf: bytes) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return done.stdout.decode("utf-8")


def test_the_order_page_links_its_notice_in_the_persons_language(console: Console) -> None:
    console.sign_in(CHEN_XIAOFENG)
    order_id = _order(console, True)
    order = console.rectify.get_order(UUID(order_id))
    _, page = console.page(f"/ui/orders/{order_id}")
    link = page.select_one("#notice-pdf")
    assert link is not None and link["href"] == f"/ui/orders/{order_id}/notice.pdf"
    assert "整改通知书" in link.get_text()
    response = console.client.get(str(link["href"]))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    text = _pdf_text(response.content)
    assert "整改通知书" in text and order.number in text and order.party.name in text


def test_a_party_prints_only_their_own_notices(console: Console) -> None:
    console.sign_in(TAO_BIAOYIN)
    own = console.client.get(f"/ui/orders/{_order(console, True)}/notice.pdf")
    assert own.status_code == 200 and own.content.startswith(b"%PDF")
    other = console.client.get(f"/ui/orders/{_order(console, False)}/notice.pdf")
    assert other.status_code == 403
    assert not other.content.startswith(b"%PDF")


def test_the_case_page_links_each_verification_record(console: Console) -> None:
    console.sign_in(AUDITOR)
    hazard_id = next(
        h for h in console.demo.hazard_ids if console.rectify.get_hazard(h).verification_ids
    )
    verification_id = console.rectify.get_hazard(hazard_id).verification_ids[0]
    _, page = console.page(f"/ui/cases/{hazard_id}")
    link = page.find("a", href=f"/ui/verifications/{verification_id}/record.pdf")
    assert link is not None
    response = console.client.get(f"/ui/verifications/{verification_id}/record.pdf")
    assert response.status_code == 200
    assert "复查" in _pdf_text(response.content)


def test_the_search_exports_the_ledger_it_shows(console: Console) -> None:
    console.sign_in(AUDITOR)
    _, page = console.page("/ui/search?severity=major&region=")
    shown = len(page.select("#results li"))
    link = page.find("a", href=lambda href: bool(href) and href.startswith("/ui/ledger.xlsx"))
    assert link is not None and link["href"] == "/ui/ledger.xlsx?severity=major"
    response = console.client.get(str(link["href"]))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) - 1 == shown > 0
    assert all("重大" in str(row) for row in rows[1:])


def test_documents_need_a_signed_in_person(console: Console) -> None:
    console.client.cookies.clear()
    response = console.client.get(
        f"/ui/orders/{_order(console, True)}/notice.pdf", follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/ui/signin")
