"""Geometry of the dashboard's charts, drawn as inline SVG by the template.

No chart library: bars are rectangles whose heights are scaled to the largest
value, so the page works without JavaScript and prints as it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

HEIGHT = 160
BAR = 28
GAP = 10
GROUP_GAP = 28
TOP = 16
BOTTOM = 40


@dataclass(frozen=True)
class Bar:
    """One bar: where it stands, how tall, and what it shows."""

    x: int
    y: int
    width: int
    height: int
    value: int
    series: str


@dataclass(frozen=True)
class Group:
    """Bars side by side under one label."""

    label: str
    x: int
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Chart:
    """A grouped bar chart: its groups and the size of its drawing."""

    groups: tuple[Group, ...]
    width: int
    height: int
    baseline: int


def grouped(rows: Sequence[tuple[str, Sequence[tuple[str, int]]]]) -> Chart:
    """Groups of (series, value) bars, scaled to the largest value."""
    largest = max((value for _, bars in rows for _, value in bars), default=0) or 1
    groups = []
    x = GAP
    for label, bars in rows:
        start = x
        drawn = []
        for series, value in bars:
            height = round(HEIGHT * value / largest)
            drawn.append(Bar(x, TOP + HEIGHT - height, BAR, height, value, series))
            x += BAR + 2
        groups.append(Group(label, start, tuple(drawn)))
        x += GROUP_GAP
    return Chart(tuple(groups), max(x, 120), TOP + HEIGHT + BOTTOM, TOP + HEIGHT)


def bar_chart(rows: Sequence[tuple[str, int, int]]) -> Chart:
    """Open and closed cases per severity."""
    return grouped(
        [(label, [("open", opened), ("closed", closed)]) for label, opened, closed in rows]
    )


def month_chart(by_month: Sequence[dict[str, Any]], months: int = 12) -> Chart:
    """Cases reported and closed per month (both severities), the last ``months`` months."""
    totals: dict[str, dict[str, int]] = {}
    for row in by_month:
        month = totals.setdefault(row["month"], {"reported": 0, "closed": 0})
        month["reported"] += int(row.get("reported", 0))
        month["closed"] += int(row.get("closed", 0))
    recent = sorted(totals)[-months:]
    return grouped(
        [
            (month, [("reported", totals[month]["reported"]), ("closed", totals[month]["closed"])])
            for month in recent
        ]
    )
