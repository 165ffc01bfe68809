"""The console's newest-first work queues hold the same rows as the read models' queues."""

from __future__ import annotations

import pytest

from application.demo import STORY_START, load_demo
from application.projections.access import scope_for
from domain.values import Role
from infrastructure.bootstrap import build_app
from infrastructure.clock import ManualClock
from infrastructure.composition import Services
from infrastructure.readmodels.queries import QUEUES, CaseFilter
from infrastructure.readmodels.work_lists import WorkLists

READERS = [
    ("zhangming", Role.SUPERVISOR, False),
    ("chenxiaofeng", Role.INSPECTOR, True),
    ("yujianming", Role.SUPERVISOR, True),
    ("taobiaoyin", Role.RESPONSIBLE_PARTY, False),
    ("auditor", Role.AUDITOR, False),
]


@pytest.fixture
def host(database_url: str):  # type: ignore[no-untyped-def]
    app = build_app(database_url)
    load_demo(app, ManualClock(STORY_START))
    services = Services.around(app)
    with services.followers(["cases"], run=True) as running:
        running.wait_for(app.recorder.max_notification_id() or 0, ["cases"], timeout=30)
        yield services
    services.close()
    app.close()


def _ids(rows: list[dict], key: str) -> list[str]:
    return [str(row[key]) for row in rows]


@pytest.mark.parametrize("queue", QUEUES)
def test_each_queue_holds_the_same_rows_newest_first(host, queue: str) -> None:  # type: ignore[no-untyped-def]
    lists = WorkLists(host.read_models)
    today = STORY_START.date().replace(day=25)
    key = {"open-inspections": "inspection_id"}.get(queue) or (
        "order_id" if queue.startswith(("orders", "pending")) else "case_id"
    )
    for user_id, role, mine in READERS:
        scope = scope_for(user_id, role, mine=mine)
        expected = host.queries.queue(queue, scope, today=today, limit=200)
        found = lists.queue(queue, scope, today=today, limit=200)
        assert found.total == expected.total, (queue, user_id)
        assert sorted(_ids(found.items, key)) == sorted(_ids(expected.items, key)), (queue, user_id)
        assert set(found.items[0]) >= set(expected.items[0]) if found.items else True


def test_the_cases_a_reader_may_see_are_the_searchs(host) -> None:  # type: ignore[no-untyped-def]
    lists = WorkLists(host.read_models)
    for user_id, role, _ in READERS:
        scope = scope_for(user_id, role)
        expected = host.queries.search_cases(scope, CaseFilter(), limit=200)
        found = lists.cases(scope, limit=200)
        assert found.total == expected.total
        assert sorted(_ids(found.items, "case_id")) == sorted(_ids(expected.items, "case_id"))
        reported = [row["reported_at"] for row in found.items]
        assert reported == sorted(reported, reverse=True)


SEARCHES = [
    CaseFilter(),
    CaseFilter(severity="major"),
    CaseFilter(statuses=("rectifying", "closed")),
    CaseFilter(region="江西省南昌市安义县"),
    CaseFilter(party="陶表印"),
    CaseFilter(party="taobiaoyin", severity="general"),
    CaseFilter(reported_from=STORY_START.date(), reported_to=STORY_START.date()),
]


@pytest.mark.parametrize("filters", SEARCHES)
def test_the_search_finds_the_same_cases(host, filters: CaseFilter) -> None:  # type: ignore[no-untyped-def]
    lists = WorkLists(host.read_models)
    for user_id, role, mine in READERS:
        scope = scope_for(user_id, role, mine=mine)
        expected = host.queries.search_cases(scope, filters, limit=200)
        found = lists.search(scope, filters, limit=200)
        assert found.total == expected.total, (filters, user_id)
        assert sorted(_ids(found.items, "case_id")) == sorted(_ids(expected.items, "case_id"))
    paged = lists.search(scope_for("auditor", Role.AUDITOR), filters, limit=2, offset=1)
    assert len(paged.items) <= 2


def test_the_sites_are_the_read_models_with_their_counts(host) -> None:  # type: ignore[no-untyped-def]
    lists = WorkLists(host.read_models)
    for name in (None, "陶表印", "安义", "%"):
        expected = host.queries.sites(name=name, limit=200)
        found = lists.sites(name=name, limit=200)
        assert found.items == expected.items
        assert found.total == expected.total
