"""A real ``rectify serve --demo`` in a subprocess, for the browser tests to drive.

The browser must talk to the server as a person's would: over a socket, to the
process an operator starts, with the demo loaded the way ``make run`` loads it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from application.demo import AUDITOR, DemoUser

# Loading the demo hashes each demo user's password with argon2 and replays the
# story; on a busy 2-core machine that has taken up to ~20 s.
STARTUP_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    """A TCP port that nothing listens on now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rectify_command() -> list[str]:
    """The ``rectify`` entry point of the interpreter running the tests."""
    script = Path(sys.executable).with_name("rectify")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from interfaces.cli.main import app; app()"]


@dataclass
class ConsoleServer:
    """A running ``rectify serve --demo``: its URL, its database and its output."""

    base_url: str
    database_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def log_tail(self, characters: int = 4000) -> str:
        """The end of what the server printed, for a failure's message."""
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError as error:
            return f"(no server output: {error})"

    def stop(self) -> None:
        """Stop the server as Ctrl+C would, then harder if it does not listen."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    # -- the API, to check what the log holds independently of the console ----------

    def token(self, user: DemoUser) -> str:
        """A bearer token for ``user`` from the API's own sign-in, kept for the next call:
        each sign-in is an argon2 check, slow on purpose."""
        if user.user_id in self.tokens:
            return self.tokens[user.user_id]
        response = httpx.post(
            f"{self.base_url}/token",
            data={"username": user.user_id, "password": user.password},
            timeout=30,
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        self.tokens[user.user_id] = token
        return token

    def api_get(self, path: str, user: DemoUser = AUDITOR, **params: Any) -> Any:
        """GET ``path`` from the JSON API as ``user``; the decoded body."""
        response = httpx.get(
            f"{self.base_url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token(user)}"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    def log_entries(self, **filters: Any) -> list[dict[str, Any]]:
        """Every entry of the global log matching ``filters`` (the auditor's /audit/log)."""
        entries: list[dict[str, Any]] = []
        after = 0
        headers = {"Authorization": f"Bearer {self.token(AUDITOR)}"}
        while True:
            response = httpx.get(
                f"{self.base_url}/audit/log",
                params={**filters, "after": after, "limit": 1000},
                headers=headers,
                timeout=30,
            )
            response.raise_for_status()
            page = response.json()
            entries.extend(page["entries"])
            if page.get("next_after") is None:
                return entries
            after = page["next_after"]


def start_console_server(database_url: str, workdir: Path, *, demo: bool = True) -> ConsoleServer:
    """Start ``rectify serve`` (``--demo`` unless told not to) on ``database_url`` and a
    free port; wait until it answers."""
    port = free_port()
    log_path = workdir / f"rectify-serve-{port}.log"
    env = dict(os.environ)
    # The server's own choice of language must come from the browser, not the
    # developer's shell.
    env.pop("LANG", None)
    env.pop("LANGUAGE", None)
    env.pop("LC_ALL", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                *rectify_command(),
                "serve",
                *(["--demo"] if demo else []),
                "--database-url",
                database_url,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = ConsoleServer(f"http://127.0.0.1:{port}", database_url, process, log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"rectify serve exited with {process.returncode} before answering:\n"
                + server.log_tail()
            )
        try:
            if httpx.get(f"{server.base_url}/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    server.stop()
    raise RuntimeError(
        f"rectify serve did not answer within {STARTUP_TIMEOUT_SECONDS:.0f} s:\n"
        + server.log_tail()
    )


def api_post(
    server: ConsoleServer,
    user: DemoUser,
    path: str,
    body: dict[str, Any],
    version: int | None = None,
) -> dict[str, Any]:
    """POST ``body`` to the JSON API as ``user`` (``If-Match`` when ``version``); the result."""
    headers = {"Authorization": f"Bearer {server.token(user)}"}
    if version is not None:
        headers["If-Match"] = f'"{version}"'
    response = httpx.post(f"{server.base_url}{path}", json=body, headers=headers, timeout=30)
    if response.status_code >= 300:
        raise AssertionError(f"POST {path}: {response.status_code} {response.text}")
    result: dict[str, Any] = response.json()
    return result


def reported_case(server: ConsoleServer, site_name: str, description: str) -> str:
    """A hazard 陈小峰 reported through the API on a site of its own; the case id.

    For the tests whose subject is what happens to a case, not how it came to be.
    """
    from application.demo import CHEN_XIAOFENG
    from domain.checklists import EPIDEMIC_2022, get_template

    site = api_post(server, CHEN_XIAOFENG, "/sites", {"name": site_name, "region": "安义县"})
    inspection = api_post(
        server,
        CHEN_XIAOFENG,
        "/inspections",
        {"site_id": site["id"], "template_code": EPIDEMIC_2022},
    )
    version = inspection["version"]
    for code in get_template(EPIDEMIC_2022).item_codes:
        body = (
            {"result": "fail", "note": description}
            if code == "visitor-register"
            else {"result": "pass"}
        )
        path = f"/inspections/{inspection['id']}/items/{code}"
        version = api_post(server, CHEN_XIAOFENG, path, body, version)["version"]
    hazard = api_post(
        server,
        CHEN_XIAOFENG,
        f"/inspections/{inspection['id']}/hazards",
        {
            "item_code": "visitor-register",
            "category": "疫情防控",
            "description": description,
            "location": "前台",
            "severity": "general",
        },
        version,
    )
    case_id: str = hazard["id"]
    return case_id


def changed_version(result: dict[str, Any], kind: str) -> int:
    """The new version of the record of ``kind`` that a command changed."""
    version: int = next(c["version"] for c in result["changed"] if c["kind"] == kind)
    return version


def verified_case(server: ConsoleServer, site_name: str, description: str) -> str:
    """A case through to a passed verification, through the API: it waits for closing."""
    from application.demo import CHEN_XIAOFENG, TAO_BIAOYIN

    case_id = reported_case(server, site_name, description)
    party = {"name": "陶表印", "contact": "0791-83421001", "user_id": TAO_BIAOYIN.user_id}
    order = api_post(
        server,
        CHEN_XIAOFENG,
        f"/cases/{case_id}/orders",
        {"party": party, "measures": "建立进出人员信息登记簿，逐一登记"},
        1,
    )
    acknowledged = api_post(server, TAO_BIAOYIN, f"/orders/{order['id']}/acknowledge", {}, 1)
    reported = api_post(
        server,
        TAO_BIAOYIN,
        f"/orders/{order['id']}/completion-report",
        {"note": "已建立登记簿", "evidence": []},
        acknowledged["version"],
    )
    api_post(
        server,
        CHEN_XIAOFENG,
        f"/cases/{case_id}/verifications",
        {"passed": True, "findings": "登记簿完整"},
        changed_version(reported, "case"),
    )
    return case_id
