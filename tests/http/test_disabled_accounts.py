"""A disabled account is kept — the log names it — but logs nobody in.

It cannot get a token (the same 401 as a wrong password), a token it was given
before is refused from the next request on, and it cannot sign. Enabling it
again restores all of that. A new password, likewise, ends every token issued
before it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.composition import create_user_store
from infrastructure.users import UserStore
from tests.core.scenario import CHEN_XIAOFENG, PASSWORDS, YU_JIANMING, ZHANG_MING, Stage
from tests.http.conftest import FAST_HASHER, Api, problem


def test_a_disabled_account_cannot_log_in_use_its_token_or_sign(api: Api) -> None:
    case = api.sweep.arrange_case(Stage.VERIFIED)
    token = api.headers(ZHANG_MING)
    assert api.client.get("/users/me", headers=token).status_code == 200

    api.app.state.users.set_active("zhangming", False)

    login = api.client.post(
        "/token", data={"username": "zhangming", "password": PASSWORDS["zhangming"]}
    )
    body = problem(login, 401, "invalid_credentials")
    assert body["detail"] == "the user id or password is wrong"
    refused = problem(api.client.get("/users/me", headers=token), 401)
    assert "disabled" in refused["detail"]

    # Another supervisor cannot sign with the disabled one's password either.
    before = api.position()
    signed_as_other = api.post(
        f"/cases/{case.hazard}/close",
        YU_JIANMING,
        {"reason": "复查合格，准予销号", "password": PASSWORDS["zhangming"]},
        if_match=api.version(case.hazard),
    )
    problem(signed_as_other, 403, "signature_rejected")
    assert api.events_since(before) == []
    # The log still names him: the account is kept.
    assert api.app.state.users.get("zhangming").name == "张铭"

    api.app.state.users.set_active("zhangming", True)
    assert api.client.get("/users/me", headers=token).status_code == 200
    closed = api.post(
        f"/cases/{case.hazard}/close",
        ZHANG_MING,
        {"reason": "复查合格，准予销号", "password": PASSWORDS["zhangming"]},
        if_match=api.version(case.hazard),
    )
    assert closed.status_code == 200, closed.text
    assert api.events_since(before) == ["Hazard.Closed"]


@pytest.fixture
def store(database_url: str) -> Iterator[UserStore]:
    users = create_user_store(database_url, hasher=FAST_HASHER)
    users.add("chenxiaofeng", "陈小峰", "inspector", PASSWORDS["chenxiaofeng"])
    yield users
    users.close()


def test_disabling_is_kept_by_the_store_on_each_backend(store: UserStore) -> None:
    right = PASSWORDS["chenxiaofeng"]
    assert store.set_active("chenxiaofeng", False).active is False
    assert store.get("chenxiaofeng").active is False
    assert [u.active for u in store.list()] == [False]
    assert store.authenticate("chenxiaofeng", right) is None
    assert store.check_password("chenxiaofeng", right) is False
    # Disabling twice keeps it disabled; enabling restores the same password.
    store.set_active("chenxiaofeng", False)
    assert store.set_active("chenxiaofeng", True).active is True
    assert store.check_password("chenxiaofeng", right) is True
    with pytest.raises(KeyError):
        store.set_active("nobody", False)


def test_a_users_table_from_before_disabling_gets_its_column(tmp_path: Path) -> None:
    """A database made by the previous version has no ``disabled_at``; opening
    it adds the column and keeps its accounts, all active."""
    path = tmp_path / "rectify.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE rectify_users (user_id TEXT PRIMARY KEY, name TEXT NOT NULL,"
            " role TEXT NOT NULL, party_name TEXT, password_hash TEXT NOT NULL,"
            " created_at REAL NOT NULL)"
        )
        connection.execute(
            "INSERT INTO rectify_users VALUES (?, ?, ?, NULL, ?, 0)",
            ("zhangming", "张铭", "supervisor", FAST_HASHER.hash(PASSWORDS["zhangming"])),
        )
    connection.close()

    users = create_user_store(f"sqlite:///{path}", hasher=FAST_HASHER)
    try:
        user = users.authenticate("zhangming", PASSWORDS["zhangming"])
        assert user is not None and user.active
        users.set_active("zhangming", False)
        assert users.get("zhangming").active is False
    finally:
        users.close()


def test_a_new_password_ends_the_tokens_issued_before_it(api: Api) -> None:
    """Changing a password signs its user out everywhere: a token from before
    is 401, a login with the new password works at once."""
    old_token = api.headers(ZHANG_MING)
    other = api.headers(YU_JIANMING)
    assert api.client.get("/users/me", headers=old_token).status_code == 200

    api.app.state.users.set_password("zhangming", "a-brand-new-password")

    refused = problem(api.client.get("/users/me", headers=old_token), 401)
    assert "password was changed" in refused["detail"]
    login = api.client.post(
        "/token", data={"username": "zhangming", "password": "a-brand-new-password"}
    )
    assert login.status_code == 200, login.text
    fresh = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert api.client.get("/users/me", headers=fresh).json()["user_id"] == "zhangming"
    # Nobody else is signed out.
    assert api.client.get("/users/me", headers=other).status_code == 200


def test_the_store_keeps_when_a_password_was_changed_on_each_backend(store: UserStore) -> None:
    assert store.get("chenxiaofeng").password_changed_at is None
    store.now = lambda: 1_650_000_000.25
    store.set_password("chenxiaofeng", "another-password")
    assert store.get("chenxiaofeng").password_changed_at == 1_650_000_000.25
    # Logging in does not count as a change, even when the hash is renewed.
    assert store.authenticate("chenxiaofeng", "another-password") is not None
    assert store.get("chenxiaofeng").password_changed_at == 1_650_000_000.25


def test_a_role_change_takes_effect_on_the_next_request(api: Api) -> None:
    """The token names only the user: promoted, 陈小峰 may close at once with the
    token he already holds; the events recorded before keep his old role."""
    case = api.sweep.arrange_case(Stage.VERIFIED)
    token_holder = CHEN_XIAOFENG
    close = {"reason": "复查合格，准予销号", "password": PASSWORDS["chenxiaofeng"]}
    refused = api.post(
        f"/cases/{case.hazard}/close", token_holder, close, if_match=api.version(case.hazard)
    )
    problem(refused, 403)

    api.app.state.users.set_role("chenxiaofeng", "supervisor")
    before = api.position()
    closed = api.post(
        f"/cases/{case.hazard}/close", token_holder, close, if_match=api.version(case.hazard)
    )
    assert closed.status_code == 200, closed.text
    [event] = api.sweep.events_since(before)
    assert event.actor.role == "supervisor"
    verified = api.rectify.get_hazard(case.hazard)
    assert verified.status == "closed"
    roles = {
        e.actor.role
        for e in api.sweep.events_since(0)
        if getattr(e, "actor", None) and e.actor.user_id == "chenxiaofeng"
    }
    assert roles == {"inspector", "supervisor"}


def test_the_store_changes_roles_on_each_backend(store: UserStore) -> None:
    promoted = store.set_role("chenxiaofeng", "supervisor")
    assert (promoted.role, promoted.party_name) == ("supervisor", None)
    as_party = store.set_role("chenxiaofeng", "responsible_party")
    assert (as_party.role, as_party.party_name) == ("responsible_party", "陈小峰")
    named = store.set_role("chenxiaofeng", "responsible_party", party_name="陈记小店")
    assert named.party_name == "陈记小店"
    back = store.set_role("chenxiaofeng", "inspector")
    assert (back.role, back.party_name) == ("inspector", None)
    assert store.get("chenxiaofeng") == back
    with pytest.raises(ValueError, match="not one of"):
        store.set_role("chenxiaofeng", "system")
    with pytest.raises(ValueError, match="responsible parties only"):
        store.set_role("chenxiaofeng", "auditor", party_name="某店")
    with pytest.raises(KeyError):
        store.set_role("nobody", "auditor")
    assert store.get("chenxiaofeng").role == "inspector"
