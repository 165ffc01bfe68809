"""The read models answer the questions of "What people look at" in PRODUCT.md:
work queues, case search, a site's history, the dashboard — on each backend."""

from __future__ import annotations

import time
from datetime import date, timedelta

from application.app import RectifyApp
from application.projections.access import Scope, scope_for
from domain.values import Role, Severity
from infrastructure.clock import ManualClock
from infrastructure.composition import Services
from infrastructure.projections.runner import ProjectionRunner
from infrastructure.readmodels.queries import CaseFilter, ReadModelQueries
from infrastructure.readmodels.store import PROJECTION_NAMES, ReadModelStore
from tests.core.scenario import (
    CHEN_XIAOFENG,
    HUOGEN_BARBERSHOP,
    KANGSHUN_SHOP,
    SWEEP_STARTS,
    TAO_BIAOYIN,
    YU_JIANHUA_SHOP,
    YU_JIANMING,
    ZHANG_MING,
    Stage,
    Sweep,
    password_of,
)

EVERYTHING = Scope()


def caught_up(app: RectifyApp, store: ReadModelStore) -> ReadModelQueries:
    for name in PROJECTION_NAMES:
        ProjectionRunner(app, store.projection(name)).catch_up()
    return ReadModelQueries(store)


def ids(page: object, column: str) -> list[str]:
    return [row[column] for row in page.items]  # type: ignore[attr-defined]


def test_work_queues_follow_a_case_through_the_workflow(
    app: RectifyApp, store: ReadModelStore, sweep: Sweep
) -> None:
    today = sweep.today()
    case = sweep.arrange_case(Stage.HAZARD_REPORTED)

    def queue(name: str) -> list[str]:
        page = caught_up(app, store).queue(name, EVERYTHING, today=today)
        column = "inspection_id" if name == "open-inspections" else "case_id"
        return ids(page, column)

    assert queue("open-inspections") == [str(case.inspection_id)]
    case.order_id = sweep.issue_order(case.hazard, deadline=today + timedelta(days=2))
    assert queue("orders-due-soon") == [str(case.hazard)]
    sweep.acknowledge(case.order)
    sweep.report_completion(case.order)
    assert queue("orders-due-soon") == []
    assert queue("awaiting-verification") == [str(case.hazard)]
    sweep.verify(case.hazard)
    assert queue("awaiting-verification") == []
    assert queue("awaiting-closure") == [str(case.hazard)]
    sweep.close(case.hazard)
    assert queue("awaiting-closure") == []
    sweep.app.complete_inspection(
        CHEN_XIAOFENG, case.inspection_id, expected_version=sweep.version(case.inspection_id)
    )
    assert queue("open-inspections") == []


def test_an_order_past_its_deadline_is_overdue_once_the_check_recorded_it(
    app: RectifyApp, store: ReadModelStore, sweep: Sweep, clock: ManualClock
) -> None:
    """Overdue is an event the system records, not a computed flag: an order past
    its deadline is a candidate of the check, and overdue only after it ran."""
    late = sweep.arrange_case(Stage.ACKNOWLEDGED)  # general: due in 7 days
    on_time = sweep.arrange_case(Stage.COMPLETION_REPORTED, site=KANGSHUN_SHOP)
    clock.set(SWEEP_STARTS + timedelta(days=8))
    queries = caught_up(app, store)
    today = app.today()
    assert queries.orders_past_deadline(today) == [late.order]
    assert queries.queue("orders-overdue", EVERYTHING, today=today).total == 0

    services = Services.around(app)
    with services.followers(["cases", "overdue"], run=True, intervals={"overdue": 0}) as host:
        host.runners["cases"].wait(sweep.log_position(), timeout=5)
        report = services.check_overdue()
    services.close()
    assert report.marked == [late.order]
    queries = caught_up(app, store)
    overdue = queries.queue("orders-overdue", EVERYTHING, today=today)
    assert ids(overdue, "order_id") == [str(late.order)]
    assert overdue.items[0]["overdue"] == 1
    assert str(on_time.order) not in ids(overdue, "order_id")
    assert queries.orders_past_deadline(today) == []


