"""Fixtures of the HTTP suites: the API in-process (TestClient) over the seed's sweep.

The people are the core suites' (tests/core/scenario.py) with accounts of their
own; the 2022-04-18 sweep arranges a case up to any stage through the
application, and the test then acts over HTTP as one of them.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from application.app import RectifyApp
from domain.values import Actor, Evidence
from infrastructure.clock import ManualClock
from infrastructure.composition import build_app, create_user_store
from infrastructure.users import UserStore
from interfaces.http.app import create_app
from tests.backends import POPO_URL
from tests.core.scenario import (
    CHEN_XIAOFENG,
    LIU_FANG,
    PASSWORDS,
    SWEEP_STARTS,
    TAO_BIAOYIN,
    YU_JIANHUA,
    YU_JIANMING,
    ZHANG_MING,
    Sweep,
)

# Argon2 at its cheapest: these suites log people in by the hundred, and what
# they test is the API, not the hash's cost.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)

PEOPLE: dict[str, Actor] = {
    "inspector": CHEN_XIAOFENG,
    "supervisor": ZHANG_MING,
    "party": TAO_BIAOYIN,
    "other_party": YU_JIANHUA,
    "auditor": LIU_FANG,
}
"""Who acts, by the part they play: ``party`` is the one the arranged order names."""

EVERYONE = (*PEOPLE.values(), YU_JIANMING)


def add_people(users: UserStore) -> None:
    """Accounts for everyone of the sweep, with their passwords."""
    for actor in EVERYONE:
        users.add(actor.user_id, actor.name, actor.role, PASSWORDS[actor.user_id])


class Api:
    """The API in-process, with the sweep that arranges cases behind it."""

    def __init__(self, app: FastAPI, client: TestClient, clock: ManualClock) -> None:
        self.app = app
        self.client = client
        self.clock = clock
        self.rectify: RectifyApp = app.state.rectify
        self.sweep = Sweep(self.rectify, clock)

    # -- acting over HTTP -------------------------------------------------------

    def token(self, actor: Actor) -> str:
        return self.app.state.auth.tokens.issue(actor.user_id).access_token

    def headers(
        self, actor: Actor | None, *, if_match: int | str | None = None, key: str | None = None
    ) -> dict[str, str]:
        headers = {}
        if actor is not None:
            headers["Authorization"] = f"Bearer {self.token(actor)}"
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"' if isinstance(if_match, int) else if_match
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def post(
        self,
        path: str,
        actor: Actor | None,
        json: Any = None,
        *,
        if_match: int | str | None = None,
        key: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {**self.headers(actor, if_match=if_match, key=key), **kwargs.pop("headers", {})}
        if json is None:
            return self.client.post(path, headers=headers, **kwargs)
        # Encoded here, ASCII-escaped, so a test can send what httpx would refuse
        # to encode (a lone surrogate) just as a hostile client could.
        headers.setdefault("Content-Type", "application/json")
        content = jsonlib.dumps(json, ensure_ascii=True).encode("ascii")
        return self.client.post(path, content=content, headers=headers, **kwargs)

    def get(self, path: str, actor: Actor | None, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, headers=self.headers(actor), **kwargs)

    def upload(
        self, actor: Actor, name: str = "核酸检测报告.jpg", data: bytes | None = None
    ) -> dict:
        """Upload a photo as ``actor``; the evidence object a command cites."""
        content = data if data is not None else f"JPEG {name}".encode()
        response = self.client.post(
            "/evidence",
            files={"file": (name, content, "image/jpeg")},
            headers=self.headers(actor),
        )
        assert response.status_code == 201, response.text
        return response.json()

    def store_evidence(self, name: str = "复查照片.jpg") -> Evidence:
        """Put a photo in the evidence store directly, as an earlier upload would have."""
        return self.app.state.evidence.put(
            f"JPEG {name}".encode(), name=name, media_type="image/jpeg"
        )

    # -- what was recorded ------------------------------------------------------

    def position(self) -> int:
        return self.sweep.log_position()

    def events_since(self, position: int) -> list[str]:
        """The events recorded after ``position``, as ``Aggregate.Event`` names."""
        return [type(e).__qualname__ for e in self.sweep.events_since(position)]

    def version(self, aggregate_id: Any) -> int:
        return self.sweep.version(aggregate_id)


def build_api(database_url: str, clock: ManualClock) -> tuple[Api, RectifyApp, UserStore]:
    users = create_user_store(database_url, hasher=FAST_HASHER)
    add_people(users)
    rectify = build_app(database_url, clock=clock, passwords=users)
    app = create_app(rectify, users)
    return Api(app, TestClient(app), clock), rectify, users


@pytest.fixture
def clock() -> ManualClock:
    """09:00 in 安义 on 2022-04-18, the morning of the sweep."""
    return ManualClock(SWEEP_STARTS)


@pytest.fixture
def api(clock: ManualClock) -> Iterator[Api]:
    """The API on the in-memory store."""
    yield from _api_on(POPO_URL, clock)


@pytest.fixture
def backend_api(database_url: str, clock: ManualClock) -> Iterator[Api]:
    """The API once on each backend (popo, SQLite, PostgreSQL)."""
    yield from _api_on(database_url, clock)


def _api_on(database_url: str, clock: ManualClock) -> Iterator[Api]:
    api, rectify, users = build_api(database_url, clock)
    if database_url == POPO_URL:
        # Nothing to open or close in memory; the lifespan (read models and
        # all) is left to the suites that exercise it.
        yield api
    else:
        # Entering the client runs the lifespan, which closes the app's own
        # connections at the end.
        with api.client:
            yield api
    rectify.close()
    users.close()


def problem(response: httpx.Response, status: int, rule: str | None = None) -> dict:
    """Assert ``response`` is a problem+json of ``status`` (and ``rule``); return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["detail"]
    if rule is not None:
        assert body.get("rule") == rule, body
    return body
