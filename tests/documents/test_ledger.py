"""The hazard ledger (隐患台账): read back with openpyxl it equals the ``/cases``
search for the same filters, on SQLite and PostgreSQL; a party's holds only
their own cases; the CSV holds the same rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from domain.values import Severity
from infrastructure.clock import ManualClock
from tests.core.scenario import (
    CHEN_XIAOFENG,
    HUOGEN_BARBERSHOP,
    KANGSHUN_SHOP,
    LIU_FANG,
    TAO_BIAOYIN,
    YU_JIANHUA_SHOP,
    ZHANG_MING,
    Stage,
)
from tests.http.conftest import Api, _api_on

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The ledger's labels, written out here so that the test does not read them from
# the code it tests.
SEVERITY_ZH = {"general": "一般", "major": "重大"}
STATUS_ZH = {
    "reported": "已上报",
    "rectifying": "整改中",
    "awaiting_verification": "待复查",
    "verified": "已复查合格",
    "closed": "已销号",
    "dismissed": "误报撤销",
}
HEADER_ZH = ["隐患编号", "场所名称", "区域", "隐患类别", "隐患描述", "部位", "隐患等级", "状态"]
HEADER_EN = ["Case id", "Site", "Region", "Category", "Description", "Location", "Severity"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_api(request: pytest.FixtureRequest, clock: ManualClock) -> Iterator[Api]:
    """The API with its read models running, on a SQLite file, then on PostgreSQL."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    yield from _api_on(url, clock)


def arrange_cases(api: Api) -> int:
    """Cases at several stages and shops; returns the log position after them."""
    sweep = api.sweep
    sweep.arrange_case(Stage.CLOSED)
    api.clock.advance(hours=1)
    sweep.arrange_case(Stage.ORDER_ISSUED, site=KANGSHUN_SHOP)
    api.clock.advance(hours=1)
    major = sweep.arrange_case(
        Stage.COMPLETION_REPORTED, severity=Severity.MAJOR, site=YU_JIANHUA_SHOP
    )
    sweep.verify(major.hazard, passed=False, by=ZHANG_MING)
    api.clock.advance(days=1)
    sweep.arrange_case(Stage.HAZARD_REPORTED, site=HUOGEN_BARBERSHOP)
    api.clock.advance(hours=2)
    sweep.arrange_case(Stage.ACKNOWLEDGED)
    return api.position()


def workbook_rows(content: bytes) -> tuple[list[Any], list[list[Any]], Any]:
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    sheet = workbook.active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    return rows[0], rows[1:], sheet


