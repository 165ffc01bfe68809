"""Signing in and out: the API's accounts and lockout, a server-side session that
ends at once, the cookie's flags, and the language chosen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from application.demo import CHEN_XIAOFENG, TAO_BIAOYIN, ZHANG_MING
from infrastructure.composition import backend_of_url, create_user_store
from infrastructure.sessions import SessionStore, session_store_for
from tests.http.conftest import FAST_HASHER
from tests.web.conftest import ORIGIN, Console, parse


def test_the_signin_page_is_chinese_by_default(console: Console) -> None:
    console.client.cookies.clear()
    response = console.client.get("/", follow_redirects=True)
    page = parse(response)
    assert response.url.path == "/ui/signin"
    assert page.html["lang"] == "zh-CN"
    assert page.h1.get_text() == "登录"
    assert page.find("label", attrs={"for": "username"}).get_text() == "用户名"


def test_accept_language_then_the_kept_choice_decide_the_language(console: Console) -> None:
    client = console.client
    client.cookies.clear()
    english = parse(client.get("/ui/signin", headers={"Accept-Language": "en-GB,en;q=0.9"}))
    assert english.html["lang"] == "en" and english.h1.get_text() == "Sign in"
    for header in ("zh-CN,zh;q=0.9,en;q=0.8", "zh-TW,zh;q=0.9", "en;q=0.5, zh-cn", "fr, de"):
        chinese = parse(client.get("/ui/signin", headers={"Accept-Language": header}))
        assert chinese.h1.get_text() == "登录", header
    # Switching is kept in a cookie and wins over the header from then on.
    switched = client.get("/ui/language/en?next=/ui/signin", follow_redirects=True)
    assert parse(switched).h1.get_text() == "Sign in"
    again = parse(client.get("/ui/signin", headers={"Accept-Language": "zh-CN"}))
    assert again.h1.get_text() == "Sign in"


def test_the_language_switch_goes_back_only_to_this_site(console: Console) -> None:
    response = console.client.get("/ui/language/en?next=//evil.example/", follow_redirects=False)
    assert response.headers["location"] == "/"


def test_each_demo_login_lands_on_their_work_list(console: Console) -> None:
    for who in (CHEN_XIAOFENG, ZHANG_MING, TAO_BIAOYIN):
        console.sign_in(who)
        status, page = console.page("/")
        assert status == 200
        assert who.name in page.find(class_="who").get_text()


def test_the_session_cookie_is_httponly_and_samesite_lax(console: Console) -> None:
    console.client.cookies.clear()
    response = console.client.post(
        "/ui/signin",
        data={"username": CHEN_XIAOFENG.user_id, "password": CHEN_XIAOFENG.password},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("rectify_session=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie


def test_a_wrong_password_is_refused_in_the_persons_language(console: Console) -> None:
    console.client.cookies.clear()
    before = console.position()
    response = console.client.post(
        "/ui/signin",
        data={"username": CHEN_XIAOFENG.user_id, "password": "wrong-password"},
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 401
    assert "用户名或密码错误" in parse(response).find(attrs={"role": "alert"}).get_text()
    assert "rectify_session" not in response.cookies
    assert console.position() == before


def test_the_lockout_is_the_apis_own(console: Console) -> None:
    console.client.cookies.clear()
    for _ in range(5):
        console.client.post(
            "/ui/signin",
            data={"username": ZHANG_MING.user_id, "password": "wrong-password"},
            headers={"Origin": ORIGIN},
        )
    locked = console.client.post(
        "/ui/signin",
        data={"username": ZHANG_MING.user_id, "password": ZHANG_MING.password},
        headers={"Origin": ORIGIN},
    )
    assert locked.status_code == 429
    # The API's /token refuses the right password just the same.
    token = console.client.post(
        "/token", data={"username": ZHANG_MING.user_id, "password": ZHANG_MING.password}
    )
    assert token.status_code == 429


def test_signing_in_from_another_site_is_refused(console: Console) -> None:
    console.client.cookies.clear()
    response = console.client.post(
        "/ui/signin",
        data={"username": CHEN_XIAOFENG.user_id, "password": CHEN_XIAOFENG.password},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "rectify_session" not in response.cookies


def _still_signed_in(client: TestClient) -> bool:
    response = client.get("/", follow_redirects=False)
    return response.status_code == 200


def test_sign_out_ends_the_session_at_once(console: Console) -> None:
    client = console.sign_in(CHEN_XIAOFENG)
    cookie = client.cookies.get("rectify_session")
    _, page = console.page("/")
    response = console.send(page, "/ui/signout")
    assert response.status_code == 303
    # The old cookie, sent again, no longer names a session.
    client.cookies.set("rectify_session", cookie)
    assert not _still_signed_in(client)


def test_a_new_password_ends_the_session_at_once(console: Console) -> None:
    client = console.sign_in(CHEN_XIAOFENG)
    assert _still_signed_in(client)
    console.users.set_password(CHEN_XIAOFENG.user_id, "a-brand-new-password")
    assert not _still_signed_in(client)


def test_a_disabled_account_ends_the_session_at_once(console: Console) -> None:
    client = console.sign_in(TAO_BIAOYIN)
    assert _still_signed_in(client)
    console.users.set_active(TAO_BIAOYIN.user_id, False)
    assert not _still_signed_in(client)
    console.client.cookies.clear()
    refused = console.client.post(
        "/ui/signin",
        data={"username": TAO_BIAOYIN.user_id, "password": TAO_BIAOYIN.password},
        headers={"Origin": ORIGIN},
    )
    assert refused.status_code == 401


def test_a_page_asks_to_sign_in_and_comes_back(console: Console) -> None:
    console.client.cookies.clear()
    response = console.client.get("/ui/search?severity=major", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/signin?next=/ui/search%3Fseverity%3Dmajor"


@pytest.fixture
def store(database_url: str) -> Iterator[SessionStore]:
    side = backend_of_url(database_url).side_database()
    yield session_store_for(side)
    if side is not None:
        side.close()


def test_sessions_are_kept_beside_the_events(store: SessionStore, database_url: str) -> None:
    users = create_user_store(database_url, hasher=FAST_HASHER)
    users.add("chen", "陈小峰", "inspector", "chen-password")
    session = store.begin("chen")
    found = store.find(session.session_id)
    assert found is not None and found.user_id == "chen"
    assert found.csrf_token == session.csrf_token
    assert store.user_for(found, users) is not None
    users.set_password("chen", "another-password")
    assert store.user_for(found, users) is None
    assert store.find(session.session_id) is None
    assert store.find("no-such-session") is None
    users.close()


def test_an_idle_session_ends(store: SessionStore) -> None:
    now = [1000.0]
    store.now = lambda: now[0]
    store.idle_seconds = 60
    session = store.begin("chen")
    now[0] += 61
    assert store.find(session.session_id) is None
