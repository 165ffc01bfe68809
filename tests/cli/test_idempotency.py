"""``rectify idempotency purge``: answered keys past the retry window are forgotten."""

from __future__ import annotations

import time

from typer.testing import CliRunner

from infrastructure.composition import side_database_for
from infrastructure.idempotency import (
    Claim,
    SqlIdempotencyStore,
    StoredResponse,
)
from infrastructure.persistence import environment_for
from interfaces.cli.main import app as cli

DAY = 86_400.0
ANSWER = StoredResponse(status=201, headers=[("etag", '"1"')], body=b"{}")


def keyed(url: str, key: str, *, days_ago: float) -> None:
    """A request with ``key`` answered ``days_ago``."""
    side = side_database_for(environment_for(url))
    assert side is not None
    store = SqlIdempotencyStore(
        side, owns_database=True, clock=lambda: time.time() - days_ago * DAY
    )
    try:
        assert store.begin("chenxiaofeng", key, "POST /sites", "hash").claim == Claim.STARTED
        store.keep("chenxiaofeng", key, "POST /sites", "hash", ANSWER)
    finally:
        store.close()


def claim(url: str, key: str) -> Claim:
    side = side_database_for(environment_for(url))
    assert side is not None
    store = SqlIdempotencyStore(side, owns_database=True)
    try:
        return store.begin("chenxiaofeng", key, "POST /sites", "hash").claim
    finally:
        store.close()


def test_purge_forgets_answered_keys_older_than_the_window_only(sqlite_url: str) -> None:
    keyed(sqlite_url, "old", days_ago=8)
    keyed(sqlite_url, "recent", days_ago=1)

    result = CliRunner().invoke(
        cli, ["idempotency", "purge", "--database-url", sqlite_url, "--older-than-days", "7"]
    )

    assert result.exit_code == 0, result.output
    assert "purged 1 idempotency record(s) older than 7 day(s)" in result.output
    assert claim(sqlite_url, "recent") == Claim.REPLAY  # still answered from the store
    assert claim(sqlite_url, "old") == Claim.STARTED  # forgotten: a new request
