"""Reminders: due within 3 days and overdue orders notify their party and issuer,
an overdue major hazard the supervisors too; once per order per deadline, even
with two hosts; a granted extension gives one new reminder. Kept per user at
GET /notifications, and sent as webhook events."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from application.app import RectifyApp
from application.integration.reminders import DUE_SOON, OVERDUE, OpenOrder, reminders_for
from domain.values import Severity
from infrastructure.clock import ManualClock
from infrastructure.composition import Services
from infrastructure.integration.services import Integration
from infrastructure.projections.runner import ProjectionRunner
from infrastructure.readmodels.store import ReadModelStore
from tests.core.scenario import (
    CHEN_XIAOFENG,
    TAO_BIAOYIN,
    YU_JIANMING,
    ZHANG_MING,
    Stage,
    Sweep,
    password_of,
)
from tests.integration.conftest import catch_up_outbox
from tests.integration.receiver import Receiver

HOSTS = 2


def an_order(**changes: object) -> OpenOrder:
    fields: dict[str, object] = {
        "order_id": uuid4(),
        "case_id": uuid4(),
        "number": "2022-0001",
        "deadline": date(2022, 4, 25),
        "severity": "general",
        "overdue": False,
        "issued_by": "chenxiaofeng",
        "party_user_id": "taobiaoyin",
    }
    fields.update(changes)
    return OpenOrder(**fields)  # type: ignore[arg-type]


def test_who_is_reminded_of_what() -> None:
    today = date(2022, 4, 22)
    supervisors = ["yujianming", "zhangming"]
    due = an_order(deadline=date(2022, 4, 25))
    later = an_order(deadline=date(2022, 4, 26))
    overdue = an_order(deadline=date(2022, 4, 20), overdue=True)
    major = an_order(deadline=date(2022, 4, 20), overdue=True, severity="major")
    no_account = an_order(deadline=date(2022, 4, 23), party_user_id=None)
    reminders = reminders_for(
        [due, later, overdue, major, no_account], today=today, supervisors=supervisors
    )
    assert [(r.order, r.kind, r.recipients) for r in reminders] == [
        (due, DUE_SOON, ("taobiaoyin", "chenxiaofeng")),
        (overdue, OVERDUE, ("taobiaoyin", "chenxiaofeng")),
        (major, OVERDUE, ("taobiaoyin", "chenxiaofeng", "yujianming", "zhangming")),
        (no_account, DUE_SOON, ("chenxiaofeng",)),
    ]
    assert reminders[0].key == f"{due.order_id}/2022-04-25/due_soon"
    assert "2022-04-25" in reminders[0].text(today)[0]


def catch_up_cases(app: RectifyApp, store: ReadModelStore) -> None:
    ProjectionRunner(app, store.projection("cases")).catch_up()


@pytest.fixture
def hosts(url: str, clock: ManualClock, settings: dict[str, str]) -> Iterator[list[Integration]]:
    """Two more sets of services on the same database, each with its own
    connections, as two processes running the reminder job would be."""
    opened = [Services.open(url, clock=clock, settings=settings) for _ in range(HOSTS)]
    yield [services.integration for services in opened]
    for services in opened:
        services.close()


def run_together(hosts: list[Integration], rounds: int = 3) -> None:
    barrier = threading.Barrier(len(hosts))
    errors: list[BaseException] = []

    def run(host: Integration) -> None:
        try:
            for _ in range(rounds):
                barrier.wait()
                host.send_reminders()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(h,)) for h in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def notifications_of(integration: Integration, user_id: str) -> list[tuple[str, str, str]]:
    return [(n.kind, n.number, n.deadline) for n in integration.notifications.for_user(user_id)]


def test_one_reminder_per_order_per_deadline_with_two_hosts_and_one_more_after_an_extension(
    app: RectifyApp,
    sweep: Sweep,
    clock: ManualClock,
    read_models: ReadModelStore,
    integration: Integration,
    hosts: list[Integration],
) -> None:
    case = sweep.arrange_case(Stage.ORDER_ISSUED)
    order = app.get_order(case.order)
    catch_up_cases(app, read_models)
    run_together(hosts)
    assert notifications_of(integration, TAO_BIAOYIN.user_id) == []  # due in 7 days

    clock.advance(days=5)  # due in 2 days
    catch_up_cases(app, read_models)
    run_together(hosts)
    first = [(DUE_SOON, order.number, order.deadline.isoformat())]
    assert notifications_of(integration, TAO_BIAOYIN.user_id) == first
    assert notifications_of(integration, CHEN_XIAOFENG.user_id) == first
    assert notifications_of(integration, ZHANG_MING.user_id) == []

    new_deadline = order.deadline + timedelta(days=5)
    sweep.request_extension(case.order, new_deadline)
    app.grant_extension(
        ZHANG_MING,
        case.order,
        reason="检测点排队，准予延期",
        password=password_of(ZHANG_MING),
        expected_version=sweep.version(case.order),
    )
    catch_up_cases(app, read_models)
    run_together(hosts)
    assert notifications_of(integration, TAO_BIAOYIN.user_id) == first  # 7 days again

    clock.advance(days=4)  # the new deadline in 3 days
    catch_up_cases(app, read_models)
    run_together(hosts)
    assert notifications_of(integration, TAO_BIAOYIN.user_id) == [
        *first,
        (DUE_SOON, order.number, new_deadline.isoformat()),
    ]


def test_an_overdue_major_hazard_notifies_party_issuer_and_supervisors_once(
    app: RectifyApp,
    sweep: Sweep,
    clock: ManualClock,
    read_models: ReadModelStore,
    integration: Integration,
    hosts: list[Integration],
) -> None:
    case = sweep.arrange_case(Stage.ACKNOWLEDGED, severity=Severity.MAJOR)
    order = app.get_order(case.order)
    clock.advance(days=31)
    app.mark_overdue()
    catch_up_cases(app, read_models)
    run_together(hosts)
    overdue = [(OVERDUE, order.number, order.deadline.isoformat())]
    for person in (TAO_BIAOYIN, CHEN_XIAOFENG, ZHANG_MING, YU_JIANMING):
        assert notifications_of(integration, person.user_id) == overdue, person
    [text] = [n.text_zh for n in integration.notifications.for_user(ZHANG_MING.user_id)]
    assert "重大隐患" in text and "逾期" in text


def test_a_person_reads_their_notifications_and_marks_them_read(
    app: RectifyApp,
    sweep: Sweep,
    clock: ManualClock,
    read_models: ReadModelStore,
    integration: Integration,
    client: TestClient,
) -> None:
    sweep.arrange_case(Stage.ORDER_ISSUED)
    clock.advance(days=6)
    catch_up_cases(app, read_models)
    [reminder] = integration.send_reminders()
    assert reminder.kind == DUE_SOON

    def as_user(user_id: str) -> dict[str, str]:
        token = client.app.state.auth.tokens.issue(user_id).access_token  # type: ignore[attr-defined]
        return {"Authorization": f"Bearer {token}"}

    mine = client.get("/notifications", headers=as_user(TAO_BIAOYIN.user_id)).json()
    assert mine["unread"] == 1
    [item] = mine["items"]
    assert item["kind"] == DUE_SOON and item["read_at"] is None
    # Someone else's notification is not theirs to mark.
    other = client.post(
        f"/notifications/{item['notification_id']}/read", headers=as_user(ZHANG_MING.user_id)
    )
    assert other.status_code == 404
    read = client.post(
        f"/notifications/{item['notification_id']}/read", headers=as_user(TAO_BIAOYIN.user_id)
    )
    assert read.status_code == 200 and read.json()["read_at"] is not None
    after = client.get(
        "/notifications", params={"unread": True}, headers=as_user(TAO_BIAOYIN.user_id)
    ).json()
    assert after == {"items": [], "unread": 0}
    assert client.get("/notifications", headers=as_user(ZHANG_MING.user_id)).json()["items"] == []


def test_reminders_go_out_as_signed_webhook_events(
    app: RectifyApp,
    sweep: Sweep,
    clock: ManualClock,
    read_models: ReadModelStore,
    integration: Integration,
    receiver: Receiver,
) -> None:
    subscription = integration.webhooks.subscribe(
        receiver.url, ["Reminder.DueSoon", "Reminder.Overdue"], created_by="zhangming"
    )
    receiver.secret = subscription.secret
    case = sweep.arrange_case(Stage.ORDER_ISSUED)
    clock.advance(days=6)
    catch_up_cases(app, read_models)
    integration.send_reminders()
    integration.send_reminders()
    catch_up_outbox(integration)
    integration.deliver_due()
    [arrival] = receiver.arrivals
    assert arrival.verified
    assert arrival.body["type"] == "Reminder.DueSoon"
    data = arrival.body["data"]["data"]
    assert data["order_id"] == str(case.order) and data["kind"] == DUE_SOON
    assert data["recipients"] == [TAO_BIAOYIN.user_id, CHEN_XIAOFENG.user_id]
