"""``rectify demo``: the 2022 安义 sweep in every state, loaded once however often it runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from uuid import UUID

import pytest
from typer.testing import CliRunner

import application.demo as demo_module
from application.app import RectifyApp
from application.demo import (
    DEMO_USERS,
    STORY_START,
    DemoDataset,
    find_dataset,
    load_demo,
    summarise,
)
from domain.hazard import HazardStatus
from domain.order import OrderStatus
from domain.values import Role, SignatureMeaning
from infrastructure.clock import ManualClock
from infrastructure.composition import (
    build_app,
    create_user_store,
    evidence_store_for,
    side_database_for,
)
from infrastructure.persistence import environment_for
from interfaces.cli.main import app as cli
from tests.backends import POPO_URL

runner = CliRunner()


def event_count(app: RectifyApp) -> int:
    return len(app.recorder.select_notifications(start=1, limit=100_000))


def all_topics(app: RectifyApp) -> list[str]:
    return [n.topic for n in app.recorder.select_notifications(start=1, limit=100_000)]


@pytest.fixture
def loaded(database_url: str) -> Iterator[RectifyApp]:
    """An application with the demo loaded, once per backend."""
    app = build_app(database_url)
    load_demo(app, ManualClock(STORY_START))
    yield app
    app.close()


def dataset_of(app: RectifyApp) -> DemoDataset:
    dataset = find_dataset(app)
    assert dataset is not None
    return dataset


def test_demo_twice_leaves_the_same_number_of_events(sqlite_url: str) -> None:
    first = runner.invoke(cli, ["demo", "--database-url", sqlite_url])
    assert first.exit_code == 0, first.output
    assert "Loaded the demo data" in first.stdout
    app = build_app(sqlite_url)
    after_first = event_count(app)
    app.close()

    second = runner.invoke(cli, ["demo", "--database-url", sqlite_url])

    assert second.exit_code == 0, second.output
    assert "already loaded" in second.stdout
    app = build_app(sqlite_url)
    assert event_count(app) == after_first
    assert all_topics(app).count("application.demo:DemoDataset.Loaded") == 1
    app.close()
    users = create_user_store(sqlite_url)
    assert [u.user_id for u in users.list()] == sorted(u.user_id for u in DEMO_USERS)
    users.close()


def test_demo_loads_once_per_store_on_every_backend(database_url: str) -> None:
    app = build_app(database_url)
    first = load_demo(app, ManualClock(STORY_START))
    count = event_count(app)

    second = load_demo(app, ManualClock(STORY_START))

    assert first.loaded_now and not second.loaded_now
    assert event_count(app) == count == first.events
    app.close()


def test_demo_has_hazards_and_orders_in_every_state(loaded: RectifyApp) -> None:
    dataset = dataset_of(loaded)
    hazards = [loaded.get_hazard(i) for i in dataset.hazard_ids]
    orders = [loaded.get_order(i) for i in dataset.order_ids]

    assert {h.status for h in hazards} == set(HazardStatus)
    assert {o.status for o in orders} == set(OrderStatus)
    assert any(h.fixed_on_spot for h in hazards), "an on-the-spot fix (即查即改)"
    assert any(h.severity == "major" and o.five_point_plan for h, o in _pairs(loaded, orders))
    summary = summarise(loaded)
    assert summary.sites == 6
    assert summary.inspections == {"open": 1, "completed": 7, "cancelled": 0}


def test_demo_has_one_failed_verification_one_overdue_order_one_extension(
    loaded: RectifyApp,
) -> None:
    dataset = dataset_of(loaded)
    verifications = [loaded.get_verification(i) for i in dataset.verification_ids]
    orders = [loaded.get_order(i) for i in dataset.order_ids]

    assert [v.passed for v in verifications].count(False) == 1
    failed_order = next(o for o in orders if o.attempt == 2)
    assert failed_order.party.user_id == "taobiaoyin"

    overdue = [o for o in orders if o.is_overdue]
    assert len(overdue) == 1
    overdue_events = [type(e).__name__ for e in loaded.events.get(overdue[0].id)]
    assert "BecameOverdue" in overdue_events
    assert overdue[0].deadline == date(2022, 4, 25)

    granted = [
        e for o in orders for e in loaded.events.get(o.id) if type(e).__name__ == "ExtensionGranted"
    ]
    assert len(granted) == 1
    assert granted[0].signature.meaning == SignatureMeaning.EXTENSION_GRANTED
    assert granted[0].signature.signer_name == "于建明"
    assert granted[0].new_deadline == date(2022, 5, 20)


def test_demo_closed_case_is_signed_by_a_supervisor(loaded: RectifyApp) -> None:
    dataset = dataset_of(loaded)
    closed = [h for h in (loaded.get_hazard(i) for i in dataset.hazard_ids) if h.status == "closed"]
    assert len(closed) == 1
    closing = next(e for e in loaded.events.get(closed[0].id) if type(e).__name__ == "Closed")
    assert closing.signature.signer_name == "张铭"
    assert closing.signature.meaning == SignatureMeaning.CLOSED_AS_RECTIFIED
    assert closing.actor.role == Role.SUPERVISOR


def test_demo_events_carry_the_dates_of_april_and_may_2022(loaded: RectifyApp) -> None:
    dataset = dataset_of(loaded)
    story = [
        e
        for n in loaded.recorder.select_notifications(start=1, limit=100_000)
        if (e := loaded.mapper.to_domain_event(n)).originator_id != dataset.id
    ]
    assert len(story) == dataset.story_events
    assert min(e.timestamp for e in story) == STORY_START
    assert max(e.timestamp for e in story) < datetime(2022, 5, 7, tzinfo=STORY_START.tzinfo)
    stamps = [e.timestamp for e in story]
    assert stamps == sorted(stamps), "the log tells the story in the order it happened"
    # Every event but the system's own names a person of the story.
    people = {u.user_id for u in DEMO_USERS} | {"system"}
    assert {e.actor.user_id for e in story if hasattr(e, "actor")} <= people


def test_demo_orders_of_tao_biaoyin_link_to_his_account(loaded: RectifyApp) -> None:
    dataset = dataset_of(loaded)
    orders = [loaded.get_order(i) for i in dataset.order_ids]
    linked = [o for o in orders if o.party.user_id == "taobiaoyin"]
    assert len(linked) == 2
    assert all(o.party.name == "陶表印" for o in linked)
    assert all(o.party.user_id is None for o in orders if o.party.name != "陶表印")


def test_a_demo_load_killed_midway_writes_nothing_and_a_retry_loads_once(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build_app(sqlite_url)

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(RectifyApp, "grant_extension", killed)
        with pytest.raises(KeyboardInterrupt):
            load_demo(app, ManualClock(STORY_START))
    assert event_count(app) == 0
    assert find_dataset(app) is None

    summary = load_demo(app, ManualClock(STORY_START))

    assert summary.loaded_now
    assert event_count(app) == summary.events
    app.close()


def test_two_demo_loads_racing_commit_once(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = build_app(sqlite_url), build_app(sqlite_url)
    real_find = demo_module.find_dataset
    looks: list[UUID] = []

    def stale_first_look(app: RectifyApp) -> DemoDataset | None:
        # The second loader looks before the first commits, then loses the race.
        if app is second and not looks:
            looks.append(DemoDataset.id_for(demo_module.DATASET_NAME))
            return None
        return real_find(app)

    load_demo(first, ManualClock(STORY_START))
    count = event_count(first)
    monkeypatch.setattr(demo_module, "find_dataset", stale_first_look)

    summary = load_demo(second, ManualClock(STORY_START))

    assert looks, "the second loader did not run the story"
    assert not summary.loaded_now
    assert event_count(second) == count
    first.close()
    second.close()


def test_demo_prints_a_summary_and_a_login_per_role(sqlite_url: str) -> None:
    result = runner.invoke(cli, ["demo"], env={"RECTIFY_DATABASE_URL": sqlite_url})

    assert result.exit_code == 0, result.output
    out = result.stdout
    for state in [*HazardStatus, *OrderStatus]:
        assert f"{state} 1" in out or f"{state} 2" in out or f"{state} 3" in out, state
    for user in DEMO_USERS:
        assert f"{user.user_id}" in out and user.password in out
    assert {u.role for u in DEMO_USERS} == {
        Role.SUPERVISOR,
        Role.INSPECTOR,
        Role.RESPONSIBLE_PARTY,
        Role.AUDITOR,
    }


def test_demo_keeps_a_changed_demo_password_and_does_not_print_the_old_one(
    sqlite_url: str,
) -> None:
    assert runner.invoke(cli, ["demo", "--database-url", sqlite_url]).exit_code == 0
    users = create_user_store(sqlite_url)
    users.set_password("zhangming", "a new secret of his own")
    users.close()

    result = runner.invoke(cli, ["demo", "--database-url", sqlite_url])

    assert result.exit_code == 0, result.output
    assert "zhangming-demo" not in result.stdout
    assert "changed since" in result.stdout
    users = create_user_store(sqlite_url)
    assert users.check_password("zhangming", "a new secret of his own")
    users.close()


def test_demo_refuses_a_bad_database_url_with_a_usage_error() -> None:
    result = runner.invoke(cli, ["demo", "--database-url", "mysql://db/rectify"])

    assert result.exit_code == 2
    assert "Unsupported database URL" in result.output


def test_demo_on_the_in_memory_store_warns_that_nothing_is_kept() -> None:
    result = runner.invoke(cli, ["demo", "--database-url", POPO_URL])

    assert result.exit_code == 0, result.output
    assert "keeps nothing" in result.stderr


def _pairs(app: RectifyApp, orders: list) -> list:
    return [(app.get_hazard(o.hazard_id), o) for o in orders]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_every_evidence_file_the_demo_cites_can_be_fetched(
    request: pytest.FixtureRequest, backend: str
) -> None:
    url = request.getfixturevalue(f"{backend}_url")
    for _ in range(2):  # loading twice stores each file once, and still finds them
        result = runner.invoke(cli, ["demo", "--database-url", url])
        assert result.exit_code == 0, result.output

    app = build_app(url)
    try:
        cited = {
            item.sha256: item
            for notification in app.recorder.select_notifications(start=1, limit=100_000)
            for item in getattr(app.mapper.to_domain_event(notification), "evidence", None) or ()
        }
        side = side_database_for(environment_for(url))
        store = evidence_store_for(app.env, side)
        try:
            assert len(cited) == len(demo_module.DEMO_EVIDENCE) == 4
            for sha256, item in cited.items():
                stored = store.get(sha256)
                assert stored is not None, f"{item.name} is cited but not stored"
                assert len(stored.data) == item.size
                assert stored.data.decode("utf-8") == demo_module.DEMO_EVIDENCE[item.name]
        finally:
            store.close()
            if side is not None:
                side.close()
    finally:
        app.close()
