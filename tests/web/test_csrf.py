"""A state-changing request without the session's CSRF token, with another's, or
from another origin is refused, and nothing is recorded."""

from __future__ import annotations

import pytest

from application.demo import CHEN_XIAOFENG, ZHANG_MING
from tests.web.conftest import Console


@pytest.fixture
def acknowledge(console: Console) -> tuple[str, dict[str, str]]:
    """The inspector's acknowledge form of an issued demo order, as rendered."""
    order_id = next(
        o for o in console.demo.order_ids if console.rectify.get_order(o).status == "issued"
    )
    console.sign_in(CHEN_XIAOFENG)
    _, page = console.page(f"/ui/orders/{order_id}")
    action = f"/ui/orders/{order_id}/acknowledge"
    return action, console.fields(console.form(page, action))


def _refused(console: Console, action: str, data: dict[str, str], headers: dict[str, str]) -> None:
    before = console.position()
    response = console.client.post(action, data=data, headers=headers, follow_redirects=False)
    assert response.status_code == 403
    assert "表单已失效" in response.text
    assert console.position() == before


def test_a_missing_token_is_refused(console: Console, acknowledge: tuple) -> None:
    action, fields = acknowledge
    fields.pop("csrf_token")
    _refused(console, action, fields, {"Origin": "http://testserver"})


def test_a_wrong_token_is_refused(console: Console, acknowledge: tuple) -> None:
    action, fields = acknowledge
    fields["csrf_token"] = "x" * 43
    _refused(console, action, fields, {"Origin": "http://testserver"})


def test_another_sessions_token_is_refused(console: Console, acknowledge: tuple) -> None:
    action, fields = acknowledge
    other = console.another_browser()
    console.sign_in(ZHANG_MING, other)
    _, page = console.page("/", other)
    fields["csrf_token"] = console.fields(console.form(page, "/ui/signout"))["csrf_token"]
    _refused(console, action, fields, {"Origin": "http://testserver"})


def test_another_origin_is_refused(console: Console, acknowledge: tuple) -> None:
    action, fields = acknowledge
    _refused(console, action, fields, {"Origin": "https://evil.example"})
    _refused(console, action, fields, {"Referer": "https://evil.example/page"})
    _refused(console, action, fields, {})


def test_the_right_token_by_htmx_header_is_accepted(console: Console, acknowledge: tuple) -> None:
    action, fields = acknowledge
    token = fields.pop("csrf_token")
    before = console.position()
    response = console.client.post(
        action,
        data=fields,
        headers={"Origin": "http://testserver", "X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith(action.removesuffix("/acknowledge"))
    assert console.events_since(before) == ["RectificationOrder.Acknowledged"]


def test_every_form_carries_the_token(console: Console) -> None:
    console.sign_in(ZHANG_MING)
    for path in ("/", "/ui/sites", f"/ui/cases/{console.case_in('verified')}"):
        _, page = console.page(path)
        token = page.body["hx-headers"]
        for form in page.find_all("form", attrs={"method": "post"}):
            assert console.fields(form)["csrf_token"] in token, (path, form.get("action"))
