"""``rectify audit`` on the command line: after ``rectify demo`` the log verifies; a
byte changed behind the service's back makes ``verify`` fail and name its position."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from application.app import RectifyApp
from infrastructure.clock import ManualClock
from infrastructure.composition import build_app
from interfaces.cli.main import app as cli
from tests.audit.conftest import open_app
from tests.audit.tamper import reset_chain, tamperer_for
from tests.core.scenario import SWEEP_STARTS, Case, Stage, Sweep

runner = CliRunner()


def rectify(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.output


def log_head(url: str) -> int:
    app = build_app(url)
    try:
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo_url(request: pytest.FixtureRequest) -> str:
    """A database with ``rectify demo`` loaded: a SQLite file, then PostgreSQL."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    code, output = rectify("demo", "--database-url", url)
    assert code == 0, output
    return url


def test_after_the_demo_verify_passes_and_a_changed_byte_fails_at_its_position(
    demo_url: str,
) -> None:
    events = log_head(demo_url)
    code, output = rectify("audit", "verify", "--database-url", demo_url)
    assert code == 0, output
    assert re.search(rf"^OK: {events} events verified; head [0-9a-f]{{64}}@{events}$", output, re.M)

    tamperer_for(demo_url).flip_byte(42, offset=30)
    code, output = rectify("audit", "verify", "--database-url", demo_url)
    assert code == 1
    assert "FAILED at position 42" in output
    assert "altered" in output


def test_a_head_printed_earlier_catches_a_rewrite_of_log_and_chain(demo_url: str) -> None:
    code, printed = rectify("audit", "head", "--database-url", demo_url)
    assert code == 0, printed
    anchor = printed.strip()
    code, output = rectify("audit", "verify", "--anchor", anchor, "--database-url", demo_url)
    assert code == 0, output
    assert f"anchor {anchor} matches" in output

    tamperer_for(demo_url).flip_byte(3)
    reset_chain(demo_url)
    code, output = rectify("audit", "chain", "--database-url", demo_url)
    assert code == 0, output
    assert rectify("audit", "verify", "--database-url", demo_url)[0] == 0
    code, output = rectify("audit", "verify", "--anchor", anchor, "--database-url", demo_url)
    assert code == 1
    assert f"FAILED at position {anchor.split('@')[1]}" in output


# -- reading, on a small log ------------------------------------------------------------


@pytest.fixture
def small(sqlite_url: str) -> Iterator[tuple[str, Case, RectifyApp]]:
    """A SQLite file with one closed case; the app that wrote it stays open to read."""
    clock = ManualClock(SWEEP_STARTS)
    app = open_app(sqlite_url, clock)
    case = Sweep(app, clock).arrange_case(Stage.CLOSED)
    yield sqlite_url, case, app
    app.close()


def test_timeline_prints_every_event_of_the_case_with_who_why_and_what_changed(
    small: tuple[str, Case, RectifyApp],
) -> None:
    url, case, _ = small
    code, output = rectify("audit", "timeline", str(case.hazard), "--database-url", url)
    assert code == 0, output
    # The case's 10 events and 3 of its inspection's: opened, the failed item
    # recorded, the hazard reported from it (the inspection is left open).
    assert output.startswith(f"Case {case.hazard}: 13 events")
    assert "负责人张铭签字销号" in output
    assert "closed the case, signed by 张铭" in output
    assert "why: 复查合格，准予销号" in output
    assert "status: verified → closed" in output


def test_timeline_as_json_lists_the_entries_in_log_order(
    small: tuple[str, Case, RectifyApp],
) -> None:
    url, case, _ = small
    code, output = rectify("audit", "timeline", str(case.hazard), "--json", "--database-url", url)
    assert code == 0, output
    entries = json.loads(output)
    assert [e["position"] for e in entries] == sorted(e["position"] for e in entries)
    assert entries[-1]["event_type"] == "Hazard.Closed"


