"""What keeps the read side quick at a million cases: counts that stop at a cap and
say so, and the "mine" scope found from indexes rather than tested row by row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from application.demo import STORY_START, load_demo
from application.projections.access import Scope, scope_for
from domain.values import Role
from infrastructure.bootstrap import build_app
from infrastructure.clock import ManualClock
from infrastructure.composition import Services
from infrastructure.readmodels.queries import (
    INVOLVED_CASES,
    INVOLVED_ORDERS,
    QUEUES,
    SORTS,
    CaseFilter,
)
from infrastructure.readmodels.work_lists import WorkLists

DEMO_PEOPLE = ("zhangming", "yujianming", "chenxiaofeng", "taobiaoyin", "auditor", "nobody")


@pytest.fixture
def host(database_url: str) -> Iterator[Services]:
    app = build_app(database_url)
    load_demo(app, ManualClock(STORY_START))
    services = Services.around(app)
    with services.followers(["cases"], run=True) as running:
        running.wait_for(app.recorder.max_notification_id() or 0, ["cases"], timeout=30)
        yield services
    services.close()
    app.close()


def _ids(host: Services, sql: str, params: list[str]) -> list[str]:
    rows = host.queries._all(sql, params)
    return sorted(str(next(iter(row.values()))) for row in rows)


def test_a_count_past_its_cap_says_it_is_at_least_that(host: Services) -> None:
    everyone = Scope()
    every_case = host.queries.search_cases(everyone, CaseFilter(), limit=200)
    assert every_case.total_exact and every_case.total == len(every_case.items) > 3

    host.queries.count_cap = 2
    capped = host.queries.search_cases(everyone, CaseFilter(), limit=1)
    assert (capped.total, capped.total_exact) == (2, False)
    assert len(capped.items) == 1
    # The cap is counted past the page: a page further on still knows its own rows.
    further = host.queries.search_cases(everyone, CaseFilter(), limit=1, offset=2)
    assert (further.total, further.total_exact) == (4, False)
    assert further.items == every_case.items[2:3]
    # A count under the cap is exact.
    major = host.queries.search_cases(everyone, CaseFilter(severity="major"), limit=200)
    host.queries.count_cap = 1000
    assert major.total == host.queries.search_cases(everyone, CaseFilter(severity="major")).total
    assert major.total_exact == (major.total <= 2)

    lists = WorkLists(host.read_models)
    lists.count_cap = 2
    page = lists.cases(everyone, limit=1)
    assert (page.total, page.total_exact) == (2, False)
    lists.count_cap = 1000
    page = lists.cases(everyone, limit=1)
    assert (page.total, page.total_exact) == (every_case.total, True)


def test_the_mine_scope_finds_what_the_per_row_test_finds(host: Services) -> None:
    """The involvement sets (index lookups) against the rule as written: the case's
    latest order issued by the user, or the user on its inspection's team."""
    on_team = (
        "EXISTS (SELECT 1 FROM rm_inspection_inspectors ii "
        "WHERE ii.inspection_id = c.inspection_id AND ii.user_id = ?)"
    )
    found_some = False
    for user in DEMO_PEOPLE:
        by_rule = _ids(
            host,
            "SELECT c.case_id FROM rm_cases c LEFT JOIN rm_orders o"
            f" ON o.order_id = c.latest_order_id WHERE (o.issued_by = ? OR {on_team})",
            [user, user],
        )
        by_set = _ids(
            host, f"SELECT c.case_id FROM rm_cases c WHERE {INVOLVED_CASES}", [user, user]
        )
        assert by_set == by_rule, user
        orders_by_rule = _ids(
            host,
            "SELECT o.order_id FROM rm_orders o JOIN rm_cases c ON c.case_id = o.case_id"
            f" WHERE (o.issued_by = ? OR {on_team})",
            [user, user],
        )
        orders_by_set = _ids(
            host, f"SELECT o.order_id FROM rm_orders o WHERE {INVOLVED_ORDERS}", [user, user]
        )
        assert orders_by_set == orders_by_rule, user
        found_some = found_some or bool(by_rule and orders_by_rule)
    assert found_some  # the demo gives someone cases and orders of their own


@pytest.mark.parametrize("sort", SORTS)
def test_each_sort_reads_the_same_rows_forwards_and_backwards(host: Services, sort: str) -> None:
    everyone = Scope()
    down = host.queries.search_cases(everyone, CaseFilter(), sort=sort, limit=200)
    up = host.queries.search_cases(everyone, CaseFilter(), sort=sort, descending=False, limit=200)
    assert sorted(r["case_id"] for r in down.items) == sorted(r["case_id"] for r in up.items)
    # Ties broken by case id, the same way up as down; empty keys last both ways.
    key = SORTS[sort].split(".")[1]
    values = [row[key] if key != "name" else row["site_name"] for row in up.items]
    present = [value for value in values if value is not None]
    assert values[: len(present)] == present == sorted(present)


@pytest.mark.parametrize("queue", QUEUES)
def test_each_queue_counts_exactly_under_the_cap(host: Services, queue: str) -> None:
    today = STORY_START.date() + timedelta(days=24)
    for user, role in (("zhangming", Role.SUPERVISOR), ("chenxiaofeng", Role.INSPECTOR)):
        for mine in (False, True):
            page = host.queries.queue(queue, scope_for(user, role, mine=mine), today=today)
            assert page.total_exact and page.total == len(page.items), (queue, user, mine)
