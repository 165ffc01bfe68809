"""The API server, SIGKILLed right after it commits a command keyed ``die-…``.

Run as ``python -m tests.faults.dying_server PORT`` with ``RECTIFY_DATABASE_URL``
set: the process dies between the commit of the events and the answer, as a
worker killed by the kernel or an operator would — nothing after the commit
runs, not even a ``finally``.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from application.app import RectifyApp
from infrastructure.idempotency import pending_key

DYING_KEY_PREFIX = "die-"

_save = RectifyApp.save


def _save_then_die(self: RectifyApp, *objs: Any, **kwargs: Any) -> Any:
    recordings = _save(self, *objs, **kwargs)
    pending = pending_key.get()
    if recordings and pending is not None and pending.key.startswith(DYING_KEY_PREFIX):
        os.kill(os.getpid(), signal.SIGKILL)
    return recordings


def main(port: int) -> None:
    import uvicorn

    RectifyApp.save = _save_then_die  # type: ignore[method-assign]
    uvicorn.run(
        "interfaces.http.app:create_app_from_env",
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
