"""Reminders in the console: a person sees their unread reminders on their work
list, marks one read, and cannot mark another person's."""

from __future__ import annotations

from application.demo import CHEN_XIAOFENG, TAO_BIAOYIN
from tests.web.conftest import Console


def _remind(console: Console) -> None:
    # The reminder job the follower host runs every minute, run once now, once
    # the read model has every demo event: the demo's still-open 2022 orders
    # are overdue under today's date, so their issuer, 陈小峰, is reminded.
    console.app.state.read_models.wait_for(console.position(), names=("cases",), timeout=10)
    console.app.state.services.integration.send_reminders()


def test_an_inspector_sees_their_reminders_and_marks_one_read(console: Console) -> None:
    _remind(console)
    book = console.app.state.services.integration.notifications
    mine = book.for_user(CHEN_XIAOFENG.user_id, unread_only=True)
    assert mine, "the demo leaves an overdue order 陈小峰 issued"
    console.sign_in(CHEN_XIAOFENG)
    _, page = console.page("/")
    shown = page.select("#reminder-list li")
    assert len(shown) == len(mine)
    assert mine[0].text_zh in shown[0].get_text()
    response = console.send(page, f"/ui/notifications/{mine[0].notification_id}/read")
    assert response.status_code == 303
    assert book.unread_count(CHEN_XIAOFENG.user_id) == len(mine) - 1
    _, page = console.page("/")
    assert len(page.select("#reminder-list li")) == len(mine) - 1


def test_nobody_marks_another_persons_reminder(console: Console) -> None:
    _remind(console)
    book = console.app.state.services.integration.notifications
    theirs = book.for_user(CHEN_XIAOFENG.user_id, unread_only=True)[0]
    console.sign_in(CHEN_XIAOFENG)
    _, page = console.page("/")
    form = console.fields(console.form(page, f"/ui/notifications/{theirs.notification_id}/read"))
    console.sign_in(TAO_BIAOYIN)
    _, own_page = console.page("/")
    token = own_page.select_one("input[name=csrf_token]")
    assert token is not None
    unread_before = book.unread_count(CHEN_XIAOFENG.user_id)
    response = console.client.post(
        f"/ui/notifications/{theirs.notification_id}/read",
        data={**form, "csrf_token": str(token["value"])},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert book.unread_count(CHEN_XIAOFENG.user_id) == unread_before
    assert theirs.notification_id in {
        n.notification_id for n in book.for_user(CHEN_XIAOFENG.user_id, unread_only=True)
    }
