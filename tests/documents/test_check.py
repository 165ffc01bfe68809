"""A document checked against the log: fresh it passes; after one byte of one of
its case's events is changed in the database it fails, naming the event; a
later change makes it outdated; a forged content is named field by field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from application.app import RectifyApp
from application.documents import CheckStatus, DocumentService, content_digest
from infrastructure.audit import build_audit
from infrastructure.clock import ManualClock
from infrastructure.composition import Services
from infrastructure.documents.pdf import read_record, render_pdf
from interfaces.cli.main import app as cli
from tests.audit.conftest import History, open_app, write_history
from tests.audit.tamper import tamperer_for
from tests.core.scenario import ZHANG_MING, Stage, Sweep, password_of

runner = CliRunner()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stored_url(request: pytest.FixtureRequest) -> str:
    """A fresh SQLite file, then a fresh PostgreSQL database."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def stored_app(stored_url: str, clock: ManualClock) -> Iterator[RectifyApp]:
    application = open_app(stored_url, clock)
    yield application
    application.close()


@pytest.fixture
def history(stored_app: RectifyApp, clock: ManualClock) -> History:
    return write_history(Sweep(stored_app, clock), clock)


@pytest.fixture
def documents(stored_app: RectifyApp) -> DocumentService:
    return Services.around(stored_app).documents


def _check(pdf_path: Path, url: str) -> Any:
    return runner.invoke(cli, ["audit", "check-document", str(pdf_path), "--database-url", url])


def _positions_of(app: RectifyApp, aggregate_id: Any) -> list[int]:
    return [n.id for n in build_audit(app).locator.notifications_of([aggregate_id])]


def test_a_fresh_notice_checks_current_and_one_changed_byte_of_its_order_fails_naming_it(
    stored_url: str,
    stored_app: RectifyApp,
    history: History,
    documents: DocumentService,
    tmp_path: Path,
) -> None:
    document = documents.notice(history.major_order)
    pdf = tmp_path / "notice.pdf"
    pdf.write_bytes(render_pdf(document))

    fresh = _check(pdf, stored_url)
    assert fresh.exit_code == 0, fresh.output
    assert "CURRENT" in fresh.output
    assert str(document.position) in fresh.output

    issued_at = _positions_of(stored_app, history.major_order)[0]
    assert issued_at < document.position
    tamperer_for(stored_url).flip_byte(issued_at)

    tampered = _check(pdf, stored_url)
    assert tampered.exit_code == 1, tampered.output
    assert "ALTERED" in tampered.output
    assert f"the event at position {issued_at}" in tampered.output

    report = documents.check(read_record(pdf.read_bytes()))
    assert report.status == CheckStatus.ALTERED
    assert report.chain.problem is not None
    assert report.chain.problem.position == issued_at


def test_a_verification_record_checks_current_then_fails_after_its_event_is_changed(
    stored_url: str,
    stored_app: RectifyApp,
    history: History,
    documents: DocumentService,
    tmp_path: Path,
) -> None:
    verification_id = stored_app.get_hazard(history.major).verification_ids[-1]
    document = documents.verification_record(verification_id)
    assert document.content["passed"] is True
    assert document.content["attempt"] == 2
    record = read_record(render_pdf(document, lang="en"))
    assert documents.check(record).ok

    performed_at = _positions_of(stored_app, verification_id)[0]
    tamperer_for(stored_url).flip_byte(performed_at, offset=40)
    report = documents.check(record)
    assert report.status == CheckStatus.ALTERED
    assert report.chain.problem is not None
    assert report.chain.problem.position == performed_at
    assert any(str(performed_at) in finding for finding in report.findings())


def test_a_notice_printed_before_an_extension_is_outdated_naming_the_deadline(
    stored_url: str,
    stored_app: RectifyApp,
    clock: ManualClock,
    documents: DocumentService,
    tmp_path: Path,
) -> None:
    sweep = Sweep(stored_app, clock)
    case = sweep.arrange_case(Stage.ACKNOWLEDGED)
    before = documents.notice(case.order)
    pdf = tmp_path / "before.pdf"
    pdf.write_bytes(render_pdf(before))
    old_deadline = stored_app.get_order(case.order).deadline

    sweep.request_extension(case.order, old_deadline + timedelta(days=3))
    stored_app.grant_extension(
        ZHANG_MING,
        case.order,
        reason="检测点排队属实",
        password=password_of(ZHANG_MING),
        expected_version=sweep.version(case.order),
    )

    result = _check(pdf, stored_url)
    assert result.exit_code == 2, result.output
    assert "OUTDATED" in result.output
    report = documents.check(read_record(pdf.read_bytes()))
    assert report.status == CheckStatus.OUTDATED
    changed = {d.field: (d.printed, d.log) for d in report.changed_since}
    assert changed["deadline"] == (
        old_deadline.isoformat(),
        (old_deadline + timedelta(days=3)).isoformat(),
    )
    assert report.later_positions and min(report.later_positions) > before.position

    after = documents.notice(case.order)
    assert after.position > before.position
    assert documents.check(after.record()).ok


def test_a_forged_content_is_named_field_by_field(
    stored_app: RectifyApp, history: History, documents: DocumentService
) -> None:
    record = documents.notice(history.major_order).record()
    forged = json.loads(json.dumps(record))
    forged["content"]["deadline"] = "2099-01-01"
    forged["content"]["party"]["name"] = "别人"
    # A careful forger recomputes the digest too: the log still tells.
    forged["digest"] = content_digest(forged["content"])
    report = documents.check(forged)
    assert report.status == CheckStatus.ALTERED
    assert report.chain.ok and report.digest_ok
    fields = {d.field: (d.printed, d.log) for d in report.differences}
    assert set(fields) == {"deadline", "party.name"}
    assert fields["party.name"][0] == "别人"

    careless = json.loads(json.dumps(record))
    careless["content"]["measures"] = "不必整改"
    assert documents.check(careless).digest_ok is False

    wrong_head = json.loads(json.dumps(record))
    wrong_head["chain_hash"] = "0" * 64
    report = documents.check(wrong_head)
    assert report.status == CheckStatus.ALTERED
    assert report.chain.problem is not None
    assert report.chain.problem.kind == "anchor_mismatch"


def test_a_pdf_without_a_record_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    not_ours = tmp_path / "other.pdf"
    not_ours.write_bytes(b"%PDF-1.4\n%%EOF\n")
    result = runner.invoke(
        cli, ["audit", "check-document", str(not_ours), "--database-url", "popo://"]
    )
    assert result.exit_code == 1
    assert "Error:" in result.output
