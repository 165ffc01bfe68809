"""Versioned checklist templates (检查表), shipped as data.

A template is identified by ``code`` and ``version``; an inspection keeps the
items of the version it was opened with, so a later edition never rewrites
what an earlier inspection was checked against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from domain.errors import InvalidCommand


@dataclass(frozen=True)
class ChecklistItem:
    """One thing to check, with its Chinese and English wording."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class ChecklistTemplate:
    """A versioned list of checklist items."""

    code: str
    version: int
    title_zh: str
    title_en: str
    items: tuple[ChecklistItem, ...]

    @property
    def item_codes(self) -> tuple[str, ...]:
        return tuple(item.code for item in self.items)


def _parse(raw: dict) -> ChecklistTemplate:
    return ChecklistTemplate(
        code=raw["code"],
        version=int(raw["version"]),
        title_zh=raw["title"]["zh"],
        title_en=raw["title"]["en"],
        items=tuple(ChecklistItem(i["code"], i["zh"], i["en"]) for i in raw["items"]),
    )


@cache
def all_templates() -> tuple[ChecklistTemplate, ...]:
    """Every template shipped with the product, sorted by code and version."""
    found = []
    for entry in resources.files(__package__).iterdir():
        if entry.name.endswith(".json"):
            found.append(_parse(json.loads(entry.read_text(encoding="utf-8"))))
    return tuple(sorted(found, key=lambda t: (t.code, t.version)))


def get_template(code: str, version: int | None = None) -> ChecklistTemplate:
    """The template ``code`` at ``version``, or its latest version when none is given."""
    matching = [t for t in all_templates() if t.code == code]
    if version is not None:
        matching = [t for t in matching if t.version == version]
    if not matching:
        wanted = code if version is None else f"{code} v{version}"
        raise InvalidCommand(f"no checklist template {wanted}", rule="unknown_checklist")
    return matching[-1]


EPIDEMIC_2022 = "epidemic-2022"
