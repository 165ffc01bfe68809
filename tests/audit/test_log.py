"""The global log: commit order, pages by position, filters; exports streamed as JSON
Lines and CSV that read back as the log."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest

from application.app import RectifyApp
from application.audit import AuditService, LogFilter
from domain.errors import InvalidCommand
from infrastructure.clock import ManualClock
from tests.audit.conftest import History
from tests.core.scenario import YU_JIANHUA, YU_JIANMING, ZHANG_MING, Stage, Sweep


def log_of(app: RectifyApp) -> list[Any]:
    return list(app.recorder.select_notifications(start=1, limit=100_000))


def test_pages_follow_the_log_by_position_to_its_end(
    app: RectifyApp, audit: AuditService, history: History
) -> None:
    seen: list[int] = []
    after = 0
    while True:
        page = audit.log_page(LogFilter(), after=after, limit=7)
        seen.extend(e.position for e in page.entries)
        if page.next_after is None:
            break
        assert len(page.entries) == 7
        after = page.next_after
    assert seen == [n.id for n in log_of(app)]


def test_the_log_filters_by_actor(audit: AuditService, history: History) -> None:
    page = audit.log_page(LogFilter(actor=YU_JIANHUA.user_id), limit=1000)
    assert page.entries
    assert {e.actor_id for e in page.entries} == {YU_JIANHUA.user_id}
    assert page.next_after is None


def test_the_log_filters_by_event_types(audit: AuditService, history: History) -> None:
    page = audit.log_page(LogFilter(event_types=("Hazard.Closed", "Hazard.Dismissed")), limit=1000)
    assert [(e.event_type, e.aggregate_id) for e in page.entries] == [
        ("Hazard.Closed", history.major),
        ("Hazard.Dismissed", history.dismissed),
    ]


def test_the_log_filters_by_aggregate(
    app: RectifyApp, audit: AuditService, history: History
) -> None:
    page = audit.log_page(LogFilter(aggregate_id=history.major_order), limit=1000)
    assert [e.version for e in page.entries] == list(
        range(1, app.get_order(history.major_order).version + 1)
    )
    later = audit.log_page(
        LogFilter(aggregate_id=history.major_order), after=page.entries[2].position, limit=1000
    )
    assert [e.version for e in later.entries] == [e.version for e in page.entries[3:]]


def test_the_log_filters_by_time_range(
    audit: AuditService, sweep: Sweep, clock: ManualClock
) -> None:
    case = sweep.arrange_case(Stage.ORDER_ISSUED)
    clock.advance(days=1)
    start = clock()
    sweep.acknowledge(case.order)
    clock.advance(days=1)
    sweep.report_completion(case.order)
    end = clock()

    def types(**window: Any) -> list[str]:
        return [e.event_type for e in audit.log_page(LogFilter(**window), limit=1000).entries]

    assert types(since=start, until=start) == ["RectificationOrder.Acknowledged"]
    assert types(since=start + timedelta(seconds=1)) == [
        "RectificationOrder.CompletionReported",
        "Hazard.CompletionReported",
    ]
    assert "RectificationOrder.Acknowledged" not in types(until=start - timedelta(seconds=1))
    assert types(since=end + timedelta(seconds=1)) == []


def test_filters_combine(audit: AuditService, history: History) -> None:
    page = audit.log_page(
        LogFilter(actor=ZHANG_MING.user_id, event_types=("Verification.Performed",)), limit=100
    )
    assert [(e.actor_id, e.event_type) for e in page.entries] == [
        (ZHANG_MING.user_id, "Verification.Performed")
    ]


def test_an_unknown_event_type_or_a_bad_page_is_refused(
    audit: AuditService, history: History
) -> None:
    with pytest.raises(InvalidCommand) as unknown:
        audit.log_page(LogFilter(event_types=("Hazard.Vanished",)))
    assert unknown.value.rule == "unknown_event_type"
    assert "Hazard.Closed" in unknown.value.message
    with pytest.raises(InvalidCommand):
        audit.export_records(LogFilter(event_types=("Hazard.Vanished",)))
    for limit in (0, 1001):
        with pytest.raises(InvalidCommand):
            audit.log_page(LogFilter(), limit=limit)
    with pytest.raises(InvalidCommand):
        audit.log_page(LogFilter(), after=-1)


def test_a_page_of_a_rare_filter_stops_scanning_and_says_where_to_go_on(
    audit: AuditService, history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    import application.audit.service as service

    monkeypatch.setattr(service, "MAX_SCAN_PER_PAGE", 10)
    rare = LogFilter(actor=YU_JIANMING.user_id)  # he only closed the major case
    first = audit.log_page(rare)
    assert (first.entries, first.next_after) == ([], 10)
    found = []
    after: int | None = 0
    while after is not None:
        page = audit.log_page(rare, after=after)
        found.extend(page.entries)
        after = page.next_after
    assert [(e.actor_id, e.event_type) for e in found] == [(YU_JIANMING.user_id, "Hazard.Closed")]


def expected_rows(app: RectifyApp) -> list[tuple[int, str, int, str, bytes]]:
    return [
        (n.id, str(n.originator_id), n.originator_version, n.topic, n.state) for n in log_of(app)
    ]


def test_a_jsonl_export_read_back_has_the_same_count_and_content_as_the_log(
    app: RectifyApp, audit: AuditService, history: History
) -> None:
    audit.catch_up()
    records = [json.loads(line) for line in "".join(audit.export_jsonl()).splitlines()]
    assert [
        (
            r["position"],
            r["aggregate_id"],
            r["aggregate_version"],
            r["topic"],
            r["state"].encode("utf-8"),
        )
        for r in records
    ] == expected_rows(app)
    links = {link.position: link.hash for link in audit.chain.select_links(0, None, 100_000)}
    assert [r["chain_hash"] for r in records] == [links[r["position"]] for r in records]
    assert all(r["state_encoding"] == "utf-8" for r in records)


def test_a_csv_export_read_back_has_the_same_count_and_content_as_the_log(
    app: RectifyApp, audit: AuditService, history: History
) -> None:
    rows = list(csv.DictReader(io.StringIO("".join(audit.export_csv()), newline="")))
    assert [
        (
            int(r["position"]),
            r["aggregate_id"],
            int(r["aggregate_version"]),
            r["topic"],
            r["state"].encode("utf-8"),
        )
        for r in rows
    ] == expected_rows(app)
    assert list(rows[0]) == list(AuditService.EXPORT_FIELDS)


def test_an_export_of_a_filter_holds_exactly_what_the_log_page_shows(
    audit: AuditService, history: History
) -> None:
    only = LogFilter(actor=ZHANG_MING.user_id)
    exported = [json.loads(line)["position"] for line in audit.export_jsonl(only)]
    assert exported == [e.position for e in audit.log_page(only, limit=1000).entries]


def test_an_export_is_streamed_page_by_page(
    app: RectifyApp, audit: AuditService, history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    import application.audit.service as service

    monkeypatch.setattr(service, "PAGE_SIZE", 5)
    total = len(log_of(app))
    pages: list[int] = []
    select = app.recorder.select_notifications

    def counting(*args: Any, **kwargs: Any) -> Any:
        pages.append(kwargs.get("limit", args[1] if len(args) > 1 else None))
        return select(*args, **kwargs)

    monkeypatch.setattr(app.recorder, "select_notifications", counting)
    lines = audit.export_jsonl()
    first = next(lines)
    assert json.loads(first)["position"] == 1
    assert pages == [5], "only the first page was read to give the first line"
    rest = list(lines)
    assert len(rest) + 1 == total
    assert set(pages) == {5}
