"""The hazard ledger (隐患台账) written as an Excel workbook or as CSV.

The workbook is written by xlsxwriter in constant-memory mode: each row goes
to a temporary file as soon as it is written, so memory stays flat however
many cases there are; the finished file is then streamed to whoever asked.
Dates and times are Excel dates (with a date format), the header row is
frozen and carries an autofilter.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import xlsxwriter

from application.documents.ledger import LEDGER_COLUMNS, CellKind, ledger_headers, ledger_row


def write_xlsx(
    rows: Iterable[Mapping[str, Any]], path: Path | str, *, lang: str, time_zone: ZoneInfo
) -> int:
    """Write the ledger of ``rows`` (case-search rows) to ``path``; returns the row count."""
    workbook = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "strings_to_numbers": False}
    )
    try:
        sheet = workbook.add_worksheet("隐患台账" if lang != "en" else "Hazard ledger")
        header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        formats = {
            CellKind.DATE: workbook.add_format({"num_format": "yyyy-mm-dd"}),
            CellKind.DATETIME: workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
        }
        for index, column in enumerate(LEDGER_COLUMNS):
            sheet.set_column(index, index, column.width)
        sheet.write_row(0, 0, ledger_headers(lang), header)
        sheet.freeze_panes(1, 0)
        count = 0
        for count, row in enumerate(rows, 1):
            for index, (column, value) in enumerate(
                zip(LEDGER_COLUMNS, ledger_row(row, lang=lang, time_zone=time_zone), strict=True)
            ):
                if value is None:
                    continue
                if isinstance(value, datetime | date):
                    sheet.write_datetime(count, index, value, formats[column.kind])
                elif isinstance(value, int):
                    sheet.write_number(count, index, value)
                else:
                    # Text stays text: a case id or order number must not turn into a number.
                    sheet.write_string(count, index, str(value))
        sheet.autofilter(0, 0, max(count, 1), len(LEDGER_COLUMNS) - 1)
    finally:
        workbook.close()
    return count


def write_csv(
    rows: Iterable[Mapping[str, Any]], stream: IO[str], *, lang: str, time_zone: ZoneInfo
) -> int:
    """Write the ledger of ``rows`` as CSV (dates ``YYYY-MM-DD``, times
    ``YYYY-MM-DD HH:MM:SS`` local); returns the row count."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(ledger_headers(lang))
    count = 0
    for row in rows:
        count += 1
        writer.writerow(
            ""
            if value is None
            else value.isoformat(sep=" ")
            if isinstance(value, datetime)
            else value
            for value in ledger_row(row, lang=lang, time_zone=time_zone)
        )
    return count
