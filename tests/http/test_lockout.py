"""Wrong passwords in a row lock an account, at login and when signing alike.

Five in a row (``RECTIFY_LOGIN_MAX_FAILURES``) lock it for 15 minutes
(``RECTIFY_LOGIN_LOCK_MINUTES``): every password, the right one too, is then
429 ``account_locked`` with ``Retry-After``, and a signed command records
nothing. A right password clears the count; an operator can unlock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from application.errors import AccountLocked
from infrastructure.composition import create_user_store
from infrastructure.users import UserStore, lockout_policy
from interfaces.cli.main import app as cli
from tests.core.scenario import PASSWORDS, ZHANG_MING, Stage
from tests.http.conftest import FAST_HASHER, Api, problem


class Clock:
    """Epoch seconds that a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_650_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def users_clock(api: Api) -> Clock:
    clock = Clock()
    api.app.state.users.now = clock
    return clock


def log_in(api: Api, password: str, user_id: str = "taobiaoyin"):
    return api.client.post("/token", data={"username": user_id, "password": password})


def test_five_wrong_passwords_in_a_row_lock_the_account(api: Api, users_clock: Clock) -> None:
    for _ in range(4):
        problem(log_in(api, "wrong-password"), 401, "invalid_credentials")
    fifth = log_in(api, "wrong-password")
    body = problem(fifth, 429, "account_locked")
    assert fifth.headers["Retry-After"] == "900"
    assert "taobiaoyin" in body["detail"] and "rectify users unlock" in body["detail"]

    # Locked: the right password is refused too, and says how long is left.
    users_clock.now += 600
    locked = log_in(api, PASSWORDS["taobiaoyin"])
    problem(locked, 429, "account_locked")
    assert locked.headers["Retry-After"] == "300"

    users_clock.now += 300
    assert log_in(api, PASSWORDS["taobiaoyin"]).status_code == 200


def test_a_right_password_clears_the_count(api: Api, users_clock: Clock) -> None:
    for _ in range(4):
        problem(log_in(api, "wrong-password"), 401, "invalid_credentials")
    assert log_in(api, PASSWORDS["taobiaoyin"]).status_code == 200
    for _ in range(4):
        problem(log_in(api, "wrong-password"), 401, "invalid_credentials")
    assert log_in(api, PASSWORDS["taobiaoyin"]).status_code == 200


def test_a_user_id_nobody_has_is_counted_and_locked_like_a_real_one(
    api: Api, users_clock: Clock
) -> None:
    """Were an unknown id never locked, the sixth answer would tell it exists not."""

    def answers(user_id: str) -> list[tuple[int, str, str | None]]:
        responses = [log_in(api, "wrong-password", user_id=user_id) for _ in range(7)]
        return [(r.status_code, r.json()["rule"], r.headers.get("Retry-After")) for r in responses]

    assert answers("nobody") == answers("taobiaoyin")
    assert [status for status, _, _ in answers("nobody-either")] == [401] * 4 + [429] * 3


def test_one_locked_account_leaves_the_others_alone(api: Api, users_clock: Clock) -> None:
    for _ in range(5):
        log_in(api, "wrong-password")
    problem(log_in(api, PASSWORDS["taobiaoyin"]), 429, "account_locked")
    assert log_in(api, PASSWORDS["zhangming"], user_id="zhangming").status_code == 200


def test_wrong_signing_passwords_lock_the_signer_and_record_nothing(
    api: Api, users_clock: Clock
) -> None:
    case = api.sweep.arrange_case(Stage.VERIFIED)
    before = api.position()

    def close(password: str):
        return api.post(
            f"/cases/{case.hazard}/close",
            ZHANG_MING,
            {"reason": "复查合格，准予销号", "password": password},
            if_match=api.version(case.hazard),
        )

    for _ in range(4):
        problem(close("not-his-password"), 403, "signature_rejected")
    problem(close("not-his-password"), 429, "account_locked")
    locked = close(PASSWORDS["zhangming"])
    problem(locked, 429, "account_locked")
    assert int(locked.headers["Retry-After"]) == 900
    assert api.events_since(before) == []
    assert api.rectify.get_hazard(case.hazard).status == "verified"
    # The lock is on the account: logging in is refused as well.
    problem(log_in(api, PASSWORDS["zhangming"], user_id="zhangming"), 429, "account_locked")

    api.app.state.users.unlock("zhangming")
    assert close(PASSWORDS["zhangming"]).status_code == 200
    assert api.events_since(before) == ["Hazard.Closed"]


