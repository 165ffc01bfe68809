"""Password guesses sent at once get no more checks than guesses sent one by one,
and password checks cannot be used to starve the server or to find accounts.

The user store counts an attempt before it checks the password (one transaction,
shared by every process); around each check it bounds the checks running at
once in the process (503 beyond) and the attempts from one client address
(429). These tests run on each backend; tests/http/test_login_limits_live.py
repeats the concurrent ones against the real server, on PostgreSQL with
several worker processes.
"""

from __future__ import annotations

import multiprocessing
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from application.errors import AccountLocked, PasswordChecksBusy, TooManyLoginAttempts
from infrastructure.bootstrap import build_app
from infrastructure.login_limits import (
    CLIENT_ADDRESS,
    AttemptsByAddress,
    LoginLimits,
    LoginLimitSettings,
    PasswordCheckSlots,
)
from infrastructure.users import UserStore, create_user_store
from interfaces.http.app import create_app
from tests.core.scenario import PASSWORDS, TAO_BIAOYIN
from tests.http.conftest import FAST_HASHER, Api, add_people, problem

GUESSES = 50


class CountingHasher(PasswordHasher):
    """Argon2 at its cheapest, counting the checks it makes.

    Each check also sleeps a little, as a real one takes tens of
    milliseconds: the window in which a check-then-count store let
    concurrent guesses through.
    """

    def __init__(self, check_seconds: float = 0.02) -> None:
        super().__init__(time_cost=1, memory_cost=64, parallelism=1)
        self.check_seconds = check_seconds
        self.checks = 0
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self._lock:
            self.checks += 1
        time.sleep(self.check_seconds)
        return super().verify(hash, password)


@pytest.fixture
def store(database_url: str) -> Iterator[UserStore]:
    users = create_user_store(database_url, hasher=CountingHasher())
    add_people(users)
    assert isinstance(users.hasher, CountingHasher)
    users.hasher.checks = 0
    yield users
    users.close()


def at_once(count: int, attempt: Callable[[], Any]) -> list[Any]:
    """Run ``attempt`` from ``count`` threads released together; what each returned
    or raised."""
    start = threading.Barrier(count)

    def one() -> Any:
        start.wait()
        try:
            return attempt()
        except (AccountLocked, PasswordChecksBusy, TooManyLoginAttempts) as error:
            return error

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: one(), range(count)))


def kinds(outcomes: list[Any]) -> dict[str, int]:
    names = ["refused" if o is None else type(o).__name__ for o in outcomes]
    return {name: names.count(name) for name in sorted(set(names))}


def test_fifty_wrong_passwords_at_once_get_five_checks_on_each_backend(store: UserStore) -> None:
    hasher = store.hasher
    assert isinstance(hasher, CountingHasher)

    outcomes = at_once(GUESSES, lambda: store.authenticate("taobiaoyin", "wrong-password"))

    # Four refused after a check, the fifth locks the account; the other 45 are
    # refused before any check.
    assert hasher.checks == 5
    assert kinds(outcomes) == {"AccountLocked": GUESSES - 4, "refused": 4}
    with pytest.raises(AccountLocked):
        store.authenticate("taobiaoyin", PASSWORDS["taobiaoyin"])
    assert hasher.checks == 5, "a locked account's right password is not even checked"
    store.unlock("taobiaoyin")
    assert store.authenticate("taobiaoyin", PASSWORDS["taobiaoyin"]) is not None


def test_unknown_ids_at_once_are_counted_like_a_real_account(store: UserStore) -> None:
    hasher = store.hasher
    assert isinstance(hasher, CountingHasher)

    outcomes = at_once(GUESSES, lambda: store.authenticate("nobody", "wrong-password"))

    assert hasher.checks == 5
    assert kinds(outcomes) == {"AccountLocked": GUESSES - 4, "refused": 4}


def _guess_from_another_process(database_url: str, guesses: int, result: Any) -> None:
    """A process of its own, with its own store, guessing ``guesses`` times at once."""
    hasher = CountingHasher()
    users = create_user_store(database_url, hasher=hasher)
    try:
        outcomes = at_once(guesses, lambda: users.authenticate("taobiaoyin", "wrong-password"))
    finally:
        users.close()
    result.put((hasher.checks, kinds(outcomes)))


