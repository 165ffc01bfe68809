"""Logging in: accounts with roles, Argon2 hashes, expiring bearer tokens."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.values import Role
from infrastructure.composition import build_app, create_user_store
from infrastructure.tokens import InvalidToken, TokenIssuer
from interfaces.http.app import create_app
from tests.core.scenario import CHEN_XIAOFENG, PASSWORDS, ZHANG_MING, Stage
from tests.http.conftest import FAST_HASHER, Api, problem


def test_logging_in_gives_an_expiring_bearer_token(api: Api) -> None:
    response = api.client.post(
        "/token", data={"username": "taobiaoyin", "password": PASSWORDS["taobiaoyin"]}
    )
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 3600
    me = api.client.get("/users/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.json() == {
        "user_id": "taobiaoyin",
        "name": "陶表印",
        "role": "responsible_party",
        "party_name": "陶表印",
    }


@pytest.mark.parametrize(
    ("username", "password"),
    [("taobiaoyin", "wrong-password"), ("nobody", "whatever-it-is"), ("", ""), ("a" * 65, "x")],
)
def test_a_wrong_login_is_401_without_saying_which_part(
    api: Api, username: str, password: str
) -> None:
    response = api.client.post("/token", data={"username": username, "password": password})
    status = 422 if len(username) > 64 or not username else 401
    body = problem(response, status)
    if status == 401:
        assert body["rule"] == "invalid_credentials"
        assert body["detail"] == "the user id or password is wrong"


def test_a_token_expires(api: Api) -> None:
    now = [1_000_000.0]
    issuer = TokenIssuer("x" * 40, ttl_minutes=60, clock=lambda: now[0])
    token = issuer.issue("chenxiaofeng").access_token
    assert issuer.user_id(token) == "chenxiaofeng"
    now[0] += 3600
    with pytest.raises(InvalidToken, match="expired"):
        issuer.user_id(token)


def test_a_short_token_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        TokenIssuer("short")


def test_processes_on_one_database_accept_each_others_tokens(tmp_path: Path) -> None:
    """Without RECTIFY_TOKEN_SECRET the secret is kept in the database, so every
    worker process signs and checks with the same one."""
    url = f"sqlite:///{tmp_path / 'rectify.sqlite3'}"
    users = create_user_store(url, hasher=FAST_HASHER)
    users.add("chenxiaofeng", "陈小峰", Role.INSPECTOR, "chenxiaofeng-2022")
    first = build_app(url, passwords=users)
    second = build_app(url, passwords=users)
    try:
        one, two = create_app(first, users), create_app(second, users)
        with TestClient(one) as client_one, TestClient(two) as client_two:
            token = client_one.post(
                "/token", data={"username": "chenxiaofeng", "password": "chenxiaofeng-2022"}
            ).json()["access_token"]
            me = client_two.get("/users/me", headers={"Authorization": f"Bearer {token}"})
            assert me.json()["user_id"] == "chenxiaofeng"
    finally:
        first.close()
        second.close()
        users.close()


def test_a_role_change_takes_effect_at_once(api: Api) -> None:
    """The token names only the user; the role is looked up on every request."""
    token = api.token(CHEN_XIAOFENG)
    # An operator makes 陈小峰 an auditor (the store has no command for it yet).
    rows = api.app.state.users._rows
    row = rows["chenxiaofeng"]
    rows["chenxiaofeng"] = replace(row, user=replace(row.user, role=Role.AUDITOR))
    response = api.client.post(
        "/sites", json={"name": "a", "region": "b"}, headers={"Authorization": f"Bearer {token}"}
    )
    problem(response, 403, "auditor_changes_nothing")


# -- the user store, on each backend --------------------------------------------------


def test_user_accounts_keep_roles_and_argon2_hashes(database_url: str) -> None:
    users = create_user_store(database_url, hasher=FAST_HASHER)
    try:
        party = users.add("taobiaoyin", "陶表印", "responsible_party", "taobiaoyin-2022")
        assert party.party_name == "陶表印"
        users.add("zhangming", "张铭", Role.SUPERVISOR, "zhangming-2022")
        assert users.get("zhangming").role == Role.SUPERVISOR
        assert users.get("nobody") is None
        assert [u.user_id for u in users.list()] == ["taobiaoyin", "zhangming"]
        assert users.check_password("zhangming", "zhangming-2022")
        assert not users.check_password("zhangming", "taobiaoyin-2022")
        assert not users.check_password("nobody", "zhangming-2022")
        users.set_password("zhangming", "a-new-passphrase")
        assert users.check_password("zhangming", "a-new-passphrase")
        assert not users.check_password("zhangming", "zhangming-2022")
        with pytest.raises(KeyError):
            users.set_password("nobody", "a-new-passphrase")
    finally:
        users.close()


@pytest.mark.parametrize(
    ("user_id", "role", "password", "message"),
    [
        ("zhangming", "supervisor", "another-password", "already exists"),
        ("someone", "boss", "long-enough", "is not one of"),
        ("someone", "system", "long-enough", "is not one of"),
        ("someone", "inspector", "short", "at least 8"),
        ("has space", "inspector", "long-enough", "not valid"),
    ],
)
def test_a_bad_account_is_refused_with_a_clear_message(
    api: Api, user_id: str, role: str, password: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        api.app.state.users.add(user_id, "某人", role, password)


def test_the_default_hash_is_argon2id() -> None:
    users = create_user_store("popo://")
    users.add("zhangming", "张铭", Role.SUPERVISOR, "zhangming-2022")
    assert users._rows["zhangming"].password_hash.startswith("$argon2id$")


def test_passwords_and_their_hashes_never_reach_the_event_log(backend_api: Api) -> None:
    """Users are configuration, not events; a signature records who, not the password."""
    api = backend_api
    case = api.sweep.arrange_case(Stage.VERIFIED)
    password = PASSWORDS[ZHANG_MING.user_id]
    closed = api.post(
        f"/cases/{case.hazard}/close",
        ZHANG_MING,
        {"reason": "复查合格", "password": password},
        if_match=api.version(case.hazard),
    )
    assert closed.status_code == 200
    stored = api.rectify.recorder.select_notifications(start=1, limit=10_000)
    everything = b"".join(bytes(n.state) for n in stored)
    assert password.encode() not in everything
    assert b"argon2" not in everything
