"""Fixtures for the console's real-browser tests: Chromium, and a real server to drive.

Chromium is the system's (Debian's ``chromium`` package), not one playwright
downloads: ``playwright install`` cannot fetch browsers on the machines this
runs on. Without it the suite skips locally, with the reason; under ``CI=true``
it fails instead, because CI must run these tests (``.ci/run`` installs it).

Each pytest-xdist worker starts its own ``rectify serve --demo`` on a SQLite
file of its own, once, and the tests on that worker share it; each test works
on cases it creates itself, so they do not depend on one another's order.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext

from tests.backends import fresh_postgres_database, sqlite_url_for
from tests.browser.server import ConsoleServer, start_console_server

# Flags for a browser in a container with no display, no GPU and no network
# beyond the server under test: the sandbox needs user namespaces that a
# container running as root lacks, and the background services only phone out.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHROMIUM_VARIABLE = "RECTIFY_CHROMIUM"

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def chromium_executable() -> str | None:
    """The Chromium to drive: ``$RECTIFY_CHROMIUM``, else ``chromium`` on the PATH."""
    return os.environ.get(CHROMIUM_VARIABLE) or shutil.which("chromium")


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the console in a real Chromium")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/browser ``browser``, so ``-m "not browser"`` leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch arguments, pointed at the system's Chromium."""
    executable = chromium_executable()
    if executable is None:
        message = (
            "Chromium not found (install Debian's `chromium` package, or set "
            f"{CHROMIUM_VARIABLE} to a Chromium executable)"
        )
        if under_ci():
            pytest.fail(f"{message}; under CI=true the browser tests must run", pytrace=False)
        pytest.skip(message)
    return {
        **browser_type_launch_args,
        "executable_path": executable,
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS],
    }


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    """``rectify serve --demo`` on a fresh SQLite file, for this worker's tests."""
    workdir = tmp_path_factory.mktemp("console")
    server = start_console_server(sqlite_url_for(workdir / "rectify.sqlite3"), workdir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    """``rectify serve --demo`` on a new PostgreSQL database, dropped afterwards."""
    workdir = tmp_path_factory.mktemp("console-postgres")
    with fresh_postgres_database() as database_url:
        server = start_console_server(database_url, workdir)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def base_url(console: ConsoleServer) -> str:
    """pytest-playwright's ``base_url``: relative ``page.goto`` paths go to the console."""
    return console.base_url


class Profiles:
    """The browser profiles a test opens, one per person (or per person's device)."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.opened: list[BrowserContext] = []

    def open(self, server: ConsoleServer, *, phone: bool, locale: str = "zh-CN") -> BrowserContext:
        """A fresh profile (no cookies) on a phone or a desktop, asking for ``locale``."""
        context = new_context(self.browser, server, phone=phone, locale=locale)
        self.opened.append(context)
        return context

    def close(self) -> None:
        for context in self.opened:
            context.close()


@pytest.fixture
def profiles(browser: Browser) -> Iterator[Profiles]:
    """Opens browser profiles for a test, and closes them after it."""
    opened = Profiles(browser)
    try:
        yield opened
    finally:
        opened.close()


def new_context(
    browser: Browser, server: ConsoleServer, *, phone: bool, locale: str = "zh-CN"
) -> BrowserContext:
    """A fresh browser profile (no cookies) on a phone or a desktop, asking for ``locale``."""
    options: dict[str, Any] = {
        "base_url": server.base_url,
        "locale": locale,
        "timezone_id": "Asia/Shanghai",
    }
    if phone:
        options.update(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    else:
        options.update(viewport=DESKTOP)
    context = browser.new_context(**options)
    # Long enough for a page on a loaded 2-core machine, short enough that a
    # missing element fails the test in seconds rather than minutes.
    context.set_default_timeout(15_000)
    return context


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failure, add the end of the server's output: a 500's traceback is there."""
    report = yield
    if report.failed:
        for name in ("console", "postgres_console"):
            server = getattr(item, "funcargs", {}).get(name)
            if isinstance(server, ConsoleServer):
                report.sections.append((f"rectify serve output ({name})", server.log_tail()))
    return report
