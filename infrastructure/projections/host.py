"""The read side of an API process: the read models' queries, and how far the
followers that keep them have got.

The followers themselves (the ``cases`` and ``site_history`` projections among
them) are run by :class:`infrastructure.followers.FollowerHost`; this is what a
query needs of them: the log's head, their positions, and waiting for a
position (read your own writes).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from application.app import RectifyApp
from infrastructure.followers import FollowerHealth, FollowerHost
from infrastructure.projections.runner import ProjectionRunner
from infrastructure.readmodels.queries import ReadModelQueries
from infrastructure.readmodels.store import PROJECTION_NAMES, ReadModelStore


class ReadModels:
    """The read models' queries, positions and waiting, over a follower host."""

    def __init__(self, followers: FollowerHost, queries: ReadModelQueries) -> None:
        self.followers = followers
        # The host follows any eventsourcing application; the API's is rectify's.
        self.app = cast(RectifyApp, followers.app)
        self.queries = queries
        self.store: ReadModelStore = queries.store

    @property
    def runners(self) -> dict[str, ProjectionRunner[Any]]:
        """The read models' followers, by name."""
        return {n: r for n, r in self.followers.runners.items() if n in PROJECTION_NAMES}

    def head(self) -> int:
        return self.followers.head()

    def positions(self, names: Iterable[str] | None = None) -> dict[str, int | None]:
        return self.followers.positions(PROJECTION_NAMES if names is None else names)

    def wait_for(
        self, position: int, names: Iterable[str], timeout: float = 2.0
    ) -> dict[str, int | None]:
        """Wait up to ``timeout`` seconds for read models ``names`` to reach
        ``position``; return where each got to (possibly short of it)."""
        return self.followers.wait_for(position, names, timeout)

    def health(self) -> list[FollowerHealth]:
        """The read models' followers as ``/health`` reports them."""
        return [state for state in self.followers.health() if state.name in PROJECTION_NAMES]


ReadModelHost = ReadModels
"""The name this had when it also ran the projections."""
