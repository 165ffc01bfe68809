"""Reading the read models right after a change: wait for the change's log position.

A command's redirect carries ``?after=<position>``; the next page waits (up to
2 s, as the API's ``?after=``) until the read models it reads have applied it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request

from infrastructure.projections.host import PROJECTION_NAMES
from interfaces.web import deps

WAIT_SECONDS = 2.0
# Waiting for the head without being asked is a courtesy; it must stay short.
HEAD_WAIT_SECONDS = 0.5
T = TypeVar("T")


def caught_up(request: Request, names: tuple[str, ...] = ()) -> None:
    """Wait until the read models have applied the position in ``?after=``, or else
    everything recorded before this request (a shorter wait).

    The second is for a person who did not make the change: a party reports
    completion and the inspector opens their work list a moment later; it
    should list that report, not what the read model had reached a few
    milliseconds earlier.
    """
    host = deps.read_models(request)
    head = host.head()
    raw = request.query_params.get("after", "")
    if raw.isascii() and raw.isdigit() and len(raw) <= 19:
        wanted, timeout = int(raw), WAIT_SECONDS
        if wanted > head:
            return  # never reached; a forged or stale link is not worth a 2 s wait
    else:
        wanted, timeout = head, HEAD_WAIT_SECONDS
    host.wait_for(wanted, names or tuple(PROJECTION_NAMES), timeout=timeout)


def as_of_read_models(
    request: Request, key: tuple[object, ...], names: tuple[str, ...], compute: Callable[[], T]
) -> T:
    """``compute()``, reused while the read models ``names`` stay at the same position.

    A summary over every case (the dashboard) changes only when the read model
    applies an event, so many people opening it between two changes share one
    computation; a change moves the position and the next request computes afresh.
    """
    host = deps.read_models(request)
    position = tuple(sorted(host.positions(names).items(), key=lambda item: item[0]))
    state = request.app.state
    cache: dict[tuple[object, ...], tuple[object, Any]] | None = getattr(
        state, "console_read_cache", None
    )
    if cache is None:
        cache = {}
        state.console_read_cache = cache
    found = cache.get(key)
    if found is not None and found[0] == position:
        return found[1]
    value = compute()
    cache[key] = (position, value)
    return value
