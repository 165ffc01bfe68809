"""The hazard ledger (隐患台账): which columns a county's ledger has, in which
language, and what each case's row holds.

One row per case — the hazard with its latest order and latest verification —
as the case search (``/cases``) finds it. Times and dates are real dates (the
local calendar), not text, so a spreadsheet sorts and filters them as dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo


class CellKind(StrEnum):
    TEXT = "text"
    DATE = "date"
    DATETIME = "datetime"
    NUMBER = "number"


@dataclass(frozen=True)
class LedgerColumn:
    """One column: the read-model field it shows, its headers, and its kind of value."""

    key: str
    zh: str
    en: str
    kind: CellKind = CellKind.TEXT
    width: int = 14


_SEVERITY = {"general": ("一般", "general"), "major": ("重大", "major")}
_CASE_STATUS = {
    "reported": ("已上报", "reported"),
    "rectifying": ("整改中", "rectifying"),
    "awaiting_verification": ("待复查", "awaiting verification"),
    "verified": ("已复查合格", "verified"),
    "closed": ("已销号", "closed"),
    "dismissed": ("误报撤销", "dismissed"),
}
_ORDER_STATUS = {
    "issued": ("已下达", "issued"),
    "acknowledged": ("已签收", "acknowledged"),
    "completion_reported": ("已报整改完成", "completion reported"),
    "fulfilled": ("已复查合格", "fulfilled"),
    "cancelled": ("已撤销", "cancelled"),
}
_YES_NO = {1: ("是", "yes"), 0: ("否", "no")}
_PASSED = {1: ("合格", "passed"), 0: ("不合格", "failed")}

LEDGER_COLUMNS: tuple[LedgerColumn, ...] = (
    LedgerColumn("case_id", "隐患编号", "Case id", width=38),
    LedgerColumn("site_name", "场所名称", "Site", width=24),
    LedgerColumn("region", "区域", "Region"),
    LedgerColumn("category", "隐患类别", "Category"),
    LedgerColumn("description", "隐患描述", "Description", width=40),
    LedgerColumn("location", "部位", "Location"),
    LedgerColumn("severity", "隐患等级", "Severity", width=10),
    LedgerColumn("status", "状态", "Status", width=12),
    LedgerColumn("fixed_on_spot", "即查即改", "Fixed on the spot", width=10),
    LedgerColumn("reported_at", "上报时间", "Reported at", CellKind.DATETIME, width=18),
    LedgerColumn("reported_by_name", "上报人", "Reported by"),
    LedgerColumn("order_number", "整改通知编号", "Order number"),
    LedgerColumn("order_status", "整改通知状态", "Order status"),
    LedgerColumn("party_name", "整改责任人", "Responsible party"),
    LedgerColumn("deadline", "整改期限", "Deadline", CellKind.DATE, width=12),
    LedgerColumn("verification_attempt", "复查次数", "Verification attempt", CellKind.NUMBER),
    LedgerColumn("verification_passed", "复查结论", "Verification result", width=10),
    LedgerColumn("verified_on", "复查日期", "Verified at", CellKind.DATETIME, width=18),
    LedgerColumn("verifier_name", "复查人", "Verifier"),
    LedgerColumn("verification_findings", "复查意见", "Findings", width=40),
    LedgerColumn("closed_at", "销号时间", "Closed at", CellKind.DATETIME, width=18),
    LedgerColumn("closed_by_name", "销号人", "Closed by"),
)

_LABELS: dict[str, Mapping[Any, tuple[str, str]]] = {
    "severity": _SEVERITY,
    "status": _CASE_STATUS,
    "order_status": _ORDER_STATUS,
    "fixed_on_spot": _YES_NO,
    "verification_passed": _PASSED,
}


def ledger_headers(lang: str) -> list[str]:
    """The header row in ``lang`` (``zh`` or ``en``)."""
    return [column.en if lang == "en" else column.zh for column in LEDGER_COLUMNS]


def _local(text: str | None, time_zone: ZoneInfo) -> datetime | None:
    # Spreadsheets know no time zones: a time is shown on the local clock, as
    # the county reads it, without its zone.
    if not text:
        return None
    # fromisoformat reads the read model's fixed-width UTC text ("…Z") several
    # times faster than strptime, which counts over a hundred thousand rows.
    moment = datetime.fromisoformat(text)
    return moment.astimezone(time_zone).replace(tzinfo=None, microsecond=0)


def ledger_row(row: Mapping[str, Any], *, lang: str, time_zone: ZoneInfo) -> list[Any]:
    """The ledger's cells for one case row of the search (dates as ``date``/``datetime``)."""
    index = 1 if lang == "en" else 0
    cells: list[Any] = []
    for column in LEDGER_COLUMNS:
        value = row.get(column.key)
        if column.key in _LABELS and value is not None:
            labels = _LABELS[column.key]
            value = labels[value][index] if value in labels else value
        elif column.kind == CellKind.DATETIME:
            value = _local(value, time_zone)
        elif column.kind == CellKind.DATE and value:
            value = date.fromisoformat(value)
        elif column.kind == CellKind.NUMBER and value is not None:
            value = int(value)
        cells.append(value)
    return cells
