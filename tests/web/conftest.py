"""Fixtures of the console's page tests: the whole app in-process over the demo data.

A :class:`Console` signs people in through the sign-in form, reads pages with a
real HTML parser, and sends forms the way a browser would: the hidden fields
the page rendered (CSRF token, version, form key) plus what the person typed,
from the console's own origin.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest
from bs4 import BeautifulSoup, Tag
from fastapi import FastAPI
from fastapi.testclient import TestClient

from application.app import RectifyApp
from application.demo import (
    AUDITOR,
    CHEN_XIAOFENG,
    STORY_START,
    TAO_BIAOYIN,
    YU_JIANMING,
    ZHANG_MING,
    DemoDataset,
    DemoUser,
    find_dataset,
    load_demo,
)
from infrastructure.bootstrap import build_app
from infrastructure.clock import ManualClock
from infrastructure.users import UserStore, create_user_store
from interfaces.cli.demo import ensure_demo_users
from interfaces.http.app import create_app
from tests.http.conftest import FAST_HASHER

ORIGIN = "http://testserver"
PEOPLE: dict[str, DemoUser] = {
    "inspector": CHEN_XIAOFENG,
    "supervisor": ZHANG_MING,
    "other_supervisor": YU_JIANMING,
    "party": TAO_BIAOYIN,
    "auditor": AUDITOR,
}


def parse(response: httpx.Response) -> BeautifulSoup:
    """The page as a browser's parser reads it (html5lib would be stricter still)."""
    return BeautifulSoup(response.text, "html.parser")


@dataclass
class Console:
    """The app with the demo loaded, and a browser-like client of its pages."""

    app: FastAPI
    client: TestClient
    rectify: RectifyApp
    users: UserStore
    demo: DemoDataset

    # -- people -------------------------------------------------------------------

    def sign_in(self, who: DemoUser, client: TestClient | None = None) -> TestClient:
        client = client or self.client
        client.cookies.clear()
        response = client.post(
            "/ui/signin",
            data={"username": who.user_id, "password": who.password, "next": "/"},
            headers={"Origin": ORIGIN},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return client

    def another_browser(self) -> TestClient:
        """A second browser on the same server (its lifespan already runs)."""
        return TestClient(self.app)

    # -- pages and forms ------------------------------------------------------------

    def page(self, path: str, client: TestClient | None = None) -> tuple[int, BeautifulSoup]:
        response = (client or self.client).get(path, follow_redirects=False)
        return response.status_code, parse(response)

    def form(self, page: BeautifulSoup, action: str) -> Tag:
        found = page.find("form", attrs={"action": action})
        assert isinstance(found, Tag), f"no form posting to {action}"
        return found

    def fields(self, form: Tag) -> dict[str, str]:
        """The hidden fields the page rendered into ``form``."""
        return {
            str(i["name"]): str(i.get("value", ""))
            for i in form.find_all("input", attrs={"type": "hidden"})
        }

    def send(
        self,
        page: BeautifulSoup,
        action: str,
        typed: dict[str, Any] | None = None,
        *,
        files: Any = None,
        client: TestClient | None = None,
        origin: str | None = ORIGIN,
        drop: tuple[str, ...] = (),
    ) -> httpx.Response:
        """Send the form posting to ``action`` on ``page`` with what the person typed."""
        data = {**self.fields(self.form(page, action)), **(typed or {})}
        for name in drop:
            data.pop(name, None)
        headers = {"Origin": origin} if origin else {}
        return (client or self.client).post(
            action, data=data, files=files, headers=headers, follow_redirects=False
        )

    # -- the record -------------------------------------------------------------------

    def position(self) -> int:
        return self.rectify.recorder.max_notification_id() or 0

    def events_since(self, position: int) -> list[str]:
        """The events recorded after ``position``, as ``Aggregate.Event`` names."""
        notifications = self.rectify.recorder.select_notifications(start=position + 1, limit=1000)
        return [type(self.rectify.mapper.to_domain_event(n)).__qualname__ for n in notifications]

    def case_in(self, status: str) -> UUID:
        """A demo case now in ``status``."""
        for hazard_id in self.demo.hazard_ids:
            if self.rectify.get_hazard(hazard_id).status == status:
                return hazard_id
        raise LookupError(status)


def build_console(database_url: str) -> tuple[FastAPI, RectifyApp, UserStore]:
    users = create_user_store(database_url, hasher=FAST_HASHER)
    ensure_demo_users(users)
    rectify = build_app(database_url, passwords=users)
    load_demo(rectify, ManualClock(STORY_START))
    return create_app(rectify, users), rectify, users


def _console(database_url: str) -> Iterator[Console]:
    app, rectify, users = build_console(database_url)
    demo = find_dataset(rectify)
    assert demo is not None
    with TestClient(app) as client:
        yield Console(app, client, rectify, users, demo)
    rectify.close()
    users.close()


@pytest.fixture
def console(sqlite_url: str) -> Iterator[Console]:
    """The console over the demo data on a SQLite file of the test's own."""
    yield from _console(sqlite_url)


@pytest.fixture
def console_on(database_url: str) -> Iterator[Console]:
    """The console over the demo data, once per backend (in memory, SQLite, PostgreSQL)."""
    yield from _console(database_url)
