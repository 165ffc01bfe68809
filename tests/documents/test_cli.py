"""``rectify documents`` on the demo: a notice by its number, a record, the ledger."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
from typer.testing import CliRunner

from infrastructure.documents.pdf import read_record
from interfaces.cli.main import app as cli
from tests.documents.conftest import Demo

runner = CliRunner()


def test_a_notice_by_its_number_and_a_record_by_its_id(demo: Demo, tmp_path: Path) -> None:
    notice = tmp_path / "notice.pdf"
    result = runner.invoke(
        cli,
        ["documents", "notice", "2022-0003", "-o", str(notice), "--database-url", demo.url],
    )
    assert result.exit_code == 0, result.output
    record = read_record(notice.read_bytes())
    assert record["content"]["number"] == "2022-0003"
    assert f"log position {record['position']}" in result.output

    verification = demo.verification_ids[0]
    pdf = tmp_path / "record.pdf"
    result = runner.invoke(
        cli,
        [
            "documents",
            "record",
            str(verification),
            "--lang",
            "en",
            "-o",
            str(pdf),
            "--database-url",
            demo.url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert read_record(pdf.read_bytes())["subject_id"] == str(verification)


def test_an_unknown_order_number_is_an_error_naming_it(demo: Demo, tmp_path: Path) -> None:
    result = runner.invoke(
        cli,
        [
            "documents",
            "notice",
            "2099-9999",
            "-o",
            str(tmp_path / "x.pdf"),
            "--database-url",
            demo.url,
        ],
    )
    assert result.exit_code == 1
    assert "2099-9999" in result.output
    assert not (tmp_path / "x.pdf").exists()


def test_the_ledger_of_the_demo_as_a_workbook_and_as_csv(demo: Demo, tmp_path: Path) -> None:
    workbook = tmp_path / "ledger.xlsx"
    result = runner.invoke(
        cli, ["documents", "ledger", "-o", str(workbook), "--database-url", demo.url]
    )
    assert result.exit_code == 0, result.output
    rows = list(openpyxl.load_workbook(workbook).active.iter_rows(values_only=True))
    assert rows[0][0] == "隐患编号"
    assert len(rows) - 1 == 8  # the demo's eight cases
    assert "(8 cases)" in result.output

    majors = tmp_path / "majors.csv"
    result = runner.invoke(
        cli,
        [
            "documents",
            "ledger",
            "--severity",
            "major",
            "--format",
            "csv",
            "--lang",
            "en",
            "-o",
            str(majors),
            "--database-url",
            demo.url,
        ],
    )
    assert result.exit_code == 0, result.output
    table = list(csv.reader(majors.read_text(encoding="utf-8-sig").splitlines()))
    assert table[0][0] == "Case id"
    assert table[1:] and {row[6] for row in table[1:]} == {"major"}