def test_replay_prints_the_case_state_after_each_step(
    small: tuple[str, Case, RectifyApp],
) -> None:
    url, case, _ = small
    code, output = rectify(
        "audit", "replay", str(case.hazard), "--lang", "en", "--database-url", url
    )
    assert code == 0, output
    states = [line.strip() for line in output.splitlines() if line.strip().startswith("⇒")]
    assert len(states) == 13
    assert states[0] == "⇒ hazard not reported yet"
    assert states[-1].startswith("⇒ hazard closed (general) v")
    assert "order 2022-0001 fulfilled" in states[-1]


def test_state_prints_an_aggregate_as_of_a_version_and_a_case_as_of_a_position(
    small: tuple[str, Case, RectifyApp],
) -> None:
    url, case, app = small
    code, output = rectify(
        "audit", "state", str(case.order), "--version", "1", "--database-url", url
    )
    assert code == 0, output
    order = json.loads(output)
    assert (order["version"], order["state"]["status"]) == (1, "issued")

    reported_at = app.recorder.select_notifications(start=1, limit=100)
    position = next(n.id for n in reported_at if n.topic.endswith("Hazard.Reported"))
    code, output = rectify(
        "audit",
        "state",
        str(case.hazard),
        "--case",
        "--position",
        str(position),
        "--database-url",
        url,
    )
    assert code == 0, output
    state = json.loads(output)
    assert state["hazard"]["state"]["status"] == "reported"
    assert state["orders"] == []


def test_log_filters_by_type_and_pages_by_position(small: tuple[str, Case, RectifyApp]) -> None:
    url, _, _ = small
    code, output = rectify(
        "audit", "log", "--type", "Hazard.Closed", "--json", "--database-url", url
    )
    assert code == 0, output
    page = json.loads(output)
    assert [e["event_type"] for e in page["entries"]] == ["Hazard.Closed"]
    code, output = rectify("audit", "log", "--limit", "3", "--database-url", url)
    assert code == 0, output
    assert "--after 3" in output


@pytest.mark.parametrize("export_format", ["jsonl", "csv"])
def test_an_exported_file_reads_back_with_the_logs_count_and_content(
    small: tuple[str, Case, RectifyApp], tmp_path: Path, export_format: str
) -> None:
    url, _, app = small
    assert rectify("audit", "chain", "--database-url", url)[0] == 0
    target = tmp_path / f"log.{export_format}"
    code, output = rectify(
        "audit",
        "export",
        "--format",
        export_format,
        "--output",
        str(target),
        "--database-url",
        url,
    )
    assert code == 0, output
    with target.open(encoding="utf-8", newline="") as file:
        if export_format == "jsonl":
            records = [json.loads(line) for line in file]
        else:
            records = list(csv.DictReader(file))
    log = app.recorder.select_notifications(start=1, limit=1000)
    assert len(records) == len(log)
    for record, notification in zip(records, log, strict=True):
        assert int(record["position"]) == notification.id
        assert record["aggregate_id"] == str(notification.originator_id)
        assert int(record["aggregate_version"]) == notification.originator_version
        assert record["topic"] == notification.topic
        assert record["state"].encode("utf-8") == notification.state
        assert re.fullmatch(r"[0-9a-f]{64}", record["chain_hash"])


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["timeline", "not-a-uuid"], 2, "is not an id"),
        (["timeline", "00000000-0000-0000-0000-000000000000"], 1, "no case"),
        (["state", "00000000-0000-0000-0000-000000000000", "--as-of", "soon"], 2, "ISO 8601"),
        (["log", "--type", "Hazard.Vanished"], 1, "unknown event type"),
        (["export", "--type", "Hazard.Vanished", "--output", "-"], 1, "unknown event type"),
        (["verify", "--anchor", "abc"], 2, "HASH@POSITION"),
    ],
)
def test_bad_arguments_are_refused_with_a_reason(
    small: tuple[str, Case, RectifyApp], args: list[str], code: int, message: str
) -> None:
    url, _, _ = small
    exit_code, output = rectify("audit", *args, "--database-url", url)
    assert exit_code == code, output
    assert message in output
