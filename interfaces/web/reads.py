"""Reading the read models right after a change: wait for the change's log position.

A command's redirect carries ``?after=<position>``; the next page waits (up to
2 s, as the API's ``?after=``) until the read models it reads have applied it.
"""

from __future__ import annotations

from starlette.requests import Request

from infrastructure.projections.host import PROJECTION_NAMES
from interfaces.web import deps

WAIT_SECONDS = 2.0


def caught_up(request: Request, names: tuple[str, ...] = ()) -> None:
    """Wait until the read models have applied the position in ``?after=``, if any."""
    raw = request.query_params.get("after", "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        return
    host = deps.read_models(request)
    wanted = int(raw)
    if wanted > host.head():
        return  # never reached; a forged or stale link is not worth a 2 s wait
    host.wait_for(wanted, names or tuple(PROJECTION_NAMES), timeout=WAIT_SECONDS)
