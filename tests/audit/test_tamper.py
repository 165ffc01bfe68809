"""Tamper evidence on the real databases: rows changed behind the service's back,
with sqlite3 or psycopg, are caught at the right position by ``verify``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from application.app import RectifyApp
from application.audit import Anchor, AuditService, ProblemKind, VerifyReport
from infrastructure.clock import ManualClock
from infrastructure.composition import build_audit
from tests.audit.conftest import open_app
from tests.audit.tamper import Tamperer, reset_chain, rewrite_link, tamperer_for
from tests.core.scenario import CHEN_XIAOFENG, KANGSHUN_SHOP, Stage, Sweep, losing_race

# A closed general case: 22 events, positions 1..22 (see the sweep's builders).
CASE_EVENTS = 22


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
def chained(stored_app: RectifyApp, clock: ManualClock) -> AuditService:
    """A closed case on the database, every event of it chained."""
    Sweep(stored_app, clock).arrange_case(Stage.CLOSED)
    audit = build_audit(stored_app)
    assert audit.catch_up() == CASE_EVENTS
    report = audit.verify()
    assert report.ok and report.checked == CASE_EVENTS
    return audit


@pytest.fixture
def tamper(stored_url: str) -> Tamperer:
    return tamperer_for(stored_url)


def problem_of(report: VerifyReport) -> tuple[ProblemKind, int]:
    assert report.problem is not None, f"tampering not detected: {report}"
    return report.problem.kind, report.problem.position


@pytest.mark.parametrize("position", [1, 10, CASE_EVENTS])
def test_one_changed_byte_of_a_stored_event_is_caught_at_its_position(
    chained: AuditService, tamper: Tamperer, position: int
) -> None:
    tamper.flip_byte(position)
    report = chained.verify()
    assert problem_of(report) == (ProblemKind.ALTERED, position)
    assert report.checked == position - 1


def test_a_deleted_event_row_is_caught_at_its_position(
    chained: AuditService, tamper: Tamperer
) -> None:
    tamper.delete(12)
    assert problem_of(chained.verify()) == (ProblemKind.DELETED, 12)


def test_deleting_the_newest_event_is_caught_at_the_chain_head(
    chained: AuditService, tamper: Tamperer
) -> None:
    tamper.delete(CASE_EVENTS)
    assert problem_of(chained.verify()) == (ProblemKind.DELETED, CASE_EVENTS)


def test_two_rows_with_swapped_contents_are_caught_at_the_first(
    chained: AuditService, tamper: Tamperer
) -> None:
    tamper.swap(10, 14)
    assert problem_of(chained.verify()) == (ProblemKind.ALTERED, 10)


def test_a_forged_row_inserted_into_a_gap_is_caught_at_its_position(
    stored_app: RectifyApp, clock: ManualClock, tamper: Tamperer
) -> None:
    Sweep(stored_app, clock).arrange_case(Stage.CLOSED)
    # Position 5 is left empty before the chain reaches it, as a rolled-back
    # write leaves an id unused: a gap, which is not a deletion.
    tamper.delete(5)
    audit = build_audit(stored_app)
    audit.catch_up()
    intact = audit.verify()
    assert intact.ok and intact.checked == CASE_EVENTS - 1

    tamper.insert_forged(5, like=6)
    assert problem_of(audit.verify()) == (ProblemKind.INSERTED, 5)


def test_tampering_stays_caught_after_later_events_are_chained(
    chained: AuditService, stored_app: RectifyApp, clock: ManualClock, tamper: Tamperer
) -> None:
    tamper.flip_byte(7)
    Sweep(stored_app, clock).arrange_case(Stage.VERIFIED, site=KANGSHUN_SHOP)
    assert chained.catch_up() > 0
    assert problem_of(chained.verify()) == (ProblemKind.ALTERED, 7)


def test_a_rewritten_link_of_the_chain_is_caught_at_its_position(
    chained: AuditService, stored_url: str
) -> None:
    rewrite_link(stored_url, 9, "a" * 64)
    assert problem_of(chained.verify()) == (ProblemKind.ALTERED, 9)


def test_an_anchor_catches_a_rewrite_that_rebuilt_the_whole_chain(
    chained: AuditService, stored_url: str, tamper: Tamperer
) -> None:
    head = chained.head()
    assert head is not None
    anchor = Anchor.parse(head.anchor)
    assert chained.verify(anchor).ok

    tamper.flip_byte(3)
    reset_chain(stored_url)
    assert chained.catch_up() == CASE_EVENTS
    assert chained.verify().ok, "a rebuilt chain is consistent with the rewritten log"
    assert problem_of(chained.verify(anchor)) == (ProblemKind.ANCHOR_MISMATCH, head.position)


def test_events_the_chain_has_not_reached_are_counted_not_failed(
    chained: AuditService, stored_app: RectifyApp, clock: ManualClock
) -> None:
    sweep = Sweep(stored_app, clock)
    sweep.record(sweep.open_inspection(KANGSHUN_SHOP), "mask", "pass")
    written = len(sweep.events_since(CASE_EVENTS))
    assert written == 3  # the site registered, the inspection opened, one item recorded
    report = chained.verify()
    assert report.ok
    assert (report.checked, report.unchained) == (CASE_EVENTS, written)


@pytest.mark.postgres
def test_a_gap_left_by_a_write_that_lost_a_race_is_not_a_deletion(
    postgres_url: str, clock: ManualClock
) -> None:
    app = open_app(postgres_url, clock)
    rival = open_app(postgres_url, clock)
    try:
        sweep = Sweep(app, clock)
        inspection = sweep.open_inspection()
        version = sweep.version(inspection)
        with (
            losing_race(
                app,
                lambda: rival.record_item(
                    CHEN_XIAOFENG,
                    inspection,
                    item_code="mask",
                    result="pass",
                    expected_version=version,
                ),
            ),
            pytest.raises(Exception, match="saved first"),
        ):
            app.record_item(
                CHEN_XIAOFENG,
                inspection,
                item_code="temperature",
                result="pass",
                expected_version=version,
            )
        sweep.record(inspection, "temperature", "pass")
        positions = [n.id for n in app.recorder.select_notifications(start=1, limit=100)]
        assert positions != list(range(1, len(positions) + 1)), "the lost write left no gap"

        audit = build_audit(app)
        audit.catch_up()
        report = audit.verify()
        assert report.ok
        assert report.checked == len(positions)
    finally:
        rival.close()
        app.close()
