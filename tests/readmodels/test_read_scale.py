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
    BadCursor,
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


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("descending", [True, False])
def test_cursor_paging_visits_every_case_once_in_the_searchs_order(
    host: Services, sort: str, descending: bool
) -> None:
    everyone = Scope()
    whole = host.queries.search_cases(everyone, CaseFilter(), sort=sort, descending=descending)
    seen: list[str] = []
    cursor = None
    for _ in range(len(whole.items) + 1):
        page = host.queries.search_cases(
            everyone, CaseFilter(), sort=sort, descending=descending, limit=2, cursor=cursor
        )
        seen += [row["case_id"] for row in page.items]
        assert page.total == whole.total
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [row["case_id"] for row in whole.items]


def test_cursor_paging_across_new_cases_misses_and_repeats_none(host: Services) -> None:
    """Cases reported while someone pages through (newest first) come before the
    cursor: the pages still hold every case that was there, each once."""
    everyone = Scope()
    before = host.queries.search_cases(everyone, CaseFilter(), limit=200)
    first = host.queries.search_cases(everyone, CaseFilter(), limit=2)
    newest = before.items[0]
    with host.read_models.datastore.transaction(commit=True) as cursor:
        for n in range(3):
            cursor.execute(
                host.queries._q(
                    "INSERT INTO rm_cases (case_id, site_id, inspection_id, item_code, category, "
                    "description, location, severity, status, fixed_on_spot, reported_at, "
                    "reported_on, last_activity_at) VALUES (?, ?, ?, 'X', 'x', 'x', 'x', "
                    "'general', 'reported', 0, ?, ?, ?)"
                ),
                [
                    f"ffffffff-0000-4000-8000-00000000000{n}",
                    newest["site_id"],
                    newest["inspection_id"],
                    "2099-01-01T00:00:00.000000Z",
                    "2099-01-01",
                    "2099-01-01T00:00:00.000000Z",
                ],
            )
    seen = [row["case_id"] for row in first.items]
    cursor_token = first.next_cursor
    while cursor_token is not None:
        page = host.queries.search_cases(everyone, CaseFilter(), limit=2, cursor=cursor_token)
        seen += [row["case_id"] for row in page.items]
        cursor_token = page.next_cursor
    assert seen == [row["case_id"] for row in before.items]
    assert len(set(seen)) == len(seen)


@pytest.mark.parametrize(
    "token",
    ["not-a-cursor", "e30", "W10", "WyJzaXRlIiwgdHJ1ZSwgMSwgMl0", "!!!"],
)
def test_a_bad_cursor_is_refused_with_what_is_wrong(host: Services, token: str) -> None:
    with pytest.raises(BadCursor):
        host.queries.search_cases(Scope(), CaseFilter(), cursor=token)


def test_a_cursor_of_another_order_is_refused(host: Services) -> None:
    page = host.queries.search_cases(Scope(), CaseFilter(), limit=1)
    assert page.next_cursor is not None
    with pytest.raises(BadCursor, match="another order"):
        host.queries.search_cases(Scope(), CaseFilter(), descending=False, cursor=page.next_cursor)
