"""Fixtures of the document suites: poppler's tools, the demo on a SQLite file, and
a PDF's text and fonts as poppler reads them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from application.audit.describe import topics_for
from infrastructure.audit import build_audit
from infrastructure.bootstrap import build_app
from infrastructure.clock import ManualClock
from infrastructure.users import create_user_store
from interfaces.cli.demo import load_demo_data
from interfaces.http.app import create_app
from tests.backends import sqlite_url_for
from tests.core.scenario import SWEEP_STARTS


def tool(name: str) -> str:
    """The path of a poppler tool; skipped without it, except under CI=true (then a failure)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian: apt-get install -y poppler-utils)"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"{message}; it is required under CI=true", pytrace=False)
        pytest.skip(message)
    return path


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text as ``pdftotext`` extracts it."""
    source = tmp_path / "document.pdf"
    source.write_bytes(pdf)
    return subprocess.run(
        [tool("pdftotext"), "-enc", "UTF-8", str(source), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def squeezed(text: str) -> str:
    """Text without any whitespace: a table cell wraps wherever the line is full."""
    return re.sub(r"\s+", "", text)


def pdf_fonts(pdf: bytes, tmp_path: Path) -> list[dict[str, str]]:
    """``pdffonts``' table: each font's name and whether it is embedded."""
    source = tmp_path / "fonts.pdf"
    source.write_bytes(pdf)
    output = subprocess.run(
        [tool("pdffonts"), str(source)], check=True, capture_output=True, text=True
    ).stdout
    fonts = []
    for line in output.splitlines()[2:]:
        parts = line.split()
        # name, type words…, encoding, emb, sub, uni, object id, generation
        fonts.append({"name": parts[0], "emb": parts[-5], "sub": parts[-4]})
    return fonts


@pytest.fixture
def clock() -> ManualClock:
    """09:00 in 安义 on 2022-04-18, the morning of the sweep."""
    return ManualClock(SWEEP_STARTS)


class Demo:
    """The demo (安义县残联, April 2022) on a SQLite file, served in-process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.users = create_user_store(url)
        self.rectify = build_app(url, passwords=self.users)
        self.app: FastAPI = create_app(self.rectify, self.users)
        self.client = TestClient(self.app)
        audit = build_audit(self.rectify)
        self.order_ids = [
            UUID(str(n.originator_id))
            for n in audit.notifications(topics=topics_for(("RectificationOrder.Issued",)))
        ]
        self.verification_ids = [
            UUID(str(n.originator_id))
            for n in audit.notifications(topics=topics_for(("Verification.Performed",)))
        ]

    def headers(self, user_id: str) -> dict[str, str]:
        token = self.app.state.auth.tokens.issue(user_id).access_token
        return {"Authorization": f"Bearer {token}"}

    def close(self) -> None:
        self.client.close()
        self.rectify.close()
        self.users.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo data loaded once per module, as `rectify demo` loads it."""
    url = sqlite_url_for(tmp_path_factory.mktemp("demo") / "rectify.sqlite3")
    load_demo_data(url)
    served = Demo(url)
    yield served
    served.close()