def test_the_overdue_check_runs_on_a_schedule_beside_the_projections(
    app: RectifyApp, sweep: Sweep, clock: ManualClock
) -> None:
    case = sweep.arrange_case(Stage.ORDER_ISSUED)
    clock.set(SWEEP_STARTS + timedelta(days=8))
    services = Services.around(app)
    host = services.followers(run=True, intervals={"overdue": 0.05}, poll_interval=0.02)
    with host:
        give_up = time.monotonic() + 10
        while True:
            host.runners["cases"].wait(sweep.log_position(), timeout=5)
            overdue = services.queries.queue("orders-overdue", EVERYTHING, today=app.today())
            if overdue.total or time.monotonic() > give_up:
                break
            time.sleep(0.05)
    services.close()
    assert ids(overdue, "order_id") == [str(case.order)]
    kinds = [type(e).__qualname__ for e in sweep.events_since(0)]
    assert kinds.count("RectificationOrder.BecameOverdue") == 1
    assert host.followers["overdue"].last_run is not None


def test_pending_extension_requests_wait_for_a_supervisor(
    app: RectifyApp, store: ReadModelStore, sweep: Sweep
) -> None:
    case = sweep.arrange_case(Stage.ACKNOWLEDGED)
    deadline = app.get_order(case.order).deadline
    sweep.request_extension(case.order, deadline + timedelta(days=3))
    queries = caught_up(app, store)
    (row,) = queries.queue("pending-extensions", EVERYTHING, today=sweep.today()).items
    assert row["extension_deadline"] == (deadline + timedelta(days=3)).isoformat()
    assert row["extension_requested_by"] == TAO_BIAOYIN.user_id
    app.deny_extension(
        ZHANG_MING, case.order, reason="按期整改", expected_version=sweep.version(case.order)
    )
    queries = caught_up(app, store)
    assert queries.queue("pending-extensions", EVERYTHING, today=sweep.today()).total == 0


def test_case_search_filters_sorts_and_pages(
    app: RectifyApp, store: ReadModelStore, sweep: Sweep, clock: ManualClock
) -> None:
    general = sweep.arrange_case(Stage.ORDER_ISSUED)
    clock.advance(days=1)
    major = sweep.arrange_case(Stage.ORDER_ISSUED, severity=Severity.MAJOR, site=YU_JIANHUA_SHOP)
    clock.advance(days=1)
    closed = sweep.arrange_case(Stage.CLOSED, site=KANGSHUN_SHOP)
    queries = caught_up(app, store)

    def search(scope: Scope = EVERYTHING, **filters: object) -> list[str]:
        sort = str(filters.pop("sort", "reported_at"))
        descending = bool(filters.pop("descending", True))
        page = queries.search_cases(scope, CaseFilter(**filters), sort=sort, descending=descending)  # type: ignore[arg-type]
        return ids(page, "case_id")

    g, m, c = str(general.hazard), str(major.hazard), str(closed.hazard)
    assert search() == [c, m, g]
    assert search(descending=False) == [g, m, c]
    assert search(severity="major") == [m]
    assert search(statuses=("closed",)) == [c]
    assert search(statuses=("rectifying", "closed")) == [c, m, g]
    assert search(site_id=general.site_id) == [g]
    assert search(region="安义县") == [c, m, g]
    assert search(region="南昌市") == []
    assert search(party="喻建华") == [m]
    assert search(party="康顺") == [c]
    assert search(reported_from=date(2022, 4, 19), reported_to=date(2022, 4, 19)) == [m]
    assert search(closed_from=date(2022, 4, 20)) == [c]
    assert search(sort="site", descending=False) == [m, c, g]  # 喻 < 康 < 陶 by code point
    assert search(scope_for(TAO_BIAOYIN.user_id, Role.RESPONSIBLE_PARTY)) == [g]

    first = queries.search_cases(EVERYTHING, CaseFilter(), limit=2, offset=0)
    second = queries.search_cases(EVERYTHING, CaseFilter(), limit=2, offset=2)
    assert first.total == second.total == 3
    assert ids(first, "case_id") + ids(second, "case_id") == [c, m, g]