def test_the_lockout_is_documented_where_a_password_is_taken(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    assert "429" in paths["/token"]["post"]["responses"]
    assert "429" in paths["/cases/{case_id}/close"]["post"]["responses"]
    assert "429" in paths["/orders/{order_id}/extension-requests/grant"]["post"]["responses"]
    assert "429" not in paths["/cases/{case_id}/dismiss"]["post"]["responses"]


# -- the store on each backend, and its settings ---------------------------------


@pytest.fixture
def store(database_url: str) -> Iterator[tuple[UserStore, Clock]]:
    clock = Clock()
    users = create_user_store(database_url, hasher=FAST_HASHER)
    users.now = clock
    users.max_failures, users.lock_seconds = 3, 60
    users.add("chenxiaofeng", "陈小峰", "inspector", PASSWORDS["chenxiaofeng"])
    yield users, clock
    users.close()


def test_the_store_counts_locks_and_unlocks_on_each_backend(
    store: tuple[UserStore, Clock],
) -> None:
    users, clock = store
    right = PASSWORDS["chenxiaofeng"]
    assert users.authenticate("chenxiaofeng", "wrong-1") is None
    assert users.authenticate("chenxiaofeng", "wrong-2") is None
    with pytest.raises(AccountLocked) as locked:
        users.authenticate("chenxiaofeng", "wrong-3")
    assert locked.value.retry_after == 60
    with pytest.raises(AccountLocked):
        users.check_password("chenxiaofeng", right)

    users.unlock("chenxiaofeng")
    assert users.check_password("chenxiaofeng", right)

    # A new password lifts a lock too.
    for attempt in range(2):
        assert users.authenticate("chenxiaofeng", f"wrong-{attempt}") is None
    with pytest.raises(AccountLocked):
        users.authenticate("chenxiaofeng", "wrong-again")
    users.set_password("chenxiaofeng", "a-new-password")
    assert users.check_password("chenxiaofeng", "a-new-password")

    # The lock ends by itself, and the count starts afresh.
    for attempt in range(2):
        assert users.authenticate("chenxiaofeng", f"wrong-{attempt}") is None
    with pytest.raises(AccountLocked):
        users.authenticate("chenxiaofeng", "wrong-again")
    clock.now += 60
    assert users.authenticate("chenxiaofeng", "wrong-after") is None
    assert users.check_password("chenxiaofeng", "a-new-password")
    with pytest.raises(KeyError):
        users.unlock("nobody")


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"RECTIFY_LOGIN_MAX_FAILURES": "five"}, "whole number"),
        ({"RECTIFY_LOGIN_MAX_FAILURES": "0"}, "at least 1"),
        ({"RECTIFY_LOGIN_LOCK_MINUTES": "-1"}, "between 0"),
    ],
)
def test_a_malformed_lockout_setting_is_refused_with_its_name(environ: dict, says: str) -> None:
    with pytest.raises(ValueError, match=says) as refused:
        lockout_policy(environ)
    assert next(iter(environ)) in str(refused.value)


def test_the_settings_set_the_policy() -> None:
    assert lockout_policy({}) == {"max_failures": 5, "lock_seconds": 900.0}
    assert lockout_policy(
        {"RECTIFY_LOGIN_MAX_FAILURES": "3", "RECTIFY_LOGIN_LOCK_MINUTES": "0.5"}
    ) == {"max_failures": 3, "lock_seconds": 30.0}


def test_rectify_users_unlock_lifts_a_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rectify.sqlite3'}"
    users = create_user_store(url, hasher=FAST_HASHER)
    users.add("zhangming", "张铭", "supervisor", PASSWORDS["zhangming"])
    for _ in range(4):
        assert users.authenticate("zhangming", "wrong-password") is None
    with pytest.raises(AccountLocked):
        users.authenticate("zhangming", "wrong-password")
    users.close()

    runner = CliRunner()
    result = runner.invoke(cli, ["users", "unlock", "zhangming", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "Unlocked zhangming." in result.output
    unknown = runner.invoke(cli, ["users", "unlock", "nobody", "--database-url", url])
    assert unknown.exit_code == 1
    assert "no user 'nobody'" in unknown.output

    users = create_user_store(url, hasher=FAST_HASHER)
    assert users.check_password("zhangming", PASSWORDS["zhangming"])
    users.close()
