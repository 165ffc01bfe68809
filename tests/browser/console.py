"""What the browser tests do on the console's pages, in the words of the people using it.

Locators are the accessible ones a person (or a screen reader) goes by: a
field's label, a button's or a link's name, in Chinese or in English.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Locator, Page, expect

from application.demo import DemoUser

PHONE_WIDTH = 390
BLOCKING_IMPACTS = ("serious", "critical")

_axe = Axe()


def photo_png(colour: tuple[int, int, int] = (200, 40, 40), size: int = 8) -> bytes:
    """A small, valid PNG of one colour: the photo a phone would attach."""
    row = b"\x00" + bytes(colour) * size
    raw = row * size

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def photo_file(name: str) -> dict[str, Any]:
    """A photo as playwright hands it to a file input (``set_input_files``)."""
    return {"name": name, "mimeType": "image/png", "buffer": photo_png()}


def sign_in(page: Page, user: DemoUser, words: Mapping[str, str]) -> None:
    """Open the console and sign in as ``user`` with the sign-in form, in ``words``' language."""
    page.goto("/")
    expect(heading(page)).to_have_text(words["Sign in"])
    page.get_by_label(words["User id"]).fill(user.user_id)
    page.get_by_label(words["Password"], exact=True).fill(user.password)
    page.get_by_role("button", name=words["Sign in"], exact=True).click()
    # Home is the person's work list, under their own name.
    expect(heading(page)).to_have_text(f"{words['Work list']} · {user.name}")


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the phone's screen (0: none)."""
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return max(0, width - PHONE_WIDTH)


def blocking_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it stands, one line each."""
    results = _axe.run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]


def action_form(page: Page, summary: str) -> Locator:
    """Open the action whose disclosure reads ``summary`` (``<details>``); its form."""
    details = page.locator("details").filter(
        has=page.locator("summary").get_by_text(summary, exact=True)
    )
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    return details.locator("form")


def heading(page: Page) -> Locator:
    """The page's title as a person reads it: its one level-1 heading."""
    return page.get_by_role("heading", level=1)