def test_a_sites_history_tells_what_happened_there_in_log_order(
    app: RectifyApp, store: ReadModelStore, sweep: Sweep
) -> None:
    case = sweep.arrange_case(Stage.CLOSED)
    sweep.arrange_case(Stage.HAZARD_REPORTED, site=HUOGEN_BARBERSHOP)
    queries = caught_up(app, store)
    page = queries.site_history(case.site_id, limit=200)
    kinds = [row["kind"] for row in page.items]
    assert kinds[0] == "site.registered"
    assert kinds[1] == "inspection.opened"
    assert kinds[-6:] == [
        "order.issued",
        "order.acknowledged",
        "order.completion_reported",
        "verification.passed",
        "order.fulfilled",
        "case.closed",
    ]
    positions = [row["position"] for row in page.items]
    assert positions == sorted(positions)
    assert all(
        row["kind"] != "hazard.reported" or row["case_id"] == str(case.hazard) for row in page.items
    )
    closed = page.items[-1]
    assert closed["actor_id"] == ZHANG_MING.user_id
    assert closed["reason"] == "复查合格，准予销号"
    newest = queries.site_history(case.site_id, newest_first=True, limit=1)
    assert newest.items[0]["kind"] == "case.closed"
    assert newest.total == page.total
    site = queries.site(case.site_id)
    assert site is not None
    assert (site["inspections"], site["open_cases"], site["closed_cases"]) == (1, 0, 1)


def test_dashboard_figures(
    app: RectifyApp, store: ReadModelStore, sweep: Sweep, clock: ManualClock
) -> None:
    """Two cases closed (one after a failed first verification), one overdue
    and still open, one open and not yet due."""
    first = sweep.arrange_case(Stage.CLOSED)  # reported and closed on 04-18
    failed_first = sweep.arrange_case(
        Stage.COMPLETION_REPORTED, severity=Severity.MAJOR, site=KANGSHUN_SHOP
    )
    sweep.verify(failed_first.hazard, passed=False)
    overdue = sweep.arrange_case(Stage.ACKNOWLEDGED, site=YU_JIANHUA_SHOP)
    clock.advance(days=10)  # 04-28: the general order of `overdue` is past due
    app.mark_overdue()
    sweep.report_completion(failed_first.order)
    sweep.verify(failed_first.hazard, by=ZHANG_MING)
    app.close_case(
        YU_JIANMING,
        failed_first.hazard,
        reason="复查合格，准予销号",
        password=password_of(YU_JIANMING),
        expected_version=sweep.version(failed_first.hazard),
    )
    sweep.arrange_case(Stage.ORDER_ISSUED, site=HUOGEN_BARBERSHOP)  # due 05-05

    figures = caught_up(app, store).dashboard(today=app.today())
    assert figures["by_month"] == [
        {"month": "2022-04", "severity": "general", "reported": 3, "closed": 1},
        {"month": "2022-04", "severity": "major", "reported": 1, "closed": 1},
    ]
    assert figures["open_by_severity"] == {"general": 2, "major": 0}
    assert figures["closed_by_severity"] == {"general": 1, "major": 1}
    # Due so far: the two fulfilled orders and the overdue one; one of three overdue.
    assert (figures["orders_due"], figures["orders_overdue"]) == (3, 1)
    assert figures["overdue_rate"] == round(1 / 3, 4)
    # First verifications: the first case's (passed), the major one's (failed).
    assert figures["first_verifications"] == 2
    assert figures["first_pass_verification_rate"] == 0.5
    assert figures["closed_cases"] == 2
    assert figures["median_days_to_close"] == 5.0  # 0 days and 10 days
    assert first.hazard is not None
    assert overdue.order is not None


def test_an_empty_store_answers_with_empty_figures(app: RectifyApp, store: ReadModelStore) -> None:
    figures = caught_up(app, store).dashboard(today=date(2022, 4, 18))
    assert figures["by_month"] == []
    assert figures["overdue_rate"] is None
    assert figures["first_pass_verification_rate"] is None
    assert figures["median_days_to_close"] is None
