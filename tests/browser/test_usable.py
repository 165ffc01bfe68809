"""The console is usable on a phone and by everyone: axe-core, widths, screenshots.

- axe-core finds no serious or critical violation on each role's home, the case
  page and the inspection page (every action of the page unfolded, so its forms
  are checked too), on a phone and on a desktop;
- no page a role reaches from its menu, nor the case, order, inspection and
  as-of pages, scrolls sideways on a 390 px wide phone;
- each role's home is photographed on a desktop and a phone. With
  ``RECTIFY_SCREENSHOTS=1`` the pictures go to ``docs/screenshots/`` (for the
  README), from a server of their own with only the demo's data in it;
  otherwise to the test's temporary folder, so a normal run leaves the tree
  clean.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from application.demo import AUDITOR, CHEN_XIAOFENG, TAO_BIAOYIN, ZHANG_MING, DemoUser
from domain.checklists import EPIDEMIC_2022
from tests.backends import sqlite_url_for
from tests.browser.conftest import Profiles
from tests.browser.console import blocking_violations, heading, horizontal_overflow, sign_in
from tests.browser.server import (
    ConsoleServer,
    api_post,
    reported_case,
    start_console_server,
    verified_case,
)
from tests.browser.words import LOCALES, WORDS

ROLES = {
    "inspector": CHEN_XIAOFENG,
    "party": TAO_BIAOYIN,
    "supervisor": ZHANG_MING,
    "auditor": AUDITOR,
}
SCREENSHOTS_VARIABLE = "RECTIFY_SCREENSHOTS"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCREENS = {"phone": True, "desktop": False}
UNFOLD_ACTIONS = "document.querySelectorAll('details').forEach(d => { d.open = true; })"


def taking_screenshots() -> bool:
    return os.environ.get(SCREENSHOTS_VARIABLE, "").strip() == "1"


@pytest.fixture(scope="module")
def home_console(
    console: ConsoleServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleServer]:
    """The worker's server, or, for the README's pictures, one holding only the demo."""
    if not taking_screenshots():
        yield console
        return
    workdir = tmp_path_factory.mktemp("screenshots")
    server = start_console_server(sqlite_url_for(workdir / "rectify.sqlite3"), workdir)
    try:
        yield server
    finally:
        server.stop()


def signed_in(profiles: Profiles, server: ConsoleServer, user: DemoUser, *, phone: bool) -> Page:
    page = profiles.open(server, phone=phone, locale=LOCALES["zh"]).new_page()
    sign_in(page, user, WORDS["zh"])
    return page


def assert_accessible(page: Page) -> None:
    """No serious or critical axe-core violation, with every action unfolded."""
    page.evaluate(UNFOLD_ACTIONS)
    violations = blocking_violations(page)
    assert not violations, f"{page.url}:\n" + "\n".join(violations)


@pytest.mark.parametrize("screen", list(SCREENS))
@pytest.mark.parametrize("role", list(ROLES))
def test_each_home_is_accessible_fits_and_is_photographed(
    profiles: Profiles, home_console: ConsoleServer, role: str, screen: str, tmp_path: Path
) -> None:
    user = ROLES[role]
    page = signed_in(profiles, home_console, user, phone=SCREENS[screen])
    # The work list shows the demo's work: at least one queue or list is not empty.
    expect(page.locator("ul.list > li").first).to_be_visible()
    folder = SCREENSHOTS if taking_screenshots() else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    picture = folder / f"{role}-{screen}.png"
    # CSS pixels: a phone's picture stays 390 px wide, a readable size in the README.
    page.screenshot(path=picture, scale="css", animations="disabled")
    assert picture.read_bytes().startswith(b"\x89PNG")
    if SCREENS[screen]:
        assert horizontal_overflow(page) == 0
    assert_accessible(page)


@pytest.mark.parametrize("screen", list(SCREENS))
def test_case_and_inspection_pages_are_accessible(
    profiles: Profiles, console: ConsoleServer, screen: str
) -> None:
    phone = SCREENS[screen]
    description = f"未戴口罩（无障碍 {screen}）"
    case_id = verified_case(console, f"火根理发店（无障碍 {screen}）", description)
    # The supervisor's case page holds the most: the signed closing among the actions.
    supervisor = signed_in(profiles, console, ZHANG_MING, phone=phone)
    supervisor.goto(f"/ui/cases/{case_id}")
    expect(heading(supervisor)).to_contain_text(description)
    assert_accessible(supervisor)

    # The inspection page while the checklist is being filled in.
    site = api_post(
        console, CHEN_XIAOFENG, "/sites", {"name": f"喻建华店（{screen}）", "region": "安义县"}
    )
    inspection = api_post(
        console,
        CHEN_XIAOFENG,
        "/inspections",
        {"site_id": site["id"], "template_code": EPIDEMIC_2022},
    )
    inspector = signed_in(profiles, console, CHEN_XIAOFENG, phone=phone)
    inspector.goto(f"/ui/inspections/{inspection['id']}")
    expect(inspector.get_by_role("button", name=WORDS["zh"]["Record"]).first).to_be_visible()
    assert_accessible(inspector)
    inspector.goto(f"/ui/cases/{case_id}")
    assert_accessible(inspector)


@pytest.mark.parametrize("role", list(ROLES))
def test_no_page_scrolls_sideways_on_a_phone(
    profiles: Profiles, console: ConsoleServer, role: str
) -> None:
    user = ROLES[role]
    case_id = reported_case(console, f"陶表印按摩店（宽度 {role}）", f"未登记（宽度 {role}）")
    page = signed_in(profiles, console, user, phone=True)
    menu = page.get_by_role("navigation").get_by_role("link")
    paths = [str(menu.nth(i).get_attribute("href")) for i in range(menu.count())]
    assert paths, "the menu links somewhere"
    if user is not TAO_BIAOYIN:
        paths += [f"/ui/cases/{case_id}", f"/ui/cases/{case_id}/as-of?version=1"]
    checked = []
    for path in paths:
        response = page.goto(path)
        assert response is not None
        if response.status != 200:
            # A page the role may not see is refused; the refusal must fit too.
            assert response.status == 403, f"{path}: {response.status}"
        page.evaluate(UNFOLD_ACTIONS)
        checked.append((path, horizontal_overflow(page)))
    assert [(path, overflow) for path, overflow in checked if overflow] == []