def local(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return moment.astimezone(SHANGHAI).replace(tzinfo=None, microsecond=0)


def expected_row(item: dict[str, Any], header: list[str]) -> dict[str, Any]:
    """What the ledger's cells should be for one ``/cases`` item, by header."""
    deadline = date.fromisoformat(item["deadline"]) if item["deadline"] else None
    return {
        "隐患编号": item["case_id"],
        "场所名称": item["site_name"],
        "区域": item["region"],
        "隐患类别": item["category"],
        "隐患描述": item["description"],
        "部位": item["location"] or None,
        "隐患等级": SEVERITY_ZH[item["severity"]],
        "状态": STATUS_ZH[item["status"]],
        "上报时间": local(item["reported_at"]),
        "上报人": item["reported_by_name"],
        "整改通知编号": item["order_number"],
        "整改责任人": item["party_name"],
        "整改期限": deadline,
        "销号时间": local(item["closed_at"]),
        "销号人": item["closed_by_name"],
    }


def as_compared(cells: dict[str, Any]) -> dict[str, Any]:
    # Excel keeps a date as a day number: openpyxl reads it back as midnight.
    value = cells.get("整改期限")
    if isinstance(value, datetime):
        cells = {**cells, "整改期限": value.date()}
    return cells


@pytest.mark.parametrize(
    "query",
    [
        "",
        "severity=major",
        "status=closed&status=rectifying",
        "party=陶表印&sort=site&order=asc",
        "reported_from=2022-04-18&reported_to=2022-04-18",
    ],
)
def test_the_ledger_read_back_equals_the_case_search_for_the_same_filters(
    ledger_api: Api, query: str
) -> None:
    position = arrange_cases(ledger_api)
    search = ledger_api.get(f"/cases?{query}&limit=200&after={position}", ZHANG_MING)
    assert search.status_code == 200, search.text
    items = search.json()["items"]
    ledger = ledger_api.get(f"/cases.xlsx?{query}&after={position}", ZHANG_MING)
    assert ledger.status_code == 200, ledger.text
    assert ledger.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "hazard-ledger-" in ledger.headers["content-disposition"]
    header, rows, sheet = workbook_rows(ledger.content)
    assert header[: len(HEADER_ZH)] == HEADER_ZH
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref is not None and sheet.auto_filter.ref.startswith("A1:")
    assert [r[0] for r in rows] == [i["case_id"] for i in items]
    for item, row in zip(items, rows, strict=True):
        cells = as_compared(dict(zip(header, row, strict=True)))
        expected = expected_row(item, header)
        assert {k: cells[k] for k in expected} == expected


def test_each_row_carries_the_cases_latest_verification(ledger_api: Api) -> None:
    position = arrange_cases(ledger_api)
    ledger = ledger_api.get(f"/cases.xlsx?severity=major&after={position}", ZHANG_MING)
    header, rows, _ = workbook_rows(ledger.content)
    (row,) = rows
    cells = dict(zip(header, row, strict=True))
    hazard = ledger_api.rectify.get_hazard(UUID(cells["隐患编号"]))
    verification = ledger_api.rectify.get_verification(hazard.verification_ids[-1])
    assert cells["复查结论"] == "不合格"
    assert cells["复查意见"] == verification.findings
    assert cells["复查人"] == verification.verifier.name
    assert cells["复查次数"] == verification.attempt
    assert isinstance(cells["复查日期"], datetime)


def test_a_partys_ledger_holds_only_their_own_cases(ledger_api: Api) -> None:
    position = arrange_cases(ledger_api)
    own = ledger_api.get(f"/cases?limit=200&after={position}", TAO_BIAOYIN).json()["items"]
    everyone = ledger_api.get(f"/cases?limit=200&after={position}", CHEN_XIAOFENG).json()
    ledger = ledger_api.get(f"/cases.xlsx?after={position}", TAO_BIAOYIN)
    assert ledger.status_code == 200
    header, rows, _ = workbook_rows(ledger.content)
    assert 0 < len(rows) < everyone["total"]
    assert [r[0] for r in rows] == [i["case_id"] for i in own]
    party_column = header.index("整改责任人")
    assert {r[party_column] for r in rows} == {"陶表印"}


def test_the_csv_holds_the_same_rows_with_an_english_header_on_request(ledger_api: Api) -> None:
    position = arrange_cases(ledger_api)
    workbook = ledger_api.get(f"/cases.xlsx?after={position}", ZHANG_MING)
    _, rows, _ = workbook_rows(workbook.content)
    response = ledger_api.client.get(
        f"/cases.csv?after={position}",
        headers={**ledger_api.headers(ZHANG_MING), "Accept-Language": "en-US,en;q=0.9"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][: len(HEADER_EN)] == HEADER_EN
    assert [r[0] for r in table[1:]] == [r[0] for r in rows]
    assert {r[6] for r in table[1:]} == {"general", "major"}


def test_a_bad_filter_is_a_problem_and_an_auditor_may_export(ledger_api: Api) -> None:
    bad = ledger_api.get("/cases.xlsx?severity=grave", ZHANG_MING)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    unsorted = ledger_api.get("/cases.csv?sort=nothing", ZHANG_MING)
    assert unsorted.status_code == 422
    assert unsorted.json()["rule"] == "sort_invalid"
    assert ledger_api.get("/cases.xlsx", None).status_code == 401
    position = arrange_cases(ledger_api)
    audited = ledger_api.get(f"/cases.xlsx?after={position}", LIU_FANG)
    assert audited.status_code == 200
    assert len(workbook_rows(audited.content)[1]) == 5
