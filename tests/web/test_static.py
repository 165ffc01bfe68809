"""The vendored htmx is the file its VERSIONS note names, and the pages load only
what the console serves itself."""

from __future__ import annotations

import hashlib
import re

from application.demo import CHEN_XIAOFENG
from interfaces.web import STATIC
from tests.web.conftest import Console, parse

VENDOR = STATIC / "vendor"


def test_htmx_matches_the_sha256_written_beside_it() -> None:
    note = (VENDOR / "VERSIONS").read_text()
    version = re.search(r"htmx\.org (2\.0\.\d+)", note)
    recorded = re.search(r"^\s+sha256:\s+([0-9a-f]{64})$", note, re.MULTILINE)
    assert version and recorded
    actual = hashlib.sha256((VENDOR / "htmx.min.js").read_bytes()).hexdigest()
    assert actual == recorded.group(1)
    assert f'version:"{version.group(1)}"' in (VENDOR / "htmx.min.js").read_text()


def test_the_style_sheet_names_the_cjk_font() -> None:
    css = (STATIC / "console.css").read_text()
    assert '"Noto Sans CJK SC"' in css


def test_static_files_are_served_and_nothing_comes_from_elsewhere(console: Console) -> None:
    assert console.client.get("/static/vendor/htmx.min.js").status_code == 200
    assert console.client.get("/static/console.css").status_code == 200
    page = console.client.get("/ui/signin").text
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert url.startswith(("/", "#")), url


def test_photo_inputs_ask_for_the_camera(console: Console) -> None:
    console.sign_in(CHEN_XIAOFENG)
    open_inspection = next(
        i for i in console.demo.inspection_ids if console.rectify.get_inspection(i).status == "open"
    )
    page = parse(console.client.get(f"/ui/inspections/{open_inspection}"))
    photos = page.select("input[type=file]")
    assert photos
    for photo in photos:
        assert photo["accept"] == "image/*" and photo["capture"] == "environment"


def test_pages_are_not_cached_nor_framed(console: Console) -> None:
    response = console.client.get("/ui/signin")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
