"""The README's "Run it": ``rectify serve --demo`` and the curl walkthrough, as printed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from application.demo import DEMO_USERS
from domain.values import Role, SignatureMeaning
from infrastructure.composition import build_app
from infrastructure.persistence import DATABASE_URL_VARIABLE
from tests.cli.live import free_port, wait_for_openapi

ROOT = Path(__file__).resolve().parents[2]
WALKTHROUGH = ROOT / "scripts" / "walkthrough.sh"
README = ROOT / "README.md"


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    """``rectify serve --demo`` on a SQLite file of its own; yields (API URL, DB URL, process)."""
    port = free_port()
    database_url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("rectify")), "serve", "--demo", "--port", str(port)],
        env={**os.environ, DATABASE_URL_VARIABLE: database_url},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        api = f"http://127.0.0.1:{port}"
        wait_for_openapi(api, process)
        yield api, database_url, process
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough needs curl")
def test_readme_walkthrough_walks_a_case_from_inspection_to_closed(
    demo_server: tuple[str, str, subprocess.Popen[str]],
) -> None:
    api, database_url, _ = demo_server

    result = subprocess.run(
        ["bash", str(WALKTHROUGH)],
        env={**os.environ, "API": api},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    statuses = re.findall(r"^case ([0-9a-f-]{36}): (\w+)$", result.stdout, re.M)
    assert [status for _, status in statuses] == [
        "reported",
        "awaiting_verification",
        "verified",
        "closed",
    ]
    assert "签字销号" in result.stdout, "the auditor's timeline ends with the signed close"
    case_id = UUID(statuses[0][0])

    app = build_app(database_url)
    hazard = app.get_hazard(case_id)
    assert hazard.status == "closed"
    # Events saved together share a timestamp, so compare them as a multiset.
    kinds = Counter(type(e).__name__ for e in app.case_events(case_id))
    assert kinds == Counter(
        [
            "Reported",
            "Issued",
            "OrderIssued",
            "Acknowledged",
            "CompletionReported",
            "CompletionReported",
            "Performed",
            "Fulfilled",
            "VerificationPassed",
            "Closed",
        ]
    )
    closed = app.case_events(case_id)[-1]
    assert closed.actor.user_id == "zhangming" and closed.actor.role == Role.SUPERVISOR
    assert closed.signature.meaning == SignatureMeaning.CLOSED_AS_RECTIFIED
    order = app.get_order(hazard.order_ids[0])
    assert order.party.user_id == "taobiaoyin"
    acknowledged = next(e for e in app.events.get(order.id) if type(e).__name__ == "Acknowledged")
    assert acknowledged.actor.user_id == "taobiaoyin" and not acknowledged.on_behalf
    app.close()


def test_make_run_prints_the_url_the_docs_and_a_login_per_role(
    demo_server: tuple[str, str, subprocess.Popen[str]],
) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^run: venv\n\t\$\(VENV\)/bin/rectify serve --demo$", makefile, re.M)
    api, _, process = demo_server
    process.terminate()
    output, _ = process.communicate(timeout=20)

    assert f"{api}/" in output and f"{api}/docs" in output
    for user in DEMO_USERS:
        line = next(line for line in output.splitlines() if f" {user.user_id} " in line)
        assert user.role.value in line and user.password in line
    assert "Loaded the demo data" in output


def test_readme_shows_the_walkthrough_script_as_it_is() -> None:
    readme = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- walkthrough -->\n```sh\n(.*?)```", readme, re.S)
    assert match, "the README lost its marked walkthrough"
    script = WALKTHROUGH.read_text(encoding="utf-8")
    shown = script[script.index("API=${API:-") :]

    assert match.group(1) == shown
    assert "make run" in readme