@pytest.mark.postgres
def test_guesses_from_four_processes_at_once_get_five_checks_in_all(postgres_url: str) -> None:
    users = create_user_store(postgres_url, hasher=FAST_HASHER)
    add_people(users)
    users.close()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [
        context.Process(target=_guess_from_another_process, args=(postgres_url, 12, results))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    answers = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    assert sum(checks for checks, _ in answers) == 5
    refused = sum(outcome.get("refused", 0) for _, outcome in answers)
    locked = sum(outcome.get("AccountLocked", 0) for _, outcome in answers)
    assert (refused, locked) == (4, 48 - 4)


def test_a_check_that_finds_no_slot_is_refused_and_not_held_against_the_account(
    store: UserStore,
) -> None:
    hasher = store.hasher
    assert isinstance(hasher, CountingHasher)
    hasher.check_seconds = 0.5
    store.limits = LoginLimits(PasswordCheckSlots(1, wait_seconds=0.05), None)

    outcomes = at_once(3, lambda: store.authenticate("taobiaoyin", "wrong-password"))

    assert kinds(outcomes) == {"PasswordChecksBusy": 2, "refused": 1}
    assert hasher.checks == 1
    busy = next(o for o in outcomes if isinstance(o, PasswordChecksBusy))
    assert busy.retry_after == 1
    # Only the checked guess counts: four more wrong ones lock the account, not two.
    hasher.check_seconds = 0
    for _ in range(3):
        assert store.authenticate("taobiaoyin", "wrong-password") is None
    with pytest.raises(AccountLocked):
        store.authenticate("taobiaoyin", "wrong-password")


def test_attempts_from_one_address_are_limited_before_any_check(store: UserStore) -> None:
    hasher = store.hasher
    assert isinstance(hasher, CountingHasher)
    store.limits = LoginLimits(PasswordCheckSlots(2, 1.0), AttemptsByAddress("3/minute"))
    token = CLIENT_ADDRESS.set("203.0.113.7")
    try:
        for user_id in ("taobiaoyin", "zhangming", "nobody"):
            assert store.authenticate(user_id, "wrong-password") is None
        with pytest.raises(TooManyLoginAttempts) as refused:
            store.authenticate("chenxiaofeng", PASSWORDS["chenxiaofeng"])
        assert 1 <= refused.value.retry_after <= 60
        assert hasher.checks == 3
    finally:
        CLIENT_ADDRESS.reset(token)
    # Another address, and a check made outside any request, are not limited.
    token = CLIENT_ADDRESS.set("198.51.100.2")
    try:
        assert store.authenticate("chenxiaofeng", PASSWORDS["chenxiaofeng"]) is not None
    finally:
        CLIENT_ADDRESS.reset(token)
    assert store.check_password("chenxiaofeng", PASSWORDS["chenxiaofeng"])
    # The refused attempt was not counted against the account either: four
    # more wrong passwords are needed to lock 陈小峰, as if it never happened.
    for _ in range(4):
        assert store.authenticate("chenxiaofeng", "wrong-password") is None


# -- over HTTP ------------------------------------------------------------------


def test_too_many_attempts_from_an_address_are_429_and_count_nothing(api: Api) -> None:
    users: UserStore = api.app.state.users
    users.limits = LoginLimits(PasswordCheckSlots(2, 1.0), AttemptsByAddress("2/minute"))
    form = {"username": "taobiaoyin", "password": "wrong-password"}
    for _ in range(2):
        problem(api.client.post("/token", data=form), 401, "invalid_credentials")

    refused = api.client.post("/token", data={**form, "password": PASSWORDS["taobiaoyin"]})

    body = problem(refused, 429, "too_many_login_attempts")
    assert "testclient" in body["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert users._failures("taobiaoyin")[0] == 2


def test_no_free_password_check_is_a_503_with_retry_after_never_a_wait(api: Api) -> None:
    users: UserStore = api.app.state.users
    users.limits = LoginLimits(PasswordCheckSlots(1, wait_seconds=0), None)
    entered, leave = threading.Event(), threading.Event()

    class HeldHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            entered.set()
            leave.wait(10)
            return FAST_HASHER.verify(hash, password)

    users.hasher = HeldHasher()
    form = {"username": "taobiaoyin", "password": PASSWORDS["taobiaoyin"]}
    with api.client, ThreadPoolExecutor(1) as pool:
        first = pool.submit(api.client.post, "/token", data=form)
        assert entered.wait(10)
        started = time.monotonic()
        busy = api.client.post("/token", data={**form, "username": "zhangming"})
        waited = time.monotonic() - started
        leave.set()
        assert first.result().status_code == 200

    problem(busy, 503, "password_checks_busy")
    assert busy.headers["Retry-After"] == "1"
    assert waited < 2
    # 张铭's attempt was never checked, so it is not held against him.
    assert users._failures("zhangming") == (0, 0.0)


def test_the_limits_are_documented_where_a_password_is_taken(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for path in ("/token", "/cases/{case_id}/close", "/orders/{order_id}/extension-requests/grant"):
        responses = paths[path]["post"]["responses"]
        assert {"429", "503"} <= set(responses), path
        assert "too_many_login_attempts" in responses["429"]["description"]


# -- timing -----------------------------------------------------------------------

# Argon2 made costly enough (~30 ms on an idle machine) that skipping it would
# stand out far above the noise that a busy machine adds to a request.
TIMING_HASHER = PasswordHasher(time_cost=6, memory_cost=8 * 1024, parallelism=1)
TIMING_ROUNDS = 41


def test_an_unknown_user_takes_as_long_to_refuse_as_a_wrong_password(
    database_url: str, clock: Any
) -> None:
    """How: over HTTP on each backend, each round logs in once as a new unknown id
    and once as 陶表印 with a wrong password, and times one bare Argon2 check
    beside them. Taking the median of the rounds' differences (paired, so a
    machine that gets busier mid-run moves both sides alike) must leave less
    than half a check between the two — what an attacker would see if the
    unknown id skipped the check is a whole one — and the unknown id's median
    must itself be at least half a check."""
    users = create_user_store(database_url, hasher=TIMING_HASHER)
    add_people(users)
    users.max_failures = 10**6  # so that 陶表印 is never locked during the run
    rectify = build_app(database_url, clock=clock, passwords=users)
    client = TestClient(create_app(rectify, users))
    a_hash = TIMING_HASHER.hash("a password")

    def check_seconds() -> float:
        started = time.perf_counter()
        TIMING_HASHER.verify(a_hash, "a password")
        return time.perf_counter() - started

    def login_seconds(user_id: str) -> float:
        form = {"username": user_id, "password": "wrong-password"}
        started = time.perf_counter()
        response = client.post("/token", data=form)
        elapsed = time.perf_counter() - started
        assert response.status_code == 401
        assert response.json()["rule"] == "invalid_credentials"
        return elapsed

    unknown, wrong, checks = [], [], []
    try:
        login_seconds("warm-up")
        for round_ in range(TIMING_ROUNDS):
            unknown.append(login_seconds(f"nobody-{round_}"))
            wrong.append(login_seconds(TAO_BIAOYIN.user_id))
            checks.append(check_seconds())
    finally:
        client.close()
        rectify.close()
        users.close()

    one_check = statistics.median(checks)
    difference = statistics.median(u - w for u, w in zip(unknown, wrong, strict=True))
    assert abs(difference) < 0.5 * one_check, (difference, one_check)
    assert statistics.median(unknown) >= 0.5 * one_check, (statistics.median(unknown), one_check)


# -- settings ---------------------------------------------------------------------


def test_the_limits_come_from_the_environment() -> None:
    settings = LoginLimitSettings.from_environ(
        {
            "RECTIFY_PASSWORD_CHECKS": "3",
            "RECTIFY_PASSWORD_CHECK_WAIT_SECONDS": "0.5",
            "RECTIFY_LOGIN_RATE_LIMIT": "10/minute;100/hour",
        }
    )
    assert settings == LoginLimitSettings(3, 0.5, "10/minute;100/hour")
    defaults = LoginLimitSettings.from_environ({})
    assert defaults.rate_limit == "30/minute;300/hour"
    assert defaults.check_wait_seconds == 1.0 and defaults.password_checks >= 1
    assert LoginLimitSettings.from_environ({"RECTIFY_LOGIN_RATE_LIMIT": "off"}).rate_limit is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RECTIFY_PASSWORD_CHECKS", "0"),
        ("RECTIFY_PASSWORD_CHECKS", "many"),
        ("RECTIFY_PASSWORD_CHECK_WAIT_SECONDS", "-1"),
        ("RECTIFY_PASSWORD_CHECK_WAIT_SECONDS", "soon"),
        ("RECTIFY_LOGIN_RATE_LIMIT", "thirty a minute"),
    ],
)
def test_a_malformed_limit_is_refused_with_its_name(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        LoginLimitSettings.from_environ({variable: value})
