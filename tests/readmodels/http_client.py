"""The HTTP API over one application, with the seed story's people as users."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from application.app import RectifyApp
from domain.values import Actor
from infrastructure.users import InMemoryUserStore
from interfaces.http.app import create_app
from tests.core.scenario import (
    CHEN_XIAOFENG,
    LIU_FANG,
    PASSWORDS,
    TAO_BIAOYIN,
    YU_JIANHUA,
    YU_JIANMING,
    ZHANG_MING,
)

CAST = (ZHANG_MING, YU_JIANMING, CHEN_XIAOFENG, LIU_FANG, TAO_BIAOYIN, YU_JIANHUA)
TOKEN_SECRET = "read-model-tests-" + "s" * 32


def users_of_the_sweep() -> InMemoryUserStore:
    # Cheap hashing: the tests log in often and test nothing about hashing.
    users = InMemoryUserStore(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    for actor in CAST:
        users.add(actor.user_id, actor.name, actor.role, PASSWORDS[actor.user_id])
    return users


class Api:
    """A test client that logs in as one of the cast per request."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self._tokens: dict[str, str] = {}

    def headers(self, actor: Actor, **extra: str) -> dict[str, str]:
        if actor.user_id not in self._tokens:
            reply = self.client.post(
                "/token",
                data={"username": actor.user_id, "password": PASSWORDS[actor.user_id]},
            )
            assert reply.status_code == 200, reply.text
            self._tokens[actor.user_id] = reply.json()["access_token"]
        return {"Authorization": f"Bearer {self._tokens[actor.user_id]}", **extra}

    def get(self, actor: Actor, path: str, **kwargs: Any) -> Any:
        headers = self.headers(actor, **kwargs.pop("headers", {}))
        return self.client.get(path, headers=headers, **kwargs)

    def post(self, actor: Actor, path: str, **kwargs: Any) -> Any:
        headers = self.headers(actor, **kwargs.pop("headers", {}))
        return self.client.post(path, headers=headers, **kwargs)


@contextmanager
def api_for(app: RectifyApp) -> Iterator[Api]:
    """The API over ``app``, its lifespan (and so its projections) running."""
    http = create_app(app, users_of_the_sweep(), token_secret=TOKEN_SECRET)
    with TestClient(http) as client:
        yield Api(client)
